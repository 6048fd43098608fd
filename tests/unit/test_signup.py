"""Sign-up links, the sign-up form, participation cards and their proofs (app/signup.py,
app/cards.py), on the
tablet's store and at the hub (server/participation.py, server/routes/signup.py, server/routes/dashboard.py)
through the real ASGI app — no network, no mocks."""
from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from app.bundle import load_bundle
from app.errors import ValidationError
from app.paths import DEMO_BUNDLE_DIR
from app.cards import (CARD_CODE_LENGTH, Card, CardError, card_public_key, card_signing_seed,
                       format_card_code, issued_row, read_card, sign_card, verify_proof)
from app.signup import (SignupConfig, SignupTokenError, device_signup_key, mint_signup_token,
                        redacted_signup_payload, validate_signup, verify_signup_token)
from app.store import Store, StoreError
from server.api import create_app
from server.hub import Hub
from server.participation import participation
from server.settings import Settings

SECRET = "hub-secret-for-tests"
SITE = "menton-mediatheque"
CONSULTATION = "alpimed-2030"


# -- links -------------------------------------------------------------------------------------

def test_a_link_minted_offline_with_the_device_key_verifies_at_the_hub():
    key = device_signup_key(SECRET, "tab-1")
    token = mint_signup_token(key, consultation=CONSULTATION, site=SITE, meeting="m-1",
                              device="tab-1", now=1000)
    claims = verify_signup_token(token, SECRET, now=2000)
    assert (claims["consultation"], claims["site"], claims["meeting"], claims["device"]) == \
        (CONSULTATION, SITE, "m-1", "tab-1")


@pytest.mark.parametrize("case", ["other_secret", "other_device", "tampered", "garbage",
                                  "expired", "huge", "not_text"])
def test_forged_damaged_or_expired_links_are_refused(case):
    key = device_signup_key(SECRET, "tab-1")
    token = mint_signup_token(key, consultation=CONSULTATION, site=SITE, meeting=None,
                              device="tab-1", ttl=60, now=1000)
    body, mac = token.split(".")
    forged = {
        "other_secret": mint_signup_token(device_signup_key("another", "tab-1"),
                                          consultation=CONSULTATION, site=SITE, meeting=None,
                                          device="tab-1", now=1000),
        # A device signing in the name of another one.
        "other_device": mint_signup_token(device_signup_key(SECRET, "tab-2"),
                                          consultation=CONSULTATION, site=SITE, meeting=None,
                                          device="tab-1", now=1000),
        "tampered": body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac,
        "garbage": "'; DROP TABLE signups; --.🙂",
        "expired": token,
        "huge": "a" * 5000 + "." + mac,
        "not_text": 12,
    }[case]
    with pytest.raises(SignupTokenError) as info:
        verify_signup_token(forged, SECRET, now=1030 if case != "expired" else 1061)
    expected = "This link has expired." if case == "expired" else "This link is not valid."
    assert info.value.message == expected


# -- the form ----------------------------------------------------------------------------------

FULL = SignupConfig(age_bracket=True, neighbourhoods=(("centre", {"fr": "Centre"}),))


def test_the_form_asks_only_what_the_consultation_configures():
    form = {"name": "Zoé 🌳", "contact": "Zoe@Example.org", "consent": "1",
            "age_bracket": "30_44", "neighbourhood": "centre"}
    plain = validate_signup(SignupConfig(), form)
    assert (plain.age_bracket, plain.neighbourhood) == (None, None)   # not configured: dropped
    full = validate_signup(FULL, form)
    assert (full.name, full.contact, full.contact_kind, full.age_bracket, full.neighbourhood) \
        == ("Zoé 🌳", "zoe@example.org", "email", "30_44", "centre")
    assert validate_signup(SignupConfig(), {**form, "contact": "+39 333 123 4567"}
                           ).contact_kind == "phone"


@pytest.mark.parametrize("form, field", [
    ({"contact": "a@b.org", "consent": "1"}, "name"),
    ({"name": " \u0000\u0007 ", "contact": "a@b.org", "consent": "1"}, "name"),
    ({"name": "x" * 81, "contact": "a@b.org", "consent": "1"}, "name"),
    ({"name": "Zoé", "contact": "<script>alert(1)</script>", "consent": "1"}, "contact"),
    ({"name": "Zoé", "contact": "12", "consent": "1"}, "contact"),
    ({"name": "Zoé", "contact": "a@b.org"}, "consent"),
    ({"name": "Zoé", "contact": "a@b.org", "consent": "1", "age_bracket": "ninety"},
     "age_bracket"),
    ({"name": "Zoé", "contact": "a@b.org", "consent": "1", "neighbourhood": "' OR 1=1"},
     "neighbourhood"),
])
def test_a_bad_form_names_the_field_at_fault(form, field):
    with pytest.raises(ValidationError) as info:
        validate_signup(FULL, form)
    assert info.value.field == field


def test_redaction_keeps_attribution_only():
    payload = {"signup_id": "s1", "site_id": SITE, "name": "Zoé", "contact": "z@x.org",
               "age_bracket": "18_29", "neighbourhood": "centre", "consent": True}
    assert redacted_signup_payload(payload) == {"signup_id": "s1", "site_id": SITE,
                                                "consent": True, "redacted": True}


# -- cards -------------------------------------------------------------------------------------

SEED = card_signing_seed(SECRET)
PUBLIC = card_public_key(SEED)


CARD = Card(CONSULTATION, "ACDE", "FGHJKLMNPQRTU")


