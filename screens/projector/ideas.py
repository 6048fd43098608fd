"""Approved ideas, as a wall of cards that turns a page every few seconds. Only ideas a
facilitator or staff approved reach it, with their title, text and theme — never a contact."""
from kivy.clock import Clock
from kivy.properties import ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from app.proposals import written_in
from screens import load_kv
from screens.projector.base import PjResultView
from screens.projector.style import content

PAGE_SECONDS = 9
# Three tall cards side by side, in title and body type (read from the back of the hall): four
# cards in small type left each card two-thirds empty and its words too small.
PER_PAGE = 3
TEXT_CHARS = 160


class PjIdeaCard(BoxLayout):
    title = StringProperty("")
    text = StringProperty("")
    theme = StringProperty("")
    code = StringProperty("")
    written_in = StringProperty("")     # the idea's language, when the room reads another


class PjIdeasView(PjResultView):
    ideas = ListProperty([])
    page = NumericProperty(0)

    def build(self, body):
        # One row of cards in the middle of the slide, as tall as the tallest card's words: a
        # short idea no longer leaves its card two-thirds empty.
        self.grid = BoxLayout(spacing=body.spacing * 1.5, size_hint_y=None)
        body.add_widget(Widget(size_hint_y=0.5))
        body.add_widget(self.grid)
        body.add_widget(Widget())
        self.prompt = self._("Ideas from residents", sep="\n")
        self._event = None
        self._fill()

    def on_parent(self, _widget, parent):
        # Turns pages only while on screen.
        if parent is not None and self._event is None:
            self._event = Clock.schedule_interval(self.next_page, PAGE_SECONDS)
        elif parent is None and self._event is not None:
            self._event.cancel()
            self._event = None

    def next_page(self, *_args):
        pages = max(1, -(-len(self.ideas) // PER_PAGE))
        self.page = (self.page + 1) % pages
        self._fill()

    def _fit_row(self, *_args):
        cards = self.grid.children
        self.grid.height = max([c.minimum_height for c in cards] + [0])

    def update(self, result, animate):
        ideas = list(result.get("ideas") or [])
        self.caption = self.ngettext("{n} approved idea", "{n} approved ideas", len(ideas),
                                     sep="\n")
        if ideas != self.ideas:
            self.ideas = ideas
            self._fill()

    def _fill(self):
        grid = getattr(self, "grid", None)
        if grid is None:
            return
        grid.clear_widgets()
        if not self.ideas:
            card = PjIdeaCard(title=self._("No approved idea yet.", sep="\n"),
                              text=self._("Propose yours on the tablets!", sep="\n"))
            card.bind(minimum_height=self._fit_row)
            grid.add_widget(card)
            return
        newest_first = list(reversed(self.ideas))
        start = (self.page * PER_PAGE) % len(newest_first)
        themes = {t.id: t.title for t in self.consultation.themes}
        for idea in newest_first[start:start + PER_PAGE]:
            text = idea.get("text") or ""
            if len(text) > TEXT_CHARS:
                text = text[:TEXT_CHARS].rsplit(" ", 1)[0] + "…"
            card = PjIdeaCard(
                title=_plain(idea.get("title") or ""), text=_plain(text),
                theme=content(self.langs, themes.get(idea.get("theme")), " · ")
                if idea.get("theme") in themes else "",
                written_in=self._written_in(idea.get("lang")))
            card.bind(minimum_height=self._fit_row)
            grid.add_widget(card)

    def _written_in(self, lang) -> str:
        """"Proposée en italien" when the room reads another language than the idea's: its
        text is shown as written, with its language named."""
        msgid = written_in(lang)
        if msgid is None or lang in self.langs:
            return ""
        return self._(msgid, sep=" · ")


def _plain(text: str) -> str:
    """Resident text for a label without markup: control characters out, one line breaks."""
    return "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text)[:2000]


load_kv(__file__)
