"""The kiosk: the screens of the resident's flow and of facilitator mode, and what moves
between them. It also keeps the kiosk a kiosk: the idle prompt and reset, and the only way out,
through the PIN (a long press on the top-left corner, or Ctrl+Shift+F)."""
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.metrics import dp
from kivy.properties import (BooleanProperty, ListProperty, NumericProperty, ObjectProperty,
                             StringProperty)
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import NoTransition, ScreenManager, TransitionBase
from kivy.uix.vkeyboard import VKeyboard
from kivy.uix.widget import Widget

from app.errors import DomainError
from app.kiosk import PROMPT_SECONDS
from screens import load_kv
from screens.i18n import tr
from screens.resident import ResidentChoices
from screens.tap_guard import TapGuard
from screens.theme import theme
from screens.welcome import WelcomeScreen

THANKS_SECONDS = 20
THANKS_QR_SECONDS = 45       # time to take out a phone and scan
LONG_PRESS_SECONDS = 2.0
KEYBOARD_LAYOUTS = {"fr": "azerty", "it": "qwerty", "en": "qwerty"}
# The fade between screens, read when a kiosk is built; 0: none (screen tests that are not
# about taps during a change of screen).
FADE_SECONDS = 0.12


class OpacityFade(TransitionBase):
    """A cross-fade by the two screens' opacity. Kivy's FadeTransition draws both screens into
    two window-sized framebuffers made anew at every change of screen: in software OpenGL a
    kiosk's memory grew by them resident after resident (bench/kiosk_soak.py) and every frame
    of the fade drew the screen three times. Opacity needs no framebuffer."""

    def on_progress(self, progress):
        self.screen_in.opacity = progress
        self.screen_out.opacity = 1.0 - progress

    def on_complete(self):
        self.screen_in.opacity = 1.0
        self.screen_out.opacity = 1.0
        super().on_complete()


# -- the kiosk's screens, built when first needed ------------------------------------------
# One entry per screen the kiosk navigates to (besides "welcome", built at once): its name and
# a factory that imports the screen's module only when it is first shown.

def _question_screen(kiosk):
    from screens.question import QuestionScreen
    return QuestionScreen(name="question", session=kiosk.session,
                          bundle_dir=kiosk.bundle_dir, controller=kiosk,
                          resident=kiosk.resident)


def _thanks_screen(kiosk):
    from screens.thanks import ThanksScreen
    return ThanksScreen(name="thanks", controller=kiosk)


def _idea_screen(kiosk):
    from screens.idea import IdeaScreen
    return IdeaScreen(name="idea", session=kiosk.session, controller=kiosk,
                      bundle_dir=kiosk.bundle_dir or "")


def _pin_screen(kiosk):
    from screens.pin import PinScreen
    return PinScreen(name="pin", pin=kiosk.pin, controller=kiosk)


def _signup_screen(kiosk):
    from app.signup import signup_config_of_bundle
    from screens.signup_form import SignupFormScreen
    return SignupFormScreen(name="signup", session=kiosk.session, controller=kiosk,
                            config=signup_config_of_bundle(kiosk.bundle_dir))


def _follow_screen(kiosk):
    from screens.follow_idea import FollowIdeaScreen
    return FollowIdeaScreen(name="follow", session=kiosk.session, controller=kiosk)


def _card_screen(kiosk):
    from screens.card_entry import CardEntryScreen
    return CardEntryScreen(name="card", session=kiosk.session, controller=kiosk)


def _facilitator_screen(kiosk):
    from screens.facilitator import FacilitatorScreen
    return FacilitatorScreen(name="facilitator", session=kiosk.session,
                             controller=kiosk, sync=kiosk.sync)


SCREENS = {
    "question": _question_screen,
    "thanks": _thanks_screen,
    "idea": _idea_screen,
    "pin": _pin_screen,
    "signup": _signup_screen,
    "follow": _follow_screen,
    "card": _card_screen,
    "facilitator": _facilitator_screen,
}


