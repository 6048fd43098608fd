"""Sign-up links, the sign-up form, participation cards and nullifiers (app/signup.py), on the
tablet's store and at the hub (server/participation.py, server/signup.py, server/dashboard.py)
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
from app.cards import (CARD_CODE_LENGTH, CardError, card_code_hash, card_public_key,
                       card_signing_seed, format_card_code, nullifier, read_card, sign_card)
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


def test_a_card_verifies_offline_by_signature_or_by_its_typed_code():
    qr = sign_card(SEED, "ABCDE23456")
    assert read_card(qr, PUBLIC) == "ABCDE23456"
    assert read_card(" abcde-23456 ", PUBLIC, {card_code_hash("ABCDE23456")}) == "ABCDE23456"
    assert format_card_code("ABCDE23456") == "ABCDE-23456"


@pytest.mark.parametrize("case", ["other_key", "edited_code", "unknown_typed", "short",
                                  "no_key", "junk"])
def test_forged_or_unknown_cards_are_refused(case):
    text = {
        "other_key": sign_card(card_signing_seed("another hub"), "ABCDE23456"),
        "edited_code": sign_card(SEED, "ABCDE23456").replace("ABCDE23456", "ABCDE23457"),
        "unknown_typed": "ZZZZZ99999",
        "short": "ABC",
        "no_key": sign_card(SEED, "ABCDE23456"),
        "junk": "PZC1.\u0000.💥",
    }[case]
    with pytest.raises(CardError):
        read_card(text, None if case == "no_key" else PUBLIC, {card_code_hash("ABCDE23456")})


def test_nullifiers_are_per_card_and_question():
    a = nullifier("ABCDE23456", CONSULTATION, "q-ticket")
    assert a == nullifier("abcde-23456", CONSULTATION, "q-ticket")
    assert a != nullifier("ABCDE23457", CONSULTATION, "q-ticket")
    assert a != nullifier("ABCDE23456", CONSULTATION, "q-colour")
    assert re.fullmatch(r"[0-9a-f]{64}", a)


# -- the tablet's store ------------------------------------------------------------------------

@pytest.fixture
def consultation():
    return load_bundle(DEMO_BUNDLE_DIR)


def test_the_same_card_cannot_answer_a_question_twice_on_one_tablet(consultation):
    store = Store.memory()
    code = read_card(sign_card(SEED, "ABCDE23456"), PUBLIC)
    first = store.start_ballot(consultation, mode="identified")
    n = nullifier(code, consultation.id, "q-ticket")
    store.record_answer(consultation, first, "q-ticket", "yes", nullifier=n)
    store.record_answer(consultation, first, "q-ticket", "no", nullifier=n)   # a change: fine
    store.close_ballot(first)
    second = store.start_ballot(consultation, mode="identified")
    with pytest.raises(StoreError):
        store.record_answer(consultation, second, "q-ticket", "yes", nullifier=n)
    assert store.answers_of(second) == {}
    # Another question is fine; answers never hold the nullifier, only its own table does.
    store.record_answer(consultation, second, "q-cooperation", 4,
                        nullifier=nullifier(code, consultation.id, "q-cooperation"))
    columns = [r[1] for r in store.conn.execute("PRAGMA table_info(answers)")]
    assert "nullifier" not in columns
    assert store.conn.execute("SELECT count(*) FROM card_uses").fetchone()[0] == 2


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
                                public_url="https://hub.example"))
    hub.import_bundle(DEMO_BUNDLE_DIR)
    yield hub
    hub.close()


@pytest.fixture
def client(hub):
    return TestClient(create_app(hub=hub), base_url="https://testserver")


def enrolled(hub, device_id, site=SITE):
    """(sign-up key, alias, device) of a tablet enrolled at `site`."""
    code = hub.make_enrollment_code(site)["code"]
    answer = hub.enroll(code, device_id, "ab" * 32)
    return answer["signup_key"], answer["alias"], {"id": device_id, "site_id": site}


def form_of(page: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


def test_enrollment_gives_the_device_key_and_the_bundle_gives_the_card_key(hub):
    key, alias, device = enrolled(hub, "tab-1")
    assert key == device_signup_key(SECRET, alias) and "tab-1" not in alias
    cards = hub.bundle_index(device)["cards"]
    assert cards["public_key"] == PUBLIC and cards["code_hashes"] == []


def test_signup_from_a_phone_is_attributed_and_gives_a_card(hub, client, caplog):
    key, alias, _device = enrolled(hub, "tab-1")
    token = mint_signup_token(key, consultation=CONSULTATION, site=SITE, meeting="m-menton-1203",
                              device=alias)
    page = client.get("/signup", params={"t": token}, headers={"Accept-Language": "it-IT,it"})
    assert page.status_code == 200 and 'lang="it"' in page.text
    assert "Médiathèque" not in page.text and "Mediateca di Mentone" in page.text
    hidden = form_of(page.text)
    assert hidden["t"] == token and len(hidden["k"]) >= 16
    with caplog.at_level(logging.INFO):
        sent = client.post("/signup", data={**hidden, "name": "Zoé Martin",
                                            "contact": "zoe.martin@example.org",
                                            "consent": "1"})
        again = client.post("/signup", data={**hidden, "name": "Zoé Martin",
                                             "contact": "zoe.martin@example.org",
                                             "consent": "1"})
    assert sent.status_code == 200 and "<svg" in sent.text
    code = re.search(r'class="code"[^>]*>([A-Z0-9-]+)<', sent.text).group(1)
    assert code in again.text          # the same form posted twice: one sign-up, the same card
    figures = participation(hub).figures()
    assert [(f["site_id"], f["meeting_id"], f["signups"]) for f in figures] == \
        [(SITE, "m-menton-1203", 1)]
    # Double opt-in: the link is in the log, the address and the name are not.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/signup/confirm?t=" in logged
    assert "zoe.martin" not in logged and "Zoé" not in logged
    link = re.search(r"https://hub\.example(/signup/confirm\?t=\S+)", logged).group(1)
    confirmed = client.get(link)
    assert confirmed.status_code == 200 and code in confirmed.text
    assert participation(hub).figures()[0]["confirmed"] == 1
    # The card's code is known to tablets (as a hash) with the next bundle index.
    assert card_code_hash(code) in hub.bundle_index({"site_id": SITE})["cards"]["code_hashes"]


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


def test_a_card_used_on_two_tablets_is_refused_at_the_hub(hub):
    _, _, tab1 = enrolled(hub, "tab-1")
    _, _, tab2 = enrolled(hub, "tab-2")
    n = nullifier("ABCDE23456", CONSULTATION, "q-ticket")

    def ballot(device, ballot_id, seq):
        return [{"id": f"{ballot_id}-s", "device_id": device["id"], "seq": seq,
                 "type": "ballot_started", "recorded_at": "x",
                 "payload": {"ballot_id": ballot_id, "consultation_id": CONSULTATION,
                             "consultation_version": 1, "mode": "identified",
                             "site_id": SITE, "meeting_id": None}},
                {"id": f"{ballot_id}-a", "device_id": device["id"], "seq": seq + 1,
                 "type": "answer", "recorded_at": "x",
                 "payload": {"ballot_id": ballot_id, "consultation_id": CONSULTATION,
                             "consultation_version": 1, "question_id": "q-ticket",
                             "value": "yes", "site_id": SITE, "meeting_id": None,
                             "channel": "tablet", "nullifier": n}}]

    first = hub.ingest(tab1, ballot(tab1, "b1", 1))
    assert [r["status"] for r in first] == ["stored", "stored"]
    second = hub.ingest(tab2, ballot(tab2, "b2", 1))
    assert [r["status"] for r in second] == ["stored", "rejected"]
    assert second[1]["code"] == "This participation card has already answered this question."
    results = json.loads(hub.read_results(CONSULTATION)[1])
    assert results["questions"]["q-ticket"]["counts"]["yes"] == 1
    # A resend of the first tablet's events is a duplicate, not a refusal.
    assert [r["status"] for r in hub.ingest(tab1, ballot(tab1, "b1", 1))] == \
        ["duplicate", "duplicate"]


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
    csv_text = client.get("/dashboard/figures.csv").text
    assert csv_text.splitlines()[0] == ("consultation_id,site_id,meeting_id,participants,"
                                        "signups,confirmed,conversion,ideas")
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