def test_a_card_verifies_offline_by_signature_or_by_its_typed_code():
    assert CARD_CODE_LENGTH == 17 and len(CARD.secret) * 4.857 >= 63   # 29 symbols: ≥ 63 bits
    qr = sign_card(SEED, CARD)
    assert qr.startswith("PZC3.ACDEFGHJKLMNPQRTU.")
    assert read_card(qr, CONSULTATION, PUBLIC) == CARD          # no list of keys needed
    keys = {CARD.lookup: CARD.public_key()}
    assert read_card(" acde-fghjk-lmnp-qrtu ", CONSULTATION, PUBLIC, keys) == CARD
    assert format_card_code(CARD.code) == CARD.typed == "ACDE-FGHJK-LMNP-QRTU"
    # The key pair is salted per card and consultation: the same secret elsewhere differs.
    assert CARD.public_key() != Card("other", CARD.lookup, CARD.secret).public_key()
    assert CARD.public_key() != Card(CONSULTATION, "XY23", CARD.secret).public_key()
    assert issued_row(CARD) == {"consultation_id": CONSULTATION, "lookup": "ACDE",
                                "public_key": CARD.public_key()}


@pytest.mark.parametrize("case", ["other_key", "edited_code", "other_consultation",
                                  "unknown_typed", "wrong_typed", "short", "no_key", "junk",
                                  "old_kind"])
def test_forged_or_unknown_cards_are_refused(case):
    text = {
        "other_key": sign_card(card_signing_seed("another hub"),
                               Card(CONSULTATION, "XY23", CARD.secret)),
        "edited_code": sign_card(SEED, CARD).replace(CARD.code, CARD.code[:-1] + "V"),
        "other_consultation": sign_card(SEED, Card("other", "XY23", CARD.secret)),
        "unknown_typed": "XY23-FGHJK-LMNP-QRTU",
        "wrong_typed": "ACDE-FGHJK-LMNP-QRTV",
        "short": "ABC",
        "no_key": sign_card(SEED, CARD),
        "junk": "PZC3.\u0000.💥",
        "old_kind": "PZC2." + CARD.code + ".c2lnbmF0dXJl",
    }[case]
    with pytest.raises(CardError) as info:
        read_card(text, CONSULTATION, None if case == "no_key" else PUBLIC,
                  {CARD.lookup: CARD.public_key()})
    assert ("older kind" in info.value.message) == (case == "old_kind")


def test_a_qr_signed_by_another_hub_is_genuine_when_this_hub_passed_on_its_key():
    # A card of the central hub shown at a room hub's tablet: the room's key does not sign
    # it, but the room pulled the card's public key, as it would for a typed code.
    text = sign_card(card_signing_seed("the central hub"), CARD)
    assert read_card(text, CONSULTATION, PUBLIC, {CARD.lookup: CARD.public_key()}) == CARD
    with pytest.raises(CardError):
        read_card(text, CONSULTATION, PUBLIC, {})


def test_a_proof_binds_card_question_ballot_and_answer():
    a = CARD.proof("q-ticket", "b1", "yes")
    assert a == read_card(CARD.typed.lower(), CONSULTATION, PUBLIC,
                          {CARD.lookup: CARD.public_key()}).proof("q-ticket", "b1", "yes")
    assert re.fullmatch(r"[0-9a-f]{128}", a)
    assert verify_proof(CARD.public_key(), a, CONSULTATION, "q-ticket", "b1", "yes",
                        lookup=CARD.lookup)
    for other in ((CONSULTATION, "q-ticket", "b1", "no"), (CONSULTATION, "q-colour", "b1", "yes"),
                  (CONSULTATION, "q-ticket", "b2", "yes"), ("other", "q-ticket", "b1", "yes")):
        assert not verify_proof(CARD.public_key(), a, *other, lookup=CARD.lookup)
    assert not verify_proof(CARD.public_key(), a, CONSULTATION, "q-ticket", "b1", "yes",
                            lookup="ZZZZ")
    assert not verify_proof(Card(CONSULTATION, CARD.lookup, "FGHJKLMNPQRTV").public_key(), a,
                            CONSULTATION, "q-ticket", "b1", "yes", lookup=CARD.lookup)
    # The answer's canonical value: the same answer in another key order is the same answer.
    value = {"p-market": 1, "p-bus": 2}
    assert verify_proof(CARD.public_key(), CARD.proof("q", "b", value), CONSULTATION, "q", "b",
                        dict(reversed(list(value.items()))), lookup=CARD.lookup)


# -- the tablet's store ------------------------------------------------------------------------

@pytest.fixture
def consultation():
    return load_bundle(DEMO_BUNDLE_DIR)


def test_the_same_card_cannot_answer_a_question_twice_on_one_tablet(consultation):
    store = Store.memory()
    card = read_card(sign_card(SEED, CARD), consultation.id, PUBLIC)
    first = store.start_ballot(consultation, mode="identified")
    store.record_answer(consultation, first, "q-ticket", "yes", card=card)
    store.record_answer(consultation, first, "q-ticket", "no", card=card)   # a change: fine
    store.close_ballot(first)
    second = store.start_ballot(consultation, mode="identified")
    with pytest.raises(StoreError):
        store.record_answer(consultation, second, "q-ticket", "yes", card=card)
    assert store.answers_of(second) == {}
    # Another question is fine; answers never hold the card, only its own table does, and
    # that table holds neither the lookup ID nor a proof: a tag only the card's holder makes.
    store.record_answer(consultation, second, "q-cooperation", 4, card=card)
    columns = [r[1] for r in store.conn.execute("PRAGMA table_info(answers)")]
    assert "nullifier" not in columns
    uses = store.conn.execute("SELECT * FROM card_uses").fetchall()
    assert len(uses) == 2 and card.lookup not in str(uses)
    proofs = {e.payload["proof"] for e in store.events() if e.type == "answer"}
    assert len(proofs) == 3 and not proofs & {tuple(u)[2] for u in uses}


