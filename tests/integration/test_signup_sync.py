"""Sign-ups and participation cards through a real hub subprocess and the real sync client:
a sign-up typed on a tablet leaves the tablet's file once acknowledged (its bytes are read),
never reaches the hub's log, and is counted for the tablet's site; a card checked offline with
the key from the bundle index answers once per question, on one tablet and across two."""
from __future__ import annotations

from pathlib import Path

import requests

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR
from app.cards import CARD_KEYS, CARD_PUBLIC_KEY, card_signing_seed, read_card, sign_card
from app.store import Store, StoreError
from sync import protocol as p
from sync.content import pull_bundles
from sync.enroll import client_for, enroll
from sync.worker import push_pending

from .conftest import SITE

CONTACT = "ornella.contatto@example.it"
NAME = "Ornella Pseudonimo"


def tablet(hub, folder: Path) -> Store:
    store = Store.open(folder)
    enroll(store, hub.url, hub.code(SITE))
    return store


def file_bytes(store: Store) -> bytes:
    path = Path(store.path)
    wal = Path(str(path) + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_a_tablet_signup_is_counted_then_forgotten_by_the_tablet(hub, tmp_path):
    store = tablet(hub, tmp_path / "t1")
    store.record_signup({"name": NAME, "contact": CONTACT, "consent": True},
                        consultation_id="alpimed-2030", site_id=SITE,
                        meeting_id="m-menton-1203", lang="it")
    assert CONTACT.encode() in file_bytes(store)
    client = client_for(store)
    try:
        counts = push_pending(store, client)
    finally:
        client.close()
    assert counts["stored"] == 1
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = file_bytes(store)
    assert CONTACT.encode() not in data and NAME.encode() not in data
    assert store.events()[-1].payload["redacted"] is True
    figures = requests.get(hub.url + "/dashboard/figures.json", timeout=30, headers={
        "Authorization": f"Bearer {hub.admin_token}"}).json()["figures"]
    assert any(f["site_id"] == SITE and f["meeting_id"] == "m-menton-1203"
               and f["signups"] >= 1 for f in figures)
    log = hub.log.read_text(errors="replace")
    # No SMTP here: the log says the confirmation link was not sent, and never holds it.
    assert CONTACT not in log and NAME not in log and "/signup/confirm" not in log
    assert "not sent" in log
    exported = hub.cli("export", "results", "--consultation", "alpimed-2030",
                       "--format", "json")
    assert exported.returncode == 0 and CONTACT not in exported.stdout


def test_a_card_answers_once_per_question_offline_and_across_tablets(hub, tmp_path):
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    first, second = tablet(hub, tmp_path / "a"), tablet(hub, tmp_path / "b")
    for store in (first, second):
        client = client_for(store)
        try:
            pull_bundles(store, client, tmp_path / "bundles")
        finally:
            client.close()
        assert len(store.get_setting(CARD_PUBLIC_KEY)) == 64
        assert isinstance(store.get_setting(CARD_KEYS), dict)
    # A card printed by the hub, read back from its PDF; another hub's signature is refused.
    from .test_card_privacy import printed_cards
    text = printed_cards(hub, tmp_path, 1, "fr")[0]
    card = read_card(text, consultation.id, first.get_setting(CARD_PUBLIC_KEY))
    forged = sign_card(card_signing_seed("another hub"), card)
    try:
        read_card(forged, consultation.id, first.get_setting(CARD_PUBLIC_KEY))
        raise AssertionError("a card signed with another key was accepted")
    except Exception as exc:          # CardError: not valid for this vote
        assert "not valid" in str(exc)
    n = card

    def vote(store):
        ballot = store.start_ballot(consultation, mode="identified", site_id=SITE)
        store.record_answer(consultation, ballot, "q-ticket", "yes", card=n)
        store.close_ballot(ballot)

    vote(first)
    try:
        vote(first)                   # the same card again on the same tablet, offline
        raise AssertionError("the same card answered twice on one tablet")
    except StoreError as exc:
        assert exc.message == "This participation card has already answered this question."
    vote(second)                      # the other tablet cannot know yet: the hub refuses it
    before = hub.results()["questions"]["q-ticket"]
    for store in (first, second):
        client = client_for(store)
        try:
            push_pending(store, client)
        finally:
            client.close()
    assert first.get_setting(p.REFUSED, 0) == 0
    assert second.get_setting(p.REFUSED, 0) == 1
    after = hub.results()["questions"]["q-ticket"]
    assert after["counts"]["yes"] == before["counts"]["yes"] + 1
