"""Facilitator mode: the PIN chosen at first start, wrong PINs slowed down, the only way out of
the kiosk, and what the facilitator does there (mode, unlock, figures, moderation, display)."""
import pytest

from tests.ui.conftest import PIN, step, wait_settled
from tests.ui.test_resident import start


def type_pin(k, digits):
    pin = k.root.pin_screen
    for digit in digits:
        k.tap([w for w in pin.ids.keypad.children if w.text == digit][0], frames=1)
    k.tap(pin.ids.ok)


def enter_facilitator(k):
    k.root.open_pin()
    k.settle()
    assert k.root.current == "pin"
    type_pin(k, PIN)
    assert k.root.current == "facilitator"
    return k.root.facilitator


def test_first_start_asks_to_choose_the_pin(kiosk_factory):
    k = kiosk_factory(pin=False)
    assert k.root.current == "pin" and k.root.pin_screen.mode == "choose"
    assert k.root.pin_screen.ids.cancel.disabled           # no way around it
    type_pin(k, "12")
    assert k.root.pin_screen.message and k.root.pin_screen.mode == "choose"
    type_pin(k, "864213")
    assert k.root.pin_screen.mode == "confirm"
    type_pin(k, "864113")
    assert k.root.pin_screen.mode == "choose" and k.root.pin_screen.message
    type_pin(k, "864213")
    type_pin(k, "864213")
    assert k.root.current == "facilitator"
    record = k.store.get_setting("facilitator_pin")
    assert record["kdf"] == "scrypt" and "864213" not in str(record)


def test_wrong_pins_are_slowed_down_and_the_kiosk_stays_closed(kiosk):
    k = kiosk
    k.root.open_pin()
    k.settle()
    for _ in range(3):
        type_pin(k, "0000")
        assert k.root.current == "pin"
    assert "s." in k.root.pin_screen.message or "s" in k.root.pin_screen.message
    assert k.root.pin_screen.waiting
    type_pin(k, PIN)                       # even the right PIN waits its turn
    assert k.root.current == "pin"
    assert k.root.pin_screen.failed
    k.tap(k.root.pin_screen.ids.cancel)
    assert k.root.current == "welcome"


def test_only_the_pin_leaves_the_kiosk(kiosk):
    from kivy.core.window import Window
    k = kiosk
    # Escape and the back key do nothing; Ctrl+Shift+F opens the PIN prompt.
    Window.dispatch("on_key_down", 27, 0, None, [])
    step(2)
    assert k.root.current == "welcome"
    Window.dispatch("on_key_down", ord("f"), 0, "F", ["ctrl", "shift"])
    k.settle()
    assert k.root.current == "pin"
    k.tap(k.root.pin_screen.ids.cancel)
    # A long press on the top-left corner opens it too; a short tap does not.
    from kivy.tests.common import UnitTestTouch
    corner = k.root.corner
    corner.hold_seconds = 0.05
    x, y = corner.center
    wait_settled()
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    import time
    time.sleep(0.1)
    step(3)
    assert k.root.current == "welcome"
    wait_settled()
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    time.sleep(0.1)
    step(3)
    touch.touch_up()
    k.settle()
    assert k.root.current == "pin"


def test_facilitated_mode_and_unlock(kiosk):
    k = kiosk
    fac = enter_facilitator(k)
    page = fac.ids.pages.get_screen("session")
    modes = [page.ids.mode_open, page.ids.mode_facilitated, page.ids.mode_identified]
    step(3)       # the three laid out side by side (or one above the other) and measured
    assert len({round(m.height) for m in modes}) == 1        # one height for the three
    assert all(m.texture_size[1] <= m.height - 20 for m in modes)   # no label overflows
    unlock = page.ids.unlock
    assert unlock.height == 0 and unlock.disabled             # open mode: no button, no hole
    k.tap(page.ids.mode_facilitated)
    assert k.session.settings.ballot_mode == "facilitated"
    step(3)
    assert unlock.height >= 64 and unlock.opacity == 1 and unlock.top < modes[0].y
    k.tap(page.ids.unlock)
    k.settle()
    assert k.root.current == "welcome" and not k.root.welcome.ids.start.disabled
    start(k)
    k.root.reset_resident()
    k.settle()
    assert k.root.welcome.ids.start.disabled    # one unlock, one ballot


