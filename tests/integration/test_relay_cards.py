"""Participation cards between a room hub and its central hub, with real processes (issues 14
and 15): a central hub, a room hub enrolled upstream (its forwarder thread), tablets enrolled
with the room (the sync client's pull and push, the kiosk's identified ballot).

Cards are printed at the room's door (`python -m server cards print` on the room's data folder,
read back from the PDF) and one at the central hub; the room takes the central hub's card, its
tablets take its check, and a resident votes at the room with the room's card typed and with
the central hub's card's QR — signed by the central hub's key, which the tablet does not hold:
the tablet accepts it by the check its hub passed on. The room forwards: the central hub stores
every answer with its card use, refuses none and shows the room's results. The same card on a
second tablet, offline, counts once at both hubs; a card neither hub issued is refused by the
room and, sent straight up by the room's credentials, by the central hub. No card code, typed
or secret, is written in either hub's database files or log.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cards import CARD_KEYS, CARD_PUBLIC_KEY, Card, CardError, read_card
from app.store import Store
from sync import protocol as p
from sync.client import HubClient
from sync.content import pull_bundles
from sync.enroll import client_for, enroll

from .conftest import SITE, HubProcess, start_hub
from .test_card_privacy import printed_cards, vote
from .test_relay_hub import push_all, query, relay_code, room_hub, wait_for, waiting

CONSULTATION = "alpimed-2030"
pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                reason="pdftoppm (poppler-utils) renders the printed cards")


def printed(hub: HubProcess, folder: Path, count: int) -> list[str]:
    """Cards printed by `hub`'s command line: the QR texts read back from the PDF's pages."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = printed_cards(hub, folder, count, "it")
    assert len(texts) == count and len(set(texts)) == count
    return texts


def tablet(room: HubProcess, folder: Path) -> Store:
    store = Store.open(folder)
    enroll(store, room.url, room.code(SITE))
    pull(store, folder.parent / "bundles")
    return store


def pull(store: Store, bundles: Path) -> None:
    client = client_for(store)
    try:
        pull_bundles(store, client, bundles)
    finally:
        client.close()


def issued(hub: HubProcess) -> set[str]:
    return {r[0] for r in query(hub, "SELECT lookup FROM issued_cards WHERE consultation_id = ?",
                                CONSULTATION)}


def card_uses(hub: HubProcess) -> set[tuple]:
    return set(query(hub, "SELECT card, question_id, ballot_id FROM card_uses"))


def ticket(hub: HubProcess) -> dict:
    return hub.results()["questions"]["q-ticket"]["counts"]


def public_key(hub: HubProcess) -> str:
    """The key a hub signs its cards' QR with (what its tablets get in the bundle index)."""
    from app.cards import card_public_key, card_signing_seed
    return card_public_key(card_signing_seed((hub.data_dir / "secret-key").read_text().strip()))


