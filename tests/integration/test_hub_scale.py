"""Several hub processes on one PostgreSQL (issue 32, docs/deploy.md "Several processes"):
tallies shared through the results log, every exactly-once rule the database's, projectors
pushed from any process. Hubs in this process (each a `Hub` of its own: they share nothing
but the database) and real processes behind HAProxy."""
from __future__ import annotations

import asyncio
import json
import os
import threading
import time

import pytest

from app.paths import DEMO_BUNDLE_DIR
from server.hub import Hub
from server.settings import Settings
from tests.unit.conftest import enroll_tablet, pending_envelopes

from .test_postgres import pg_url  # noqa: F401  (the fixture: a database of the test's own)

pytestmark = pytest.mark.postgres
if not os.environ.get("PIAZZETTA_TEST_POSTGRES_URL"):
    pytest.skip("PIAZZETTA_TEST_POSTGRES_URL is not set", allow_module_level=True)


def _counted(hub, consultation_id) -> dict:
    body = json.loads(hub.read_results(consultation_id)[1])
    return {k: body[k] for k in ("revision", "ballots", "channels", "ideas", "questions")}


def _votes(store, consultation, n, seed=0):
    import random
    rng = random.Random(seed)
    for _ in range(n):
        ballot = store.start_ballot(consultation)
        store.record_answer(consultation, ballot, "q-ticket", rng.choice(["yes", "no"]))
        store.record_answer(consultation, ballot, "q-cooperation", rng.randint(1, 5))
        if rng.random() < 0.3:
            store.record_answer(consultation, ballot, "q-ticket", "abstain")
        store.close_ballot(ballot)


@pytest.fixture
def hubs(tmp_path, pg_url):  # noqa: F811
    """Three hubs ("processes") on one PostgreSQL database, the demo imported by the first."""
    made = []
    for i in range(3):
        made.append(Hub(Settings.from_env({}, data_dir=tmp_path / f"hub{i}",
                                          database_url=pg_url)))
        if i == 0:
            made[0].import_bundle(DEMO_BUNDLE_DIR)
    yield made
    for hub in made:
        hub.close()


