"""What the projector shows, as pure data: which view is on screen, whether views rotate and
how often, whether results are hidden until revealed, whether the screen is frozen, and in
which language(s). The Kivy side (screens/projector/) only draws a `DisplayState`; every rule
about changing it lives here, testable without a window.

Views
-----
The projector shows one view at a time. A view is named by a question ID (its results), or by
one of the two fixed views `"ideas"` (approved ideas, rotating wall) and `"participation"`
(contributions against the consultation's goal). `views_of(consultation)` lists them in order.

DisplayControl
--------------
A facilitator changes the display from the projector's keyboard (`control_for_key`) or, in
phase 2, from a tablet's facilitator screen relayed through the hub. Both paths produce the
same plain JSON object, a *DisplayControl*: a partial state, every key optional, unknown keys
ignored (so a newer facilitator screen can talk to an older projector)::

    {"view": "q-colour",          # a question ID, "ideas" or "participation"
     "rotating": true,            # views follow one another
     "period": 20,                # seconds per view while rotating, 5..600
     "hidden": false,             # true: no result figure is drawn until revealed
     "frozen": false,             # true: the screen keeps what it shows (no new results,
                                  #       no rotation) until unfrozen
     "bilingual": "off",          # "off", "side_by_side" (fr and it together) or
                                  #  "alternating" (one language, then the other)
     "lang": "fr",                # the language when bilingual is "off": fr, it or en
     "phones": ["q-ticket"],      # the questions open to residents' phones now (at most
                                  #  MAX_PHONE_QUESTIONS, in order); [] closes them
     "phones_cards": true,        # phones answer with a participation card's code (else one
                                  #  answer per phone and question: weaker, docs/protocol.md)
     "closing": "https://…/closing/<id>",   # the meeting's closing record: its QR covers
                                  # every view until "" clears it (server/closing.py)
     "revision": 12}              # optional: the hub numbers controls; a projector ignores a
                                  # control whose revision is not above the last it applied,
                                  # so a replayed or late relay changes nothing

A control states the wanted values, not steps: applying the same control twice is the same as
applying it once, which is what a relay that may resend needs. Keyboard steps ("next view")
are turned into absolute values against the current state before they are applied.
`parse_control` checks a control and raises ValidationError (a translatable message, the key
at fault) when a value is not allowed; nothing of a refused control is applied.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from .errors import N_, ValidationError
from .model import LANGUAGES, Consultation

IDEAS_VIEW = "ideas"
PARTICIPATION_VIEW = "participation"
FIXED_VIEWS = (IDEAS_VIEW, PARTICIPATION_VIEW)
BILINGUAL_MODES = ("off", "side_by_side", "alternating")
BILINGUAL_LANGS = ("fr", "it")
PERIOD_MIN, PERIOD_MAX = 5, 600
DEFAULT_PERIOD = 20
PERIOD_STEPS = (10, 15, 20, 30, 45, 60, 120)
ALTERNATE_SECONDS = 8  # bilingual "alternating": how long each language stays on screen
CONTROL_KEYS = ("view", "rotating", "period", "hidden", "frozen", "bilingual", "lang",
                "phones", "phones_cards", "closing", "revision")
MAX_PHONE_QUESTIONS = 10
# The public page of a closing record (server/closing.py): what the projector's QR may hold.
CLOSING_URL = re.compile(r"^https?://[A-Za-z0-9.:\[\]-]{1,200}(/[A-Za-z0-9._~-]+)*"
                         r"/closing/[0-9a-f]{32}$")


def views_of(consultation: Consultation) -> tuple[str, ...]:
    """Every view of a consultation, in the order rotation follows."""
    return tuple(q.id for q in consultation.questions) + FIXED_VIEWS


@dataclass(frozen=True)
class DisplayState:
    views: tuple[str, ...]
    view: str
    rotating: bool = True
    period: int = DEFAULT_PERIOD
    hidden: bool = False
    frozen: bool = False
    bilingual: str = "off"
    lang: str = "fr"
    phones: tuple[str, ...] = ()     # questions open to phones (server/phone_ballot.py)
    phones_cards: bool = False
    closing: str = ""
    revision: int = 0

    @classmethod
    def initial(cls, consultation: Consultation, *, lang: str = "fr", **settings: Any
                ) -> "DisplayState":
        views = views_of(consultation)
        state = cls(views=views, view=views[0], lang=lang if lang in LANGUAGES else "fr")
        return state.apply(settings) if settings else state

    # -- reading -------------------------------------------------------------------------

    @property
    def index(self) -> int:
        return self.views.index(self.view)

    def languages(self, clock_seconds: float = 0.0) -> tuple[str, ...]:
        """The languages to draw now: one, or fr and it side by side. With "alternating",
        `clock_seconds` (any monotonic clock) picks which one is on screen."""
        if self.bilingual == "side_by_side":
            return BILINGUAL_LANGS
        if self.bilingual == "alternating":
            return (BILINGUAL_LANGS[int(clock_seconds // ALTERNATE_SECONDS) % 2],)
        return (self.lang,)

    def as_control(self) -> dict:
        """This whole state as a DisplayControl (what a relay would send to mirror it)."""
        return {"view": self.view, "rotating": self.rotating, "period": self.period,
                "hidden": self.hidden, "frozen": self.frozen, "bilingual": self.bilingual,
                "lang": self.lang, "phones": list(self.phones),
                "phones_cards": self.phones_cards,
                **({"closing": self.closing} if self.closing else {}),
                **({"revision": self.revision} if self.revision else {})}

    # -- changing --------------------------------------------------------------------------

    def apply(self, control: Mapping[str, Any]) -> "DisplayState":
        """The state after `control` (checked by parse_control). A control whose revision is
        not above this state's is stale: the state is returned unchanged."""
        changes = parse_control(control, self.views)
        revision = changes.pop("revision", None)
        if revision is not None:
            if revision <= self.revision:
                return self
            changes["revision"] = revision
        return replace(self, **changes) if changes else self

    def step(self, offset: int) -> "DisplayState":
        """The view `offset` places further (negative: back), wrapping around."""
        return replace(self, view=self.views[(self.index + offset) % len(self.views)])

    def rotate(self) -> "DisplayState":
        """What rotation does when a period has passed: next view, unless stopped or frozen."""
        if not self.rotating or self.frozen:
            return self
        return self.step(1)