def test_a_signup_on_the_tablet_goes_to_the_outbox_only(consultation):
    store = Store.memory()
    signup_id = store.record_signup({"name": "Zoé", "contact": "zoe@example.org",
                                     "consent": True}, consultation_id=consultation.id,
                                    site_id=SITE, lang="it")
    event = store.events()[-1]
    assert event.type == "signup" and event.payload["signup_id"] == signup_id
    assert event.payload["contact"] == "zoe@example.org" and event.payload["lang"] == "it"
    with pytest.raises(ValidationError):
        store.record_signup({"name": "Zoé", "contact": "zoe@example.org"},
                            consultation_id=consultation.id)
    assert len(store.events()) == 1


# -- the hub -----------------------------------------------------------------------------------

@pytest.fixture
def hub(tmp_path):
    hub = Hub(Settings.from_env({}, data_dir=str(tmp_path / "hub"), secret_key=SECRET,
                                public_url="https://hub.example", card_pool=10))
    hub.import_bundle(DEMO_BUNDLE_DIR)
    yield hub
    hub.close()


@pytest.fixture
def client(hub):
    client = TestClient(create_app(hub=hub), base_url="https://testserver")
    yield client
    client.close()


def open_card(client, link: str, lang: str | None = None):
    """The emailed link as a resident opens it: the page with one button (a GET changes
    nothing: mail scanners open links first), then the button's POST."""
    page = client.get(link.removeprefix("https://hub.example"))
    if page.status_code != 200:
        return page
    assert "<svg" not in page.text and 'action="/signup/confirm"' in page.text
    form = form_of(page.text)
    return client.post("/signup/confirm", data={**form, **({"lang": lang} if lang else {})})


def enrolled(hub, device_id, site=SITE):
    """(sign-up key, alias, device) of a tablet enrolled at `site`."""
    code = hub.make_enrollment_code(site)["code"]
    answer = hub.enroll(code, device_id, "ab" * 32)
    return answer["signup_key"], answer["alias"], {"id": device_id, "site_id": site}


