"""The outside test of issue 12, as a soak: tablets enroll AND sync through a network that resets
connections, stalls, slows requests down, cuts answers after the hub committed, answers with a
captive portal's page, holds requests past the client's timeout and delivers them later, and
replays copies; the hub is SIGKILLed and restarted midway. At the end every tablet is enrolled,
every event is at the hub exactly once, and the hub's tallies equal the tablets'.

Sizes: by default 20 tablets of about 120 events (a few minutes at most on 2 cores);
PIAZZETTA_SOAK_FULL=1 runs the full size, 20 tablets of about 500 events;
PIAZZETTA_SOAK_TABLETS and PIAZZETTA_SOAK_BALLOTS set them directly. On PostgreSQL too when
PIAZZETTA_TEST_POSTGRES_URL is set.
"""
from __future__ import annotations

import os
import random
import threading
import time
import uuid

import pytest
import requests

from app.store import Store
from sync import protocol as p
from sync.enroll import enroll, is_enrolled
from sync.service import SyncService
from sync.worker import auth_problem

from .conftest import ballots_of, expected_results, record_votes, start_hub
from .faultproxy import FaultProxy

FULL = os.environ.get("PIAZZETTA_SOAK_FULL") == "1"
TABLETS = int(os.environ.get("PIAZZETTA_SOAK_TABLETS") or 20)
# record_votes makes about 5 events a ballot (with changes and withdrawals, 5.4).
BALLOTS = int(os.environ.get("PIAZZETTA_SOAK_BALLOTS") or (92 if FULL else 22))
IDEAS = 3
DEADLINE = 900 if FULL else 300          # seconds for the whole sync, a bound not a target
FAULTS = ("reset_request", "cut_response", "stall", "slow", "portal", "http500", "refuse",
          "hold", "replay")


def backends():
    yield pytest.param(None, id="sqlite")
    url = os.environ.get("PIAZZETTA_TEST_POSTGRES_URL")
    yield pytest.param(url, id="postgresql", marks=[pytest.mark.postgres, pytest.mark.skipif(
        not url, reason="PIAZZETTA_TEST_POSTGRES_URL is not set")])


@pytest.fixture
def database_url(request):
    base = request.param
    if base is None:
        yield None
        return
    import psycopg
    from sqlalchemy.engine import make_url
    url = make_url(base)
    name = "piazzetta_soak_" + uuid.uuid4().hex[:8]
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def enroll_through(proxy, hub, store: Store, rng: random.Random, log: list) -> None:
    """Enroll as a facilitator would: the same code again after a failure, except that after
    the first failure they ask for a fresh code and type that one (the earlier request may
    still be on its way)."""
    code = hub.code()
    for attempt in range(60):
        try:
            enroll(store, proxy.url, code, timeout=(2.0, 3.0))
            return
        except (p.HubUnreachable, p.NotAcknowledged) as exc:
            log.append(type(exc).__name__)
            if attempt == 0:
                code = hub.code()
            time.sleep(rng.uniform(0.05, 0.3))
    raise AssertionError("a tablet could not enroll in 60 attempts")