def parse_control(control: Mapping[str, Any], views: Iterable[str]) -> dict:
    """The changes a DisplayControl asks for, checked; unknown keys are ignored.
    Raises ValidationError naming the key when a value is not allowed."""
    if not isinstance(control, Mapping):
        raise ValidationError(N_("A display control is a JSON object."), None)
    views = tuple(views)
    changes: dict[str, Any] = {}
    for key in CONTROL_KEYS:
        if key not in control:
            continue
        value = control[key]
        if key == "view":
            if not isinstance(value, str) or value not in views:
                raise ValidationError(N_("Unknown view: {view}."), key, view=str(value)[:80])
        elif key == "phones":
            value = phone_questions(value, views)
        elif key in ("rotating", "hidden", "frozen", "phones_cards"):
            if not isinstance(value, bool):
                raise ValidationError(N_("Yes or no (true or false) is expected here."), key)
        elif key == "period":
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not PERIOD_MIN <= value <= PERIOD_MAX:
                raise ValidationError(N_("A period from {min} to {max} seconds is expected."),
                                      key, min=PERIOD_MIN, max=PERIOD_MAX)
            value = int(round(value))
        elif key == "bilingual":
            if value not in BILINGUAL_MODES:
                raise ValidationError(N_("Unknown bilingual mode: {mode}."), key,
                                      mode=str(value)[:80])
        elif key == "lang":
            if value not in LANGUAGES:
                raise ValidationError(N_("Unknown language: {lang}."), key,
                                      lang=str(value)[:80])
        elif key == "closing":
            if not isinstance(value, str) or value and not CLOSING_URL.match(value):
                raise ValidationError(N_("The address of a closing record is expected here."),
                                      key)
        elif key == "revision":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(N_("A whole number of at least {min} is expected here."),
                                      key, min=0)
        changes[key] = value
    return changes


def phone_questions(value: Any, views: Iterable[str]) -> tuple[str, ...]:
    """A control's `phones`: question IDs (views that are not FIXED_VIEWS), each once, at
    most MAX_PHONE_QUESTIONS; ValidationError otherwise."""
    if not isinstance(value, (list, tuple)) or len(value) > MAX_PHONE_QUESTIONS:
        raise ValidationError(N_("A list of at most {max} questions is expected here."),
                              "phones", max=MAX_PHONE_QUESTIONS)
    questions = tuple(v for v in views if v not in FIXED_VIEWS)
    for item in value:
        if not isinstance(item, str) or item not in questions:
            raise ValidationError(N_("Unknown view: {view}."), "phones", view=str(item)[:80])
    if len(set(value)) != len(value):
        raise ValidationError(N_("A list of at most {max} questions is expected here."),
                              "phones", max=MAX_PHONE_QUESTIONS)
    return tuple(value)


# -- the projector's keyboard --------------------------------------------------------------

