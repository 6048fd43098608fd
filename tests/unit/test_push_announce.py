"""Issue 26: every record on disk is on its way at once. The store announces each committed
outbox write to the listeners of its file (app/store/announce.py), whichever connection and
thread wrote it; a rolled-back write announces nothing; the sync worker pushes within a window
opened by the first event not yet sent (sync.worker.PushWindow); and no screen asks for a push."""
import ast
import sqlite3
import threading
from pathlib import Path

import pytest

from app.store import Store
from app.store.outbox import append_event, listen
from sync.service import SyncService
from sync.worker import PushWindow

ROOT = Path(__file__).resolve().parents[2]


class Heard:
    """A listener that also looks, from a connection of its own, at what is on disk when it
    is called, and whether the writer's transaction is still open."""

    def __init__(self, path, writer=None):
        self.path, self.writer = path, writer
        self.calls: list[tuple[int, int, bool, str]] = []

    def __call__(self, count):
        reader = sqlite3.connect(self.path)
        try:
            on_disk = reader.execute("SELECT count(*) FROM outbox").fetchone()[0]
        finally:
            reader.close()
        open_transaction = self.writer is not None and self.writer.conn.in_transaction
        self.calls.append((count, on_disk, open_transaction, threading.current_thread().name))


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path)
    yield s
    s.close()


def test_every_kind_of_write_is_announced_after_its_commit(store, demo):
    heard = Heard(store.path, store)
    unlisten = listen(store.path, heard)
    try:
        ballot = store.start_ballot(demo)                             # ballot_started
        store.record_answer(demo, ballot, "q-ticket", "yes")          # answer
        store.close_ballot(ballot)                                    # ballot_closed
        idea = store.submit_proposal(demo, title="Un banc", text="À l'ombre")
        store.moderate_proposal(idea.id, "approved")                  # moderation
        store.record_count(demo, "q-ticket", "paper", {"yes": 20, "no": 7})
        store.record_signup({"name": "Ada Rossi", "contact": "ada@example.it", "consent": True},
                            consultation_id=demo.id, site_id="menton-mediatheque")
    finally:
        unlisten()
    events = len(store.events())
    assert events == 7
    assert [count for count, *_ in heard.calls] == [1] * 7
    # Each announcement came once its event could be read from another connection: after the
    # COMMIT, never inside the transaction.
    assert [on_disk for _c, on_disk, *_ in heard.calls] == list(range(1, 8))
    assert not any(open_transaction for _c, _d, open_transaction, _t in heard.calls)


def test_a_rolled_back_write_announces_nothing(store, demo):
    heard = Heard(store.path, store)
    unlisten = listen(store.path, heard)
    try:
        with pytest.raises(RuntimeError):
            with store.transaction() as conn:
                append_event(conn, "answer", {"x": 1}, "2026-01-01T10:00:00Z")
                append_event(conn, "answer", {"x": 2}, "2026-01-01T10:00:00Z")
                raise RuntimeError("the caller gave up")
        assert heard.calls == [] and store.events() == []
        # The next transaction that writes one event announces one, not three.
        with store.transaction() as conn:
            append_event(conn, "answer", {"x": 3}, "2026-01-01T10:00:00Z")
        # A transaction that writes no event announces nothing.
        store.set_setting("something", 1)
    finally:
        unlisten()
    assert [(count, on_disk) for count, on_disk, *_ in heard.calls] == [(1, 1)]


def test_one_transaction_writing_several_events_is_one_announcement(store):
    heard = Heard(store.path, store)
    unlisten = listen(store.path, heard)
    with store.transaction() as conn:
        for n in range(3):
            append_event(conn, "answer", {"n": n}, "2026-01-01T10:00:00Z")
    unlisten()
    with store.transaction() as conn:      # unsubscribed: not heard
        append_event(conn, "answer", {"n": 4}, "2026-01-01T10:00:00Z")
    assert [(count, on_disk) for count, on_disk, *_ in heard.calls] == [(3, 3)]


