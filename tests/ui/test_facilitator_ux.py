"""Issue 18 on the facilitator's side: a PIN shorter than today's minimum is replaced at
once, and the retention of sent answers is chosen on the session page."""
from app.store import RETENTION_CHOICES
from tests.ui.conftest import PIN
from tests.ui.test_facilitator import enter_facilitator, type_pin


def test_a_right_but_short_pin_asks_for_a_longer_one(kiosk_factory, monkeypatch):
    import app.security as security
    k = kiosk_factory()
    monkeypatch.setattr(security, "PIN_MIN", len(PIN) + 2)   # today's rule: 8 digits
    k.root.open_pin()
    k.settle()
    type_pin(k, PIN)
    pin = k.root.pin_screen
    assert k.root.current == "pin" and pin.mode == "choose"
    assert "8" in pin.message and not pin.failed
    type_pin(k, "86421357")
    type_pin(k, "86421357")
    assert k.root.current == "facilitator"
    assert security.FacilitatorPin(k.store).verify("86421357")


def test_retention_is_chosen_on_the_session_page(kiosk_factory):
    k = kiosk_factory()
    fac = enter_facilitator(k)
    page = fac.pages["session"]
    cards = page.ids.retention.children[::-1]
    assert len(cards) == len(RETENTION_CHOICES)
    chosen = [i for i, c in enumerate(cards) if c.selected]
    assert [RETENTION_CHOICES[i] for i in chosen] == [30]          # one month by default
    k.tap(cards[RETENTION_CHOICES.index(7)])
    assert k.store.retention_days == 7
    assert fac.pages["session"].ids.retention.children[::-1][1].selected


def test_quit_asks_first(kiosk_factory):
    quits = []
    k = kiosk_factory()
    k.root.on_quit = lambda: quits.append(1)
    fac = enter_facilitator(k)
    k.tap(fac.ids.quit)
    dialog = fac.confirm_quit
    assert not quits and dialog.parent is not None           # asked, nothing stopped
    k.tap(dialog.ids.stay)
    assert not quits and dialog.parent is None and k.root.current == "facilitator"
    k.tap(fac.ids.quit)
    k.tap(fac.confirm_quit.ids.leave)
    assert quits


def test_reject_does_not_look_like_approve(kiosk_factory):
    from screens.widgets import DangerButton, RoundedButton, SecondaryButton
    k = kiosk_factory()
    fac = enter_facilitator(k)
    page = fac.pages["ideas"]
    approve, reject = page.ids.approve, page.ids.reject
    assert type(approve.__self__) is RoundedButton             # filled: the main action
    assert isinstance(reject, SecondaryButton) and isinstance(reject, DangerButton)
    assert list(reject.background) != list(approve.background)   # outlined, not filled


def test_ranking_never_moves_an_option_under_the_finger(kiosk_factory):
    """Ranking the second option first leaves every card where it was drawn; the badges say
    the order."""
    from tests.ui.conftest import step
    from tests.ui.test_resident import kind_is, start
    k = kiosk_factory()
    start(k)
    k.session.index = [q.kind for q in k.session.consultation.questions].index("ranking")
    k.root.question.show()
    step(3)
    body = kind_is(k, "ranking")
    where = {o: tuple(c.pos) for o, c in body.cards.items()}
    second, first = body.question.option_ids[1], body.question.option_ids[0]
    k.tap(body.cards[second])
    k.tap(body.cards[first])
    step(3)
    assert body.cards[second].badge == "1" and body.cards[first].badge == "2"
    assert {o: tuple(c.pos) for o, c in body.cards.items()} == where


def test_the_projector_page_says_what_the_projector_shows(kiosk_factory):
    """Before anything is sent it says it does not know; after, the view the hub confirmed."""
    from tests.ui.conftest import step

    class Remote:
        def send(self, control, lang, done):
            done({"revision": 2, "control": {"view": "q-ticket", "rotating": False}}, None)

    k = kiosk_factory()
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["projector"])
    page = fac.pages["projector"]
    assert "not known" in page.ids.showing.text or "pas" in page.ids.showing.text
    page.remote = Remote()
    page.send({"view": "q-ticket"})
    step(3)
    prompt = k.session.consultation.question("q-ticket").prompt["fr"]
    assert prompt in page.ids.showing.text and not page.rotating


def test_the_projector_page_opens_the_question_on_screen_to_phones(kiosk_factory):
    """Phones (issue 29): the question on screen is opened to phones, with or without cards, as
    one display control; the same button closes it. FR and IT screenshots."""
    from screens.i18n import tr
    from tests.ui.conftest import step
    sent = []

    class Remote:
        def send(self, control, lang, done):
            sent.append(dict(control))
            merged = {"view": "q-ticket", "phones": control.get("phones", []),
                      "phones_cards": control.get("phones_cards", False)}
            done({"revision": len(sent), "control": merged}, None)

    k = kiosk_factory()
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["projector"])
    page = fac.pages["projector"]
    page.remote = Remote()
    page.ids.phones.dispatch("on_release")          # no question on screen yet: said so
    assert not sent and page.error
    page.send({"view": "q-ticket"})
    step(3)
    k.tap(page.ids.phones_cards)
    k.tap(page.ids.phones)
    step(3)
    assert sent[-1] == {"phones": ["q-ticket"], "phones_cards": True, "view": "q-ticket"}
    assert page.phones == ["q-ticket"] and page.phones_cards
    for lang in ("fr", "it"):
        tr.lang = lang
        step(3)
        k.shot(f"facilitator-projector-phones-{lang}", lang)
    tr.lang = "fr"
    k.tap(page.ids.phones)
    step(3)
    assert sent[-1] == {"phones": []} and page.phones == []