# Key name (as Kivy's keyboard reports it) → what it does, with its help text (a msgid).
KEYS: dict[str, tuple[str, str]] = {
    "right": ("next", N_("Next view")),
    "spacebar": ("next", N_("Next view")),
    "pagedown": ("next", N_("Next view")),
    "left": ("previous", N_("Previous view")),
    "pageup": ("previous", N_("Previous view")),
    "r": ("toggle_rotation", N_("Rotation on or off")),
    "+": ("slower", N_("Show each view longer")),
    "-": ("faster", N_("Show each view for less time")),
    "h": ("toggle_hidden", N_("Hide or reveal the results")),
    "f": ("toggle_frozen", N_("Freeze or unfreeze the screen")),
    "b": ("cycle_bilingual", N_("Bilingual: off, side by side, alternating")),
    "l": ("cycle_lang", N_("Change language")),
    "i": ("show_ideas", N_("Approved ideas")),
    "p": ("show_participation", N_("Participation")),
    "c": ("clear_closing", N_("Take the closing record's code off the screen")),
}
for _n in range(1, 10):
    KEYS[str(_n)] = (f"show_{_n}", N_("Show view number {n}"))
_KEY_ALIASES = {"numpadadd": "+", "=": "+", "numpadsubstract": "-", "numpad-": "-",
                "page down": "pagedown", "page up": "pageup", " ": "spacebar"}


def control_for_key(state: DisplayState, key: str) -> dict | None:
    """The DisplayControl a key press asks for, in absolute values; None for other keys."""
    key = _KEY_ALIASES.get(str(key).lower(), str(key).lower())
    action = KEYS.get(key, (None,))[0]
    if action is None:
        return None
    if action == "next":
        return {"view": state.step(1).view}
    if action == "previous":
        return {"view": state.step(-1).view}
    if action == "toggle_rotation":
        return {"rotating": not state.rotating}
    if action in ("slower", "faster"):
        steps = PERIOD_STEPS
        if action == "slower":
            period = next((s for s in steps if s > state.period), steps[-1])
        else:
            period = next((s for s in reversed(steps) if s < state.period), steps[0])
        return {"period": period}
    if action == "toggle_hidden":
        return {"hidden": not state.hidden}
    if action == "toggle_frozen":
        return {"frozen": not state.frozen}
    if action == "cycle_bilingual":
        modes = BILINGUAL_MODES
        return {"bilingual": modes[(modes.index(state.bilingual) + 1) % len(modes)]}
    if action == "cycle_lang":
        return {"lang": LANGUAGES[(LANGUAGES.index(state.lang) + 1) % len(LANGUAGES)]}
    if action == "show_ideas":
        return {"view": IDEAS_VIEW}
    if action == "show_participation":
        return {"view": PARTICIPATION_VIEW}
    if action == "clear_closing":
        return {"closing": ""} if state.closing else None
    number = int(action.removeprefix("show_"))
    if number > len(state.views):
        return None
    return {"view": state.views[number - 1]}


def key_help() -> list[tuple[str, str]]:
    """(key, msgid) pairs for the help overlay, one line per action."""
    seen: dict[str, list[str]] = {}
    for key, (action, msgid) in KEYS.items():
        if action.startswith("show_") and action[5:].isdigit():
            continue
        seen.setdefault(msgid, []).append(key)
    lines = [(" / ".join(keys), msgid) for msgid, keys in seen.items()]
    lines.append(("1…9", N_("Show view number {n}")))
    return lines


# -- open answers on a projector -------------------------------------------------------------

# Words too common to say anything in a word cloud (the tally keeps words of 4+ letters).
STOPWORDS = frozenset("""
avec dans pour plus sont mais nous vous leur leurs cette ceux elle elles tout tous toute
toutes entre part autre autres comme très fait faire être avoir aussi encore même moins
peut bien deux quand chez sans sous vers alors donc ainsi notre votre nos quoi dont
della delle degli dello nella nelle negli sono anche come però questo questa quello quella
molto tutti tutto tutte fare essere avere loro nostro nostra vostro ogni dove quando
perché senza sopra sotto verso altro altri altre ancora parte
with that this from have more they them their there what when which would about
""".split())


def cloud_words(words: Iterable[Iterable[Any]], *, min_count: int = 3, limit: int = 30
                ) -> list[tuple[str, int]]:
    """The words of an open question's result worth showing to a room.

    A word only shows once at least `min_count` answers used it: a word that one person
    typed alone (a name, an address) never reaches the projector (invariant 5). Stop words
    and anything that is not plain letters are left out."""
    kept = []
    for entry in words:
        try:
            word, count = entry
        except (TypeError, ValueError):
            continue
        if not isinstance(word, str) or not isinstance(count, int) or isinstance(count, bool):
            continue
        if count < min_count or word in STOPWORDS or not _PLAIN_WORD.fullmatch(word):
            continue
        kept.append((word[:40], count))
    kept.sort(key=lambda wc: (-wc[1], wc[0]))
    return kept[:limit]


_PLAIN_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


def contributions(ballots: int, ideas_received: int) -> int:
    """The participation figure the projector shows against the goal: ballots cast plus
    ideas put forward."""
    return max(0, int(ballots)) + max(0, int(ideas_received))