def test_identified_mode_asks_for_a_card(kiosk):
    k = kiosk
    fac = enter_facilitator(k)
    page = fac.ids.pages.get_screen("session")
    k.tap(page.ids.mode_identified)
    assert k.session.settings.ballot_mode == "identified"
    assert page.ids.mode_identified.selected and not page.ids.mode_open.selected
    k.tap(fac.ids.back)
    k.settle()
    assert k.root.current == "welcome"
    k.tap(k.root.welcome.ids.start)
    assert k.root.current == "card"            # no ballot before a card is shown
    assert k.session.ballot_id is None


def test_site_and_meeting_choice(kiosk):
    k = kiosk
    fac = enter_facilitator(k)
    page = fac.ids.pages.get_screen("session")
    site = [c for c in page.ids.sites.children if "Vintimille" in c.text][0]
    k.tap(site)
    assert k.session.settings.site_id == "ventimiglia-biblioteca"
    meetings = [c for c in page.ids.meetings.children if "santé" in c.text]
    k.tap(meetings[0])
    assert k.session.settings.meeting_id == "m-ventimiglia-1210"
    k.tap(fac.ids.back)
    assert [m["title"] for m in k.root.welcome.meetings] == ["Réunion publique : santé et services"]
    ballot = start(k)
    row = k.store.conn.execute("SELECT site_id, meeting_id FROM ballots WHERE id = ?",
                               (ballot,)).fetchone()
    assert row == ("ventimiglia-biblioteca", "m-ventimiglia-1210")


def test_figures_and_moderation(kiosk):
    k = kiosk
    start(k)
    k.tap(k.body().ids.green)
    k.session.submit_idea(title="Bancs publics", text="Des bancs place du marché")
    k.session.submit_idea(title="Spam", text="Achetez")
    k.root.reset_resident()
    k.settle()
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["figures"])
    figures = fac.ids.pages.get_screen("figures")
    assert figures.ids.ballots_today.figure == "1" and figures.ids.ideas.figure == "2"
    tallies = figures.ids.tallies.children[::-1]
    assert "Bus transfrontalier Menton–Vintimille\u00a0: 1 pour" in tallies[0].summary
    k.tap(fac.nav_buttons["ideas"])
    page = fac.ids.pages.get_screen("ideas")
    cards = {c.proposal.title: c for c in page.ids.ideas.children}
    # Each idea says the language it was written in (the kiosk's, French here).
    assert "Proposée en français" in cards["Spam"].meta
    k.tap(cards["Spam"].ids.openb)
    k.tap(page.ids.reject)                       # no reason: refused, nothing changed
    assert page.moderation_error
    assert k.store.proposals(k.session.consultation.id, "rejected") == []
    k.type(page.ids.edit_reason, "Publicité")
    k.tap(page.ids.reject)
    cards = {c.proposal.title: c for c in page.ids.ideas.children}
    k.tap(cards["Bancs publics"].ids.openb)
    page.ids.edit_title.input.text = ""
    k.type(page.ids.edit_title, "Bancs publics place du marché")
    k.tap(page.ids.approve)
    approved = k.store.proposals(k.session.consultation.id, "approved")
    rejected = k.store.proposals(k.session.consultation.id, "rejected")
    assert [p.title for p in approved] == ["Bancs publics place du marché"]
    assert [(p.title, p.reason) for p in rejected] == [("Spam", "Publicité")]   # kept


