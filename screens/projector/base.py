"""What every projector view shares: labels in the projector's type scale, bars that animate
to their new length, and `PjResultView`, the base of each question kind's view.

A view is built once per language set (`langs`), then `show(result)` updates its rows in
place, so that a new vote moves a bar smoothly instead of redrawing the screen.
"""
from __future__ import annotations

from pathlib import Path

from kivy.animation import Animation
from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Rectangle
from kivy.logger import Logger
from kivy.properties import (BooleanProperty, ListProperty, NumericProperty, ObjectProperty,
                             StringProperty)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from app.counts import CHANNEL_NAMES, CHANNELS
from app.formatting import number, percent, whole_percents
from app.i18n import gettext_for, ngettext_for
from app.kinds import MalformedResult, typed_result
from screens import load_kv
from screens.projector.style import PALETTE, content, join_langs, pstyle, say, say_n

ANIMATION_SECONDS = 0.4


class PjLabel(Label):
    """Projector text: bright, markup on (for bilingual colour), wraps in its box."""


class PjBoxLabel(PjLabel):
    """Text laid out in its box (aligned, wrapped, shortened)."""


class PjLineLabel(PjLabel):
    """One or more lines whose height follows the text."""


class PjFilled(Widget):
    """A track filled to `fraction` (0..1); `animate_to` moves it smoothly."""
    fraction = NumericProperty(0)
    colour = ListProperty(PALETTE["primary"])
    track = ListProperty(PALETTE["track"])

    def animate_to(self, fraction: float) -> None:
        fraction = max(0.0, min(1.0, float(fraction or 0)))
        Animation.cancel_all(self, "fraction")
        if abs(fraction - self.fraction) < 1e-4:
            return
        Animation(fraction=fraction, d=ANIMATION_SECONDS, t="out_cubic").start(self)


class PjBar(PjFilled):
    """A horizontal bar filled to `fraction` of its width."""


class PjColumn(PjFilled):
    """A vertical bar (histogram column) filled to `fraction` of its height."""


class PjStackedBar(Widget):
    """Segments side by side (green / orange / red shares), each with its own text written on
    it when it fits. `shares` animates as a whole."""
    shares = ListProperty([0.0, 0.0, 0.0])
    colours = ListProperty([PALETTE["green"], PALETTE["orange"], PALETTE["red"]])
    texts = ListProperty(["", "", ""])
    track = ListProperty(PALETTE["track"])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._labels = []
        self.bind(pos=self._draw, size=self._draw, shares=self._draw, texts=self._draw,
                  colours=self._draw)
        pstyle.bind(u=self._draw)
        self._draw()

    def animate_to(self, shares) -> None:
        shares = [max(0.0, float(s or 0)) for s in shares]
        Animation.cancel_all(self, "shares")
        if all(abs(a - b) < 1e-4 for a, b in zip(shares, self.shares)):
            return
        Animation(shares=shares, d=ANIMATION_SECONDS, t="out_cubic").start(self)

    def _draw(self, *_args):
        while len(self._labels) < len(self.colours):
            label = Label(color=PALETTE["on_bar"], bold=True, markup=False)
            self._labels.append(label)
            self.add_widget(label)
        self.canvas.before.clear()
        with self.canvas.before:
            Color(*self.track)
            Rectangle(pos=self.pos, size=self.size)
            x = self.x
            for index, colour in enumerate(self.colours):
                share = self.shares[index] if index < len(self.shares) else 0
                width = self.width * share
                Color(*colour)
                Rectangle(pos=(x, self.y), size=(width, self.height))
                label = self._labels[index]
                label.font_size = font_size = pstyle.font_small
                text = self.texts[index] if index < len(self.texts) else ""
                label.text = text
                fits = bool(text) and _text_width(text, font_size) + pstyle.u < width
                label.opacity = 1 if fits else 0
                label.pos = (x, self.y)
                label.size = (width, self.height)
                x += width


