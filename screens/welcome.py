"""The kiosk's welcome screen: the consultation's title and image, the language buttons (each
written in its own language), one large start button, and the site's next meetings."""
from datetime import datetime

from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from app.model import upcoming_meetings
from screens import load_kv
from screens.i18n import tr


VERY_LARGE_SCALE = 1.4       # theme.scale from which the meetings scroll with the text


def meeting_when(starts_at: str) -> str:
    """'03/12/2026 · 18:30' from an ISO date and time (the published local time)."""
    from app.formatting import day_and_time
    return day_and_time(starts_at, tr.lang)


class WelcomeScreen(Screen):
    consultation = ObjectProperty(None, allownone=True)
    cover_source = StringProperty("")
    # Facilitated mode: the start button waits for the facilitator's unlock.
    locked = BooleanProperty(False)
    # A consultation pulled as draft or closed: no ballot can start (the store refuses it).
    closed = BooleanProperty(False)
    # Identified mode: the resident shows a participation card before the questions.
    identified = BooleanProperty(False)
    site_id = StringProperty("", allownone=True)
    meetings = ListProperty([])
    themes_line = StringProperty("")
    controller = ObjectProperty(None, allownone=True)
    easy_read = BooleanProperty(False)        # the resident chose easy read (issue 31)
    read_aloud = StringProperty("off")        # the resident's read aloud (screens/resident.py)
    # The local time now (tests set another clock).
    clock = ObjectProperty(datetime.now)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(consultation=self._refresh, site_id=self._refresh, clock=self._refresh)
        tr.bind(lang=self._refresh)
        self._refresh()
        self._read_button = self.ids.read_aloud.__self__      # kept while out of the bar
        self.on_read_aloud(self, self.read_aloud)
        from screens.theme import theme
        self._meetings_home = self.ids.meetings_strip.parent
        theme.bind(scale=self.place_meetings)
        self.place_meetings()

    def place_meetings(self, *_args):
        """Very large text: the next meetings go inside the scroll, under the description,
        so that the title and the description keep their room above Start (with the
        meetings under it, only the title showed); otherwise, a strip along the bottom."""
        from screens.theme import theme
        # ids hold weak proxies: `__self__` is the widget itself, which `parent` gives.
        strip, home = self.ids.meetings_strip.__self__, self._meetings_home
        target = self.ids.scroll_box.__self__ if theme.scale >= VERY_LARGE_SCALE else home
        if strip.parent is target:
            return
        strip.parent.remove_widget(strip)
        target.add_widget(strip)        # last: after the description, or along the bottom

    def on_read_aloud(self, _screen, mode):
        """The Read aloud button shows in the bar only while read aloud is on."""
        button, bar = getattr(self, "_read_button", None), self.ids.get("top_bar")
        if button is None or bar is None:
            return
        if mode == "off" and button.parent is not None:
            button.parent.remove_widget(button)
        elif mode != "off" and button.parent is None:
            bar.add_widget(button)

    def read_page(self):
        if self.controller is not None:
            self.controller.read_aloud_page(self)

    def spoken_page(self):
        """What Read aloud reads here: the title, the description, what to expect, Start."""
        from app.speech import Utterance
        from screens.reading import spoken_words
        ids = self.ids
        return [Utterance(spoken_words(w), tr.lang, "", w)
                for w in (ids.title, ids.description, ids.status, ids.start)
                if spoken_words(w)]

    @property
    def languages(self):
        return list(self.consultation.languages) if self.consultation else ["fr", "it", "en"]

    def next_meetings(self, limit: int = 2):
        """The site's meetings that have not ended, soonest first (app.model)."""
        if self.consultation is None:
            return []
        return upcoming_meetings(self.consultation.meetings, self.clock(), self.site_id or None,
                                 limit)

    def on_pre_enter(self, *_args):
        # A kiosk stays on all day: a meeting that ended since the last visit goes.
        self._refresh()

    def start(self):
        if self.controller is not None:
            self.controller.start_ballot()

    def open_display(self):
        if self.controller is not None:
            self.controller.open_display_panel()

    def propose_idea(self):
        if self.controller is not None:
            self.controller.open_idea()

    def follow_idea(self):
        if self.controller is not None:
            self.controller.open_follow()

    def _refresh(self, *_args):
        self.closed = self.consultation is not None and self.consultation.status != "open"
        if self.consultation is None:
            return
        self.themes_line = " · ".join(tr.loc(t.title) for t in self.consultation.themes)
        site_names = {s.id: tr.loc(s.name) for s in self.consultation.sites}
        self.meetings = [
            {"when": meeting_when(m.starts_at), "title": tr.loc(m.title),
             "place": ", ".join(x for x in (tr.loc(m.place), site_names.get(m.site, "")) if x)}
            for m in self.next_meetings()]


load_kv(__file__)
