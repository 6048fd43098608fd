"""The identified ballot mode on the tablet (app/kiosk.py with app/signup.py's cards): a card
is checked offline, every answer carries its lookup ID and proof, a question this card already
answered
here is passed over, a card that answered everything is refused; and the compact sign-up
links that keep the projector's QR coarse, still verified by the hub's code."""
from __future__ import annotations

import pytest

from app.kiosk import KIOSK_BALLOT_MODES, KioskSession, KioskSettings
from app.cards import (CARD_KEYS, CARD_PUBLIC_KEY, Card, CardError, card_public_key,
                       card_signing_seed, sign_card, verify_proof)
from app.proposals import idea_status_label
from app.signup import (SignupConfig, SignupTokenError, device_signup_key, mint_signup_token,
                        mint_signup_token_v1, signup_config_of_bundle, verify_signup_token)
from app.tablet import follow_idea, kiosk_idea_url, kiosk_signup_url
from app.store import Store
from app.errors import ValidationError

SECRET = "hub-secret-for-tests"
SEED = card_signing_seed(SECRET)
PUBLIC = card_public_key(SEED)
DEMO = "alpimed-2030"
CARD = Card(DEMO, "ACDE", "FGHJKLMNPQRTU")
OTHER = Card(DEMO, "XY23", "4567898765432")


@pytest.fixture
def identified(demo):
    assert demo.id == DEMO
    store = Store.memory()
    store.set_setting(CARD_PUBLIC_KEY, PUBLIC)
    store.set_setting(CARD_KEYS, {DEMO: {CARD.lookup: CARD.public_key()}})
    settings = KioskSettings(store)
    settings.ballot_mode = "identified"
    yield store, (lambda: KioskSession(store, demo, settings=settings))
    store.close()


def test_every_mode_is_a_choice_for_the_facilitator():
    assert KIOSK_BALLOT_MODES == ("open", "facilitated", "identified")


def test_no_ballot_without_a_card_then_answers_carry_the_card_and_its_proof(identified, demo):
    store, new_session = identified
    session = new_session()
    assert not session.can_start and not session.waits_for_facilitator
    with pytest.raises(CardError):
        session.start()
    assert store.events() == []
    assert session.present_card(sign_card(SEED, CARD)) == CARD.lookup
    session.start()
    question = session.question
    first = demo.questions[0]
    assert question.id == first.id
    session.next()
    session.record("yes")                                 # q-ticket
    event = store.events()[-1]
    assert event.type == "answer"
    assert event.payload["card"] == CARD.lookup
    assert event.payload["proof"] == CARD.proof("q-ticket", session.ballot_id, "yes")
    assert verify_proof(CARD.public_key(), event.payload["proof"], DEMO, "q-ticket",
                        session.ballot_id, "yes")
    assert "nullifier" not in event.payload
    assert CARD.secret not in str(store.events())         # the secret is never written
    session.finish()
    assert session.card is None and session.passed_over == ()


def test_a_card_printed_after_the_last_pull_is_accepted_by_its_qr_only(identified, demo):
    store, new_session = identified
    late = Card(DEMO, "HJKL", "MNPQRTUVWXY23")            # not in the tablet's keys
    assert new_session().present_card(sign_card(SEED, late)) == late.lookup
    with pytest.raises(CardError) as info:
        new_session().present_card(late.typed)
    assert "unknown here" in info.value.message


def test_a_question_this_card_answered_before_is_passed_over(identified, demo):
    store, new_session = identified
    first = new_session()
    first.present_card(" " + CARD.typed.lower() + " ")  # typed, any case, with its dashes
    first.start()
    first.next()
    first.record("no")
    first.finish()
    again = new_session()
    again.present_card(sign_card(SEED, CARD))
    assert again.passed_over == ("q-ticket",)
    again.start()
    assert again.question.id == demo.questions[0].id
    again.next()
    assert again.question.id == demo.questions[2].id      # q-ticket passed over
    assert again.back() and again.question.id == demo.questions[0].id
    assert not again.back()
    # Another card answers it freely.
    other = new_session()
    store.set_setting(CARD_KEYS, {DEMO: {CARD.lookup: CARD.public_key(),
                                         OTHER.lookup: OTHER.public_key()}})
    other.present_card(OTHER.code)
    assert other.passed_over == ()


def test_a_card_that_answered_everything_here_is_refused(identified, demo):
    store, new_session = identified
    session = new_session()
    session.present_card(CARD.code)
    session.start()
    values = {"colour": {p: "green" for p in demo.questions[0].projects}, "yes_no": "yes",
              "scale": 3}
    for question in demo.questions:
        if question.kind in values:
            session.record(values[question.kind])
        else:
            store.record_answer(demo, session.ballot_id, question.id, _any(question),
                                card=CARD)
        session.next()
    session.finish()
    before = len(store.events())
    with pytest.raises(CardError) as info:
        new_session().present_card(sign_card(SEED, CARD))
    assert "every question" in info.value.message
    assert len(store.events()) == before


def _any(question):
    if question.kind == "choice":
        return [question.option_ids[0]]
    if question.kind == "ranking":
        return list(question.option_ids[:question.ranking_length])
    if question.kind == "budget":
        return {"p-market": 50000}
    if question.kind == "place":
        return {"area": "menton"}
    return "Une idée"