def form_of(page: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


def test_enrollment_gives_the_device_key_and_the_card_index_gives_the_card_key(hub):
    key, alias, device = enrolled(hub, "tab-1")
    assert key == device_signup_key(SECRET, alias) and "tab-1" not in alias
    cards = hub.card_index(device)
    assert cards == {"site_id": device["site_id"], "public_key": PUBLIC,
                     "keys": {CONSULTATION: {}}}


def test_signup_from_a_phone_is_attributed_and_its_card_is_shown_once_on_confirmation(
        hub, client, caplog):
    key, alias, _device = enrolled(hub, "tab-1")
    token = mint_signup_token(key, consultation=CONSULTATION, site=SITE, meeting="m-menton-1203",
                              device=alias)
    page = client.get("/signup", params={"t": token}, headers={"Accept-Language": "it-IT,it"})
    assert page.status_code == 200 and 'lang="it"' in page.text
    assert "Médiathèque" not in page.text and "Mediateca di Mentone" in page.text
    assert "anonim" not in page.text     # no promise the hub cannot keep
    hidden = form_of(page.text)
    assert hidden["t"] == token and len(hidden["k"]) >= 16
    with caplog.at_level(logging.INFO):
        sent = client.post("/signup", data={**hidden, "name": "Zoé Martin",
                                            "contact": "zoe.martin@example.org",
                                            "consent": "1"})
        again = client.post("/signup", data={**hidden, "name": "Zoé Martin",
                                             "contact": "zoe.martin@example.org",
                                             "consent": "1"})
    # The form shows no card: a card goes to a confirmed address, once.
    assert sent.status_code == 200 and "<svg" not in sent.text and 'class="code"' not in sent.text
    assert again.status_code == 200 and "<svg" not in again.text
    figures = participation(hub).figures()
    assert [(f["site_id"], f["meeting_id"], f["signups"]) for f in figures] == \
        [(SITE, "m-menton-1203", 1)]
    # No SMTP: the log says the link was not sent, without the link, the address or the name.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not sent" in logged and "/signup/confirm" not in logged
    assert "zoe.martin" not in logged and "Zoé" not in logged
    assert "non può inviare e-mail" in sent.text and "Le abbiamo inviato" not in sent.text
    link = participation(hub).confirmation_link(hidden["k"]).removeprefix("https://hub.example")
    for _scanner in range(2):      # mail scanners open the link first: nothing happens
        assert "<svg" not in client.get(link).text
    confirmed = open_card(client, link)
    assert confirmed.status_code == 200 and "<svg" in confirmed.text
    code = re.search(r'class="code"[^>]*>([A-Z0-9-]+)<', confirmed.text).group(1)
    card = read_card(code, CONSULTATION, PUBLIC,
                     hub.card_index({"site_id": SITE})["keys"][CONSULTATION])
    assert participation(hub).figures()[0]["confirmed"] == 1
    # Shown once: the same link again, or the form posted again, shows no card.
    for page in (open_card(client, link), client.post("/signup", data={
            **hidden, "name": "Zoé Martin", "contact": "zoe.martin@example.org",
            "consent": "1"})):
        assert page.status_code == 200 and card.secret not in page.text
        assert "<svg" not in page.text
    # What the hub keeps: the card's lookup ID and public key; never the secret, and nothing
    # on the sign-up but "a card was issued".
    # The card came from the pool (a batch of 10 made ahead, their codes in memory only).
    # The confirmation waits in memory for the next batch of confirmations (one transaction).
    with hub.engine.connect() as conn:
        assert not conn.exec_driver_sql("SELECT card_issued FROM signups").scalar()
    assert participation(hub).write_confirmations() == 1
    assert participation(hub).pending_confirmations() == 0
    with hub.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT * FROM signups").one()._mapping
        issued = conn.exec_driver_sql("SELECT * FROM issued_cards").all()
    assert row["card_issued"] and card.lookup not in str(dict(row))
    assert (CONSULTATION, card.lookup, card.public_key(), None) in [tuple(r) for r in issued]
    assert len(issued) >= 10 and card.secret not in str(issued)
    counts = participation(hub).card_counts(CONSULTATION)
    assert counts["handed_out"] == 1 and counts["pool_made"] == len(issued)
    assert counts["waiting"] + counts["not_handed_out"] == len(issued) - 1


def test_one_card_per_confirmed_contact_and_links_that_show_no_card(hub, client):
    def sign_up(contact):
        hidden = form_of(client.get("/signup", params={"t": token}).text)
        assert client.post("/signup", data={**hidden, "name": "Ada", "contact": contact,
                                            "consent": "1"}).status_code == 200
        return hidden["k"]

    key, alias, _ = enrolled(hub, "tab-1")
    token = mint_signup_token(key, consultation=CONSULTATION, site=SITE, meeting=None,
                              device=alias)
    parts = participation(hub)
    first, second = sign_up("ada@example.org"), sign_up("ADA@example.org")
    phone = sign_up("+33 6 12 34 56 78")
    assert "<svg" in open_card(client, parts.confirmation_link(first)).text
    # The same contact signed up again: confirmed, but no second card.
    page = open_card(client, parts.confirmation_link(second), lang="fr")
    assert page.status_code == 200 and "<svg" not in page.text
    assert "déjà été remise" in page.text
    # A phone number cannot be confirmed by a link: none is valid for it.
    refused = open_card(client, parts.confirmation_link(phone))
    assert refused.status_code == 400 and "<svg" not in refused.text
    refused = client.post("/signup/confirm", data={"t": parts.confirmation_link(phone)
                                                   .split("t=", 1)[1]})
    assert refused.status_code == 400 and "<svg" not in refused.text
    # An expired link: a clear translated page, no card.
    third = sign_up("bea@example.org")
    import time
    old = parts.confirmation_link(third, now=time.time() - 3 * 3600)
    page = client.get(old.removeprefix("https://hub.example") + "&lang=it")
    assert page.status_code == 400 and "Questo link è scaduto." in page.text
    assert "<svg" not in page.text
    # A link of before (14 days, purpose "confirm") or another sign-up's ID: no card either.
    from server import signing
    legacy = signing.sign({"purpose": "confirm", "signup": third}, SECRET, 14 * 86400)
    assert client.get("/signup/confirm", params={"t": legacy}).status_code == 400
    forged = signing.sign({"purpose": "confirm-card", "signup": third}, "not the hub", 3600)
    assert client.get("/signup/confirm", params={"t": forged}).status_code == 400
    for token in (legacy, forged, "", "🙂" * 100):
        answer = client.post("/signup/confirm", data={"t": token})
        assert answer.status_code == 400 and "<svg" not in answer.text
    assert parts.card_counts(CONSULTATION)["handed_out"] == 1


@pytest.mark.parametrize("case", ["forged", "expired", "past the cap", "none"])
def test_a_bad_link_gets_a_clear_page_and_the_signup_works_without_attribution(hub, client,
                                                                               case):
    key, alias, _ = enrolled(hub, "tab-1")
    token = {"forged": mint_signup_token(device_signup_key("not the hub", alias),
                                         consultation=CONSULTATION, site=SITE, meeting=None,
                                         device=alias),
             "expired": mint_signup_token(key, consultation=CONSULTATION, site=SITE,
                                          meeting=None, device=alias, ttl=-10),
             "past the cap": mint_signup_token(key, consultation=CONSULTATION, site=SITE,
                                               meeting=None, device=alias, ttl=80 * 365 * 86400),
             "none": None}[case]
    page = client.get("/signup", params={"t": token, "lang": "fr"} if token else {"lang": "fr"})
    assert page.status_code == 200
    if case in ("forged", "past the cap"):
        assert "Ce lien n&#39;est pas valable." in page.text
    elif case == "expired":
        assert "Ce lien a expiré." in page.text
    hidden = form_of(page.text)
    assert hidden["t"] == ""      # nothing attributed from a bad link
    sent = client.post("/signup", data={**hidden, "t": token or "", "name": "Luca",
                                        "contact": "+39 333 1234567", "consent": "on"})
    assert sent.status_code == 200
    assert [(f["site_id"], f["signups"]) for f in participation(hub).figures()] == [(None, 1)]


def test_form_errors_are_clear_translated_and_change_nothing(hub, client):
    page = client.get("/signup", params={"lang": "it"})
    hidden = form_of(page.text)
    sent = client.post("/signup", data={**hidden, "name": "<b>x</b>" * 3,
                                        "contact": "<script>alert(1)</script>"})
    assert sent.status_code == 422
    assert "<script>alert" not in sent.text and "&lt;script&gt;" in sent.text
    assert 'aria-invalid="true"' in sent.text and "Inserisca" in sent.text or "indirizzo" in \
        sent.text
    assert participation(hub).figures() == []
    huge = client.post("/signup", data={**hidden, "name": "x" * 20000, "contact": "a@b.org",
                                        "consent": "1"})
    assert huge.status_code == 413
    assert participation(hub).figures() == []


def identified_ballot(device, ballot_id, seq, card, proof=None, question="q-ticket"):
    answer = {"ballot_id": ballot_id, "consultation_id": CONSULTATION,
              "consultation_version": 1, "question_id": question, "value": "yes",
              "site_id": SITE, "meeting_id": None, "channel": "tablet"}
    if isinstance(card, Card):
        answer.update(card=card.lookup, proof=proof or card.proof(question, ballot_id, "yes"))
    else:
        answer.update(card)
    return [{"id": f"{ballot_id}-s", "device_id": device["id"], "seq": seq,
             "type": "ballot_started", "recorded_at": "x",
             "payload": {"ballot_id": ballot_id, "consultation_id": CONSULTATION,
                         "consultation_version": 1, "mode": "identified",
                         "site_id": SITE, "meeting_id": None}},
            {"id": f"{ballot_id}-a", "device_id": device["id"], "seq": seq + 1,
             "type": "answer", "recorded_at": "x", "payload": answer}]


def test_a_card_used_on_two_tablets_is_refused_at_the_hub(hub):
    _, _, tab1 = enrolled(hub, "tab-1")
    _, _, tab2 = enrolled(hub, "tab-2")
    card = participation(hub).issue_cards(CONSULTATION, 1)[0]
    first = hub.ingest(tab1, identified_ballot(tab1, "b1", 1, card))
    assert [r["status"] for r in first] == ["stored", "stored"]
    second = hub.ingest(tab2, identified_ballot(tab2, "b2", 1, card))
    assert [r["status"] for r in second] == ["stored", "rejected"]
    assert second[1]["code"] == "card_used"
    assert second[1]["message"] == "This participation card has already answered this question."
    results = json.loads(hub.read_results(CONSULTATION)[1])
    assert results["questions"]["q-ticket"]["counts"]["yes"] == 1
    # A resend of the first tablet's events is a duplicate, not a refusal.
    assert [r["status"] for r in hub.ingest(tab1, identified_ballot(tab1, "b1", 1, card))] == \
        ["duplicate", "duplicate"]


@pytest.mark.parametrize("case,code", [
    ("not issued", "card_not_issued"), ("forged proof", "card_proof_invalid"),
    ("another question's proof", "card_proof_invalid"),
    ("another answer's proof", "card_proof_invalid"),
    ("another ballot's proof", "card_proof_invalid"),
    ("a proof of before", "card_outdated"),
    ("another consultation's card", "card_not_issued"), ("old nullifier", "card_outdated"),
    ("garbage card", "card_invalid"), ("no proof", "card_invalid")])
def test_an_enrolled_tablet_cannot_invent_participation(hub, case, code):
    _, _, tab1 = enrolled(hub, "tab-1")
    parts = participation(hub)
    card = parts.issue_cards(CONSULTATION, 1)[0]
    invented = Card(CONSULTATION, "XY23" if card.lookup != "XY23" else "XY24", card.secret)
    events = {
        "not issued": identified_ballot(tab1, "b1", 1, invented),
        "forged proof": identified_ballot(tab1, "b1", 1, card, proof="ab" * 64),
        "another question's proof": identified_ballot(
            tab1, "b1", 1, card, proof=card.proof("q-colour", "b1", "yes")),
        "another answer's proof": identified_ballot(
            tab1, "b1", 1, card, proof=card.proof("q-ticket", "b1", "no")),
        "another ballot's proof": identified_ballot(
            tab1, "b1", 1, card, proof=card.proof("q-ticket", "b0", "yes")),
        "a proof of before": identified_ballot(tab1, "b1", 1, card, proof="ab" * 32),
        "another consultation's card": identified_ballot(
            tab1, "b1", 1, {"card": "HJKL", "proof": Card("other", "HJKL", "M" * 13)
                            .proof("q-ticket", "b1", "yes")}),
        "old nullifier": identified_ballot(tab1, "b1", 1, {"nullifier": "ab" * 32}),
        "garbage card": identified_ballot(tab1, "b1", 1, {"card": "🙂" * 300, "proof": "x"}),
        "no proof": identified_ballot(tab1, "b1", 1, {"card": card.lookup}),
    }[case]
    results = hub.ingest(tab1, events)
    assert [r["status"] for r in results] == ["stored", "rejected"]
    assert results[1]["code"] == code
    assert json.loads(hub.read_results(CONSULTATION)[1])["questions"]["q-ticket"]["counts"] \
        .get("yes", 0) == 0
    reviews = hub.reviews()
    assert any(r["event_id"] == "b1-a" and r["kind"] == "rejected" for r in reviews)


def test_a_signup_from_a_tablet_is_stored_without_personal_data_in_the_event_log(hub):
    _, _, tab1 = enrolled(hub, "tab-1")
    store = Store.memory()
    store.record_signup({"name": "Giulia Rossi", "contact": "giulia@example.it",
                         "consent": True}, consultation_id=CONSULTATION, site_id=SITE,
                        meeting_id="m-menton-1203")
    envelopes = [e.envelope("tab-1") for e in store.events()]
    assert [r["status"] for r in hub.ingest(tab1, envelopes)] == ["stored"]
    assert [r["status"] for r in hub.ingest(tab1, envelopes)] == ["duplicate"]
    figures = participation(hub).figures()
    assert [(f["site_id"], f["meeting_id"], f["signups"]) for f in figures] == \
        [(SITE, "m-menton-1203", 1)]
    with hub.engine.connect() as conn:
        logged = conn.exec_driver_sql("SELECT payload FROM events").scalars().all()
    assert logged and not any("giulia" in p.lower() or "Rossi" in p for p in logged)


def test_the_dashboard_is_for_staff_only_and_exports_no_personal_data(hub, client):
    page = client.get("/signup", params={"lang": "en"})
    client.post("/signup", data={**form_of(page.text), "name": "Mario", "consent": "1",
                                 "contact": "mario@example.it"})
    assert client.get("/dashboard").status_code == 401
    assert client.get("/dashboard/figures.csv").status_code == 401
    # The login form carries a CSRF token (its cookie set by the page): without it, refused.
    assert client.post("/dashboard/login",
                       data={"token": hub.settings.admin_token}).status_code == 403
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard").text).group(1)
    assert client.post("/dashboard/login",
                       data={"token": "wrong", "csrf": csrf}).status_code == 401
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard").text).group(1)
    login = client.post("/dashboard/login", data={"token": hub.settings.admin_token,
                                                  "csrf": csrf}, follow_redirects=False)
    assert login.status_code == 303
    dashboard = client.get("/dashboard?lang=fr")
    assert dashboard.status_code == 200 and "Inscriptions" in dashboard.text
    assert "Cartes de participation" not in dashboard.text        # none made yet
    participation(hub).issue_cards(CONSULTATION, 3)                 # printed at the door
    participation(hub).pool.fill(CONSULTATION)                      # made for sign-ups
    participation(hub).pool.take(CONSULTATION)                      # (not handed out: drawn)
    cards = re.search(r"Cartes de participation.*?</table>",
                      client.get("/dashboard?lang=fr").text, re.S).group(0)
    cells = re.findall(r'<td class="n"[^>]*>(\d+)</td>', cards)
    assert cells == ["3", "10", "0", "9", "1"]      # printed, made, handed out, waiting, void
    csv_text = client.get("/dashboard/figures.csv").text
    assert csv_text.splitlines()[0] == ("consultation_id,site_id,meeting_id,participants,"
                                        "signups,confirmed,conversion,ideas,room_cards")
    exported = json.dumps(client.get("/dashboard/figures.json").json()) + csv_text
    assert "mario" not in exported.lower()


def test_an_ideas_public_page_shows_status_and_answer_never_the_contact(hub, client,
                                                                       consultation):
    _, _, tab1 = enrolled(hub, "tab-1")
    store = Store.memory()
    idea = store.submit_proposal(consultation, title="Un banc à l'ombre",
                                 text="Près de l'arrêt <b>", contact="ana@example.org",
                                 contact_consent=True)
    hub.ingest(tab1, [e.envelope("tab-1") for e in store.events()])
    pending = client.get(f"/ideas/{idea.short_code}?lang=fr")
    assert pending.status_code == 200 and "En attente de modération" in pending.text
    assert "banc" not in pending.text          # not published yet: only the status
    store.moderate_proposal(idea.id, "approved")
    hub.ingest(tab1, [e.envelope("tab-1") for e in store.events()])
    hub.answer_proposal(idea.short_code, "accepted", "Prévu au budget 2027.")
    page = client.get(f"/ideas/{idea.short_code.lower()}?lang=it")
    assert "Un banc à l&#39;ombre" in page.text and "Prévu au budget 2027." in page.text
    assert "&lt;b&gt;" in page.text and "ana@example.org" not in page.text
    assert client.get("/ideas/NOPE99").status_code == 404
    assert client.get("/ideas/" + "%27%3Cscript%3E").status_code == 404


def test_the_kiosk_link_names_the_alias_never_the_device_id(hub, consultation):
    from app.tablet import kiosk_idea_url, kiosk_signup_url
    from sync.enroll import keep_identity
    store = Store.memory()
    store.set_setting("sync.hub_url", "https://hub.example")
    assert kiosk_signup_url(store, consultation_id=CONSULTATION, site_id=SITE,
                            meeting_id=None) == ""      # no alias yet: no QR at all
    answer = hub.enroll(hub.make_enrollment_code(SITE)["code"], store.device_id, "cd" * 32)
    keep_identity(store, answer)
    url = kiosk_signup_url(store, consultation_id=CONSULTATION, site_id=SITE,
                           meeting_id="m-menton-1203")
    assert url.startswith("https://hub.example/signup?t=") and len(url) < 150
    assert store.device_id not in url and answer["alias"] in url
    claims = participation(hub).check_link(url.split("t=", 1)[1])
    assert (claims["device"], claims["site"], claims["meeting"]) == \
        (store.device_id, SITE, "m-menton-1203")
    receipt = kiosk_idea_url(store, "K7PQ2M")
    assert receipt == f"https://hub.example/ideas/K7PQ2M?d={answer['alias']}"
    assert store.device_id not in receipt


def test_another_hub_checks_the_cards_it_imported(hub, tmp_path):
    """A room hub's printed cards, at the central hub that receives its tablets' events: the
    issued cards' rows (no secret) are exported there, and the proofs check the same way."""
    central = Hub(Settings.from_env({}, data_dir=str(tmp_path / "central"),
                                    secret_key="another secret", public_url="https://c.example"))
    try:
        central.import_bundle(DEMO_BUNDLE_DIR)
        cards = participation(hub).issue_cards(CONSULTATION, 3)
        rows = participation(hub).export_cards(CONSULTATION)
        assert len(rows) == 3 and not any(c.secret in str(rows) for c in cards)
        _, _, tab = enrolled(central, "tab-9")
        refused = central.ingest(tab, identified_ballot(tab, "b1", 1, cards[0]))
        assert refused[1]["code"] == "card_not_issued"
        assert participation(central).import_cards(rows) == {"imported": 3, "known": 0, "conflicts": 0}
        assert participation(central).import_cards(rows) == {"imported": 0, "known": 3, "conflicts": 0}
        stored = central.ingest(tab, identified_ballot(tab, "b2", 3, cards[1]))
        assert [r["status"] for r in stored] == ["stored", "stored"]
        assert set(rows[0]) == {"consultation_id", "lookup", "public_key"}
        clash = [dict(rows[0], public_key="cd" * 32)]
        old_kind = [{"consultation_id": CONSULTATION, "lookup": "HJKL", "check": "ab" * 16,
                     "answer_key": "cd" * 32}]
        for bad in (clash, "garbage", [{"lookup": "🙂"}], [dict(rows[0], public_key="x")],
                    old_kind):
            with pytest.raises(ValidationError):
                participation(central).import_cards(bad)
        with central.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM issued_cards").scalar() == 3
    finally:
        central.close()


def test_the_card_page_keeps_the_card_in_another_language_and_the_link_still_shows_it_once(
        hub, client):
    key, alias, _ = enrolled(hub, "tab-1")
    token = mint_signup_token(key, consultation=CONSULTATION, site=SITE, meeting=None,
                              device=alias)
    hidden = form_of(client.get("/signup", params={"t": token}).text)
    client.post("/signup", data={**hidden, "name": "Ada", "contact": "ada@example.org",
                                 "consent": "1"})
    link = participation(hub).confirmation_link(hidden["k"])
    page = open_card(client, link, lang="fr")
    code = re.search(r'class="code"[^>]*>([A-Z0-9-]+)<', page.text).group(1)
    # Each language link is a form that posts the card back: the card stays shown.
    forms = re.findall(r'<form method="post" action="/signup/card">(.*?)</form>', page.text)
    assert len(forms) == 3
    for lang, words in (("it", "La sua tessera di partecipazione"), ("en", "Your participation card")):
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', next(
            f for f in forms if f'value="{lang}"' in f)))
        again = client.post("/signup/card", data=fields)
        assert again.status_code == 200 and code in again.text and "<svg" in again.text
        assert f'lang="{lang}"' in again.text
    assert 'download="participation-card.svg"' in page.text
    # The link itself still shows it once; a card this hub did not sign shows nothing.
    assert "<svg" not in open_card(client, link).text
    forged = sign_card(card_signing_seed("another hub"), Card(CONSULTATION, "HJKL", "M" * 13))
    for bad in (forged, "garbage", ""):
        refused = client.post("/signup/card", data={"card": bad, "c": CONSULTATION})
        assert refused.status_code == 400 and "<svg" not in refused.text