def test_display_settings_apply_and_persist(kiosk):
    from screens.theme import theme
    k = kiosk
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["display"])
    page = fac.ids.pages.get_screen("display")
    step(2)
    assert page.ids.keyboard_off.height == page.ids.keyboard_on.height   # one height for both
    sync = fac.ids.pages.get_screen("sync")
    assert sync.ids.hub_url.input.background_disabled_normal == ""      # flat, not Kivy's grey
    assert sync.ids.hub_url.ids.lab.disabled_color == list(theme.colours["text_muted"])
    k.tap(page.ids.size_very_large)
    k.tap(page.ids.high_contrast)
    k.tap(page.ids.idle_plus)
    assert theme.text_size == "very_large" and theme.high_contrast
    assert k.session.settings.idle_timeout == 75 and k.root._idle.timeout == 75
    assert (k.store.get_setting("kiosk.text_size"), k.store.get_setting("kiosk.high_contrast")) \
        == ("very_large", True)
    k.tap(page.ids.keyboard_on)
    from kivy.core.window import Window
    assert Window.allow_vkeyboard and Window.docked_vkeyboard
    k.tap(page.ids.keyboard_off)
    assert not Window.allow_vkeyboard


def test_unlock_builds_the_first_page_and_a_page_opened_later_speaks_the_language(kiosk):
    from kivy.uix.label import Label
    from screens.i18n import tr

    def words(page):
        return {w.text for w in page.walk(restrict=True) if isinstance(w, Label)}
    k = kiosk
    fac = enter_facilitator(k)
    # Every page's entry in the navigation, one page behind them.
    assert list(fac.nav_buttons) == ["session", "figures", "ideas", "counts", "projector",
                                     "display", "sync"]
    assert set(fac.pages) == {"session"} and fac.ids.pages.screen_names == ["session"]
    k.tap(fac.nav_buttons["figures"])
    figures = fac.pages["figures"]
    assert fac.ids.pages.current == "figures" and fac.nav_buttons["figures"].selected
    assert {"Bulletins aujourd'hui", "Bulletins au total"} <= words(figures)
    tr.lang = "it"
    step(2)
    assert set(fac.pages) == {"session", "figures"}     # a new language builds no page
    assert fac.nav_buttons["figures"].text == "Cifre"
    k.tap(fac.nav_buttons["counts"])
    counts = fac.pages["counts"]
    assert set(fac.pages) == {"session", "figures", "counts"}
    assert {"Conteggi su carta e per alzata di mano", "Registrare il conteggio"} <= words(counts)
    assert "Décomptes papier et à main levée" not in words(counts)
    # Asked for by code, a page not shown yet is built (and stays off screen).
    assert fac.ids.pages.get_screen("sync") is fac.pages["sync"]
    assert fac.ids.pages.current == "counts"


def test_onscreen_keyboard_follows_the_language(kiosk_factory):
    from screens.kiosk import KioskKeyboard
    from screens.i18n import tr
    k = kiosk_factory(onscreen_keyboard=True)
    keyboard = KioskKeyboard()
    assert keyboard.layout == "azerty"
    tr.lang = "it"
    assert keyboard.layout == "qwerty"
    k.tap(k.root.welcome.ids.idea)
    k.root.idea.ids.title.input.focus = True
    step(3)
    from kivy.core.window import Window
    shown = [w for w in Window.children if isinstance(w, KioskKeyboard)]
    assert shown and shown[0].layout == "qwerty" and shown[0].docked
    k.root.idea.ids.title.input.focus = False
    step(2)


class FakeSync:
    """A stand-in with the SyncService surface, for the panel only (no HTTP involved)."""

    def __init__(self):
        from sync.status import SyncStatus
        self.SyncStatus = SyncStatus
        self.enrolled_with = None

    def status(self):
        return self.SyncStatus(enrolled=self.enrolled_with is not None,
                               hub_url=self.enrolled_with, pending=3)

    def enroll(self, hub_url, code):
        if code != "GOOD-CODE":
            raise ValueError("This enrollment code is not valid.")
        self.enrolled_with = hub_url

    def start(self):
        pass

    def stop(self):
        pass

    def sync_now(self):
        pass


