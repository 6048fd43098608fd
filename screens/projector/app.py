"""The projector's shell: a header (consultation, participation against the goal), the current
view, and a discreet footer (hub unreachable, frozen, rotation). `Projector` wires its
results (a `watch(deliver)` given by main.py, sync.display.projector_results: polled in a
background thread, handed over with Clock.schedule_once), the display state (app.display) and
the keyboard. `build_projector(...)` makes one; `ProjectorApp` runs it alone. The screens never
import sync: main.py hands them what they read.

Wiring in main.py (role `projector`), through its `projector_factory` hook::

    from screens.projector.app import projector_factory as make_projector
    from sync.display import projector_results
    return make_projector(lambda app: projector_results(app.consultation, hub_url=hub_url,
                                                        store_path=app.store.path))

or alone: `ProjectorApp(consultation=…, results=projector_results(…), lang=…).run()`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from kivy.animation import Animation
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Keyboard, Window
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from app.display import IDEAS_VIEW, PARTICIPATION_VIEW, DisplayState, control_for_key
from app.errors import N_, ValidationError
from app.formatting import number
from app.i18n import gettext_for, ngettext_for
from screens import load_kv
from screens.kinds import SCREEN_KINDS
from screens.projector.base import PjResultView
from screens.projector.closing import PjClosingPanel
from screens.projector.ideas import PjIdeasView
from screens.projector.participation import PjParticipationView
from screens.projector.phones import PjPhonesPanel
from screens.projector.style import PALETTE, content, join_langs, pstyle, say

if TYPE_CHECKING:
    from sync.results_source import ResultsPoll, ResultsSnapshot

# A question's view is its kind's (screens/kinds/); the two views that are no question's.
VIEW_CLASSES = {**{name: kind.projector_view for name, kind in SCREEN_KINDS.items()},
                IDEAS_VIEW: PjIdeasView, PARTICIPATION_VIEW: PjParticipationView}
_KEY_NAMES = {code: name for name, code in Keyboard.keycodes.items()}


class PjHiddenPanel(BoxLayout):
    """What the room sees while results are hidden: the question, and no figure at all."""
    prompt = StringProperty("")
    message = StringProperty("")


class ProjectorRoot(BoxLayout):
    title = StringProperty("")
    participation = StringProperty("")
    header_lines = NumericProperty(1)    # the title bar has a line per language
    status = StringProperty("")
    indicators = StringProperty("")
    problem = BooleanProperty(False)
    rehearsal = StringProperty("")       # the rehearsal band's text; "" when not in rehearsal
    projector = ObjectProperty(None, allownone=True)

    def on_size(self, *_args):
        pstyle.fit(self.width, self.height)


class Projector:
    """The projector's behaviour, around a ProjectorRoot widget (`self.root`)."""

    def __init__(self, consultation, results=None, *, lang: str = "fr", bundle_dir=None,
                 signup_link=None, phone_base: str | None = None, rehearsal: bool = False,
                 **settings):
        self.consultation = consultation
        # The hub's address as phones reach it (the room hub's, or the central hub's): while
        # questions are open to phones the projector shows `<phone_base>/v/<consultation>`.
        self.phone_base = phone_base
        self.phones_panel: PjPhonesPanel | None = None
        # In rehearsal (main.py --rehearsal): marked like the tablets, showing the rehearsal's
        # tally only (the results source reads nothing else).
        self.rehearsal = rehearsal
        # The sign-up link shown with the participation view: a URL, or a callable giving the
        # current one (app.tablet.SignupLink mints it again before it expires), or None.
        self.signup_link = signup_link
        # `results(deliver)` starts polling and returns the poller (its `stop()` ends it), or
        # None to feed the projector by hand with `receive`.
        self.results = results
        self.bundle_dir = Path(bundle_dir) if bundle_dir else None
        self.state = DisplayState.initial(consultation, lang=lang, **settings)
        self.snapshot: ResultsSnapshot | None = None
        self.pending: ResultsSnapshot | None = None   # arrived while frozen
        self.reachable = True
        self.problem: str | None = None
        self.views: dict[str, PjResultView] = {}
        self.langs = self.state.languages(time.monotonic())
        self._since = time.monotonic()
        self._poller = None
        self._tick_event = None
        self.results_for = None       # a new `results` for a new version (projector_factory)
        self.root = ProjectorRoot(projector=self)
        self._show(animate=False)

    # -- life --------------------------------------------------------------------------

    def start(self) -> "Projector":
        if self.results is not None and self._poller is None:
            self._poller = self.results(self._from_thread)
        if self._tick_event is None:
            self._tick_event = Clock.schedule_interval(self._tick, 0.25)
        Window.bind(on_key_down=self._on_key_down)
        return self

    def stop(self) -> None:
        Window.unbind(on_key_down=self._on_key_down)
        if self._tick_event is not None:
            self._tick_event.cancel()
            self._tick_event = None
        if self._poller is not None:
            self._poller.stop()
            self._poller = None

    def reload(self, consultation, bundle_dir=None, results=None) -> None:
        """A new version of the consultation, drawn at once: its views (questions added or
        gone), the display's settings kept (hidden stays hidden, frozen stays frozen).
        `results`: a new `watch(deliver)` for it (the running poll is stopped), else
        `self.results_for()` when the factory set it, else the same one."""
        from dataclasses import replace

        from app.display import views_of
        self.consultation = consultation
        if bundle_dir:
            self.bundle_dir = Path(bundle_dir)
        views = views_of(consultation)
        old = self.state
        self.state = replace(old, views=views, view=old.view if old.view in views else views[0])
        self.views = {}               # drawn for the old version
        if results is None and getattr(self, "results_for", None) is not None:
            results = self.results_for()
        if results is not None:
            self.results = results
            if self._poller is not None:
                self._poller.stop()
                self._poller = self.results(self._from_thread)
        self._show(animate=False)

    def _from_thread(self, poll: ResultsPoll) -> None:
        # Called in the polling thread: widgets are only touched on the UI thread.
        Clock.schedule_once(lambda _dt: self.receive(poll), 0)

    # -- results -------------------------------------------------------------------------

    def receive(self, poll: ResultsPoll) -> None:
        """A poll's outcome, on the UI thread."""
        self.reachable, self.problem = poll.reachable, poll.problem
        if poll.control:
            # A facilitator's control relayed by the hub; one the display refuses changes
            # nothing (the hub checked it already with the same rules).
            self.apply_control(poll.control)
        if poll.snapshot is not None:
            if self.state.frozen:
                self.pending = poll.snapshot
            else:
                self.snapshot = poll.snapshot
                self._update_view(animate=True)
        self._chrome()

    def view_data(self, view: str) -> dict | None:
        snap = self.snapshot
        if snap is None:
            return None
        if view == IDEAS_VIEW:
            return {"ideas": list(snap.approved_ideas)}
        if view == PARTICIPATION_VIEW:
            return {"contributions": snap.contributions,
                    "ballots": sum(snap.channels.values()) if snap.channels else snap.ballots,
                    "ideas": snap.ideas_received, "channels": dict(snap.channels)}
        return snap.questions.get(view)

    # -- controls ------------------------------------------------------------------------

    def apply_control(self, control) -> str | None:
        """Apply a DisplayControl (keyboard, or relayed by the hub). Returns None, or the
        reason it was refused, in the display's language (nothing changed then)."""
        try:
            state = self.state.apply(control)
        except ValidationError as exc:
            return exc.describe(gettext_for(self.state.lang))
        self.set_state(state)
        return None

    def set_state(self, state: DisplayState) -> None:
        old, self.state = self.state, state
        if old == state:
            return
        if old.frozen and not state.frozen and self.pending is not None:
            self.snapshot, self.pending = self.pending, None
        langs = state.languages(time.monotonic())
        if state.view != old.view or state.hidden != old.hidden or langs != self.langs \
                or state.phones != old.phones or state.closing != old.closing:
            self.langs = langs
            self._since = time.monotonic()
            self._show(animate=state.view != old.view)
        elif old.frozen and not state.frozen:
            self._update_view(animate=True)
        if state.rotating and not old.rotating:
            self._since = time.monotonic()
        self._chrome()

    def _on_key_down(self, _window, key, _scancode, codepoint, modifiers):
        if modifiers and ("ctrl" in modifiers or "alt" in modifiers or "meta" in modifiers):
            return False
        name = codepoint if codepoint and codepoint.strip() else _KEY_NAMES.get(key, "")
        control = control_for_key(self.state, name)
        if control is None:
            return False
        self.apply_control(control)
        return True

    def _tick(self, _dt) -> None:
        now = time.monotonic()
        shown = self.views.get(self.state.view)
        if shown is not None and shown.parent is not None and (
                isinstance(shown, PjParticipationView) or shown.empty):
            shown.signup_url = self.signup_url()     # minted again before expiry
        langs = self.state.languages(now)
        if langs != self.langs and not self.state.frozen:
            self.langs = langs
            self._show(animate=False)
        if self.state.rotating and not self.state.frozen \
                and now - self._since >= self.state.period:
            self.set_state(self.state.rotate())

    # -- drawing -------------------------------------------------------------------------

    def view_widget(self, view: str) -> PjResultView:
        widget = self.views.get(view)
        if widget is None:
            question = self.consultation.question(view)
            cls = VIEW_CLASSES[question.kind if question else view]
            widget = cls(consultation=self.consultation, question=question,
                         bundle_dir=self.bundle_dir, langs=list(self.langs))
            self.views[view] = widget
        elif list(widget.langs) != list(self.langs):
            widget.langs = list(self.langs)
        return widget

    def phone_url(self) -> str:
        """The phones' page of this consultation, or "" when this projector has no hub."""
        if not self.phone_base:
            return ""
        return f"{self.phone_base.rstrip('/')}/v/{self.consultation.id}"

    def _show(self, animate: bool) -> None:
        body = self.root.ids.body
        body.clear_widgets()
        state = self.state
        self.phones_panel = None
        if state.closing:
            # The meeting is closed: its record's QR covers every view until cleared.
            body.add_widget(PjClosingPanel(
                url=state.closing,
                title=say(self.langs, N_("The meeting is closed: here is its record"), "\n"),
                caption=say(self.langs, N_("Scan to check the figures yourself"), "\n")))
        elif state.phones and self.phone_url():
            # Questions open to phones: the way in, and the phones' answers arriving (results
            # stay hidden when hidden: the count is of answers, not of what they say).
            self.phones_panel = PjPhonesPanel()
            self.phones_panel.show(self.consultation, state.phones, self.snapshot, self.langs,
                                   self.phone_url())
            body.add_widget(self.phones_panel)
        elif state.hidden:
            question = self.consultation.question(state.view)
            prompt = (content(self.langs, question.prompt, "\n") if question else
                      say(self.langs, N_("Approved ideas") if state.view == IDEAS_VIEW
                          else N_("Participation"), "\n"))
            panel = PjHiddenPanel(prompt=prompt, message=say(
                self.langs, N_("The results will be shown once the vote is over."), "\n"))
            body.add_widget(panel)
        else:
            widget = self.view_widget(state.view)
            widget.signup_url = self.signup_url()
            body.add_widget(widget)
            widget.show(self.view_data(state.view), animate=False)
        if animate:
            body.opacity = 0
            Animation(opacity=1, d=0.35, t="out_quad").start(body)
        else:
            Animation.cancel_all(body, "opacity")
            body.opacity = 1
        self._chrome()

    def signup_url(self) -> str:
        link = self.signup_link
        try:
            return (link() if callable(link) else link) or ""
        except Exception:  # a link that cannot be minted is no reason to stop the projector
            return ""

    def _update_view(self, animate: bool) -> None:
        if self.phones_panel is not None:
            self.phones_panel.show(self.consultation, self.state.phones, self.snapshot,
                                   self.langs, self.phone_url())
            self._chrome()
            return
        if self.state.hidden:
            self._chrome()
            return
        widget = self.views.get(self.state.view)
        if widget is not None and widget.parent is not None:
            widget.show(self.view_data(self.state.view), animate=animate)

    def _chrome(self) -> None:
        root, state, langs = self.root, self.state, self.langs
        root.title = content(langs, self.consultation.title, "\n")
        root.header_lines = max(1, len(langs))
        goal = self.consultation.goal
        if self.snapshot is None or state.hidden:
            root.participation = ""
        else:
            n = self.snapshot.contributions
            phrases = []
            for lang in langs:
                _, ngettext = gettext_for(lang), ngettext_for(lang)
                phrase = ngettext("{n} contribution", "{n} contributions", n).format(
                    n=number(n, lang))
                if goal:
                    phrase += " — " + _("goal {goal}").format(goal=number(goal, lang))
                phrases.append(phrase)
            root.participation = join_langs(phrases, "\n")
        if not self.reachable:
            problem = self.problem or N_("Hub unreachable")
            _ = gettext_for(langs[0])
            # "Showing the last results" only when there are some (the corner is one line).
            root.status = _("{problem} — showing the last results").format(problem=_(problem)) \
                if self.snapshot is not None else _(problem)
            root.problem = True
        elif self.snapshot is None and self.results is not None:
            root.status = say(langs[:1], N_("Waiting for the first results…"))
            root.problem = False
        else:
            root.status, root.problem = "", False
        shown = self.rehearsal or (self.snapshot is not None and self.snapshot.rehearsal)
        # The band speaks the languages on screen, and French and Italian always: a
        # cross-border room reads it whichever language the rotation shows.
        band_langs = list(langs) + [lang for lang in ("fr", "it") if lang not in langs
                                    and lang in self.consultation.languages]
        root.rehearsal = say(band_langs, N_("REHEARSAL: these answers do not count"),
                             coloured=False) if shown else ""
        marks = []
        if state.frozen:
            marks.append(say(langs[:1], N_("Frozen")))
        if not state.rotating:
            marks.append(say(langs[:1], N_("Rotation off")))
        if state.hidden:
            marks.append(say(langs[:1], N_("Results hidden")))
        marks.append(f"{state.index + 1}/{len(state.views)}")
        root.indicators = "   ".join(marks)