def _until(check, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_every_process_holds_every_commit_once(hubs, demo):
    """The same batches pushed from threads to three processes, in overlapping slices: each
    process's results are a restart's (built from the rows), revision and ETag included."""
    store, device = enroll_tablet(hubs[0])
    _votes(store, demo, 30)
    envelopes = pending_envelopes(store)
    errors = []

    def push(hub):
        try:
            for start in range(0, len(envelopes), 5):
                hub.ingest(device, envelopes[start:start + 7])
        except Exception as exc:        # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(h,)) for h in hubs + hubs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert hubs[0].event_count() == len(envelopes)
    fresh = Hub(hubs[0].settings)
    try:
        rebuilt = _counted(fresh, demo.id)
        etag = fresh.read_results(demo.id)[0]
    finally:
        fresh.close()
    assert rebuilt["ballots"] == 30
    for hub in hubs:
        hub.units.catch_up()            # what its listener applies within moments anyway
        assert _counted(hub, demo.id) == rebuilt
        assert hub.read_results(demo.id)[0] == etag


def test_a_commit_in_one_process_wakes_the_streams_of_another(hubs, demo):
    """No read, no poll: the other process's listener (LISTEN/NOTIFY) applies the commit and
    tells its results streams, display controls included."""
    from server.display_controls import set_display
    writer, reader = hubs[0], hubs[1]
    assert _until(lambda: reader.listener.listening)
    store, device = enroll_tablet(writer)
    _votes(store, demo, 3)
    woken = []

    async def wait_for_change():
        waiter = reader.results.changes.subscribe(demo.id)
        try:
            await asyncio.wait_for(waiter[1].wait(), 30)
            woken.append(_counted(reader, demo.id)["ballots"])
        finally:
            reader.results.changes.unsubscribe(demo.id, waiter)

    async def scenario():
        task = asyncio.create_task(wait_for_change())
        await asyncio.sleep(0.1)
        await asyncio.to_thread(writer.ingest, device, pending_envelopes(store))
        await task
    asyncio.run(scenario())
    assert woken == [3]
    before = reader.results.changes.display(demo.id, lambda: None)
    set_display(writer, demo.id, {"view": "ideas"}, by="test")
    assert _until(lambda: reader.results.changes.display(
        demo.id, lambda: ("\"x.1\"", b"{}")) != before)


# -- real processes behind HAProxy -------------------------------------------------------------

HAPROXY = """global
    maxconn 2000
defaults
    mode http
    option redispatch
    retries 3
    retry-on conn-failure empty-response
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
frontend piazzetta
    bind 127.0.0.1:{port}
    default_backend hubs
backend hubs
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 300ms fall 1 rise 1
{servers}
"""


class Balancer:
    """HAProxy (Debian's package) in front of the hub processes, as deploy/haproxy-piazzetta.cfg
    but with quick health checks."""

    def __init__(self, folder, hubs):
        import shutil
        import subprocess

        from .conftest import free_port
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.path.exists(haproxy):
            pytest.skip("HAProxy is not installed (tools/install-system-packages.sh)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / "haproxy.cfg"
        config.write_text(HAPROXY.format(port=self.port, servers="\n".join(
            f"    server hub{i} 127.0.0.1:{h.port} check" for i, h in enumerate(hubs))))
        self.proc = subprocess.Popen([haproxy, "-db", "-f", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import requests
        assert _until(lambda: _answers(requests, self.url + "/readyz"))

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


def _answers(requests, url) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


class SseReader:
    """The `results` events of one process's stream, read over real HTTP in a thread."""

    def __init__(self, url):
        import requests
        self.bodies: list[dict] = []
        self._answer = requests.get(url, stream=True, timeout=(5, 60))
        assert self._answer.status_code == 200
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        event = None
        try:
            for line in self._answer.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "results":
                    self.bodies.append(json.loads(line[6:]))
        except Exception:          # noqa: BLE001 - closed by the test
            pass

    def close(self):
        self._answer.close()


@pytest.mark.slow
@pytest.mark.process
def test_twenty_tablets_through_faults_while_hub_processes_are_killed_and_restarted(
        tmp_path, pg_url, demo):  # noqa: F811
    """Three hub processes on one PostgreSQL behind HAProxy; 20 tablets push through a faulty
    link while one process is SIGKILLed and another restarted: every event stored once, the
    same results from every process, and a projector's stream on the third process pushed the
    votes the others ingested."""
    from app.store import Store
    from sync import protocol as p
    from sync.client import HubClient
    from sync.enroll import enroll
    from sync.worker import push_pending

    from .conftest import HubProcess, ballots_of, expected_results, record_votes, start_hub
    from .faultproxy import FaultProxy
    data = tmp_path / "hub"
    hubs = [start_hub(data, database_url=pg_url)]
    hubs[0].log = tmp_path / "hub0.log"
    for i in (1, 2):
        hub = HubProcess(data, database_url=pg_url)
        hub.log = tmp_path / f"hub{i}.log"
        hubs.append(hub.start())
    balancer = Balancer(tmp_path, hubs)
    proxy = FaultProxy(balancer.port)
    stream = None
    stores = []
    try:
        stream = SseReader(f"{hubs[2].url}/api/v1/consultations/{demo.id}/results/stream")
        paths = [tmp_path / f"tablet{i}.sqlite3" for i in range(20)]
        for i, path in enumerate(paths):
            store = Store.open(path)
            enroll(store, balancer.url, hubs[0].code())
            record_votes(store, demo, 10, seed=i)
            store.close()
        stores = [Store.open(path) for path in paths]
        total = sum(s.outbox_counts()["pending"] for s in stores)
        for store in stores:
            store.close()
        stores = []
        proxy.chaos(0.3, ("cut_response", "reset_request", "http500", "portal", "refuse"),
                    seed=32)
        errors = []

        def sync(path):
            store = Store.open(path)      # a tablet's sync thread has its own connection
            try:
                for _ in range(200):
                    if store.outbox_counts()["pending"] == 0:
                        return
                    client = HubClient(proxy.url, store.device_id,
                                       store.get_setting(p.DEVICE_SECRET), timeout=(2, 10))
                    try:
                        push_pending(store, client, 20)
                    except p.SyncError:
                        time.sleep(0.05)
                    finally:
                        client.close()
            except Exception as exc:     # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                store.close()

        threads = [threading.Thread(target=sync, args=(path,)) for path in paths]
        for t in threads:
            t.start()
        time.sleep(1.0)
        hubs[0].kill()                   # a crash, mid-push
        hubs[1].stop()                   # a restart (an upgrade), while hub0 is down
        hubs[1].start()
        hubs[0].start()
        for t in threads:
            t.join(600)
        assert errors == []
        stores = [Store.open(path) for path in paths]
        assert [s.outbox_counts()["pending"] for s in stores] == [0] * 20
        assert sum(hubs[2].device_events(s.device_id) for s in stores) == total
        expected = {"ballots": ballots_of(stores, demo),
                    "questions": expected_results(stores, demo)}
        # Each process applies the others' commits as PostgreSQL tells it (within moments).
        seen = {}
        for hub in hubs:
            assert _until(lambda: {k: hub.results()[k] for k in expected} == expected)
            seen[hub.port] = hub.results()
        assert len({json.dumps(r, sort_keys=True) for r in seen.values()}) == 1
        # The stream on hubs[2] pushed what the others ingested.
        assert _until(lambda: stream.bodies and stream.bodies[-1]["ballots"] == 200)
    finally:
        if stream is not None:
            stream.close()
        proxy.close()
        balancer.close()
        for hub in hubs:
            hub.kill()
        for store in stores:
            store.close()


def _pg_tool(name: str) -> str:
    import glob
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.skip(f"{name} is not installed (Debian package postgresql-client)")
    return found[-1]


@pytest.mark.slow
@pytest.mark.process
def test_a_backup_taken_under_load_restores_every_acknowledged_event(tmp_path, pg_url, demo):  # noqa: F811,E501
    """The backup of docs/deploy.md ("Backups that restore"), taken while tablets push to two
    processes: restored on a fresh database, it holds every event acknowledged before the
    backup began, and a hub on it serves the tallies its rows make."""
    import subprocess
    import uuid

    import psycopg
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from app.store import Store
    from sync import protocol as p
    from sync.client import HubClient
    from sync.enroll import enroll

    from .conftest import HubProcess, start_hub
    data = tmp_path / "hub"
    hubs = [start_hub(data, database_url=pg_url)]
    hubs.append(HubProcess(data, database_url=pg_url).start())
    acknowledged: set[str] = set()
    lock, stop, errors = threading.Lock(), threading.Event(), []

    def tablet(i):
        store = Store.memory()
        try:
            hub = hubs[i % 2]
            enroll(store, hub.url, hub.code())
            client = HubClient(hub.url, store.device_id, store.get_setting(p.DEVICE_SECRET))
            while not stop.is_set():
                _votes(store, demo, 3, seed=i)
                envelopes = pending_envelopes(store)
                answer = client.push(envelopes)
                store.mark_acknowledged(answer)
                with lock:
                    acknowledged.update(event_id for event_id, r in answer.items()
                                        if r["status"] in ("stored", "duplicate"))
            client.close()
        except Exception as exc:       # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=tablet, args=(i,)) for i in range(6)]
    base = make_url(pg_url)
    plain = base.set(drivername="postgresql")
    restored_name = "piazzetta_r" + uuid.uuid4().hex[:8]
    restored_url = base.set(database=restored_name).render_as_string(hide_password=False)
    admin = plain.set(database="postgres").render_as_string(hide_password=False)
    restored = None
    try:
        for t in threads:
            t.start()
        assert _until(lambda: len(acknowledged) > 100, 120)
        with lock:
            before = set(acknowledged)
        dump = tmp_path / "hub.dump"
        subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-unlogged-table-data",
                        f"--file={dump}", plain.render_as_string(hide_password=False)],
                       check=True, timeout=300)
        assert _until(lambda: len(acknowledged) > len(before) + 30, 120)   # load goes on
        stop.set()
        for t in threads:
            t.join(120)
        assert errors == []
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{restored_name}"')
        subprocess.run([_pg_tool("pg_restore"), "--no-owner", "--exit-on-error",
                        f"--dbname={plain.set(database=restored_name).render_as_string(hide_password=False)}",  # noqa: E501
                        str(dump)], check=True, timeout=300)
        engine = sa.create_engine(restored_url)
        with engine.connect() as conn:
            stored = set(conn.exec_driver_sql("SELECT id FROM events").scalars())
            ballots = conn.exec_driver_sql(
                "SELECT count(*) FROM ballots WHERE consultation_id = %(c)s",
                {"c": demo.id}).scalar()
            staged = conn.exec_driver_sql("SELECT count(*) FROM results_log").scalar()
        engine.dispose()
        assert before <= stored                 # every event acknowledged before the backup
        assert staged == 0                      # UNLOGGED tables' rows stay out of it
        restored = HubProcess(tmp_path / "restored", database_url=restored_url)
        restored.env["PIAZZETTA_HUB_SECRET_KEY"] = (data / "secret-key").read_text().strip()
        restored.start()
        assert restored.results()["ballots"] == ballots > 0
        fresh = Hub(Settings.from_env({}, data_dir=tmp_path / "check",
                                      database_url=restored_url))
        try:
            assert restored.results()["questions"] == json.loads(
                fresh.read_results(demo.id)[1])["questions"]
        finally:
            fresh.close()
    finally:
        stop.set()
        for hub in hubs + ([restored] if restored else []):
            hub.kill()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')


def test_an_sqlite_hub_moves_to_postgres(tmp_path, pg_url, demo):  # noqa: F811
    """`python -m server migrate-to-postgres`: the same results, events, devices (their
    credentials still open), ideas and counters on PostgreSQL; a second copy onto the now
    full database is refused."""
    from server.admin import main as admin_main
    from server.display_controls import set_display
    from tests.unit.conftest import push_pending
    data = tmp_path / "hub"
    sqlite = Hub(Settings.from_env({}, data_dir=data))
    try:
        sqlite.import_bundle(DEMO_BUNDLE_DIR)
        store, device = enroll_tablet(sqlite)
        _votes(store, demo, 25)
        store.submit_proposal(demo, title="Un banc", text="À l'ombre 🌳")
        sent = pending_envelopes(store)
        push_pending(sqlite, store, device)
        set_display(sqlite, demo.id, {"view": "ideas"}, by="test")
        before = _counted(sqlite, demo.id)
        events = sqlite.event_count()
    finally:
        sqlite.close()
    source = str(data / "hub.sqlite3")
    assert admin_main(["migrate-to-postgres", "--from", source, "--to", pg_url]) == 0
    moved = Hub(Settings.from_env({}, data_dir=data, database_url=pg_url))
    try:
        after = _counted(moved, demo.id)
        assert {k: v for k, v in after.items() if k != "revision"} == \
            {k: v for k, v in before.items() if k != "revision"}
        assert moved.event_count() == events
        assert moved.authenticate(f"Bearer {store.device_id}:{device['secret']}")["id"] == \
            store.device_id
        assert {r["status"] for r in moved.ingest(device, sent)} == {"duplicate"}
        _votes(store, demo, 2, seed=9)
        assert {r["status"] for r in push_pending(moved, store, device)} == {"stored"}
        assert _counted(moved, demo.id)["ballots"] == before["ballots"] + 2
        assert len(moved.proposals(demo.id)) == 1
    finally:
        moved.close()
    assert admin_main(["migrate-to-postgres", "--from", source, "--to", pg_url]) == 2


@pytest.mark.slow
@pytest.mark.process
def test_serve_with_workers_restarts_them_in_turn_without_a_refused_request(tmp_path, pg_url):  # noqa: F811,E501
    """`python -m server serve --workers 2`: ready on PostgreSQL, refused on SQLite; SIGHUP
    replaces each worker while requests keep being answered; SIGTERM stops them all."""
    import signal
    import subprocess
    import sys

    import requests

    from .conftest import ROOT, free_port
    port = free_port()
    env = {**os.environ, "PIAZZETTA_HUB_DATA_DIR": str(tmp_path / "hub"),
           "PIAZZETTA_HUB_PORT": str(port), "PIAZZETTA_HUB_HOST": "127.0.0.1",
           "PYTHONPATH": str(ROOT)}
    refused = subprocess.run([sys.executable, "-m", "server", "serve", "--workers", "2"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "PostgreSQL" in refused.stderr
    env["PIAZZETTA_HUB_DATABASE_URL"] = pg_url
    parent = subprocess.Popen([sys.executable, "-m", "server", "serve", "--workers", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        assert _until(lambda: _answers(requests, url + "/readyz"), 60)
        state = requests.get(url + "/readyz", timeout=5).json()
        assert state["ready"] and state["schema"] == state["schema_expected"]
        assert requests.get(url + "/healthz", timeout=5).json()["status"] == "ok"
        parent.send_signal(signal.SIGHUP)
        answered, failed = 0, []
        deadline = time.monotonic() + 20          # two workers replaced meanwhile
        while time.monotonic() < deadline:
            try:
                answered += requests.get(url + "/readyz", timeout=10).status_code == 200
            except requests.RequestException as exc:
                failed.append(exc)
        assert failed == [] and answered > 0
    finally:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(60) == 0


def test_a_process_behind_a_lost_log_or_a_new_version_rebuilds_and_counts_once(hubs, demo):
    """A process that missed log rows (pruned, or emptied by a crash: UNLOGGED) rebuilds its
    tallies from the rows; a version another process imports is followed (the tallies
    rebuilt once for it, nothing counted twice); both end as a restart's."""
    from sqlalchemy import text
    writer, behind = hubs[0], hubs[1]
    behind.listener.stop()                       # it hears nothing now
    store, device = enroll_tablet(writer)
    _votes(store, demo, 4)
    writer.ingest(device, pending_envelopes(store))
    store.mark_acknowledged([e["id"] for e in pending_envelopes(store)])
    _votes(store, demo, 3, seed=1)
    writer.ingest(device, pending_envelopes(store))
    with writer.engine.begin() as conn:           # what a crash of PostgreSQL leaves
        conn.execute(text("DELETE FROM results_log WHERE revision < "
                          "(SELECT max(revision) FROM results_log)"))
    behind.units.catch_up()
    data = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text())
    data["consultation"]["version"] = 2
    hubs[2].import_bundle(data)
    store.mark_acknowledged([e["id"] for e in pending_envelopes(store)])
    _votes(store, demo, 2, seed=2)
    writer.ingest(device, pending_envelopes(store))
    fresh = Hub(writer.settings)
    try:
        rebuilt = _counted(fresh, demo.id)
    finally:
        fresh.close()
    assert rebuilt["ballots"] == 9
    for hub in hubs:
        hub.units.catch_up()
        assert json.loads(hub.read_results(demo.id)[1])["version"] == 2
        assert _counted(hub, demo.id) == rebuilt


def test_display_controls_set_at_once_from_three_processes_are_all_merged(hubs, demo):
    """The first display control sent to three processes at once, then more: every change
    merged, each under its own revision (row lock; a lost race on the first row runs again)."""
    from server.display_controls import read_display, set_display
    errors = []
    controls = [{"view": "ideas"}, {"rotating": True}, {"hidden": True},
                {"view": "participation"}, {"rotating": False}, {"hidden": False}]

    def send(hub, control):
        try:
            set_display(hub, demo.id, control, by="test")
        except Exception as exc:        # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(hubs[i % 3], c))
               for i, c in enumerate(controls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    state = json.loads(read_display(hubs[0], demo.id)[1])
    assert state["revision"] == len(controls)
    assert sorted(state["set_at"].values()) == sorted(set(state["set_at"].values()))
    assert set(state["control"]) == {"view", "rotating", "hidden"}


def test_a_process_behind_a_log_emptied_after_the_last_commit_rebuilds(hubs, demo):
    """The log emptied (crash recovery empties UNLOGGED tables) after the last commit, none
    since: the counter says a process missed commits; it rebuilds from the rows."""
    from sqlalchemy import text
    writer, behind = hubs[0], hubs[1]
    behind.listener.stop()
    store, device = enroll_tablet(writer)
    _votes(store, demo, 5)
    writer.ingest(device, pending_envelopes(store))
    with writer.engine.begin() as conn:
        conn.execute(text("DELETE FROM results_log"))
    behind.units.catch_up()
    assert _counted(behind, demo.id) == _counted(writer, demo.id)
    assert _counted(behind, demo.id)["ballots"] == 5


def test_one_process_at_a_time_runs_the_room_hubs_forwarding(hubs):
    """A hub enrolled upstream on PostgreSQL with several processes: each loop of the
    forwarder (server.upstream) runs in one process at a time (an advisory lock per loop)."""
    from server.upstream import forwarding_turn
    with forwarding_turn(hubs[0], "events") as first:
        with forwarding_turn(hubs[1], "events") as second, \
                forwarding_turn(hubs[1], "consultations") as other_loop:
            assert (first, second, other_loop) == (True, False, True)
    with forwarding_turn(hubs[1], "events") as after:
        assert after is True


@pytest.mark.slow
@pytest.mark.process
def test_serve_with_workers_shows_a_card_once_from_its_one_sign_up_process(tmp_path, pg_url):  # noqa: F811,E501
    """`serve --workers 2`: a card shown once lives in one process's memory (no commit may be
    one person's), so the workers refuse `/signup…` and the parent's sign-up process serves
    them: a confirmation sent again and again over fresh connections shows one card."""
    import re
    import subprocess
    import sys

    import requests

    from app.signup import mint_signup_token
    from server.db import sha256

    from .conftest import ROOT, free_port
    site, consultation = "menton-mediatheque", "alpimed-2030"
    settings = Settings.from_env({}, data_dir=tmp_path / "hub", database_url=pg_url,
                                 public_url="https://hub.example")
    hub = Hub(settings)
    try:
        hub.import_bundle(DEMO_BUNDLE_DIR)
        answer = hub.enroll(hub.make_enrollment_code(site)["code"], "tab-1",
                            sha256("tablet secret"))
        token = mint_signup_token(answer["signup_key"], consultation=consultation, site=site,
                                  meeting=None, device=answer["alias"])
    finally:
        hub.close()
    port, people_port = free_port(), free_port()
    env = {**os.environ, "PIAZZETTA_HUB_DATA_DIR": str(tmp_path / "hub"),
           "PIAZZETTA_HUB_PORT": str(port), "PIAZZETTA_HUB_HOST": "127.0.0.1",
           "PIAZZETTA_HUB_SIGNUP_PORT": str(people_port), "PIAZZETTA_HUB_DATABASE_URL": pg_url,
           "PIAZZETTA_HUB_PUBLIC_URL": "https://hub.example", "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-m", "server", "serve", "--workers", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    workers, people = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{people_port}"
    try:
        for url in (workers, people):
            assert _until(lambda url=url: _answers(requests, url + "/readyz"), 90)
        for path in ("/signup", "/%73ignup", "/signup/confirm"):
            refused = requests.get(workers + path, params={"t": token}, timeout=10)
            assert refused.status_code == 503 and 'class="code"' not in refused.text
        form = requests.get(people + "/signup", params={"t": token}, timeout=10)
        hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                                 form.text))
        signed = requests.post(people + "/signup", timeout=10, data={
            **hidden, "name": "Résidente", "contact": "r@example.org", "consent": "1"})
        assert signed.status_code == 200
        hub = Hub(settings)
        try:
            link = hub.participation.confirmation_link(hidden["k"]).split("t=", 1)[1]
            code = hub.participation.confirm_code(hidden["k"])
        finally:
            hub.close()
        shown = []
        for base in (workers, people) * 6:         # fresh connections: any worker each time
            page = requests.post(base + "/signup/confirm", data={"t": link, "code": code},
                                 timeout=30)
            if base == workers:
                assert page.status_code == 503
            else:
                assert page.status_code == 200
            shown += re.findall(r'class="code"[^>]*>([A-Z0-9-]+)<', page.text)
        assert len(shown) == 1
    finally:
        parent.send_signal(__import__("signal").SIGTERM)
        assert parent.wait(60) == 0
