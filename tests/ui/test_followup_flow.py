"""Issue 6 on the kiosk, on a real window: the thanks screen's sign-up and idea receipt QR codes
(read back from the screenshot with zxing-cpp), the sign-up form for a resident without a
phone (its record in the outbox, nothing of it left in the widgets after the idle reset),
"Follow my idea", and the identified ballot mode with participation cards. Screenshots in
build/screenshots/kiosk/{fr,it}/ from 20- on."""
from __future__ import annotations

import pytest
from kivy.core.window import Window
from kivy.properties import StringProperty
from kivy.uix.textinput import TextInput

from app.cards import (CARD_KEYS, CARD_PUBLIC_KEY, Card, card_public_key, card_signing_seed,
                       sign_card, verify_proof)
from app.signup import SignupConfig, device_signup_key, verify_signup_token
from tests.ui.conftest import step

zxingcpp = pytest.importorskip("zxingcpp")

SECRET = "hub-secret-for-ui-tests"
HUB = "https://participation.example.org"
SITE = "menton-mediatheque"
SEED = card_signing_seed(SECRET)
CARD = Card("alpimed-2030", "ACDE", "FGHJKLMNPQRTU")
# Signed by a hub this tablet does not know, for a card its hub never passed on (a QR signed by
# another hub is genuine only when the tablet holds that card's check, app/cards.read_card).
FORGED = Card("alpimed-2030", "XY23", "FGHJKLMNPQRTU")
LANGS = ("fr", "it")
ALIAS = "a7Qk2mZp9xW3LcV8"      # what the hub gives at enrollment instead of showing device IDs


def enroll(store):
    """What enrollment leaves in the store (sync/enroll.py), without a hub."""
    store.set_setting("sync.hub_url", HUB)
    store.set_setting("sync.signup_alias", ALIAS)
    store.set_setting("sync.signup_key", device_signup_key(SECRET, ALIAS))


def decode(path) -> list[str]:
    from PIL import Image
    with Image.open(path) as image:
        return [r.text for r in zxingcpp.read_barcodes(image.convert("L"))]


def answer_first_questions_and_finish(k):
    """Answer the colour question (six taps) and the yes/no, then skip to the thanks."""
    k.tap(k.root.welcome.ids.start)
    assert k.root.current == "question"
    body = k.body()
    for _ in k.session.question.projects:
        k.tap(body.ids.green)
    k.tap(k.body().ids.yes)
    while k.root.current == "question":
        k.tap(k.root.question.ids.skip)
    assert k.root.current == "thanks"


def send_idea(k, title="Un banc à l'ombre", text="Sur la place, près de la fontaine."):
    k.tap(k.root.welcome.ids.idea)
    idea = k.root.idea
    k.type(idea.ids.title, title)
    k.type(idea.ids.text, text)
    k.tap(idea.ids.send)
    assert k.root.current == "thanks"
    return k.session.proposal


# -- the thanks screen ------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_thanks_shows_one_qr_code_the_idea_receipt_or_the_signup(kiosk_factory, lang):
    k = kiosk_factory(lang=lang, site_id=SITE)
    enroll(k.store)
    idea = send_idea(k)
    assert idea.lang == lang        # written in the kiosk's language of the moment
    thanks = k.root.thanks
    panel = thanks.ids.panel
    # After an idea: its receipt alone (two codes side by side left people unsure which to
    # scan); signing up stays one tap away, on this tablet.
    assert min(panel.ids.idea_qr.size) >= 220 and panel.ids.idea_qr.opacity == 1
    assert panel.ids.signup_part.opacity == 0
    assert thanks.ids.signup.opacity == 1 and not thanks.ids.signup.disabled
    path = k.shot("20-thanks-idea-qr")
    texts = decode(path)
    receipt = HUB + "/ideas/" + idea.short_code + "?d=" + ALIAS
    assert texts == [receipt], texts
    assert not any(k.store.device_id in text for text in texts)
    assert idea.short_code in panel.ids.code.text
    k.tap(thanks.ids.finish)
    assert k.root.current == "welcome" and thanks.idea_code == "" and thanks.signup_url == ""

    # After answers only: the sign-up QR alone.
    answer_first_questions_and_finish(k)
    assert thanks.signup_url and not thanks.idea_code
    assert panel.ids.idea_part.opacity == 0
    assert min(panel.ids.signup_qr.size) >= 220 and panel.ids.signup_part.opacity == 1
    path = k.shot("21-thanks-signup-qr")
    signup = decode(path)
    assert len(signup) == 1 and signup[0].startswith(HUB + "/signup?t="), signup
    claims = verify_signup_token(signup[0].split("t=", 1)[1], SECRET)
    assert (claims["site"], claims["device"], claims["consultation"]) == \
        (SITE, ALIAS, k.session.consultation.id)


