"""Fixtures of the hub's unit tests (tests/unit/test_server_*.py): a hub on a temporary SQLite
database holding the demo consultation, and tablets (in-memory stores) enrolled with it.

The helpers are fixtures that return functions, so a test can use them on another hub too:
`store, device = tablet(hub)`, `pending(store)`, `push(hub, store, device)`, `statuses(results)`.
"""
from __future__ import annotations

import secrets
import shutil

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


@pytest.fixture(scope="session")
def imported_hub_folder(tmp_path_factory):
    """A hub's data folder (database, secret key, admin token) just after the demo's import,
    made once per test process: each `hub` starts from a copy (~0.02 s of CPU instead of ~0.08
    for a new database and an import, in some 500 tests)."""
    folder = tmp_path_factory.mktemp("imported-hub") / "hub"
    made = Hub(Settings.from_env({}, data_dir=folder))
    made.import_bundle(DEMO_BUNDLE_DIR)
    made.close()
    return folder


@pytest.fixture
def hub(tmp_path, imported_hub_folder):
    """A hub on a temporary SQLite database, with the demo consultation imported."""
    shutil.copytree(imported_hub_folder, tmp_path / "hub")
    h = Hub(Settings.from_env({}, data_dir=tmp_path / "hub"))
    yield h
    h.close()


class InProcessApi:
    """The hub's HTTP API in this process: `create_app(hub=hub)` once, and HTTP test clients on
    it (`fresh()`: a client with no cookies, like a separate `requests` call), all closed at the
    end of the test. No process, no port: the in-process tier of `make check`."""

    def __init__(self, hub: Hub, base_url: str = "https://testserver"):
        from fastapi.testclient import TestClient

        from server.api import create_app
        self.app = create_app(hub=hub)
        self.base_url = base_url
        self._client_class = TestClient
        self._clients: list = []

    def fresh(self):
        client = self._client_class(self.app, base_url=self.base_url)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


@pytest.fixture
def api(hub):
    """The hub fixture's API in process (InProcessApi)."""
    served = InProcessApi(hub)
    yield served
    served.close()


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
