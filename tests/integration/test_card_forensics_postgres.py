"""PostgreSQL's WAL read as a forensic analyst would (issue 23): `pg_waldump` over the cluster's
`pg_wal` while residents sign up on their phones, confirm (the card page's button) and vote with
their card minutes later, through the hub's app (in process) on PIAZZETTA_TEST_POSTGRES_URL.

The sign-ups and confirmations wait in an UNLOGGED stage (server/stage.py) and reach `signups`
in one transaction per published hour (the hour turns once here) and at the hub's stop, in ID
order; the rate-limit counters are UNLOGGED. Attacks, each abstaining unless it sees evidence:
a transaction that writes a sign-up and a card; each card's first answer paired with the
nearest sign-up record (INSERT or UPDATE) before it in the WAL not yet paired; the same with
the rate-limit row of each resident's address (its key recomputed with the hub's secret). None
may score better than chance (tests/integration/forensics.Score); before the stage, the order
attack paired 8 of 8. What stays is the hour: a flush's residents confirmed in that hour.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from glob import glob

import pytest
from fastapi.testclient import TestClient

from app.cards import read_card
from app.paths import DEMO_BUNDLE_DIR
from app.signup import mint_signup_token

pytestmark = pytest.mark.postgres
BASE_URL = os.environ.get("PIAZZETTA_TEST_POSTGRES_URL")
WALDUMP = sorted(glob("/usr/lib/postgresql/*/bin/pg_waldump")) or [shutil.which("pg_waldump")]
if not BASE_URL:
    pytest.skip("PIAZZETTA_TEST_POSTGRES_URL is not set", allow_module_level=True)
if not WALDUMP[-1]:
    pytest.skip("pg_waldump (Debian's postgresql package) is not installed",
                allow_module_level=True)
CONSULTATION = "alpimed-2030"
SITE = "menton-mediatheque"
PEOPLE = 8
_RECORD = re.compile(r"rmgr: (\w+)\s.*?tx:\s+(\d+), lsn: ([0-9A-F/]+),.*?desc: ([A-Z_+]+)"
                     r"(.*?)(?:, blkref #0: rel (\d+)/(\d+)/(\d+)(?: fork \w+)? blk (\d+))?$")


@pytest.fixture
def pg_url():
    import psycopg
    from sqlalchemy.engine import make_url
    base = make_url(BASE_URL)
    name = "piazzetta_" + uuid.uuid4().hex[:10]
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def waldump(wal_dir: str, start: str, end: str, database: str,
            first_segment: str) -> list[tuple]:
    """(rmgr, tx, lsn, op, desc, database, relfilenode, block) of every record of `database`
    between two LSNs. The cluster is shared (other tests', other runs' databases): its WAL
    between the LSNs can run to millions of lines, so they are read as they come and only this
    database's kept (holding them all once took the test's process past 1 GB).
    The segment holding `start` is named: without it pg_waldump reads the segment size from
    whichever file of the folder it finds first, and a segment the server was just preparing
    (its header still zeros) made it stop before any record ("header specifies 0 bytes")."""
    mark = f"/{database}/"
    records = []
    errors = tempfile.TemporaryFile(mode="w+")
    with errors, subprocess.Popen([WALDUMP[-1], "-p", wal_dir, "-s", start, "-e", end,
                                   first_segment],
                                  stdout=subprocess.PIPE, stderr=errors, text=True) as dump:
        timer = threading.Timer(120, dump.kill)
        timer.start()
        try:
            for line in dump.stdout:
                if mark not in line:
                    continue
                found = _RECORD.search(line)
                if found:
                    rmgr, tx, lsn, op, desc, _ts, db, rel, block = found.groups()
                    if db == database:
                        records.append((rmgr, int(tx), lsn, op, desc, db, rel, block))
        finally:
            timer.cancel()
        if not records:         # say why (a segment recycled, the dump killed at 120 s…)
            dump.wait()
            errors.seek(0)
            print(f"pg_waldump exited {dump.returncode}: {errors.read()[-2000:]}")
    return records


def _drop_slot_later(engine, slot: str):
    """A function dropping the replication slot `slot` (once, whatever happened before), with
    its own connection: the hub's engine may be disposed by then."""
    from sqlalchemy import create_engine, text
    url = engine.url
    done = []

    def drop():
        if done:
            return
        done.append(True)
        other = create_engine(url)
        try:
            with other.connect() as conn:
                conn.execute(text("SELECT pg_drop_replication_slot(slot_name) FROM "
                                  "pg_replication_slots WHERE slot_name = :slot"), {"slot": slot})
                conn.commit()
        finally:
            other.dispose()
    return drop