def test_a_tablet_not_enrolled_shows_no_signup_qr_and_the_idea_code_alone(kiosk_factory):
    k = kiosk_factory(lang="fr")
    answer_first_questions_and_finish(k)
    assert not k.root.thanks.ids.panel.has_content       # nothing about sign-up at all
    assert k.root.thanks.ids.panel.opacity == 0
    k.tap(k.root.thanks.ids.finish)
    idea = send_idea(k)
    panel = k.root.thanks.ids.panel
    assert panel.ids.signup_part.opacity == 0 and panel.ids.idea_qr.size[1] == 0
    assert panel.ids.code.text == idea.short_code
    assert "Suivre mon idée" in panel.ids.idea_caption.text
    for lang in LANGS:
        from screens.i18n import tr
        tr.lang = lang
        k.shot("22-thanks-idea-code-only", lang)


# -- sign-up on the tablet -------------------------------------------------------------------

PERSONAL = ("Zoé Martin-Ålesund", "zoe.martin@example.org")


def personal_strings_in(widget) -> list[str]:
    """Every string held by a widget under `widget` (properties, TextInput undo history) that
    contains a piece of the resident's data."""
    found = []
    for w in widget.walk(restrict=True):
        for name, prop in w.properties().items():
            if isinstance(prop, StringProperty):
                value = getattr(w, name) or ""
                if any(p.lower() in value.lower() for p in ("zoé", "zoe.martin", "ålesund")):
                    found.append((w.__class__.__name__, name))
        if isinstance(w, TextInput):
            history = repr(getattr(w, "_undo", [])) + repr(getattr(w, "_redo", []))
            if "zoe" in history.lower() or "Zo" in history:
                found.append((w.__class__.__name__, "_undo"))
    return found


def test_a_hidden_thanks_button_leaves_no_gap(kiosk):
    """After an idea, "Propose an idea" is hidden: the buttons left close up, at the same
    spacing as when all three show."""
    k = kiosk
    answer_first_questions_and_finish(k)
    thanks = k.root.thanks
    step(3)
    signup, idea, finish = thanks.ids.signup, thanks.ids.idea, thanks.ids.finish
    assert idea.opacity == 1 and signup.opacity == 1
    gap = signup.y - idea.top
    assert gap > 0 and idea.y - finish.top == pytest.approx(gap)
    k.tap(finish)
    send_idea(k)
    step(3)
    assert idea.opacity == 0 and idea.disabled and idea.height == 0
    assert signup.y - finish.top == pytest.approx(gap)          # no hole where idea was
    thanks.offer_signup = False                                  # and with signup hidden too
    step(3)
    assert signup.height == 0
    assert thanks.ids.message.y - finish.top == pytest.approx(gap)