def test_one_card_per_person_counts_the_address_not_its_spelling_and_at_issue(hub, client):
    key, alias, _ = enrolled(hub, "tab-1")
    token = mint_signup_token(key, consultation=CONSULTATION, site=SITE, meeting=None,
                              device=alias)
    parts = participation(hub)

    def sign_up(contact):
        hidden = form_of(client.get("/signup", params={"t": token}).text)
        page = client.post("/signup", data={**hidden, "name": "Ada", "contact": contact,
                                            "consent": "1"})
        return page, hidden["k"]

    # Someone else signs up three times (and more) with Ada's address: Ada's own form is
    # recorded all the same, and her link gives her the card.
    for _ in range(4):
        assert sign_up("ada.lovelace@gmail.com")[0].status_code == 200
    page, ada = sign_up("ada.lovelace@gmail.com")
    assert page.status_code == 200 and "Plusieurs e-mails de confirmation" in page.text
    assert "<svg" in open_card(client, parts.confirmation_link(ada)).text
    # Plus tags and gmail's dots name the same person: no second card.
    for spelling in ("ada.lovelace+2@gmail.com", "AdaLovelace@googlemail.com", "a.d.a.lovelace@gmail.com"):
        _page, other = sign_up(spelling)
        again = open_card(client, parts.confirmation_link(other), lang="en")
        assert again.status_code == 200 and "<svg" not in again.text
        assert "already given for this email address" in again.text
    assert parts.card_counts(CONSULTATION)["handed_out"] == 1