def _ctid(text_value: str) -> tuple[int, int]:
    return tuple(map(int, text_value.strip("()").split(",")))


def _play(tmp_path, pg_url, **settings):
    """A hub on PostgreSQL with the demo consultation and an enrolled tablet: (hub, client,
    device, sign-up link token)."""
    from server.api import create_app
    from server.db import sha256
    from server.hub import Hub
    from server.settings import Settings
    hub = Hub(Settings.from_env({}, data_dir=str(tmp_path / "hub"), database_url=pg_url,
                                public_url="https://hub.example", card_pool=20,
                                **settings))
    hub.import_bundle(DEMO_BUNDLE_DIR)
    client = TestClient(create_app(hub=hub), base_url="https://testserver")
    code = hub.make_enrollment_code(SITE)["code"]
    answer = hub.enroll(code, "tab-1", sha256("tablet secret"))
    device = {"id": "tab-1", "site_id": SITE}
    token = mint_signup_token(answer["signup_key"], consultation=CONSULTATION, site=SITE,
                              meeting=None, device=answer["alias"])
    return hub, client, device, token


def _sign_up(client, token, i):
    page = client.get("/signup", params={"t": token})
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    assert client.post("/signup", data={**hidden, "name": f"Résidente {i}",
                                        "contact": f"r{i}@example.org",
                                        "consent": "1"}).status_code == 200
    return hidden["k"]


def _confirm(client, hub, signup_id):
    link = hub.participation.confirmation_link(signup_id)
    shown = client.post("/signup/confirm", data={"t": link.split("t=", 1)[1]})
    found = re.search(r'class="code"[^>]*>([A-Z0-9-]+)<', shown.text)
    return link, (found.group(1) if found else None)


def _vote(hub, device, typed, i):
    keys = hub.card_index({"site_id": SITE, "id": "tab-1"})["keys"]
    card = read_card(typed, CONSULTATION, hub.participation.public_key, keys[CONSULTATION])
    ballot = f"ballot-{i}"
    events = [{"id": f"{ballot}-s", "device_id": "tab-1", "seq": 2 * i + 1,
               "type": "ballot_started", "recorded_at": "x",
               "payload": {"ballot_id": ballot, "consultation_id": CONSULTATION,
                           "consultation_version": 1, "mode": "identified",
                           "site_id": SITE, "meeting_id": None}},
              {"id": f"{ballot}-a", "device_id": "tab-1", "seq": 2 * i + 2,
               "type": "answer", "recorded_at": "x",
               "payload": {"ballot_id": ballot, "consultation_id": CONSULTATION,
                           "consultation_version": 1, "question_id": "q-ticket",
                           "value": "yes", "site_id": SITE, "meeting_id": None,
                           "channel": "tablet", "card": card.lookup,
                           "proof": card.proof("q-ticket", ballot, "yes")}}]
    stored = hub.ingest(device, events)
    assert [r["status"] for r in stored] == ["stored", "stored"], stored
    return card.lookup


def _nearest_before(sequence, truth) -> tuple[int, int]:
    """Each card's first use paired with the nearest person record before it not yet paired:
    (guesses, right)."""
    guessed, guesses, correct = set(), 0, 0
    for n, (kind, who) in enumerate(sequence):
        if kind != "use":
            continue
        person = next((w for k, w in reversed(sequence[:n])
                       if k == "person" and w not in guessed), None)
        if person is not None:
            guessed.add(person)
            guesses += 1
            correct += truth.get(person) == who
    return guesses, correct