@pytest.mark.parametrize("lang", LANGS)
def test_signup_on_the_tablet_goes_to_the_outbox_and_leaves_nothing_in_the_widgets(
        kiosk_factory, lang):
    k = kiosk_factory(lang=lang, site_id=SITE, meeting_id="m-menton-1203")
    answer_first_questions_and_finish(k)
    k.tap(k.root.thanks.ids.signup)
    assert k.root.current == "signup"
    form = k.root.signup_form
    form.config = SignupConfig(age_bracket=True, neighbourhoods=(
        ("careï", {"fr": "Careï", "it": "Carei"}), ("garavan", {"fr": "Garavan"})))
    step(3)
    k.shot("23-signup-form")
    before = len(k.store.events())
    k.tap(form.ids.send)                                   # empty: errors, nothing written
    assert form.ids.name.error and len(k.store.events()) == before
    k.type(form.ids.name, "\x00" * 3 + "x" * 500)          # controls and too long
    k.type(form.ids.contact, "'; DROP TABLE outbox; --")
    k.tap(form.ids.send)
    assert form.ids.name.error and len(k.store.events()) == before
    form.ids.name.input.text = ""
    form.ids.contact.input.text = ""
    k.type(form.ids.name, PERSONAL[0])
    k.type(form.ids.contact, "not an address")
    k.tap(form.ids.send)
    assert form.ids.contact.error and len(k.store.events()) == before
    form.ids.contact.input.text = ""
    k.type(form.ids.contact, PERSONAL[1])
    k.tap(form.ids.send)                                   # no consent yet
    assert form.error and len(k.store.events()) == before
    k.shot("24-signup-errors")
    k.tap(form.ids.consent)
    k.tap(form.age_cards["30_44"])
    k.tap(form.hood_cards["careï"])
    k.tap(form.ids.send)
    event = k.store.events()[-1]
    assert event.type == "signup" and len(k.store.events()) == before + 1
    assert (event.payload["name"], event.payload["contact"]) == PERSONAL
    assert (event.payload["age_bracket"], event.payload["neighbourhood"], event.payload["site_id"],
            event.payload["meeting_id"], event.payload["lang"]) == \
        ("30_44", "careï", SITE, "m-menton-1203", lang)
    assert k.store.pending_events()[-1].id == event.id     # waiting for the hub
    assert k.root.current == "thanks" and k.root.thanks.signed_up
    assert k.root.thanks.ids.signup.disabled
    k.shot("25-signup-done")
    assert personal_strings_in(form) == []                 # emptied after sending
    # The idle reset: nothing personal anywhere on the kiosk.
    k.root.reset_resident()
    step(3)
    assert k.root.current == "welcome" and not k.root.thanks.signed_up
    assert personal_strings_in(k.root) == []


def test_signup_fields_keep_saying_what_they_are_for_while_typing(kiosk):
    """The purpose of the name and the contact is a line under each label, not a hint that
    goes away at the first letter; it follows a change of language."""
    from screens.i18n import tr
    k = kiosk
    answer_first_questions_and_finish(k)
    k.tap(k.root.thanks.ids.signup)
    form = k.root.signup_form
    k.type(form.ids.name, PERSONAL[0])
    k.type(form.ids.contact, PERSONAL[1])
    step(2)
    purposes = {"name": "Pour que l'équipe sache comment vous appeler.",
                "contact": "Uniquement pour vous informer sur cette consultation. "
                           "Une adresse e-mail reçoit un lien de confirmation."}
    for field, purpose in purposes.items():
        line = form.ids[field].ids.purpose
        assert line.text == purpose and line.opacity == 1 and line.height > 0
        text_input = form.ids[field].input
        assert text_input.text and text_input.hint_text == ""
        assert line.y >= text_input.top                        # between the label and the field
        assert form.ids[field].ids.lab.y >= line.top
    k.shot("23-signup-typing", "fr")
    tr.lang = "it"
    step(2)
    assert form.ids.name.ids.purpose.text == "Perché il gruppo sappia come chiamarLa."
    k.tap(form.ids.cancel)
    assert personal_strings_in(k.root) == []


def test_a_cancelled_signup_leaves_nothing_and_writes_nothing(kiosk):
    k = kiosk
    answer_first_questions_and_finish(k)
    before = len(k.store.events())
    k.tap(k.root.thanks.ids.signup)
    k.type(k.root.signup_form.ids.name, PERSONAL[0])
    k.type(k.root.signup_form.ids.contact, PERSONAL[1])
    k.tap(k.root.signup_form.ids.cancel)
    assert k.root.current == "thanks" and len(k.store.events()) == before
    assert personal_strings_in(k.root) == []


# -- follow my idea --------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_follow_my_idea_by_its_code(kiosk_factory, lang):
    from screens.i18n import tr
    k = kiosk_factory(lang=lang)
    idea = send_idea(k)
    k.tap(k.root.thanks.ids.finish)
    k.tap(k.root.welcome.ids.follow)
    follow = k.root.follow_idea
    assert k.root.current == "follow"
    k.type(follow.ids.code, "zz-zz 99")                    # filtered: letters and digits
    assert follow.ids.code.text == "ZZZZ99"
    k.tap(follow.ids.show)
    assert follow.error and not follow.found
    k.shot("27-follow-idea-unknown")
    follow.ids.code.input.text = ""
    k.type(follow.ids.code, idea.short_code.lower())
    follow.ids.code.input.dispatch("on_text_validate")     # Enter
    step(2)
    assert follow.found and follow.idea_title == idea.title
    assert follow.status == tr._("Awaiting moderation")
    k.store.record_proposal_answer(idea.id, "under_study",
                                   "Merci ! Le service des espaces verts étudie l'emplacement.")
    k.tap(follow.ids.show)
    assert follow.status == tr._("Under study") and "espaces verts" in follow.answer
    k.shot("26-follow-idea-answered")
    k.tap(follow.ids.back)
    assert k.root.current == "welcome" and follow.ids.code.text == "" and not follow.found