@pytest.mark.parametrize("contact", ["postmaster,attacker@evil.example",
                                     "a@example.org; b@example.org", "<a@example.org>",
                                     '"a"@example.org', "Ada <a@example.org>",
                                     "a@example.org b@example.org"])
def test_a_contact_with_several_addresses_or_a_display_name_is_refused(hub, client, contact):
    hidden = form_of(client.get("/signup", params={"lang": "fr"}).text)
    page = client.post("/signup", data={**hidden, "name": "Ada", "contact": contact,
                                        "consent": "1"})
    assert page.status_code == 422 and 'aria-invalid="true"' in page.text
    assert participation(hub).figures() == []


def test_the_phone_page_never_says_an_email_was_sent_when_sending_failed(hub, client,
                                                                         monkeypatch):
    import socket
    with socket.socket() as s:            # a port where no mail server listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PIAZZETTA_HUB_SMTP_URL", f"smtp://127.0.0.1:{port}")
    hidden = form_of(client.get("/signup", params={"lang": "en"}).text)
    page = client.post("/signup", data={**hidden, "name": "Ada", "contact": "ada@example.org",
                                        "consent": "1", "lang": "en"})
    assert page.status_code == 200
    assert "the confirmation email could not be sent" in page.text
    assert "We sent you" not in page.text
    assert participation(hub).figures()[0]["signups"] == 1     # the sign-up is kept