@pytest.mark.parametrize("text,expected", [
    (sign_card(card_signing_seed("another hub"), Card(CARD.consultation_id, "XY23", CARD.secret)),
     "not valid for this vote"),
    (sign_card(SEED, Card("another-consultation", "XY23", CARD.secret)),
     "not valid for this vote"),
    (CARD.lookup + "FGHJKLMNPQRTV", "not right"),          # one character wrong
    ("HJKL-MNPQR-TUVW-XY23", "unknown here"),
    ("ABC", "17 letters"),
    ("'; DROP TABLE card_uses; --", "not right"),   # 17 letters, some the codes never use
    ("0O1I0O1I0O1I0O1I0", "not right"),                   # letters the codes never use
    ("🙂" * 500, "not a participation card"),
    ("🙂", "17 letters"),
    ("x" * 10_000, "not a participation card"),
    ("PZC3.ABCDE23456.not-a-signature", "not valid for this vote"),
    ("PZC2.ACDEFGHJKLMNPQRTU.c2lnbmF0dXJl", "older kind"),        # cards of before
    ("PZC1.ABCDE23456.c2lnbmF0dXJl", "older kind"),
    (None, "not a participation card"),
])
def test_forged_or_unknown_cards_are_refused_and_nothing_is_written(identified, text, expected):
    store, new_session = identified
    session = new_session()
    with pytest.raises(CardError) as info:
        session.present_card(text)
    assert expected in info.value.message
    assert session.card is None and store.events() == []


def test_compact_links_are_short_and_verify_and_old_links_still_do():
    key = device_signup_key(SECRET, "0123456789abcdef0123456789abcdef")
    args = dict(consultation="alpimed-2030", site="menton-mediatheque", meeting="m-menton-1203",
                device="0123456789abcdef0123456789abcdef", now=1_760_000_000)
    compact, old = mint_signup_token(key, **args), mint_signup_token_v1(key, **args)
    assert len(compact) < 110 < 200 < len(old)
    for token in (compact, old):
        claims = verify_signup_token(token, SECRET, now=1_760_000_100)
        assert (claims["consultation"], claims["site"], claims["meeting"]) == \
            ("alpimed-2030", "menton-mediatheque", "m-menton-1203")
    # No meeting, and a site the hub would refuse: left out, the link still works.
    partial = mint_signup_token(key, consultation="alpimed-2030", site="bad~site", meeting=None,
                                device=args["device"], now=1_760_000_000)
    claims = verify_signup_token(partial, SECRET, now=1_760_000_100)
    assert claims["site"] is None and claims["meeting"] is None


@pytest.mark.parametrize("case", ["mac", "site", "exp", "fields", "device", "expired", "dots"])
def test_compact_links_tampered_are_refused(case):
    device = "tab-1"
    token = mint_signup_token(device_signup_key(SECRET, device), consultation="c1", site="s1",
                              meeting="m1", device=device, ttl=60, now=1000)
    body, mac = token.rsplit(".", 1)
    forged = {"mac": body + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B"),
              "site": token.replace("~s1~", "~s2~"),
              "exp": body.rsplit("~", 1)[0] + "~zzzzzz." + mac,
              "fields": "c1~s1~" + device + "~" + body.rsplit("~", 1)[1] + "." + mac,
              "device": token.replace("~tab-1~", "~tab-2~"),
              "expired": token, "dots": "a~b~c~d~e"}[case]
    with pytest.raises(SignupTokenError) as info:
        verify_signup_token(forged, SECRET, now=1030 if case != "expired" else 1061)
    assert info.value.message == ("This link has expired." if case == "expired"
                                  else "This link is not valid.")


def test_the_kiosk_link_and_the_idea_receipt_need_an_enrolled_tablet(demo):
    store = Store.memory()
    assert kiosk_signup_url(store, consultation_id=demo.id, site_id=None, meeting_id=None) == ""
    assert kiosk_idea_url(store, "K7PQ2M") == ""
    store.set_setting("sync.hub_url", "https://hub.example/")
    alias = "a7Qk2mZp9xW3LcV8"
    store.set_setting("sync.signup_key", device_signup_key(SECRET, alias))
    # Without its alias from the hub, a tablet shows no sign-up link (never its device ID).
    assert kiosk_signup_url(store, consultation_id=demo.id, site_id="menton-mediatheque",
                            meeting_id=None) == ""
    store.set_setting("sync.signup_alias", alias)
    url = kiosk_signup_url(store, consultation_id=demo.id, site_id="menton-mediatheque",
                           meeting_id=None)
    assert url.startswith("https://hub.example/signup?t=") and len(url) < 150
    assert verify_signup_token(url.split("t=", 1)[1], SECRET)["device"] == alias
    assert store.device_id not in url
    idea = kiosk_idea_url(store, "K7PQ2M")
    assert idea == f"https://hub.example/ideas/K7PQ2M?d={alias}" and store.device_id not in idea


def test_follow_an_idea_by_its_code(demo):
    store = Store.memory()
    idea = store.submit_proposal(demo, title="Un banc", text="Sur la place")
    assert idea_status_label(follow_idea(store, idea.short_code.lower())) == \
        "Awaiting moderation"
    store.record_proposal_answer(idea.id, "under_study", "Nous regardons.")
    found = follow_idea(store, " " + idea.short_code[:3] + "-" + idea.short_code[3:])
    assert idea_status_label(found) == "Under study" and found.answer_text == "Nous regardons."
    for bad in ("", "ZZZZZZ", "💥" * 300, None):
        with pytest.raises(ValidationError):
            follow_idea(store, bad)


def test_the_signup_form_follows_the_bundle(tmp_path):
    assert signup_config_of_bundle(tmp_path) == SignupConfig()
    (tmp_path / "bundle.json").write_text('{"signup": {"age_bracket": true, "neighbourhoods":'
                                          ' [{"id": "centre", "name": {"fr": "Centre"}}]}}')
    config = signup_config_of_bundle(tmp_path)
    assert config.age_bracket and config.neighbourhoods[0][0] == "centre"
