"""A resident's contact leaves the tablet's file once the hub has it, even when another
connection of the app was reading during sync (review, item 5): the worker checks its
checkpoint's result and completes it at a later cycle. Real hub subprocess, real worker
cycles, the file's bytes read back."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR
from app.store import REDACTION_CHECKPOINT_OWED as CHECKPOINT_PENDING, Store
from sync.enroll import enroll
from sync.worker import SyncWorker

from .conftest import SITE

SIGNUP_NAME = "Ermenegilda Sconosciuta"
SIGNUP_CONTACT = "ermenegilda.s@example.it"
IDEA_CONTACT = "+39 347 1234567"


def on_disk(store: Store) -> bytes:
    path = Path(store.path)
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_contacts_leave_the_file_after_a_reader_lets_go(hub, tmp_path):
    demo = load_bundle(DEMO_BUNDLE_DIR)
    store = Store.open(tmp_path / "tablet")
    enroll(store, hub.url, hub.code(SITE))
    store.record_signup({"name": SIGNUP_NAME, "contact": SIGNUP_CONTACT, "consent": True},
                        consultation_id=demo.id, site_id=SITE)
    idea = store.submit_proposal(demo, title="Panchine", text="All'ombra, vicino alla stazione",
                                 contact=IDEA_CONTACT, contact_consent=True)
    # Push the originals into the database file itself, as an app running for a while would.
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    secrets = [s.encode() for s in (SIGNUP_NAME, SIGNUP_CONTACT, IDEA_CONTACT)]
    assert all(s in on_disk(store) for s in secrets)

    # Another connection of the app (the UI's) is reading while sync runs.
    reader = sqlite3.connect(store.path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM outbox").fetchone()[0] == 2
    statuses = []
    worker = SyncWorker(store.path, tmp_path / "bundles", statuses.append,
                        content_interval=3600)
    worker.cycle(store)
    assert store.outbox_counts()["pending"] == 0 and statuses[-1].problem is None
    assert store.proposal(idea.id).contact is None
    assert all(e.payload.get("contact") is None for e in store.events())
    assert store.get_setting(CHECKPOINT_PENDING) is True      # the reader held it back
    assert any(s in on_disk(store) for s in secrets)           # what the reader still sees

    reader.execute("COMMIT")
    reader.close()
    worker.cycle(store)                                        # the next cycle finishes it
    assert not store.get_setting(CHECKPOINT_PENDING)
    data = on_disk(store)
    for secret in secrets:
        assert secret not in data, secret
    assert store.integrity_check() == "ok"
    assert len(store.events()) == 2 and all(e.acked_at for e in store.events())
    store.close()