class KioskKeyboard(VKeyboard):
    """The docked on-screen keyboard: AZERTY in French, QWERTY in Italian and English."""

    def __init__(self, **kwargs):
        kwargs.setdefault("layout", KEYBOARD_LAYOUTS.get(tr.lang, "qwerty"))
        super().__init__(**kwargs)
        tr.bind(lang=self._follow_language)

    def _follow_language(self, _tr, lang):
        self.layout = KEYBOARD_LAYOUTS.get(lang, "qwerty")

    def on_parent(self, _keyboard, parent):
        # Docked over the bottom of the window, it hid Back and Next: the kiosk makes room.
        Clock.schedule_once(lambda _dt: self._tell_kiosks(), 0)

    def _tell_kiosks(self):
        shown = self.parent is not None
        for widget in list(Window.children):
            if isinstance(widget, KioskRoot):
                widget.keyboard_changed(self if shown else None)


def use_onscreen_keyboard(enabled: bool) -> None:
    """A touch-only device gets a docked keyboard; a physical keyboard keeps working."""
    Window.release_all_keyboards()
    Window.use_syskeyboard = True
    Window.allow_vkeyboard = enabled
    Window.single_vkeyboard = True
    Window.docked_vkeyboard = enabled
    Window.set_vkeyboard_class(KioskKeyboard if enabled else None)