_WIDTHS: dict = {}


def _text_width(text: str, font_size: float) -> float:
    """The width of `text` in bold at `font_size`, measured once (bars redraw every frame
    while they move)."""
    key = (text, round(font_size, 1))
    width = _WIDTHS.get(key)
    if width is None:
        label = CoreLabel(text=text, font_size=font_size, bold=True)
        label.refresh()
        width = _WIDTHS[key] = label.texture.size[0] if label.texture else 0
        if len(_WIDTHS) > 5000:
            _WIDTHS.clear()
    return width


class PjProjectImage(Image):
    """A project's photo beside its bars, letterboxed in its box."""


class PjBadge(PjLabel):
    """A word on a filled pill ("Funded"): the meaning is in the word, the colour repeats it."""
    background = ListProperty(PALETTE["green"])


class PjEmptyPanel(BoxLayout):
    """No vote yet on a question: what to do (vote on the tablets) instead of a wall of empty
    bars, and the sign-up QR beside it when the projector has a sign-up link."""
    call = StringProperty("")
    message = StringProperty("")
    signup_url = StringProperty("")
    signup_caption = StringProperty("")


class PjResultView(BoxLayout):
    """Base of every view: the question's prompt on top, its results below (`body`)."""
    consultation = ObjectProperty(None)
    question = ObjectProperty(None, allownone=True)
    bundle_dir = ObjectProperty(None, allownone=True)
    langs = ListProperty(["fr"])
    prompt = StringProperty("")
    caption = StringProperty("")     # a line under the prompt: ballots, legend, median…
    breakdown = StringProperty("")   # a line under the results: votes per channel
    result = ObjectProperty(None, allownone=True)
    built = BooleanProperty(False)
    signup_url = StringProperty("")  # the sign-up link, shown with an empty question
    empty = BooleanProperty(False)   # a question without any vote yet

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(langs=self._rebuild)
        self._rebuild()
        self._body = self.ids.body.__self__
        self._empty_panel = None
        self.fbind("empty", self._show_empty)
        self.fbind("signup_url", self._show_empty)
        self.fbind("langs", self._show_empty)

    def _show_empty(self, *_args):
        """In place of the rows while no vote came: the call to vote, and the sign-up QR."""
        body = self._body
        if not self.empty:
            if self._empty_panel is not None and self._empty_panel.parent is self:
                index = self.children.index(self._empty_panel)
                self.remove_widget(self._empty_panel)
                self.add_widget(body, index=index)
            return
        panel = self._empty_panel
        if panel is None:
            panel = self._empty_panel = PjEmptyPanel()
        panel.call = self._("Vote on the tablets", sep="\n")
        panel.message = self._("No vote yet on this question.", sep="\n")
        panel.signup_url = self.signup_url
        panel.signup_caption = self._("Stay involved: scan to sign up with your phone",
                                      sep="\n")
        if body.parent is self:
            index = self.children.index(body)
            self.remove_widget(body)
            self.add_widget(panel, index=index)

    @property
    def lang(self) -> str:
        return self.langs[0] if self.langs else "fr"

    def _(self, msgid: str, sep: str = " · ", **params) -> str:
        """An interface string in the view's language(s)."""
        return say(self.langs, msgid, sep, **params)

    @property
    def bilingual(self) -> bool:
        return len(self.langs) > 1

    def ngettext(self, singular: str, plural: str, n: int, sep: str = " · ", **params) -> str:
        return say_n(self.langs, singular, plural, int(n or 0), sep, **params)

    def text(self, text_map, sep: str = " · ") -> str:
        return content(self.langs, text_map, sep)

    def say_votes(self, n) -> str:
        return self.ngettext("{n} vote", "{n} votes", n, sep="\n")

    # Counts are named one way on every slide: "answers" are the people who answered this
    # question (a ballot that skipped it is not one), "votes" what one option, column or
    # project received, "participants" the ballots of the whole consultation.
    @staticmethod
    def answers(lang: str, n) -> str:
        """'84 réponses' / '1 risposta' in `lang`: the people who answered this question."""
        n = int(n or 0)
        return ngettext_for(lang)("{n} answer", "{n} answers", n).format(n=number(n, lang))

    def say_answers(self, n, sep: str = "\n") -> str:
        return self.compose(lambda lang, _, ngettext: self.answers(lang, n), sep)

    def compose(self, make, sep: str = "\n") -> str:
        """`make(lang, _, ngettext)` for each language of the view, joined as markup (the
        second language in its colour): for a line built from several translated parts, each
        with its own plural and its own number format. Call `_` and `ngettext` by those names
        inside `make`, so that `make messages` finds the strings."""
        return join_langs([make(lang, gettext_for(lang), ngettext_for(lang))
                           for lang in self.langs], sep)

    def percents(self, counts: dict, keys) -> dict:
        """Whole percentages of `counts` for `keys` that add up to 100 (largest remainder),
        written in the view's language: {key: '45 %'}."""
        keys = list(keys)
        values = whole_percents([counts.get(k, 0) or 0 for k in keys])
        return {k: percent(v / 100, self.lang) for k, v in zip(keys, values)}

    def percent(self, share) -> str:
        return percent(share, self.lang)

    def image_path(self, relative: str | None) -> str:
        if not relative or self.bundle_dir is None:
            return ""
        path = Path(self.bundle_dir) / relative
        return str(path) if path.is_file() else ""

    def _rebuild(self, *_args):
        if self.question is not None:
            self.prompt = self.text(self.question.prompt, "\n")
        body = self.ids.get("body")
        if body is None:
            return
        body.clear_widgets()
        self.build(body)
        self.built = True
        if self.result is not None:
            self.show(self.result, animate=False)

    def build(self, body) -> None:
        """Make the rows of this view (once per language set)."""

    def show(self, result: dict | None, animate: bool = True) -> None:
        """Bring the rows up to `result` (a tally result as JSON, or None: no votes yet). A
        question's view reads it as its kind's declared Result (app/kinds/): a missing field
        raises instead of showing an empty chart."""
        self.result = result
        if self.question is None:            # ideas and participation: no question's tally
            self.update(result or {}, animate)
            self.breakdown = self.say_channels((result or {}).get("channels"))
            return
        try:
            typed = typed_result(self.question, result, self.consultation)
        except MalformedResult as exc:  # from a hub of another version, or damaged
            Logger.warning("Projector: results of %s not shown: %s", self.question.id, exc)
            typed = typed_result(self.question, None, self.consultation)
        self.update(typed, animate)
        self.breakdown = self.say_channels(typed.channels)
        self.empty = not typed.ballots

    def say_channels(self, channels) -> str:
        """'tablets 64 · paper 20 · online 5' in the view's language(s); empty when every
        vote came from the tablets (nothing to break down)."""
        if not isinstance(channels, dict):
            return ""
        people = {}
        for channel in CHANNELS:
            value = channels.get(channel)
            n = value.get("ballots") if isinstance(value, dict) else value
            if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                people[channel] = n
        if not set(people) - {"tablet"}:
            return ""
        lines = []
        for lang in self.langs:
            _ = gettext_for(lang)
            lines.append(" · ".join(
                "{name} {n}".format(name=_(CHANNEL_NAMES[c]), n=number(n, lang))
                for c, n in people.items()))
        return join_langs(lines, "   /   ")

    def update(self, result, animate: bool) -> None:
        """Bring the rows up to `result`: the kind's Result for a question's view."""
        raise NotImplementedError


def set_fraction(widget, value, animate: bool) -> None:
    if animate:
        widget.animate_to(value)
    else:
        Animation.cancel_all(widget)
        if isinstance(widget, PjStackedBar):
            widget.shares = list(value)
        else:
            widget.fraction = max(0.0, min(1.0, float(value or 0)))


load_kv(__file__)