def test_no_postgresql_wal_record_pairs_a_resident_with_their_card(tmp_path, pg_url, request):
    from sqlalchemy import create_engine, text

    from app.signup import contact_identity
    from server.limits import digest
    from .forensics import Score
    hub, client, device, token = _play(tmp_path, pg_url)
    closed = False
    # The WAL from here on is kept until it is read: a physical replication slot reserving it
    # at once (the cluster is shared: another test's writes can make a checkpoint recycle the
    # segments this test reads, and pg_waldump then read nothing).
    slot = "piazzetta_wal_" + uuid.uuid4().hex[:10]
    with hub.engine.connect() as conn:
        conn.execute(text("SELECT pg_create_physical_replication_slot(:slot, true)"),
                     {"slot": slot})
        conn.commit()
    request_cleanup = _drop_slot_later(hub.engine, slot)
    request.addfinalizer(request_cleanup)       # whatever fails before the dump
    try:
        with hub.engine.connect() as conn:
            wal_dir = os.path.join(conn.execute(text("SHOW data_directory")).scalar(), "pg_wal")
            database = str(conn.execute(text(
                "SELECT oid FROM pg_database WHERE datname = current_database()")).scalar())
            start, first_segment = conn.execute(text(
                "SELECT pg_current_wal_lsn(), pg_walfile_name(pg_current_wal_lsn())")).one()
        if not os.access(wal_dir, os.R_OK):
            pytest.skip(f"{wal_dir} is not readable here")
        truth, contacts, flushed = {}, {}, 0
        for i in range(PEOPLE):
            signup_id = _sign_up(client, token, i)
            contacts[signup_id] = f"r{i}@example.org"
            if i == PEOPLE // 2:
                # The hour turns between this resident's sign-up and confirmation: the stage
                # goes to `signups`, and the confirmation then stages the row's new state.
                flushed += hub.stage.flush()
            link, typed = _confirm(client, hub, signup_id)
            assert typed, f"resident {i} got no card"
            # The same link again, before any flush: no second card (the stage is read).
            assert _confirm(client, hub, signup_id)[1] is None
            truth[signup_id] = _vote(hub, device, typed, i)
        assert flushed == PEOPLE // 2 + 1
        counts = hub.participation.card_counts(CONSULTATION)
        assert counts["handed_out"] == PEOPLE
        secret = hub.settings.secret_key
        hub.close()         # a clean stop: the rest of the stage flushed
        closed = True
    finally:
        if not closed:
            hub.close()
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            files = {name: str(conn.execute(text(f"SELECT pg_relation_filenode('{name}')"))
                               .scalar()) for name in ("signups", "issued_cards", "card_uses",
                                                       "rate_counters")}
            end = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar()
            rows = conn.execute(text("SELECT id, ctid::text, xmin::text::bigint, card_issued "
                                     "FROM signups")).all()
            staged = conn.execute(text("SELECT count(*) FROM signups_stage")).scalar()
            limits_at = {_ctid(c): k for k, c in conn.execute(
                text("SELECT key, ctid::text FROM rate_counters"))}
            persistence = dict(conn.execute(text(
                "SELECT relname, relpersistence FROM pg_class WHERE relname IN "
                "('signups_stage', 'rate_counters', 'signups')")).all())
            pool_cards = conn.execute(text("SELECT coalesce(sum(count), 0) FROM card_batches "
                                           "WHERE kind = 'pool'")).scalar()
            use_at = {_ctid(c): card for card, c in conn.execute(
                text("SELECT card, ctid::text FROM card_uses"))}
    finally:
        engine.dispose()
    assert persistence == {"signups_stage": "u", "rate_counters": "u", "signups": "p"}
    assert staged == 0 and len(rows) == PEOPLE and all(r.card_issued for r in rows)
    signup_at = {_ctid(c): sid for sid, c, _x, _i in rows}
    # No row carries the commit of its sign-up or confirmation: the flushes' transactions only.
    assert len({x for _s, _c, x, _i in rows}) <= 2
    try:
        ours = waldump(wal_dir, start, end, database, first_segment)
    finally:
        request_cleanup()
    assert ours, "pg_waldump read no record of this database"
    by_tx: dict[int, set] = {}
    for rmgr, tx, _lsn, op, _desc, _db, rel, _blk in ours:
        for name, node in files.items():
            if rel == node and rmgr == "Heap":
                by_tx.setdefault(tx, set()).add(name)
    # The same-commit attack: a transaction that writes a sign-up and a card.
    pairing = [tx for tx, names in by_tx.items() if {"signups", "issued_cards"} <= names]
    assert pairing == [], f"{len(pairing)} transactions write a sign-up and a card"
    assert not any("rate_counters" in names for names in by_tx.values()), \
        "the rate-limit counters are in the WAL"
    # The order attacks: sign-up records (and rate-limit rows of a resident's address), in
    # WAL order, paired with the next card's first answer.
    keys = {digest("contact:" + contact_identity(c), secret): sid for sid, c in contacts.items()}
    by_signup, by_insert, by_limit = [], [], []
    for rmgr, _tx, _lsn, op, desc, _db, rel, blk in ours:
        if rmgr != "Heap" or blk is None:
            continue
        at = re.search(r"new off (\d+)", desc) or re.search(r"off (\d+)", desc)
        where = (int(blk), int(at.group(1))) if at else None
        if rel == files["signups"] and where in signup_at:
            by_signup.append(("person", signup_at[where]))
            if op.startswith("INSERT"):
                by_insert.append(("person", signup_at[where]))
        elif rel == files["rate_counters"] and where in limits_at:
            who = next((sid for k, sid in keys.items() if k in limits_at[where]), None)
            if who:
                by_limit.append(("person", who))
        elif rel == files["card_uses"] and op.startswith("INSERT") and where in use_at:
            for sequence in (by_signup, by_insert, by_limit):
                sequence.append(("use", use_at[where]))
    assert sum(k == "person" for k, _w in by_signup) >= PEOPLE, "the flushes are in the WAL"
    scores = [Score("PostgreSQL WAL, sign-up records before a card's first answer",
                    *_nearest_before(by_signup, truth), int(pool_cards)),
              Score("PostgreSQL WAL, sign-up INSERTs (the form) before a card's first answer",
                    *_nearest_before(by_insert, truth), int(pool_cards)),
              Score("PostgreSQL WAL, rate-limit rows before a card's first answer",
                    *_nearest_before(by_limit, truth), int(pool_cards))]
    print("\n".join(str(s) for s in scores))
    assert not [s for s in scores if s.better_than_chance()], [str(s) for s in scores]