@pytest.mark.slow
@pytest.mark.parametrize("database_url", list(backends()), indirect=True)
def test_tablets_enroll_and_sync_exactly_once_through_a_hostile_network(tmp_path, demo,
                                                                        database_url):
    started = time.monotonic()
    hub = start_hub(tmp_path / "hub", database_url=database_url, max_batch=100)
    # Held past the tablets' read timeouts (3 s enrolling, 4 s syncing), slow within them.
    proxy = FaultProxy(hub.port, hold_seconds=4.5, slow_seconds=2.5)
    # The first enrollment requests are held back for sure: their tablets give up, take a
    # second code, and the held request reaches the hub afterwards (the outside test's case).
    proxy.add("hold", "hold", "hold", "hold")
    proxy.chaos(0.3, FAULTS, seed=12)
    stores = [Store.open(tmp_path / f"t{i}") for i in range(TABLETS)]
    services: list[SyncService] = []
    try:
        for i, store in enumerate(stores):       # half of the activity before enrollment
            record_votes(store, demo, BALLOTS // 2, seed=i, ideas=IDEAS)
        failures: list[str] = []

        def enroll_one(i):
            own = Store.open(tmp_path / f"t{i}")   # a store belongs to its thread
            try:
                enroll_through(proxy, hub, own, random.Random(i), failures)
            finally:
                own.close()

        threads = [threading.Thread(target=enroll_one, args=(i,)) for i in range(TABLETS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(240)
        enrolled_at = time.monotonic()
        assert all(is_enrolled(s) for s in stores), "every tablet is enrolled"

        for i in range(TABLETS):
            service = SyncService(tmp_path / f"t{i}", push_delay=0.05, poll_interval=0.5,
                                  content_interval=3.0, backoff=(0.2, 2.0),
                                  timeout=(3.0, 4.0))
            service.start()
            services.append(service)
        total = sum(len(s.events()) for s in stores) + TABLETS * (BALLOTS - BALLOTS // 2) * 5
        killed, killed_at = False, 0
        for round_ in range(BALLOTS - BALLOTS // 2):   # the other half while syncing
            for i, store in enumerate(stores):
                record_votes(store, demo, 1, seed=10_000 * i + round_)
                services[i].push_soon()
            if not killed and (killed_at := hub_events(hub)) > total * 0.4:
                hub.kill()                              # SIGKILL mid-way, then a restart
                time.sleep(0.5)
                hub.start()
                killed = True
        if not killed:
            assert wait_until(lambda: hub_events(hub) > total * 0.4, DEADLINE)
            killed_at = hub_events(hub)
            hub.kill()
            time.sleep(0.5)
            hub.start()
        for service in services:
            service.sync_now()
        assert wait_until(lambda: all(s.status().pending == 0 for s in services), DEADLINE), \
            [s.status() for s in services if s.status().pending]
        synced_at = time.monotonic()
    finally:
        # All at once: a service stops after its request on the way, which a stall holds
        # until the read timeout.
        stopping = [threading.Thread(target=s.stop) for s in services]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
    try:
        proxy.release()                      # held and replayed copies still on their way
        assert proxy.settle(timeout=60)
        proxy.close()
        devices = {d["id"]: d for d in hub.admin("GET", "/devices").json()["devices"]}
        events = 0
        for store in stores:
            assert is_enrolled(store) and auth_problem(store) is None
            assert store.outbox_counts()["pending"] == 0
            device = devices[store.device_id]
            assert not device["revoked"]
            assert device["events"] == len(store.events())      # each event once, none lost
            events += len(store.events())
            me = requests.get(hub.url + "/api/v1/device", timeout=10, headers={
                "Authorization": f"Bearer {store.device_id}:"
                                 f"{store.get_setting(p.DEVICE_SECRET)}"})
            assert me.status_code == 200, "the tablet's credential still works"
        assert len(devices) == TABLETS
        assert hub.admin("GET", "/conflicts").json()["events"] == []
        results = hub.results()
        assert results["ballots"] == ballots_of(stores, demo)
        assert results["questions"] == expected_results(stores, demo)
        assert results["ideas"]["received"] == TABLETS * IDEAS
        done = {f: proxy.faults_done.count(f) for f in FAULTS}
        print(f"\nsoak ({'postgresql' if database_url else 'sqlite'}): {TABLETS} tablets, "
              f"{events} events ({events // TABLETS} a tablet), "
              f"{proxy.connections} connections through the proxy, faults {done}, "
              f"{len(failures)} failed enrollment attempts, late copies delivered "
              f"{proxy.late_deliveries}; hub SIGKILLed at {killed_at} events stored; "
              f"enrollment {enrolled_at - started:.1f} s, "
              f"sync with a hub SIGKILL {synced_at - enrolled_at:.1f} s, "
              f"total {time.monotonic() - started:.1f} s")
    finally:
        for store in stores:
            store.close()
        hub.kill()


def hub_events(hub) -> int:
    try:
        devices = hub.admin("GET", "/devices").json()["devices"]
    except (requests.RequestException, ValueError):
        return 0
    return sum(d["events"] for d in devices)


def wait_until(predicate, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
