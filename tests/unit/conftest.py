"""Fixtures of the hub's unit tests (tests/unit/test_server_*.py): a hub on a temporary SQLite
database holding the demo consultation, and tablets (in-memory stores) enrolled with it.

The helpers are fixtures that return functions, so a test can use them on another hub too:
`store, device = tablet(hub)`, `pending(store)`, `push(hub, store, device)`, `statuses(results)`.
"""
from __future__ import annotations

import secrets

import pytest

from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from server.db import sha256
from server.hub import Hub
from server.settings import Settings

SITE = "menton-mediatheque"


def enroll_tablet(hub: Hub, site: str | None = SITE) -> tuple[Store, dict]:
    """A new tablet (an in-memory store) enrolled at `site` (the demo's) with a credential of
    its own; (store, device) where device is the hub's row, as a request authenticates it."""
    store = Store.memory()
    secret = secrets.token_urlsafe(32)
    hub.enroll(hub.make_enrollment_code(site)["code"], store.device_id, sha256(secret))
    device = hub.authenticate(f"Bearer {store.device_id}:{secret}")
    return store, dict(device, secret=secret)


def pending_envelopes(store: Store) -> list[dict]:
    """Every event of the tablet's outbox not acknowledged yet, as envelopes."""
    return [e.envelope(store.device_id) for e in store.pending_events(limit=10_000)]


def push_pending(hub: Hub, store: Store, device: dict) -> list[dict]:
    """Push the tablet's pending events to the hub in one batch and mark them acknowledged;
    the hub's results."""
    results = hub.ingest(device, pending_envelopes(store))
    store.mark_acknowledged([r["id"] for r in results])
    return results


def result_statuses(results: list[dict]) -> list[str]:
    return [r["status"] for r in results]


@pytest.fixture
def hub(tmp_path):
    """A hub on a temporary SQLite database, with the demo consultation imported."""
    h = Hub(Settings.from_env({}, data_dir=tmp_path / "hub"))
    h.import_bundle(DEMO_BUNDLE_DIR)
    yield h
    h.close()


@pytest.fixture
def tablet():
    return enroll_tablet


@pytest.fixture
def pending():
    return pending_envelopes


@pytest.fixture
def push():
    return push_pending


@pytest.fixture
def statuses():
    return result_statuses


def load_locks_tool():
    """tools/locks.py (not a package) as a module: the lock reader the tests share with
    `make lock` and the desktop build."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "tools" / "locks.py"
    spec = importlib.util.spec_from_file_location("piazzetta_locks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