def test_cards_of_both_hubs_vote_at_the_room_and_count_once_at_both(tmp_path, demo):
    central = start_hub(tmp_path / "central")
    room = room_hub(tmp_path / "room").start()
    stores: list[Store] = []
    try:
        # 1. The room enrolls upstream (its command line, like staff) and pulls the demo.
        enrolled = room.cli("upstream", "enroll", "--url", central.url, "--code",
                            relay_code(central), "--name", "Sala Menton")
        assert enrolled.returncode == 0, enrolled.stderr
        wait_for(lambda: query(room, "SELECT count(*) FROM consultations")[0][0] == 1, 60,
                 "the room to pull the consultation")

        # 2. Two cards printed at the room's door, one at the central hub (after the room's
        # pull). The room sends its cards up at its next round; it takes the central hub's at
        # its next content pull — at start, then every few minutes: restarted here.
        room_texts = printed(room, tmp_path / "room-cards", 2)
        central_text = printed(central, tmp_path / "central-cards", 1)[0]
        central_card = read_card(central_text, CONSULTATION, public_key(central))
        room_card = read_card(room_texts[0], CONSULTATION, public_key(room))
        other_room_card = read_card(room_texts[1], CONSULTATION, public_key(room))
        assert public_key(room) != public_key(central)
        everyone = {room_card.lookup, other_room_card.lookup, central_card.lookup}
        assert len(everyone) == 3
        wait_for(lambda: issued(central) == everyone, 60, "the room's cards at the central hub")
        room.stop()
        room.start()
        wait_for(lambda: issued(room) == everyone, 60, "the central hub's card at the room")

        # 3. A tablet of the room pulls: the room's key, and the checks of all three cards.
        a = tablet(room, tmp_path / "a")
        b = tablet(room, tmp_path / "b")
        stores += [a, b]
        for store in (a, b):
            assert store.get_setting(CARD_PUBLIC_KEY) == public_key(room)
            assert set(store.get_setting(CARD_KEYS)[CONSULTATION]) == everyone
        # The central hub's QR is not signed by the key the tablet holds: without the check
        # the room passed on, the tablet could not accept it.
        with pytest.raises(CardError):
            read_card(central_text, CONSULTATION, a.get_setting(CARD_PUBLIC_KEY))
        with pytest.raises(CardError):
            read_card(central_text, CONSULTATION, a.get_setting(CARD_PUBLIC_KEY),
                      {central_card.lookup: "0" * 32})

        # Identified ballots on tablet A: the room's card typed, the central hub's card by QR,
        # the room's other card by QR.
        typed = vote(a, demo, room_card.typed, {"q-ticket": "yes", "q-cooperation": 4})
        by_qr = vote(a, demo, central_text, {"q-ticket": "no", "q-cooperation": 2})
        other = vote(a, demo, room_texts[1], {"q-ticket": "yes"})
        # Tablet B, offline since its pull, takes the room's first card again (its QR).
        again = vote(b, demo, room_texts[0], {"q-ticket": "no", "q-cooperation": 1})

        # A pushes to the room; the room forwards. B pushes later.
        sent = push_all(a)
        assert sent["rejected"] == 0 and sent["stored"] == a.outbox_counts()["acknowledged"]
        later = push_all(b)
        assert later["rejected"] == 2 and b.get_setting(p.REFUSED, 0) == 2
        assert later["stored"] > 0                      # its ballot, not the card's answers

        # A card neither hub issued, from a tablet of the room that bypasses its own checks.
        c = tablet(room, tmp_path / "c")
        stores.append(c)
        invented = Card(CONSULTATION, next(x for x in ("HJKL", "KLMN", "MNPQ")
                                           if x not in everyone), "M" * 13)
        forged = c.start_ballot(demo, mode="identified", site_id=SITE)
        c.record_answer(demo, forged, "q-ticket", "yes",
                        card=invented)
        refused = push_all(c)
        assert refused["rejected"] == 1 and c.get_setting(p.REFUSED, 0) == 1

        # 4. At the central hub, once the room's backlog is drained.
        relay_id = json.loads(query(room, "SELECT value FROM upstream_state "
                                          "WHERE key = 'relay_id'")[0][0])
        wait_for(lambda: waiting(room) == 0 and query(
            room, "SELECT count(*) FROM upstream_devices WHERE status = 'registered'")[0][0]
            == 3, 120, "the room's backlog to drain")
        for store in stores:
            assert query(central, "SELECT count(*) FROM events WHERE device_id = ?",
                         store.device_id)[0][0] == query(
                room, "SELECT count(*) FROM events WHERE device_id = ?", store.device_id)[0][0]
        expected = {(room_card.lookup, "q-ticket", typed),
                    (room_card.lookup, "q-cooperation", typed),
                    (central_card.lookup, "q-ticket", by_qr),
                    (central_card.lookup, "q-cooperation", by_qr),
                    (other_room_card.lookup, "q-ticket", other)}
        assert card_uses(room) == expected
        assert card_uses(central) == expected
        assert not any(ballot == again for _c, _q, ballot in card_uses(central))
        # Nothing refused at the central hub; the room kept B's two answers for review.
        assert query(central, "SELECT count(*) FROM event_reviews")[0][0] == 0
        reviews = query(room, "SELECT device_id, kind, reason FROM event_reviews")
        assert sorted((d, k) for d, k, _r in reviews) == sorted(
            [(b.device_id, "rejected")] * 2 + [(c.device_id, "rejected")])
        assert any("already answered" in r for d, _k, r in reviews if d == b.device_id)
        assert any("not issued" in r for d, _k, r in reviews if d == c.device_id)
        # The same results at both hubs: each card once per question.
        assert central.results()["questions"] == room.results()["questions"]
        assert ticket(central) == {"yes": 2, "no": 1, "abstain": 0}

        # The central hub checks relayed answers itself: the invented card, sent straight up
        # with the room's own credentials, is refused there too.
        secret = json.loads(query(room, "SELECT value FROM upstream_state "
                                        "WHERE key = 'secret'")[0][0])
        straight = HubClient(central.url, relay_id, secret)
        try:
            answer = next(e for e in c.events() if e.type == "answer")
            result = straight.push([answer.envelope(c.device_id)], "/api/v1/relay/events")
        finally:
            straight.close()
        assert [r["status"] for r in result.values()] == ["rejected"]
        assert [r[0] for r in query(central, "SELECT reason FROM event_reviews")] == [
            "This participation card was not issued for this consultation."]
        assert ticket(central) == {"yes": 2, "no": 1, "abstain": 0}

        # 5. No card code, typed or secret, in either hub's database files or log.
        cards = [room_card, other_room_card, central_card]
        for hub in (room, central):
            hub.stop()
            stored = b"".join(f.read_bytes() for f in hub.data_dir.glob("hub.sqlite3*"))
            log = hub.log.read_bytes()
            for card in cards:
                for text in (card.code, card.secret, card.typed):
                    assert text.encode() not in stored, (hub.data_dir.name, text)
                    assert text.encode() not in log, (hub.data_dir.name, text)
    finally:
        for store in stores:
            store.close()
        room.kill()
        central.kill()