def test_every_field_at_fault_is_named_at_once():
    from app.signup import signup_problems
    problems = signup_problems(SignupConfig(), {"name": "", "contact": "not a contact"})
    assert [p.field for p in problems] == ["name", "contact", "consent"]
    with pytest.raises(ValidationError) as first:
        validate_signup(SignupConfig(), {"name": "", "contact": "not a contact"})
    assert first.value.field == "name"
    assert signup_problems(SignupConfig(), {"name": "Ada", "contact": "ada@example.org",
                                            "consent": True}) == []


@pytest.mark.parametrize("contact", ["me@gmail.com.", "me@gmail..com", "me@.gmail.com"])
def test_an_address_with_an_empty_label_or_a_trailing_dot_is_refused_clearly(hub, client,
                                                                              contact):
    from app.signup import contact_identity, is_email_address
    assert not is_email_address(contact)
    assert contact_identity(contact) == "me@gmail.com"    # counted as the address it means
    assert contact_identity("M.E+x@GoogleMail.com.") == "me@gmail.com"
    hidden = form_of(client.get("/signup", params={"lang": "en"}).text)
    page = client.post("/signup", data={**hidden, "name": "Ada", "contact": contact,
                                        "consent": "1", "lang": "en"})
    assert page.status_code == 422 and 'aria-invalid="true"' in page.text
    assert "ends with a dot" in page.text
    assert participation(hub).figures() == []
    french = client.post("/signup", data={**hidden, "name": "Ada", "contact": contact,
                                          "consent": "1", "lang": "fr"})
    assert french.status_code == 422 and "ends with a dot" not in french.text


