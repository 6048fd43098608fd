"""A tablet enrolled first with a room's laptop hub, then with the central hub: everything it
collected reaches the central hub too, exactly once; enrolling again with the same hub sends
nothing twice."""
from app.store import Store
from sync.enroll import enroll
from sync.worker import push_pending
from sync.enroll import client_for

from .conftest import expected_results, record_votes, start_hub


def push_all(store):
    client = client_for(store)
    try:
        return push_pending(store, client)
    finally:
        client.close()


def test_events_acknowledged_by_a_room_hub_are_sent_to_the_next_hub(tmp_path, demo):
    room = start_hub(tmp_path / "room")
    central = start_hub(tmp_path / "central")
    try:
        store = Store.open(tmp_path / "tablet")
        enroll(store, room.url, room.code())
        record_votes(store, demo, 15, seed=3, with_changes=False)
        push_all(store)
        total = store.outbox_counts()
        assert total["pending"] == 0 and total["acknowledged"] > 0

        enroll(store, room.url, room.code())           # same hub again: nothing re-sent
        assert store.outbox_counts()["pending"] == 0

        enroll(store, central.url, central.code())     # another hub: everything again
        assert store.outbox_counts()["pending"] == total["acknowledged"]
        push_all(store)
        push_all(store)                                 # a second push sends nothing twice
        assert store.outbox_counts()["pending"] == 0
        assert central.device_events(store.device_id) == total["acknowledged"]
        expected = expected_results([store], demo)
        assert central.results()["questions"] == expected == room.results()["questions"]
        store.close()
    finally:
        room.kill()
        central.kill()
