"""A tablet that keeps its secrets when stolen (issue 13): private files, residents' times kept to
the hour, acknowledged events purged after the facilitator's retention, and an old store
migrated without losing anything."""
import json
import logging
import os
import sqlite3
import stat
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

import app.store as store_module
from app.errors import StoreError
from app.migrations import MIGRATIONS
from app.store import (REDACTION_CHECKPOINT_OWED, RETENTION_CHOICES, RETENTION_DEFAULT,
                       RETENTION_NAMES, STORE_FILE, Store)

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
HOUR = "%Y-%m-%dT%H:00:00+00:00"
LEGACY_VERSION = 3          # the last schema before issue 13


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def later(days: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(days=days)


def vote(store, demo, value="yes", *, close=True):
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", value)
    store.record_answer(demo, ballot, "q-cooperation", 4)
    if close:
        store.close_ballot(ballot)
    return ballot


def acknowledge_all(store):
    return store.mark_acknowledged([e.id for e in store.pending_events(limit=10_000)])


def is_hour(text: str) -> bool:
    return datetime.strptime(text, HOUR) is not None


def is_exact(text: str) -> bool:
    return not text.endswith(":00:00+00:00") and "." in text


# -- files ----------------------------------------------------------------------------------

@posix_only
def test_a_new_store_is_private_whatever_the_umask(tmp_path, demo):
    folder = tmp_path / "data" / "tablet"
    old = os.umask(0)             # the worst case: everything would be world-writable
    try:
        store = Store.open(folder)
        vote(store, demo)
        assert mode(folder) == 0o700
        for name in (STORE_FILE, STORE_FILE + "-wal", STORE_FILE + "-shm"):
            assert (folder / name).exists() and mode(folder / name) == 0o600, name
        store.close()
    finally:
        os.umask(old)


@posix_only
def test_an_open_store_is_tightened(tmp_path, demo):
    folder = tmp_path / "data"
    store = Store.open(folder)
    vote(store, demo)
    keeper = sqlite3.connect(store.path)          # keeps the -wal and -shm after close
    keeper.execute("SELECT count(*) FROM outbox").fetchone()
    store.close()
    folder.chmod(0o755)
    for name in (STORE_FILE, STORE_FILE + "-wal", STORE_FILE + "-shm"):
        (folder / name).chmod(0o644)
    again = Store.open(folder)
    assert mode(folder) == 0o700
    assert {name: mode(folder / name) for name in (STORE_FILE, STORE_FILE + "-wal",
                                                   STORE_FILE + "-shm")} == \
        dict.fromkeys((STORE_FILE, STORE_FILE + "-wal", STORE_FILE + "-shm"), 0o600)
    assert again.outbox_counts()["pending"] == 4
    again.close()
    keeper.close()


@posix_only
def test_a_store_file_given_by_path_leaves_its_folder_to_the_caller(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    store = Store.open(shared / "tablet.sqlite3")
    assert mode(shared) == 0o755 and mode(shared / "tablet.sqlite3") == 0o600
    store.close()
    fresh = Store.open(tmp_path / "new" / "tablet.sqlite3")
    assert mode(tmp_path / "new") == 0o700
    fresh.close()


@posix_only
def test_a_folder_it_cannot_tighten_gives_a_warning_not_a_crash(tmp_path, monkeypatch, caplog,
                                                                demo):
    folder = tmp_path / "theirs"
    folder.mkdir()
    folder.chmod(0o755)
    (folder / STORE_FILE).touch(mode=0o644)

    def refuse(self, mode):
        raise PermissionError(1, "Operation not permitted", str(self))
    monkeypatch.setattr(Path, "chmod", refuse)
    with caplog.at_level(logging.WARNING, logger="piazzetta.store"):
        store = Store.open(folder)
    vote(store, demo)
    assert store.outbox_counts()["pending"] == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("folder" in w and "theirs" in w for w in warnings)
    assert any(STORE_FILE in w for w in warnings)
    store.close()


# -- times kept to the hour -----------------------------------------------------------------

def test_local_copies_of_residents_times_keep_the_hour_only(store, demo):
    ballot = vote(store, demo)
    idea = store.submit_proposal(demo, title="Un banc", text="Près de la gare")
    started, closed = store.conn.execute(
        "SELECT started_at, closed_at FROM ballots WHERE id = ?", (ballot,)).fetchone()
    answered = [r[0] for r in store.conn.execute("SELECT recorded_at FROM answers")]
    assert all(is_hour(t) for t in [started, closed, idea.created_at, *answered])
    # the events themselves keep the exact time until the hub has them
    assert all(is_exact(e.recorded_at) for e in store.events())


def test_an_acknowledged_event_keeps_its_hour_and_a_pending_one_its_exact_time(store, demo):
    vote(store, demo)
    events = store.events()
    assert store.mark_acknowledged([events[0].id, events[2].id]) == 2
    after = {e.id: e for e in store.events()}
    for event in events:
        kept = after[event.id]
        if event.id in (events[0].id, events[2].id):
            hour = datetime.fromisoformat(event.recorded_at).replace(minute=0, second=0,
                                                                     microsecond=0)
            assert kept.recorded_at == hour.strftime(HOUR)
            assert is_hour(kept.acked_at)     # a push follows a vote by a second: hour only
        else:
            assert kept.recorded_at == event.recorded_at and kept.acked_at is None
        assert (kept.seq, kept.type, kept.payload) == (event.seq, event.type, event.payload)
    assert store.get_setting(REDACTION_CHECKPOINT_OWED) is True   # old pages: to the file


def test_the_outbox_refuses_every_rewrite_but_rounding_an_acknowledged_time(store, demo):
    vote(store, demo)
    first, second = store.events()[:2]
    store.mark_acknowledged([first.id])
    refused = [
        ("UPDATE outbox SET recorded_at = '2020-01-01T00:00:00+00:00' WHERE event_id = ?",
         first.id),                                            # acknowledged, but not its hour
        ("UPDATE outbox SET recorded_at = strftime('%Y-%m-%dT%H:00:00+00:00', recorded_at,"
         " '-1 hour') WHERE event_id = ?", first.id),          # another hour
        ("UPDATE outbox SET recorded_at = strftime('%Y-%m-%dT%H:00:00+00:00', recorded_at)"
         " WHERE event_id = ?", second.id),                    # its hour, but not acknowledged
        ("UPDATE outbox SET recorded_at = 'x' WHERE event_id = ?", second.id),
        ("UPDATE outbox SET event_id = 'x' WHERE event_id = ?", first.id),
        ("UPDATE outbox SET seq = 99 WHERE event_id = ?", first.id),
        ("UPDATE outbox SET type = 'answer' WHERE event_id = ?", first.id),
        ("DELETE FROM outbox WHERE event_id = ?", second.id),  # never an unacknowledged one
        ("DELETE FROM outbox WHERE event_id = ?", first.id),   # nor outside a purge
    ]
    before = store.events()
    for sql, event_id in refused:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.conn.execute(sql, (event_id,))
    assert store.events() == before
    # rounding again changes nothing, and is allowed
    store.conn.execute("UPDATE outbox SET recorded_at = strftime('%Y-%m-%dT%H:00:00+00:00',"
                       " recorded_at) WHERE event_id = ?", (first.id,))
    assert store.events() == before


def test_an_unreadable_time_is_left_as_it_is_and_the_event_still_acknowledged(store):
    store.conn.execute("INSERT INTO outbox(event_id, type, payload, recorded_at)"
                       " VALUES ('e1', 'ping', '{}', 'the day of the fair')")
    assert store.mark_acknowledged(["e1"]) == 1
    assert store.events()[0].recorded_at == "the day of the fair"


# -- retention ------------------------------------------------------------------------------

def test_the_retention_setting(store):
    assert store.retention_days == RETENTION_DEFAULT == 30
    assert set(RETENTION_NAMES) == set(RETENTION_CHOICES) and 0 in RETENTION_CHOICES
    store.set_retention_days(7)
    assert store.retention_days == 7
    for bad in (-1, 3, "30", True, None, 10 ** 9):
        with pytest.raises(StoreError) as err:
            store.set_retention_days(bad)
        assert err.value.field == "retention_days"
    assert store.retention_days == 7
    for damaged in ("lots", -5, 12, True, [30]):
        store.set_setting("kiosk.retention_days", damaged)
        assert store.retention_days == RETENTION_DEFAULT        # never "forever"


def test_purge_takes_only_acknowledged_events_past_the_retention(store, demo):
    for value in ("yes", "no", "yes"):
        vote(store, demo, value)
    acknowledge_all(store)
    vote(store, demo, "no")                                    # not sent yet
    results, figures = store.results(demo), store.figures(demo.id)
    assert store.purge_acknowledged(later(29)) == {"events": 0, "ballots": 0}
    assert store.outbox_counts() == {"pending": 4, "acknowledged": 12}
    assert store.purge_acknowledged(later(31)) == {"events": 12, "ballots": 3}
    assert store.outbox_counts() == {"pending": 4, "acknowledged": 0}
    assert all(e.acked_at is None for e in store.events())
    # the local figures stay whole: three ballots are anonymous totals now
    assert store.results(demo) == results and store.figures(demo.id) == figures
    assert store.conn.execute("SELECT count(*) FROM ballots").fetchone()[0] == 1
    assert store.conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 2
    totals = store.conn.execute("SELECT question_id, value, n FROM answer_totals"
                                " ORDER BY 1, 2").fetchall()
    assert totals == [("q-cooperation", "4", 3), ("q-ticket", '"no"', 1),
                      ("q-ticket", '"yes"', 2)]
    assert store.conn.execute("SELECT count(*) FROM meta WHERE key = 'outbox.purge_before'"
                              ).fetchone()[0] == 0
    # unacknowledged events are never purged, however old
    assert store.purge_acknowledged(later(10_000)) == {"events": 0, "ballots": 0}
    assert store.outbox_counts()["pending"] == 4


def test_an_open_ballot_stays_whole_even_when_its_events_go(store, demo):
    ballot = vote(store, demo, close=False)
    acknowledge_all(store)
    store.set_retention_days(0)
    assert store.purge_acknowledged() == {"events": 3, "ballots": 0}
    store.record_answer(demo, ballot, "q-ticket", "no")       # the resident changes their mind
    assert store.answers_of(ballot) == {"q-ticket": "no", "q-cooperation": 4}
    assert store.results(demo)["q-ticket"]["counts"] == {"yes": 0, "no": 1, "abstain": 0}
    store.close_ballot(ballot)
    acknowledge_all(store)
    assert store.purge_acknowledged() == {"events": 2, "ballots": 1}
    assert store.results(demo)["q-ticket"]["counts"] == {"yes": 0, "no": 1, "abstain": 0}


def test_retention_zero_purges_at_once_and_today_still_counts(store, demo):
    store.set_retention_days(0)
    vote(store, demo)
    store.record_signup({"name": "Ada Rossi", "contact": "ada@example.it", "consent": True},
                        consultation_id=demo.id)
    before = store.figures(demo.id)
    acknowledge_all(store)
    assert store.purge_acknowledged() == {"events": 5, "ballots": 1}
    assert store.events() == []
    assert store.figures(demo.id) == before and before["ballots_today"] == 1
    assert store.figures(demo.id, date.today() - timedelta(days=1))["ballots_today"] == 0


def test_ideas_and_counts_stay_after_their_events_go(store, demo):
    idea = store.submit_proposal(demo, title="Un banc", text="Près de la gare")
    store.record_count(demo, "q-ticket", "paper", {"yes": 12, "no": 3})
    results = store.results(demo)
    acknowledge_all(store)
    assert store.purge_acknowledged(later(31))["events"] == 2
    assert store.proposal(idea.id).title == "Un banc"
    assert store.results(demo) == results and len(store.counts(demo.id)) == 1


def test_purge_in_many_chunks(store, demo, monkeypatch):
    monkeypatch.setattr(store_module.retention, "_PURGE_CHUNK", 2)
    for value in ("yes", "no", "yes", "yes", "no"):
        vote(store, demo, value)
    results = store.results(demo)
    acknowledge_all(store)
    assert store.purge_acknowledged(later(31)) == {"events": 20, "ballots": 5}
    assert store.results(demo) == results
    assert store.figures(demo.id)["ballots"] == 5


def test_the_store_purges_when_it_opens(tmp_path, demo):
    store = Store.open(tmp_path)
    store.set_retention_days(0)
    vote(store, demo)
    acknowledge_all(store)
    vote(store, demo, "no")
    store.close()
    again = Store.open(tmp_path)
    assert again.outbox_counts() == {"pending": 4, "acknowledged": 0}
    assert again.figures(demo.id)["ballots"] == 2
    assert not again.get_setting(REDACTION_CHECKPOINT_OWED)        # checkpointed
    again.close()


def test_a_purge_keeps_what_another_hub_still_needs_within_the_retention(store, demo):
    vote(store, demo)
    acknowledge_all(store)
    assert store.purge_acknowledged()["events"] == 0
    assert store.forget_acknowledgements() == 4                   # enrolled with another hub
    assert all(is_hour(e.recorded_at) for e in store.pending_events())


# -- migration from a store made before issue 13 --------------------------------------------

def legacy_store(path: Path) -> sqlite3.Connection:
    """A store at schema 3, filled the way the app wrote it then: exact times everywhere."""
    conn = sqlite3.connect(path, isolation_level=None)
    for number, migration in enumerate(MIGRATIONS[:LEGACY_VERSION], start=1):
        migration(conn)
        conn.execute(f"PRAGMA user_version = {number}")
    now = datetime.now(timezone.utc)
    stamp = lambda minutes: (now - timedelta(minutes=minutes)).isoformat(  # noqa: E731
        timespec="milliseconds")
    rows = [
        ("e1", "ballot_started", {"ballot_id": "b1", "consultation_id": "alpimed-2030"}, 50),
        ("e2", "answer", {"ballot_id": "b1", "question_id": "q-ticket", "value": "yes"}, 49),
        ("e3", "ballot_closed", {"ballot_id": "b1", "reason": "finished"}, 48),
        ("e4", "proposal", {"proposal_id": "p1", "title": "Un banc"}, 40),
        ("e5", "ballot_started", {"ballot_id": "b2", "consultation_id": "alpimed-2030"}, 5),
        ("e6", "answer", {"ballot_id": "b2", "question_id": "q-ticket", "value": "no"}, 4),
    ]
    for event_id, type_, payload, minutes in rows:
        conn.execute("INSERT INTO outbox(event_id, type, payload, recorded_at, acked_at)"
                     " VALUES (?, ?, ?, ?, ?)",
                     (event_id, type_, json.dumps(payload), stamp(minutes),
                      stamp(minutes - 1) if minutes > 10 else None))
    conn.execute("INSERT INTO ballots VALUES ('b1', 'alpimed-2030', 1, NULL, NULL, 'open',"
                 " 'finished', ?, ?)", (stamp(50), stamp(48)))
    conn.execute("INSERT INTO ballots VALUES ('b2', 'alpimed-2030', 1, NULL, NULL, 'open',"
                 " 'open', ?, NULL)", (stamp(5),))
    conn.execute("INSERT INTO answers VALUES ('b1', 'q-ticket', 'alpimed-2030', '\"yes\"', 'e2',"
                 " ?)", (stamp(49),))
    conn.execute("INSERT INTO answers VALUES ('b2', 'q-ticket', 'alpimed-2030', '\"no\"', 'e6',"
                 " ?)", (stamp(4),))
    conn.execute("INSERT INTO proposals(id, short_code, consultation_id, title, text, created_at,"
                 " event_id) VALUES ('p1', 'ABC234', 'alpimed-2030', 'Un banc', 'Près de la"
                 " gare', ?, 'e4')", (stamp(40),))
    conn.execute("INSERT INTO tally_counts VALUES ('c1', 'alpimed-2030', 'q-ticket', 'paper',"
                 " '{\"yes\": 3}', 3, NULL, NULL, NULL, NULL, ?, 'e9')", (stamp(30),))
    conn.execute("INSERT INTO card_uses VALUES ('alpimed-2030', 'q-ticket', 'n1', 'b1')")
    conn.execute("INSERT INTO meta VALUES ('device_id', '\"d-legacy\"')")
    conn.execute("INSERT INTO meta VALUES ('facilitator_pin_failures', '2')")
    return conn


def dump(conn, table, columns="*"):
    return conn.execute(f"SELECT {columns} FROM {table} ORDER BY rowid").fetchall()


def migrate(conn):
    """What Store opening does (each pending migration in one transaction), without the purge
    that opening runs next: the rows as the migrations leave them."""
    from app import migrations
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, migration in migrations.pending(conn):
        conn.execute("BEGIN IMMEDIATE")
        migration(conn)
        migrations.mark_applied(conn, number)
        conn.execute("COMMIT")
        version = number
    return version


def test_a_store_from_before_keeps_all_its_data(tmp_path, demo):
    path = tmp_path / STORE_FILE
    conn = legacy_store(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LEGACY_VERSION
    before = {t: dump(conn, t) for t in ("outbox", "ballots", "answers", "proposals",
                                          "tally_counts", "card_uses", "meta")}
    assert migrate(conn) == len(MIGRATIONS) > LEGACY_VERSION     # as Store opening does
    after = {t: dump(conn, t) for t in before}
    # every row is still there, every column but the times the same
    assert dump(conn, "outbox", "seq, event_id, type, payload, redacted") == \
        [r[:4] + r[6:] for r in before["outbox"]]
    assert after["tally_counts"] == before["tally_counts"]
    assert after["card_uses"] == before["card_uses"]
    assert before["meta"] == [r for r in after["meta"] if r[0] != REDACTION_CHECKPOINT_OWED]
    assert [r[:6] for r in after["ballots"]] == [r[:6] for r in before["ballots"]]
    assert [r[:5] for r in after["answers"]] == [r[:5] for r in before["answers"]]
    assert [r[:11] for r in after["proposals"]] == [r[:11] for r in before["proposals"]]
    # the times: acknowledged events and every local copy to the hour; pending events exact
    for old, new in zip(before["outbox"], after["outbox"]):
        if old[5] is None:
            assert new[4:6] == old[4:6]
        else:
            assert is_hour(new[4]) and is_hour(new[5]) and new[4] <= old[4]
    assert all(is_hour(r[7]) for r in after["ballots"]) and is_hour(after["ballots"][0][8])
    assert all(is_hour(r[5]) for r in after["answers"])
    assert is_hour(after["proposals"][0][16])
    # the new triggers hold on the migrated store
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM outbox WHERE event_id = 'e5'")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE outbox SET recorded_at = 'x' WHERE event_id = 'e1'")
    conn.close()
    # and the app reads it: same device, the same figures
    store = Store.open(path)
    assert store.device_id == "d-legacy" and store.schema_version == len(MIGRATIONS)
    assert store.outbox_counts() == {"pending": 2, "acknowledged": 4}     # 30 days: none gone
    assert store.results(demo)["q-ticket"]["counts"] == {"yes": 4, "no": 1, "abstain": 0}
    assert store.figures(demo.id)["ballots"] == 2
    assert not store.get_setting(REDACTION_CHECKPOINT_OWED)
    store.close()


def test_the_stolen_tablet_section_says_what_the_code_does():
    """docs/deploy.md, "Stolen tablet": the setting's name, its default, and the PIN's cost."""
    import app.security as security
    docs = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text(
        encoding="utf-8")
    section = docs[docs.index("## Stolen tablet"):]
    section = " ".join(section[:section.index("\n## ", 1)].split())
    assert f"`{store_module.RETENTION_SETTING}`" in section
    assert RETENTION_NAMES[RETENTION_DEFAULT].lower() in section.lower()
    assert all(name.lower() in section.lower() for name in RETENTION_NAMES.values())
    superscript = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    exponent = str(security.SCRYPT_N.bit_length() - 1).translate(superscript)
    assert f"n = 2{exponent}, r = {security.SCRYPT_R}, p = {security.SCRYPT_P}" in section
    assert f"{security.PIN_MIN} to {security.PIN_MAX} digits" in section
    assert "revoke DEVICE_ID" in section