def test_three_sign_ups_with_variants_of_an_address_are_said_plainly_and_last_a_link_life(
        hub, client):
    """A privacy review's finding (issue 23): three sign-ups with plus/dot variants of someone's
    address use up the emails to that address; the fourth form's page says so plainly, and the
    count lasts the links' life (PIAZZETTA_HUB_CONFIRM_LINK_HOURS), not a day."""
    pages = []
    for contact in ("Victim+a@gmail.com", "v.i.c.t.i.m@googlemail.com", "VICTIM+zz@gmail.com",
                    "victim@gmail.com"):
        hidden = form_of(client.get("/signup", params={"lang": "en"}).text)
        pages.append(client.post("/signup", data={**hidden, "name": "V", "contact": contact,
                                                  "consent": "1", "lang": "en"}))
    assert [p.status_code for p in pages] == [200] * 4
    assert all("Several confirmation emails" not in p.text for p in pages[:3])
    assert "Several confirmation emails were already sent to this address" in pages[3].text
    assert participation(hub).figures()[0]["signups"] == 4      # the sign-up is kept
    item = client.app.state.limits.items["cards"]
    assert item.get_expiry() == hub.settings.confirm_link_hours * 3600


def test_a_mail_scanner_that_posts_the_form_takes_no_card(hub, client):
    """A privacy review's finding (issue 23): a mail scanner that submits the confirmation
    page's form took the card. Now the POST needs the sign-up's browser (its cookie) or the
    4-letter code shown after the form, never emailed: the scanner gets the page asking for the
    code, nothing happens; the resident gets the card in the browser they signed up with, or
    with the code on another device. Once shown, the page says a filter may have opened it."""
    key, alias, _ = enrolled(hub, "tab-1")
    token = mint_signup_token(key, consultation=CONSULTATION, site=SITE, meeting=None,
                              device=alias)
    hidden = form_of(client.get("/signup", params={"t": token}).text)
    sent = client.post("/signup", data={**hidden, "name": "Ada", "contact": "ada@example.org",
                                        "consent": "1", "lang": "en"})
    code = re.search(r'class="confirm-code">([A-Z]{4})<', sent.text).group(1)
    cookie = sent.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/signup" in cookie and "Secure" in cookie
    assert "samesite=lax" in cookie.lower()
    link = participation(hub).confirmation_link(hidden["k"])
    assert code not in link
    scanner = TestClient(client.app, base_url="https://testserver")      # no cookie
    for typed in (None, "ZZZZ" if code != "ZZZZ" else "AAAA"):
        page = scanner.get(link.removeprefix("https://hub.example"))
        assert 'name="code"' in page.text and "<svg" not in page.text
        posted = scanner.post("/signup/confirm", data={**form_of(page.text), "lang": "en",
                                                       **({"code": typed} if typed else {})})
        assert "<svg" not in posted.text and 'name="code"' in posted.text
        assert posted.status_code == (400 if typed else 200)
    assert participation(hub).pending_confirmations() == 0          # nothing happened
    # The resident's own browser: no code asked, the card.
    page = client.get(link.removeprefix("https://hub.example"))
    assert 'name="code"' not in page.text
    assert "<svg" in open_card(client, link).text
    # Another device with the code, after the card was shown: the plain explanation.
    other = TestClient(client.app, base_url="https://testserver")
    for lang, words in (("en", "security filter"), ("fr", "filtre de sécurité"),
                        ("it", "filtro di sicurezza")):
        page = other.post("/signup/confirm", data={"t": link.split("t=", 1)[1], "lang": lang,
                                                   "code": code.lower()})
        assert page.status_code == 200 and "<svg" not in page.text
        assert words in page.text, lang


def test_the_confirmation_code_opens_the_card_on_another_device(hub, client):
    key, alias, _ = enrolled(hub, "tab-1")
    token = mint_signup_token(key, consultation=CONSULTATION, site=SITE, meeting=None,
                              device=alias)
    hidden = form_of(client.get("/signup", params={"t": token}).text)
    sent = client.post("/signup", data={**hidden, "name": "Ada", "contact": "ada@example.org",
                                        "consent": "1", "lang": "fr"})
    code = re.search(r'class="confirm-code">([A-Z]{4})<', sent.text).group(1)
    link = participation(hub).confirmation_link(hidden["k"])
    other = TestClient(client.app, base_url="https://testserver")
    page = other.get(link.removeprefix("https://hub.example") + "&lang=fr")
    assert 'name="code"' in page.text and "4 lettres" in page.text
    shown = other.post("/signup/confirm", data={**form_of(page.text), "code": f" {code} "})
    assert shown.status_code == 200 and "<svg" in shown.text