# -- the identified ballot mode ----------------------------------------------------------------

def identified_kiosk(kiosk_factory, lang):
    k = kiosk_factory(lang=lang, ballot_mode="identified")
    k.store.set_setting(CARD_PUBLIC_KEY, card_public_key(SEED))
    k.store.set_setting(CARD_KEYS, {CARD.consultation_id: {CARD.lookup: CARD.public_key()}})
    return k


def scan(k, text):
    """A USB scanner: the card's text typed into the focused field, then Enter."""
    field = k.root.card_entry.ids.card.input
    step(2)
    assert field.focus, "the card field must have the focus for the scanner"
    field.insert_text(text)
    field.dispatch("on_text_validate")
    step(2)
    k.settle()


@pytest.mark.parametrize("lang", LANGS)
def test_identified_mode_one_answer_per_card_and_question(kiosk_factory, lang):
    k = identified_kiosk(kiosk_factory, lang)
    demo = k.session.consultation
    assert not k.root.welcome.locked and k.root.welcome.identified
    k.shot("28-welcome-identified")
    k.tap(k.root.welcome.ids.start)
    assert k.root.current == "card" and k.store.events() == []
    step(2)
    k.shot("29-card-entry")
    scan(k, sign_card(card_signing_seed("a forged hub"), FORGED))
    card = k.root.card_entry
    assert card.error and k.root.current == "card" and k.store.events() == []
    assert card.ids.card.text == ""                        # the card's text is not kept
    k.shot("30-card-refused")
    scan(k, sign_card(SEED, CARD))
    assert k.root.current == "question"
    body = k.body()
    for _ in k.session.question.projects:
        k.tap(body.ids.green)
    k.tap(k.body().ids.no)                                 # q-ticket
    answers = [e for e in k.store.events() if e.type == "answer"]
    assert {e.payload["card"] for e in answers} == {CARD.lookup}
    assert {e.payload["question_id"] for e in answers} == {"q-colour", "q-ticket"}
    assert all(verify_proof(CARD.public_key(), e.payload["proof"], CARD.consultation_id,
                            e.payload["question_id"], e.payload["ballot_id"], e.payload["value"])
               for e in answers)
    assert CARD.secret not in str(k.store.events())
    k.tap(k.root.question.ids.skip)
    k.root.reset_resident()                                # walks away; answers count
    k.settle()
    assert k.session.card is None

    # The same card again: the two questions it answered are passed over, and it is told.
    k.tap(k.root.welcome.ids.start)
    k.type(card.ids.card, CARD.typed.lower())
    k.tap(card.ids.go)
    assert card.accepted and "2" in card.notice and k.root.current == "card"
    k.shot("31-card-notice")
    k.tap(card.ids.go)
    assert k.root.current == "question"
    assert k.session.question.id not in ("q-colour", "q-ticket")
    k.tap(k.root.question.ids.skip)
    ballot = k.session.ballot_id
    k.root.reset_resident()
    k.settle()
    assert k.store.answers_of(ballot) == {}

    # A card read by another reader (a camera widget) goes through the same checks.
    k.tap(k.root.welcome.ids.start)
    card.scanned(sign_card(card_signing_seed("a forged hub"), FORGED))
    assert card.error and k.root.current == "card" and card.ids.card.text == ""
    k.tap(card.ids.cancel)

    # Typed code of a card never issued, a wrong code, another consultation's card, garbage,
    # emoji, 10 kB of text: refused with the reason, nothing stored, nothing kept in the field.
    other = sign_card(SEED, Card("another-consultation", FORGED.lookup, CARD.secret))
    for text, shot in (("HJKL-MNPQR-TUVW-XY23", "32-card-unknown"),
                       (CARD.typed[:-1] + "V", "33-card-wrong"), (other, None),
                       ("'; DROP TABLE card_uses; --", None), ("🙂🙂🙂", None),
                       ("x" * 10_000, None)):
        before = len(k.store.events())
        k.tap(k.root.welcome.ids.start)
        if text.startswith("PZC"):
            scan(k, text)
        else:
            k.type(card.ids.card, text)
            k.tap(card.ids.go)
        assert card.error and k.root.current == "card", text[:40]
        assert card.ids.card.text == "" and len(k.store.events()) == before
        if shot:
            k.shot(shot)
        k.tap(card.ids.cancel)
    assert k.root.current == "welcome" and k.session.card is None