def test_announcements_are_keyed_by_the_file_not_the_connection(tmp_path, demo):
    ui = Store.open(tmp_path / "kiosk")
    other = Store.open(tmp_path / "elsewhere")
    heard = Heard(ui.path)
    unlisten = listen(tmp_path / "kiosk" / "piazzetta.sqlite3", heard)
    try:
        ui.start_ballot(demo)
        other.start_ballot(demo)                        # another file: not heard

        def in_a_thread():                              # another connection on the same file
            mine = Store.open(tmp_path / "kiosk")
            try:
                mine.start_ballot(demo)
            finally:
                mine.close()
        worker = threading.Thread(target=in_a_thread, name="writer")
        worker.start()
        worker.join()
    finally:
        unlisten()
        ui.close()
        other.close()
    assert [(c, d) for c, d, *_ in heard.calls] == [(1, 1), (1, 2)]
    assert heard.calls[1][3] == "writer"                # called in the thread that wrote


def test_a_failing_listener_never_breaks_a_write(store, demo):
    heard = Heard(store.path, store)

    def broken(_count):
        raise ValueError("a listener with a bug")
    unlisten_broken = listen(store.path, broken)
    unlisten = listen(store.path, heard)
    try:
        ballot = store.start_ballot(demo)
        store.record_answer(demo, ballot, "q-ticket", "yes")
    finally:
        unlisten_broken()
        unlisten()
    assert store.answers_of(ballot) == {"q-ticket": "yes"}
    assert len(heard.calls) == 2                        # the next listener still heard


def test_a_forgotten_service_stops_listening(tmp_path, demo):
    import gc
    heard = []

    class Service(SyncService):
        def _recorded(self, count, last_seq=0):
            heard.append(count)
            super()._recorded(count, last_seq)
    store = Store.open(tmp_path)
    service = Service(tmp_path)
    store.start_ballot(demo)
    assert heard == [1]
    del service
    gc.collect()
    store.start_ballot(demo)               # held weakly: nobody called, no error
    store.close()
    assert heard == [1]


def test_the_service_counts_what_the_store_announces(tmp_path, demo):
    store = Store.open(tmp_path)
    service = SyncService(tmp_path)        # not enrolled: no worker, the count still moves
    assert service.status().pending == 0
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    assert service.status().pending == 2
    service.push_soon()                    # kept for bench/: it counts nothing twice
    assert service.status().pending == 2
    service.stop()
    store.start_ballot(demo)               # stopped: not listening any more
    assert service.status().pending == 2
    store.close()


def test_an_event_is_counted_once_whether_the_worker_reads_it_before_or_after_its_announcement(
        tmp_path, demo):
    """The worker reads the store in its thread while the UI thread commits and announces: a
    status read after the commit but published before the announcement holds the event, and
    a status read before the commit but published after it does not. The count is exact in
    both orders, at every moment."""
    from sync.worker import read_status
    store = Store.open(tmp_path)
    worker_store = Store.open(tmp_path)            # the worker's own connection
    shown = []

    def worker_reads_in_between(_count):
        # Listeners are called in the order they listened: this one runs after the commit,
        # before the service hears of it, as the worker's thread may.
        service._publish(read_status(worker_store))          # noqa: SLF001
        shown.append(service.status().pending)
    unlisten = listen(store.path, worker_reads_in_between)
    service = SyncService(tmp_path)
    try:
        ballot = store.start_ballot(demo)
        assert shown == [1] and service.status().pending == 1          # not 2
        store.record_answer(demo, ballot, "q-ticket", "yes")
        assert shown == [1, 2] and service.status().pending == 2
        unlisten()
        # The other order: read before the commit, published after its announcement.
        stale = read_status(worker_store)
        store.record_answer(demo, ballot, "q-cooperation", 4)
        assert service.status().pending == 3
        service._publish(stale)                                        # noqa: SLF001
        assert service.status().pending == 3                           # not 2
        store.close_ballot(ballot)
        assert service.status().pending == 4
        service._publish(read_status(worker_store))                    # noqa: SLF001
        assert service.status().pending == 4 == store.outbox_counts()["pending"]
        # Acknowledged by the hub meanwhile: the next read says so, later writes still add.
        store.mark_acknowledged([e.id for e in store.events()[:3]])
        store.start_ballot(demo)
        assert service.status().pending == 5
        service._publish(read_status(worker_store))                    # noqa: SLF001
        assert service.status().pending == 2 == store.outbox_counts()["pending"]
    finally:
        service.stop()
        worker_store.close()
        store.close()


def test_a_service_told_not_to_push_on_write_does_not_listen(tmp_path, demo):
    """The path before issue 26 (bench/room_live.py measures it): events wait for a poll."""
    store = Store.open(tmp_path)
    service = SyncService(tmp_path, push_on_write=False)
    store.start_ballot(demo)
    assert service.status().pending == 0
    service.start()                        # not enrolled: the worker idles, still not listening
    assert service._unlisten is None
    service.stop()
    store.close()