def test_a_crash_that_empties_the_stage_shows_no_second_card(tmp_path, pg_url):
    """Crash recovery empties an UNLOGGED table: the confirmation waiting in the stage is lost
    (the sign-up, flushed before, stays unconfirmed), the card shown stays valid, and the
    same link — still valid — shows no second card while the hub process lives."""
    from sqlalchemy import text
    hub, client, device, token = _play(tmp_path, pg_url)
    try:
        signup_id = _sign_up(client, token, 0)
        assert hub.stage.flush() == 1
        _link, typed = _confirm(client, hub, signup_id)
        assert typed
        assert hub.participation.write_confirmations() == 1     # the batch: into the stage
        with hub.writer.begin() as conn:     # what crash recovery does to the stage
            conn.execute(text("TRUNCATE signups_stage"))
        with hub.engine.connect() as conn:
            kept = hub.stage.row(conn, signup_id)
        assert kept.confirmed_at is None and kept.card_issued is False
        assert _confirm(client, hub, signup_id)[1] is None
        _vote(hub, device, typed, 0)            # the card shown still votes
    finally:
        hub.close()


def test_confirmations_at_once_and_a_flush_between_show_one_card_per_address(tmp_path, pg_url):
    """Two sign-ups of one address confirmed at the same instant, in two threads, with the
    hour's flush running too, five times: one card per address (advisory locks, no row lock
    in the WAL), and the flushes lose no confirmation."""
    import threading

    from sqlalchemy import text
    hub, client, _device, token = _play(tmp_path, pg_url)
    rounds = 5
    try:
        hub.participation.pool.fill(CONSULTATION)
        statuses = []
        for i in range(rounds):
            first = _sign_up(client, token, i)
            hub.stage.flush()                      # one sign-up already in `signups`
            second = _sign_up(client, token, i)    # the same address, staged
            links = [hub.participation.confirmation_link(s).split("t=", 1)[1]
                     for s in (first, second)]
            start, results = threading.Barrier(3), []

            def confirm(link):
                start.wait()
                results.append(hub.participation.confirm(link).status)

            def flush():
                start.wait()
                hub.stage.flush()

            threads = [threading.Thread(target=confirm, args=(link,)) for link in links]
            threads.append(threading.Thread(target=flush))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            statuses.append(sorted(results))
        assert statuses == [["contact_has_card", "issued"]] * rounds, statuses
        hub.participation.write_confirmations()
        hub.stage.flush()
        with hub.engine.connect() as conn:
            rows = conn.execute(text("SELECT card_issued, confirmed_at IS NOT NULL "
                                     "FROM signups")).all()
            staged = conn.execute(text("SELECT count(*) FROM signups_stage")).scalar()
        assert staged == 0 and sorted(rows) == [(False, True)] * rounds + [(True, True)] * rounds
    finally:
        hub.close()