def test_a_card_that_answered_everything_is_refused_on_the_card_screen(kiosk_factory):
    k = identified_kiosk(kiosk_factory, "fr")
    demo = k.session.consultation
    ballot = k.store.start_ballot(demo, mode="identified")
    values = {"q-colour": {p: "green" for p in demo.questions[0].projects}, "q-ticket": "yes",
              "q-cooperation": 4, "q-themes": ["health"], "q-budget": {"p-market": 50000},
              "q-missing": "Un train", "q-place": {"area": "menton"}}
    for question in demo.questions:
        value = values.get(question.id) or list(question.option_ids[:question.ranking_length])
        k.store.record_answer(demo, ballot, question.id, value,
                              card=CARD)
    k.store.close_ballot(ballot)
    before = len(k.store.events())
    k.tap(k.root.welcome.ids.start)
    scan(k, sign_card(SEED, CARD))
    assert k.root.current == "card" and k.root.card_entry.error
    assert len(k.store.events()) == before


def test_refusals_follow_a_change_of_language(kiosk_factory):
    """A message shown in French (card refused, unknown idea code, a field of the idea form)
    reads in Italian once the resident switches, and stays gone once cleared."""
    from screens.i18n import tr
    k = identified_kiosk(kiosk_factory, "fr")
    k.tap(k.root.welcome.ids.start)
    card = k.root.card_entry
    scan(k, sign_card(card_signing_seed("a forged hub"), FORGED))
    assert card.error == "Cette carte de participation n'est pas valable pour ce vote."
    tr.lang = "it"
    step(2)
    assert card.error == "Questa tessera di partecipazione non è valida per questo voto."
    k.type(card.ids.card, "A")                  # typing clears the message...
    assert card.error == ""
    tr.lang = "fr"
    step(2)
    assert card.error == ""                     # ...and a change of language does not bring it back
    k.tap(card.ids.cancel)

    k.tap(k.root.welcome.ids.follow)
    follow = k.root.follow_idea
    k.type(follow.ids.code, "ZZZZZZ")
    k.tap(follow.ids.show)
    french = follow.error
    assert french and follow.ids.error.text == french
    tr.lang = "it"
    step(2)
    assert follow.error and follow.error != french and follow.ids.error.text == follow.error
    k.tap(follow.ids.back)

    k.tap(k.root.welcome.ids.idea)
    idea = k.root.idea
    k.type(idea.ids.title, "x" * 130)
    k.tap(idea.ids.send)
    assert idea.ids.title.error.startswith("Questo testo") or "130" in idea.ids.title.error
    italian = idea.ids.title.error
    tr.lang = "fr"
    step(2)
    assert idea.ids.title.error == "Ce texte est trop long\u00a0: 130 caractères, 120 au plus."
    assert idea.ids.title.error != italian


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("text_size, size", [("normal", (1280, 800)),
                                             ("very_large", (800, 1280))],
                         ids=["normal-landscape", "very-large-portrait"])
def test_one_qr_code_after_an_idea_at_every_size(kiosk_factory, lang, text_size, size):
    """fr/20 showed two QR codes, a code and two buttons: after an idea, one code (the
    idea's receipt), whole on the screen, in landscape and in portrait with very large text."""
    from tests.ui.conftest import set_size
    from tests.ui.test_layout import layout_faults
    k = kiosk_factory(lang=lang, site_id=SITE, text_size=text_size)
    set_size(*size)
    enroll(k.store)
    idea = send_idea(k)
    panel = k.root.thanks.ids.panel
    assert panel.ids.signup_part.opacity == 0 and min(panel.ids.idea_qr.size) >= 220
    path = k.shot(f"20-thanks-idea-qr-{text_size}-{size[0]}x{size[1]}")
    assert decode(path) == [HUB + "/ideas/" + idea.short_code + "?d=" + ALIAS]
    assert layout_faults(k.root) == []