# -- the push window ---------------------------------------------------------------------------

def test_the_window_opens_at_the_first_event_not_yet_sent():
    window = PushWindow(0.25)
    assert window.due() is None                         # nothing waits: no push
    window.note(100.0)
    assert window.due() == pytest.approx(100.25)
    window.note(100.1)                                  # joins the same batch
    window.note(100.2)
    assert window.due() == pytest.approx(100.25)        # not put off
    window.take()                                       # the push begins
    assert window.due() is None
    window.note(100.3)                                  # arrived during the push: a new one
    assert window.due() == pytest.approx(100.55)


def test_a_steady_stream_never_postpones_the_push():
    """An event every 20 ms for 5 s; the worker wakes when `due()` says (as its wait does)."""
    window = PushWindow(0.25)
    waits, first_unsent = [], None
    for tick in range(250):
        now = tick * 0.02
        due = window.due()
        if due is not None and due <= now:          # the worker woke at `due` and pushed
            waits.append(due - first_unsent)
            window.take()
            first_unsent = None
        window.note(now)
        if first_unsent is None:
            first_unsent = now
    assert len(waits) >= 15                          # about one push every 0.25 s
    assert max(waits) <= 0.25 + 1e-9                 # each within the window of its first


def test_sync_now_makes_the_push_due_at_once():
    window = PushWindow(0.25)
    window.note(10.0)
    window.now(10.1)
    assert window.due() <= 10.1


# -- screens never push --------------------------------------------------------------------------

def test_nothing_in_screens_asks_for_a_push():
    """The store announces every write and the sync service pushes: a screen that asks for a
    push is doing sync's job (the facilitator's "sync now" button calls sync_now)."""
    offenders = []
    for path in sorted((ROOT / "screens").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = (node.attr if isinstance(node, ast.Attribute) else
                    node.value if isinstance(node, ast.Constant) else None)
            if name == "push_soon":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    for path in sorted((ROOT / "screens").rglob("*.kv")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "push_soon" in line:
                offenders.append(f"{path.relative_to(ROOT)}:{n}")
    assert offenders == []


# -- backoff: announcements do not hammer an unreachable hub ------------------------------------

def test_writes_during_a_backoff_wait_for_it_and_sync_now_still_forces_a_try(tmp_path, demo):
    """A hub that refuses connections (a closed port on 127.0.0.1): after the failed cycle the
    worker backs off; twenty answers written meanwhile are counted, each handled by the worker
    (it republishes the status), and no cycle knocks again; "sync now" does."""
    import socket

    from sync import protocol as p
    from sync.status import UNREACHABLE
    with socket.socket() as s:                  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = Store.open(tmp_path)
    store.set_setting(p.HUB_URL, f"http://127.0.0.1:{port}")
    store.set_setting(p.DEVICE_SECRET, "x" * 32)
    statuses = []
    seen = threading.Condition()

    def on_status(status):
        with seen:
            statuses.append(status)
            seen.notify_all()

    def wait(check):
        with seen:
            assert seen.wait_for(check, timeout=60), statuses[-1:] or "no status"
    service = SyncService(tmp_path, on_status=on_status, push_delay=0.0,
                          backoff=(600.0, 600.0), timeout=(2.0, 2.0))
    service.start()
    try:
        wait(lambda: any(s.state == UNREACHABLE for s in statuses))
        worker = service._worker                # noqa: SLF001
        assert worker.cycles == 1
        ballot = store.start_ballot(demo)
        counts = []
        for n in range(20):
            store.record_answer(demo, ballot, "q-cooperation", n % 5 + 1)
            counts.append(service.status().pending)
        # Every announcement reached the worker, which only republished the status; the
        # count was exact after every write, whether the worker read the store before or
        # after the announcement landed (it never counts an event twice, even for a moment).
        assert counts == list(range(2, 22))
        wait(lambda: statuses[-1].pending == 21 and service.status().pending == 21)
        assert max(s.pending for s in statuses) == 21
        assert worker.cycles == 1
        assert statuses[-1].state == UNREACHABLE
        service.sync_now()                       # the facilitator insists: one more try
        wait(lambda: worker.cycles == 2)
    finally:
        service.stop()
        store.close()