def test_a_room_moved_to_another_central_hub_sends_its_cards_there_first(tmp_path, demo):
    """The room's laptop enrolled again with another central hub (another URL): that hub gets
    the room's cards before their answers, as the first one did, and refuses none of them."""
    first = start_hub(tmp_path / "first")
    second = start_hub(tmp_path / "second")
    room = room_hub(tmp_path / "room").start()
    store = None
    try:
        enrolled = room.cli("upstream", "enroll", "--url", first.url, "--code",
                            relay_code(first), "--name", "Sala Menton")
        assert enrolled.returncode == 0, enrolled.stderr
        wait_for(lambda: query(room, "SELECT count(*) FROM consultations")[0][0] == 1, 60,
                 "the room to pull the consultation")
        text = printed(room, tmp_path / "room-cards", 1)[0]
        card = read_card(text, CONSULTATION, public_key(room))
        wait_for(lambda: issued(first) == {card.lookup}, 60, "the room's card upstream")
        store = tablet(room, tmp_path / "a")
        ballot = vote(store, demo, card.typed, {"q-ticket": "yes", "q-cooperation": 3})
        assert push_all(store)["rejected"] == 0
        wait_for(lambda: waiting(room) == 0, 120, "the room to forward to the first hub")
        assert card_uses(first) == {(card.lookup, "q-ticket", ballot),
                                    (card.lookup, "q-cooperation", ballot)}

        # Staff enroll the laptop, its hub stopped, with the other hub, and start it again.
        room.stop()
        moved = room.cli("upstream", "enroll", "--url", second.url, "--code",
                         relay_code(second), "--name", "Sala Menton")
        assert moved.returncode == 0, moved.stderr
        assert waiting(room) > 0
        room.start()
        wait_for(lambda: waiting(room) == 0, 120, "the room to forward to the second hub")
        assert query(second, "SELECT count(*) FROM events WHERE device_id = ?",
                     store.device_id)[0][0] == store.outbox_counts()["acknowledged"]
        reviews = query(second, "SELECT reason FROM event_reviews")
        assert reviews == [] and issued(second) == {card.lookup}
        assert card_uses(second) == card_uses(first)
        assert reviews == []
        assert second.results()["questions"] == room.results()["questions"] \
            == first.results()["questions"]
    finally:
        if store is not None:
            store.close()
        room.kill()
        second.kill()
        first.kill()


def test_a_room_makes_no_more_cards_than_its_quota_at_the_central_hub(tmp_path, demo):
    """Central staff allow the room's site 2 cards; the room prints 3 at its door. The central
    hub takes 2, refuses the third (its answers refused there, `card_not_issued`), and shows
    the count to staff."""
    central = start_hub(tmp_path / "central")
    room = room_hub(tmp_path / "room").start()
    store = None
    try:
        quota = central.admin("PUT", "/card-quotas", json={
            "consultation_id": CONSULTATION, "site_id": SITE, "quota": 2})
        assert quota.status_code == 200, quota.text
        enrolled = room.cli("upstream", "enroll", "--url", central.url, "--code",
                            relay_code(central), "--name", "Sala Menton")
        assert enrolled.returncode == 0, enrolled.stderr
        wait_for(lambda: query(room, "SELECT count(*) FROM consultations")[0][0] == 1, 60,
                 "the room to pull the consultation")
        texts = printed(room, tmp_path / "room-cards", 3)
        cards = [read_card(t, CONSULTATION, public_key(room)) for t in texts]
        wait_for(lambda: len(issued(central)) == 2, 60, "two of the room's cards upstream")
        taken = issued(central)
        assert taken < {c.lookup for c in cards}
        shown = central.admin("GET", "/card-quotas").json()["quotas"]
        assert shown == [{"consultation_id": CONSULTATION, "site_id": SITE, "made": 2,
                          "quota": 2}]
        # Residents vote at the room with all three: the room takes them (its own cards).
        store = tablet(room, tmp_path / "a")
        ballots = {c.lookup: vote(store, demo, t, {"q-ticket": "yes"})
                   for c, t in zip(cards, texts)}
        assert push_all(store)["rejected"] == 0
        wait_for(lambda: waiting(room) == 0, 120, "the room to forward")
        refused = next(lookup for lookup in ballots if lookup not in taken)
        assert {(card, ballot) for card, _q, ballot in card_uses(central)} == {
            (lookup, ballots[lookup]) for lookup in taken}
        assert [r[0] for r in query(central, "SELECT reason FROM event_reviews")] == [
            "This participation card was not issued for this consultation."]
        assert ticket(room)["yes"] == 3 and ticket(central)["yes"] == 2
        assert refused not in issued(central)
    finally:
        if store is not None:
            store.close()
        room.kill()
        central.kill()