class CornerHotspot(Widget):
    """An invisible corner: held down for two seconds, it opens the PIN prompt."""
    hold_seconds = NumericProperty(LONG_PRESS_SECONDS)
    controller = ObjectProperty(None, allownone=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._pending = None

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return False
        self._cancel()
        self._pending = Clock.schedule_once(self._fire, self.hold_seconds)
        touch.grab(self)
        return False      # a short tap still reaches what is underneath

    def on_touch_up(self, touch):
        if touch.grab_current is self:
            touch.ungrab(self)
            self._cancel()
        return False

    def _cancel(self):
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _fire(self, _dt):
        self._pending = None
        if self.controller is not None:
            self.controller.open_pin()


class IdlePrompt(ModalView):
    """"Are you still there?" with a countdown; when it runs out, the kiosk resets."""
    seconds_left = NumericProperty(PROMPT_SECONDS)
    controller = ObjectProperty(None, allownone=True)

    def start(self):
        self.seconds_left = PROMPT_SECONDS
        self._tick = Clock.schedule_interval(self._count, 1)
        self.open(animation=False)

    def _count(self, _dt):
        self.seconds_left -= 1
        if self.seconds_left <= 0:
            self.expire()

    def expire(self):
        self.stop()
        if self.controller is not None:
            self.controller.reset_resident()

    def stay(self):
        self.stop()
        if self.controller is not None:
            self.controller.poke()

    def stop(self):
        tick = getattr(self, "_tick", None)
        if tick is not None:
            tick.cancel()
            self._tick = None
        self.dismiss(animation=False)


class RehearsalBand(Label):
    """The band across the top of every kiosk screen while the tablet runs in rehearsal
    (app/store/rehearsal.py): black on yellow whatever the palette, in the kiosk's language;
    the screens sit below it, never under it."""


class KioskRoot(FloatLayout):
    """Everything the window shows. `session` is an app.kiosk.KioskSession, `pin` an
    app.security.FacilitatorPin, `sync` a sync.service.SyncService or None."""
    role = StringProperty("kiosk")
    rehearsal = BooleanProperty(False)    # the tablet runs in rehearsal: the band shows
    default_lang = StringProperty("fr")
    # Read aloud is reading (screens/speech.py): the screens' Read aloud button says "Stop
    # reading", and what is being read is outlined (`reading_box`: x, y, width, height in the
    # window; zero width: nothing).
    speaking = BooleanProperty(False)
    reading_box = ListProperty([0, 0, 0, 0])

    def __init__(self, *, session, pin, sync=None, bundle_dir="", role="kiosk",
                 default_lang="fr", on_quit=None, catalogue=None, **kwargs):
        super().__init__(**kwargs)
        # The consultations this tablet holds and the way to switch to one (screens.app);
        # None: only the one it shows.
        self.catalogue = catalogue
        self.session = session
        # Ideas record the language they were written in: the kiosk's, whenever it changes.
        tr.bind(lang=self._lang_changed)      # a weak reference: kiosks come and go in tests
        self._lang_changed(tr, tr.lang)
        self.pin = pin
        self.sync = sync
        self.role = role
        self.default_lang = default_lang
        self.on_quit = on_quit
        self._came_from = "welcome"
        self._thanks_timer = None
        self._between = None         # what waits for the end of a resident (a new version)
        # The resident's own display and voice choices (screens/resident_panel.py), reset
        # after each resident; the panel is built when first opened.
        self.resident = ResidentChoices()
        self.resident.bind(read_aloud=self._read_aloud_changed)
        self._panel = None
        self._speaker = None            # screens/speech.py, imported when first needed
        self._heard = None              # audio-first: the button the last touch read
        # Taps on what the resident has not seen yet are dropped (screens/tap_guard.py): the
        # window's handlers run before any widget's, modal views included.
        self.tap_guard = TapGuard()
        Window.fbind("on_touch_down", self._guard_down)
        Window.fbind("on_touch_move", self._guard_rest)
        Window.fbind("on_touch_up", self._guard_up)
        consultation = session.consultation
        cover = f"{bundle_dir}/{consultation.image}" if bundle_dir and consultation.image else ""
        self.manager = ScreenManager(transition=OpacityFade(duration=FADE_SECONDS)
                                     if FADE_SECONDS > 0 else NoTransition())
        self.welcome = WelcomeScreen(name="welcome", consultation=consultation,
                                     cover_source=cover, controller=self)
        self.resident.bind(easy_read=self.welcome.setter("easy_read"),
                           read_aloud=self.welcome.setter("read_aloud"))
        self.bundle_dir = str(bundle_dir)
        # The other screens are built when first needed: the welcome screen draws sooner;
        # the question screen is built just after, so the first tap does not wait for it.
        self._lazy = {}
        if not pin.is_set or role == "facilitator":
            self._build("pin")      # the first screen added is shown at once, no fade
        self.manager.add_widget(self.welcome)
        # Counted from the first frame's tick (the clock's time at build can be that of the
        # imports): built before the first frame, it held that frame back.
        self._warm = Clock.schedule_once(self._warm_soon, 0)
        self.add_widget(self.manager)
        self.corner = CornerHotspot(controller=self, size_hint=(None, None),
                                    size=(dp(72), dp(72)), pos_hint={"x": 0, "top": 1})
        self.add_widget(self.corner)
        self.band = None                # RehearsalBand, built when a rehearsal first shows
        self.bind(size=self._fit_band, rehearsal=self._fit_band)
        self._fit_band()
        self._idle_prompt = None        # built when first shown (a faster first frame)
        self._idle = Clock.create_trigger(self._idle_reached, session.settings.idle_timeout)
        Window.bind(on_key_down=self._on_key)
        self.settings_changed()
        if not pin.is_set or role == "facilitator":
            self.go("pin")
        else:
            self.go("welcome")
        self.poke()

    # -- screens built when first needed ---------------------------------------------------

    def _build(self, name):
        screen = self._lazy.get(name)
        if screen is None:
            screen = SCREENS[name](self)
            self._lazy[name] = screen
            self.manager.add_widget(screen)
        return screen

    @property
    def idle_prompt(self):
        if self._idle_prompt is None:
            self._idle_prompt = IdlePrompt(controller=self)
        return self._idle_prompt

    def _warm_soon(self, _dt):
        self._warm = Clock.schedule_once(lambda _dt: self._build("question"), 0.5)

    @property
    def question(self):
        return self._build("question")

    @property
    def thanks(self):
        return self._build("thanks")

    @property
    def idea(self):
        return self._build("idea")

    @property
    def pin_screen(self):
        return self._build("pin")

    @property
    def signup_form(self):
        return self._build("signup")

    @property
    def follow_idea(self):
        return self._build("follow")

    @property
    def card_entry(self):
        return self._build("card")

    @property
    def facilitator(self):
        return self._build("facilitator")

    def set_sync(self, sync):
        """The sync service, once it is ready (main.py starts it after the first frame)."""
        self.sync = sync
        if "facilitator" in self._lazy:
            self._lazy["facilitator"].sync = sync

    # -- moving between screens ------------------------------------------------------------

    @property
    def current(self):
        return self.manager.current

    def go(self, name):
        if name != "welcome":
            self._build(name)
        if self._thanks_timer is not None and name != "thanks":
            self._thanks_timer.cancel()
            self._thanks_timer = None
        if name == "welcome":
            self._welcome_state()
            if self._between is not None:
                Clock.schedule_once(self._run_between, 0)
        if self.manager.current != name:
            self.settling()
            from screens.widgets import scroll_to_top
            scroll_to_top(self.manager.get_screen(name))
        self.manager.current = name

    def settling(self):
        """What the screen shows has just changed: touches wait until it has settled."""
        self.tap_guard.arm()
        self._heard = None

    def _guard_down(self, window, touch):
        if self.tap_guard.refuses(touch):
            self.poke()
            return True
        if self.resident.read_aloud == "audio_first":
            # A dialog (stop voting?, are you still there?, the display panel) takes touches
            # before the screens do: its buttons are read first there too.
            modal = window.children[0] if window.children else None
            if isinstance(modal, ModalView) and self._read_first_on(modal, *touch.pos):
                self.poke()
                return True
        return False

    def _guard_rest(self, _window, touch):
        return self.tap_guard.dropped(touch)

    def _guard_up(self, _window, touch):
        return self.tap_guard.dropped(touch, release=True)

    def _fit_band(self, *_args):
        """In rehearsal the screens take the height below the band; else the whole window."""
        band = self.band
        if band is None:
            if not self.rehearsal:
                return
            band = self.band = RehearsalBand(size_hint=(1, None), pos_hint={"x": 0, "top": 1})
            # Over the screens, under the corner that opens the PIN prompt.
            self.add_widget(band, index=self.children.index(self.corner) + 1)
            band.bind(height=self._fit_band)
        band.opacity = 1 if self.rehearsal else 0
        if self.rehearsal:
            self.manager.size_hint_y = None
            self.manager.pos_hint = {"x": 0, "y": 0}
            self.manager.height = max(0, self.height - band.height)
        else:
            self.manager.size_hint_y = 1
            self.manager.pos_hint = {}

    def _welcome_state(self):
        self.rehearsal = self.session.in_rehearsal
        self.welcome.locked = self.session.waits_for_facilitator
        self.welcome.identified = self.session.identified
        self.welcome.site_id = self.session.settings.site_id or ""

    def start_ballot(self):
        if self.session.identified and not self.session.can_start:
            self.go("card")
            return
        if not self.session.can_start:
            self.welcome.locked = True
            return
        try:
            self.session.start()
        except DomainError:
            # The welcome screen already says why (a closed consultation); never crash.
            self.welcome.closed = True
            return
        if self.session.question is None:
            self._show_thanks()
            return
        self.question.show()
        self.go("question")

    def after_question(self):
        if self.session.at_end:
            self._show_thanks()
        else:
            self.question.show()

    def card_accepted(self):
        """Identified mode: the card is good; the ballot starts (its questions this card
        answered before are passed over, as the card screen said)."""
        self.start_ballot()

    def card_cancelled(self):
        self.go("welcome")

    def _show_thanks(self):
        from app.tablet import kiosk_idea_url, kiosk_signup_url
        session, thanks = self.session, self.thanks
        store, settings = session.store, session.settings
        thanks.offer_idea = session.proposal is None
        code = session.proposal.short_code if session.proposal else ""
        thanks.idea_code = code
        thanks.idea_url = kiosk_idea_url(store, code)
        thanks.signup_url = kiosk_signup_url(
            store, consultation_id=session.consultation.id, site_id=settings.site_id,
            meeting_id=settings.meeting_id)
        self.go("thanks")
        seconds = THANKS_QR_SECONDS if (thanks.signup_url or code) else THANKS_SECONDS
        if self._thanks_timer is not None:
            self._thanks_timer.cancel()
        self._thanks_timer = Clock.schedule_once(lambda _dt: self.finish(), seconds)
        thanks.count_down(seconds)

    # -- sign-up on the tablet, and following an idea ---------------------------------------

    def open_signup(self):
        self.go("signup")

    def signup_sent(self):
        self.thanks.signed_up = True
        self._show_thanks()

    def signup_cancelled(self):
        self._show_thanks()

    def open_follow(self):
        self.go("follow")

    def follow_closed(self):
        self.go("welcome")

    def open_idea(self):
        self._came_from = self.current if self.current in ("welcome", "thanks") else "welcome"
        self.go("idea")

    def idea_sent(self, proposal):
        self._show_thanks()

    def idea_cancelled(self):
        if self._came_from == "thanks":
            self._show_thanks()
        else:
            self.go("welcome")

    def finish(self):
        """The resident is done: close the ballot and show the welcome to the next one."""
        self.session.finish()
        self._forget_resident()

    def reset_resident(self):
        """Idle reset: the answers given still count; nothing of them stays on screen."""
        self.session.abandon()
        self._forget_resident()

    def end_resident(self):
        """The facilitator switched rehearsal on or off: the resident on their way is ended
        and nothing they typed or chose stays on a screen (an idea typed in rehearsal must not
        be sent once the session is open); the facilitator's Back leads to the welcome."""
        self.session.abandon()
        self._clear_resident_screens()
        self._before_pin = "welcome"

    def _forget_resident(self):
        self._clear_resident_screens()
        tr.lang = self.default_lang
        self.go("welcome")
        self.poke()

    def _clear_resident_screens(self):
        if self._idle_prompt is not None:
            self._idle_prompt.stop()
        Window.release_all_keyboards()
        if self._panel is not None:
            self._panel.dismiss(animation=False)
        self.stop_reading()
        self._display_defaults()
        if "question" in self._lazy:
            self.question.reset()
        if "idea" in self._lazy:
            self.idea.clear()
        if "thanks" in self._lazy:
            self.thanks.forget()
        for name in ("signup", "follow", "card"):
            if name in self._lazy:
                self._lazy[name].clear()

    # -- between two residents (a new version of the consultation) -------------------------

    def between_residents(self):
        """No resident is on their way through a ballot: the welcome screen with no ballot
        open (a facilitator tablet: its facilitator screen too)."""
        screens = ("welcome", "facilitator") if self.role == "facilitator" else ("welcome",)
        return self.manager.current in screens and not self.session.started

    def when_between_residents(self, callback):
        """Call `callback()` once no resident is mid-ballot: at the next frame when none is,
        else when the welcome screen shows again (after the thanks screen, an idle reset)."""
        self._between = callback
        if self.between_residents():
            Clock.schedule_once(self._run_between, 0)

    def _run_between(self, _dt=None):
        callback = self._between
        if callback is None or not self.between_residents():
            return                  # someone started meanwhile: the next welcome calls it
        self._between = None
        callback()

    # -- facilitator mode ------------------------------------------------------------------

    def open_pin(self):
        if self.current not in ("pin", "facilitator"):
            self._before_pin = self.current
            self.go("pin")

    def leave_pin(self):
        if not self.pin.is_set:
            return
        self.go(getattr(self, "_before_pin", "welcome") or "welcome")

    def facilitator_unlocked(self):
        self.go("facilitator")

    def back_to_kiosk(self):
        """Back where the kiosk was before the PIN (the welcome after unlocking a ballot)."""
        target = getattr(self, "_before_pin", "welcome")
        self._before_pin = "welcome"
        if target not in ("question", "idea", "thanks") or self.session.unlocked:
            target = "welcome"
        if target == "question" and self.session.question is None:
            target = "welcome"
        self.go(target)

    # -- the resident's display and voice panel (no PIN) ----------------------------------

    def open_display_panel(self):
        if self._panel is None:
            from screens.resident_panel import ResidentPanel
            self._panel = ResidentPanel(kiosk=self, choices=self.resident)
        self._panel.open(animation=False)
        self.settling()

    @property
    def speaker(self):
        """The kiosk's voice (screens/speech.py), made when first needed."""
        if self._speaker is None:
            from screens.speech import Speaker
            self._speaker = Speaker(volume=self.resident.volume)
            self.resident.bind(volume=self._speaker.setter("volume"))
            self._speaker.bind(speaking=self._speaking_changed, on_sound=self._outline)
        return self._speaker

    def read_aloud(self, utterances):
        self.speaker.say(utterances)

    def read_aloud_page(self, screen):
        """A screen's Read aloud button: read its page, or stop while it reads."""
        if self.speaking:
            self.stop_reading()
        else:
            self.read_aloud(screen.spoken_page())

    def stop_reading(self):
        if self._speaker is not None:
            self._speaker.stop()

    def _speaking_changed(self, _speaker, speaking):
        self.speaking = speaking
        if not speaking:
            self.reading_box = [0, 0, 0, 0]

    def _outline(self, _speaker, _kind, utterance, _when):
        widget = utterance.shown_by
        try:
            if widget is None or widget.get_root_window() is None:
                self.reading_box = [0, 0, 0, 0]
                return
            x, y = widget.to_window(widget.x, widget.y)
        except ReferenceError:          # a proxy to a widget gone since (a dropped body)
            self.reading_box = [0, 0, 0, 0]
            return
        self.reading_box = [x, y, widget.width, widget.height]

    def _read_first(self, touch) -> bool:
        """Audio-first (issue 31): the first touch on a button reads its words and does nothing
        else; a second touch on the same button acts (through the tap guard, as any tap). A
        text touched is read and the touch goes on (a scroll still scrolls). True: the touch
        is used up."""
        screen = self.manager.current_screen
        if screen is None:
            return False
        return self._read_first_on(screen, *self.to_window(*touch.pos))

    def _read_first_on(self, screen, x, y) -> bool:
        """`_read_first` on `screen` (a screen, or a dialog over it) at the window point (x, y)."""
        from screens.reading import audible_under, spoken_words
        if self.current in ("pin", "facilitator"):
            return False
        button, label = audible_under(screen, x, y)
        if button is not None:
            if button is self._heard:
                self._heard = None
                return False
            self._heard = button
            self.read_aloud([self.spoken_button(screen, button)])
            return True
        if label is not None and not (self.speaking and self._heard is label):
            from app.speech import Utterance
            self._heard = label
            self.read_aloud([Utterance(spoken_words(label), tr.lang, "", label)])
        return False

    @staticmethod
    def spoken_button(screen, button):
        """What reading `button` says: the screen's own words for it (an answer's recording)
        when it has them, else the button's words, a language button in its own language."""
        from app.speech import VOICES, Utterance
        from screens.reading import spoken_words
        lang = getattr(button, "lang", None)
        if lang in VOICES:
            return Utterance(spoken_words(button), lang, "", button)
        if hasattr(screen, "spoken_button"):
            return screen.spoken_button(button)
        return Utterance(spoken_words(button), tr.lang, "", button)

    def _read_aloud_changed(self, _resident, mode):
        if mode == "off" and self._speaker is not None:
            self._speaker.stop()

    def resident_display(self, *, text_size=None, high_contrast=None):
        """The resident's own text size or contrast, until the next resident."""
        if text_size is not None:
            theme.text_size = text_size
        if high_contrast is not None:
            theme.high_contrast = high_contrast
        Window.clearcolor = theme.colours["background"]

    def _display_defaults(self):
        """The tablet's display as the facilitator set it, and no resident's choice."""
        settings = self.session.settings
        self.resident.reset(read_aloud=settings.read_aloud)
        if settings.read_aloud != "off" and self._speaker is None:
            # Read aloud from the start: the voice is made after the first frame.
            Clock.schedule_once(lambda _dt: self.speaker, 0)
        self.resident_display(text_size=settings.text_size,
                              high_contrast=settings.high_contrast)

    def settings_changed(self):
        settings = self.session.settings
        self._display_defaults()
        use_onscreen_keyboard(settings.onscreen_keyboard)
        self._idle.timeout = settings.idle_timeout
        self._welcome_state()

    def quit(self):
        if self.on_quit is not None:
            self.on_quit()

    # -- the on-screen keyboard -------------------------------------------------------------

    def keyboard_changed(self, keyboard):
        """The docked keyboard came (or went): the screens use the space above it, and the
        field being typed in is scrolled into view there."""
        height = keyboard.height * keyboard.scale if keyboard is not None else 0
        manager = self.manager
        if height <= 0 or height >= self.height:
            manager.size_hint_y, manager.y = 1, self.y
            return
        manager.size_hint_y = None
        manager.height = self.height - height
        manager.y = self.y + height
        target = getattr(keyboard, "target", None)
        if target is not None:
            Clock.schedule_once(lambda _dt: self._show_field(target), 0)

    def _show_field(self, field):
        from screens.widgets import CueScroll
        node = field.parent
        while node is not None and node is not self:
            if isinstance(node, CueScroll):
                node.scroll_to_show(field)
                return
            node = node.parent

    # -- idle and keys ---------------------------------------------------------------------

    def poke(self, *_args):
        """Someone is there: restart the idle countdown."""
        self._idle.cancel()
        self._idle()

    def on_touch_down(self, touch):
        if self._idle_prompt is None or not self._idle_prompt.parent:
            self.poke()
        if self.resident.read_aloud == "audio_first" and self._read_first(touch):
            return True
        return super().on_touch_down(touch)

    def _lang_changed(self, _tr, lang):
        self.session.lang = lang

    def _idle_reached(self, *_args):
        current = self.current
        if current == "welcome" and not self.session.started:
            if tr.lang != self.default_lang:
                tr.lang = self.default_lang
            self.poke()
            return
        if current in ("pin", "facilitator"):
            if self.pin.is_set:       # leave facilitator mode when nobody is using it
                self.back_to_kiosk()
            return
        if current == "thanks" and self._thanks_timer is not None:
            # The thanks screen closes by itself, and says when: no second countdown over it.
            self.poke()
            return
        self.idle_prompt.start()

    def _on_key(self, _window, key, _scancode, _codepoint, modifiers):
        self.poke()
        if key == ord("f") and "ctrl" in modifiers and "shift" in modifiers:
            self.open_pin()
            return True
        return False

    def dispose(self):
        """Unbind from the window (tests build several roots in one process)."""
        Window.unbind(on_key_down=self._on_key)
        Window.funbind("on_touch_down", self._guard_down)
        Window.funbind("on_touch_move", self._guard_rest)
        Window.funbind("on_touch_up", self._guard_up)
        self._warm.cancel()
        if "facilitator" in self._lazy:
            self._lazy["facilitator"].dispose()
        self._idle.cancel()
        if self._thanks_timer is not None:
            self._thanks_timer.cancel()
        if "pin" in self._lazy:
            self.pin_screen.on_leave()
        if self._idle_prompt is not None:
            self._idle_prompt.stop()
        if self._speaker is not None:
            self._speaker.close()


load_kv(__file__)