def test_sync_panel_without_and_with_a_service(kiosk_factory):
    import time
    k = kiosk_factory()
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["sync"])
    page = fac.ids.pages.get_screen("sync")
    assert "pas encore enrôlée" in page.ids.status.text
    # No sync service: the form is not shown greyed out as if usable, it is not shown at all.
    assert page.ids.enroll.disabled and page.ids.hub_url.disabled
    assert page.ids.enroll_form.opacity == 0 and page.ids.enroll_form.height == 0
    assert page.ids.enroll.opacity == 0 and page.ids.sync_now.opacity == 0
    fac.sync = FakeSync()
    page.poll()
    step(2)
    assert "3" in page.ids.status.text and not page.ids.enroll.disabled
    assert page.ids.enroll_form.opacity == 1 and page.ids.enroll.opacity == 1
    k.type(page.ids.hub_url, "http://127.0.0.1:9")
    k.type(page.ids.code, "BAD")
    k.tap(page.ids.enroll)
    for _ in range(50):
        if not page.busy:
            break
        time.sleep(0.02)
        step(1)
    assert "not valid" in page.message
    page.ids.code.input.text = ""
    k.type(page.ids.code, "GOOD-CODE")
    k.tap(page.ids.enroll)
    for _ in range(50):
        if not page.busy:
            break
        time.sleep(0.02)
        step(1)
    assert "enrôlée" in page.message and "127.0.0.1:9" in page.ids.status.text


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_sync_page_says_what_to_do_when_revoked_or_refused_with_the_tablet_id(kiosk_factory,
                                                                              lang):
    """Revoked by staff, credentials refused, hub unreachable: each state tells the
    facilitator what to do, in their language, and a refused tablet shows its ID for staff."""
    from sync import status as st
    k = kiosk_factory(lang=lang)
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["sync"])
    page = fac.ids.pages.get_screen("sync")
    seen = {}
    for state, revoked in ((st.REVOKED, True), (st.CREDENTIALS_REFUSED, False),
                           (st.UNREACHABLE, False)):
        class StateSync(FakeSync):
            def status(self, state=state, revoked=revoked):
                return self.SyncStatus(enrolled=True, hub_url="http://hub.example", pending=7,
                                       revoked=revoked, state=state, device_id="tab-42")
        fac.sync = StateSync()
        page.poll()
        step(2)
        seen[state] = page.ids.status.text
    assert "tab-42" in seen[st.REVOKED] and "tab-42" in seen[st.CREDENTIALS_REFUSED]
    assert "tab-42" not in seen[st.UNREACHABLE]
    assert len({seen[s] for s in seen}) == 3          # three different sets of words
    for text in seen.values():
        assert "7" in text and "Staff revoked" not in text and "Nothing is lost" not in text


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_choice_rows_hold_their_cards_in_portrait_with_very_large_text(kiosk_factory, lang):
    """Portrait, very large text: the display page's text sizes go one above the other, and
    every card stays inside its row (built by a kv rule, the cards had kept their class's own
    height, taller than the row's share, and "Normal" covered the "Text size" heading)."""
    from screens.theme import theme
    from screens.widgets import ChoiceRow
    from tests.ui.conftest import set_size
    k = kiosk_factory(lang=lang)
    set_size(800, 1280)
    theme.text_size = "very_large"
    fac = enter_facilitator(k)
    fac.show_page("display")
    step(6)
    rows = [w for w in fac.pages["display"].walk(restrict=True) if isinstance(w, ChoiceRow)]
    assert rows and rows[0].orientation == "vertical"
    for row in rows:
        for card in (c for c in row.children if hasattr(c, "text")):
            assert row.y - 0.5 <= card.y and card.top <= row.top + 0.5, (card.text, row.height)
    k.shot("facilitator-display-portrait-very-large", lang)