def test_stage_row_versions_pair_no_confirmation_with_a_card(tmp_path, pg_url):
    """The live stage's `xmin` (what `SELECT xmin FROM signups_stage` shows during the hour)
    against the card uses' `xmin`: each confirmation used to rewrite its stage row in a
    transaction of its own, the vote seconds later taking the next transaction ID (6 of 6
    paired). Confirmations now wait in memory and are written together
    (PIAZZETTA_HUB_CONFIRM_BATCH_SECONDS): residents who confirm and vote within one batch
    window leave no row version of their own."""
    import random

    from sqlalchemy import text

    from .forensics import Score
    hub, client, device, token = _play(tmp_path, pg_url, confirm_batch_seconds=3600)
    people = 6
    try:
        keys = [_sign_up(client, token, i) for i in range(people)]
        random.Random(5).shuffle(keys)
        truth = {}
        for i, signup_id in enumerate(keys):
            _link, typed = _confirm(client, hub, signup_id)
            assert typed
            assert _confirm(client, hub, signup_id)[1] is None   # pending, seen at once
            truth[signup_id] = _vote(hub, device, typed, i)
        assert hub.participation.card_counts(CONSULTATION)["handed_out"] == people

        def versions():
            with hub.engine.connect() as conn:
                stage = conn.execute(text("SELECT xmin::text::bigint, id FROM signups_stage "
                                          "WHERE card_issued OR confirmed_at IS NOT NULL")).all()
                rows = conn.execute(text("SELECT xmin::text::bigint, id FROM signups_stage")).all()
                uses = conn.execute(text("SELECT xmin::text::bigint, card FROM card_uses")).all()
            return stage, rows, sorted(uses)

        confirmed_rows, rows, uses = versions()
        assert confirmed_rows == [] and len(rows) == people   # nothing written yet
        # The attack: each card's first use paired with the stage row written just before it.
        sequence = sorted([(x, 0, "person", sid) for x, sid in rows] +
                          [(x, 1, "use", card) for x, card in uses])
        score = Score("stage xmin before a card use's xmin",
                      *_nearest_before([(k, w) for _x, _o, k, w in sequence], truth), people)
        # The batch: one transaction for every confirmation, rows in ID order.
        assert hub.participation.write_confirmations() == people
        confirmed_rows, _rows, _uses = versions()
        assert len(confirmed_rows) == people and len({x for x, _id in confirmed_rows}) == 1
        assert _confirm(client, hub, keys[0])[1] is None
    finally:
        hub.close()
    print(score)
    assert not score.better_than_chance(), str(score)