def build_projector(consultation, results=None, lang: str = "fr", bundle_dir=None,
                    signup_link=None, phone_base: str | None = None, **settings) -> Projector:
    """A projector for `consultation` reading its results through `results` (a `watch(deliver)`:
    sync.display.projector_results, given by main.py; or None to feed it by hand with
    `receive`). Add `projector.root` to a window and call `projector.start()`; `settings` are a
    DisplayControl's initial values."""
    return Projector(consultation, results, lang=lang, bundle_dir=bundle_dir,
                     signup_link=signup_link, phone_base=phone_base, **settings)


def projector_factory(results_for, *, signup_url: str | None = None,
                      phone_base: str | None = None, rehearsal: bool = False):
    """For main.py's hook (`PiazzettaApp(projector_factory=...)`): a `factory(app)` returning
    the projector's root widget, reading its results through `results_for(app)` (main.py's
    sync.display.projector_results: results and the facilitators' display controls from a
    hub, or else results from the app's own local store). The projector starts with the app
    and stops with it.

    The participation view shows a sign-up QR: `signup_url` when given (e.g. printed by the
    hub's admin CLI), else a link minted from this device's own enrollment (its store's
    sign-up key, site and meeting), else none. `phone_base`: the hub's address for residents'
    phones (the "vote on your phone" view), None: no such view."""
    def factory(app):
        from app.kiosk import KioskSettings
        from app.tablet import SignupLink
        settings = KioskSettings(app.store)
        link = signup_url or SignupLink(app.store, consultation_id=app.consultation.id,
                                        site_id=settings.site_id,
                                        meeting_id=settings.meeting_id)
        projector = Projector(app.consultation, results_for(app), lang=app.default_lang,
                              bundle_dir=app.bundle_dir, signup_link=link,
                              phone_base=phone_base, rehearsal=rehearsal)
        projector.results_for = lambda: results_for(app)   # for a new version (reload)
        Window.clearcolor = PALETTE["background"]
        app.bind(on_stop=lambda *_args: projector.stop())
        Clock.schedule_once(lambda _dt: projector.start(), 0)
        app.projector = projector
        return projector.root
    return factory


class ProjectorApp(App):
    """The projector alone, full screen unless a size was configured."""

    def __init__(self, *, consultation, results, lang="fr", bundle_dir=None, **kwargs):
        super().__init__(**kwargs)
        self.projector = build_projector(consultation, results, lang, bundle_dir)
        self.title = "Piazzetta"

    def build(self):
        Window.clearcolor = PALETTE["background"]
        return self.projector.root

    def on_start(self):
        self.projector.start()

    def on_stop(self):
        self.projector.stop()


load_kv(__file__.replace("app.py", "projector.kv"))
