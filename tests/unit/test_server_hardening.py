"""Hardening pieces without a hub process: the log flood filter, the client address behind a
proxy, the rate-limit storage on the hub's database, and the settings."""
from __future__ import annotations

import logging

import pytest

from server import db
from server.errors import HubError
from server.limits import MALFORMED_CLIENT, LogFlood, RateLimits, client_address, is_trusted
from server.migrations import migrate
from server.settings import Settings


def record(msg: str, name: str = "uvicorn.error") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (), None)


def test_log_flood_lets_a_burst_through_then_counts_what_it_drops(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("server.limits.time.monotonic", lambda: clock[0])
    flood = LogFlood(burst=3, interval=10)
    passed = [flood.filter(record("Too many open files")) for _ in range(100)]
    assert passed.count(True) == 3
    assert flood.filter(record("another kind"))
    clock[0] += 11
    first = record("Too many open files")
    assert flood.filter(first)
    assert first.msg.startswith("[97 similar lines dropped]")


def test_log_flood_keeps_its_table_of_kinds_bounded():
    flood = LogFlood(burst=1, interval=60)
    for i in range(5000):
        flood.filter(record(f"message {i}"))
    assert len(flood._kinds) <= LogFlood.MAX_KINDS


def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (peer, 5555), "headers": headers}


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy():
    assert client_address(scope("203.0.113.9", "1.2.3.4"), ()) == "203.0.113.9"
    assert client_address(scope("203.0.113.9", "1.2.3.4"), ("127.0.0.1",)) == "203.0.113.9"
    assert client_address(scope("127.0.0.1", "1.2.3.4"), ("127.0.0.1",)) == "1.2.3.4"
    # The client writes the left part: only the address the proxy added counts.
    assert client_address(scope("127.0.0.1", "6.6.6.6, 1.2.3.4"), ("127.0.0.1",)) == "1.2.3.4"
    # Junk where the proxy's address should be: a client all the same, never the proxy
    # (attack6: it got the proxy's trust, /readyz's details).
    assert client_address(scope("127.0.0.1", "junk"), ("127.0.0.1",)) == MALFORMED_CLIENT
    assert not is_trusted(MALFORMED_CLIENT, ("127.0.0.1",))


def test_a_tls_proxy_in_front_of_the_balancer_keeps_each_client_its_address():
    """deploy/compose.yaml: a TLS proxy on the host (seen from the containers' gateway) in
    front of HAProxy; each appends the address it saw. Trusting only the balancer made every
    client the gateway (one address for all the rate limits); trust both, or their network."""
    chain = scope("172.30.32.10", "6.6.6.6, 198.51.100.7, 172.30.32.1")
    assert client_address(chain, ("172.30.32.10",)) == "172.30.32.1"       # the old mistake
    assert client_address(chain, ("172.30.32.10", "172.30.32.1")) == "198.51.100.7"
    assert client_address(chain, ("172.30.32.0/24",)) == "198.51.100.7"
    assert client_address(scope("172.30.33.1", "1.2.3.4"), ("172.30.32.0/24",)) == "172.30.33.1"
    assert client_address(scope("::1", "2001:db8::5"), ("::1/128",)) == "2001:db8::5"
    assert is_trusted("172.30.32.200", ("hub-proxy", "172.30.32.0/24"))
    assert not is_trusted("hub-proxy2", ("hub-proxy", "172.30.32.0/24"))


@pytest.fixture
def engine(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    migrate(engine)
    return engine


def test_rate_limits_count_in_the_database_and_answer_429_with_retry_after(engine, tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path, rate_enroll="3/minute")
    one, other = (RateLimits(settings, engine, db.writer(engine)) for _ in range(2))
    one.hit("enroll", "198.51.100.7")
    other.hit("enroll", "198.51.100.7")     # another process, the same counters
    one.hit("enroll", "198.51.100.7")
    with pytest.raises(HubError) as refused:
        other.hit("enroll", "198.51.100.7")
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    one.hit("enroll", "198.51.100.8")       # per address
    with engine.connect() as conn:
        keys = [r[0] for r in conn.execute(db.rate_counters.select())]
    assert not any("198.51" in k for k in keys), "addresses are stored as digests"


def test_rate_limit_rows_keep_keyed_hashes_and_clock_aligned_windows(engine, tmp_path):
    """No row says when a person came (issue 23): a day's window ends at midnight UTC, a
    minute's on the minute; the key is an HMAC with the hub's secret, so a plain SHA-256 of a
    guessed address, or an HMAC with another secret, finds nothing."""
    import hashlib
    import hmac
    import time
    from server.limits import digest, window_end
    settings = Settings.from_env({}, data_dir=tmp_path, secret_key="the hub's secret",
                                 rate_cards="3/day", rate_public="300/minute")
    limits = RateLimits(settings, engine, db.writer(engine))
    limits.hit("cards", "contact:ada@example.org")
    limits.hit("public", "198.51.100.7")
    with engine.connect() as conn:
        rows = {r.key: r.expires_at for r in conn.execute(db.rate_counters.select())}
    day = next(e for k, e in rows.items() if "/cards/" in k)
    minute = next(e for k, e in rows.items() if "/public/" in k)
    # A contact's emails count only while their links are valid (2 h here), not a day.
    assert day % 7200 == 0 and 0 < day - time.time() <= 7200
    assert minute % 60 == 0 and 0 < minute - time.time() <= 60
    assert window_end(86400 * 3 + 5, 86400) == 86400 * 4
    plain = hashlib.sha256(b"contact:ada@example.org").hexdigest()[:32]
    other = digest("contact:ada@example.org", "another secret")
    keys = " ".join(rows)
    assert plain not in keys and other not in keys and "ada" not in keys
    # A contact's key is this process's own random key, in memory only: the hub's secret
    # (in the data folder, beside the database) does not find it either.
    assert digest("contact:ada@example.org", "the hub's secret") not in keys
    assert digest("contact:ada@example.org", limits._process_key) in keys
    assert digest("198.51.100.7", "the hub's secret") in keys
    assert RateLimits(settings, engine)._process_key != limits._process_key
    assert hmac.compare_digest(digest("x", "s"), digest("x", "s")) and digest("x", "s") != \
        digest("x", "t")


def test_settings_of_the_hardening(tmp_path):
    s = Settings.from_env({"PIAZZETTA_HUB_PUBLIC_URL": "https://hub.example.org"},
                          data_dir=tmp_path)
    assert s.secure_cookies and not s.api_docs and s.trusted_proxies == ()
    s = Settings.from_env({"PIAZZETTA_HUB_SECURE_COOKIES": "0",
                           "PIAZZETTA_HUB_TRUSTED_PROXIES": "127.0.0.1, ::1"}, data_dir=tmp_path)
    assert not s.secure_cookies and s.trusted_proxies == ("127.0.0.1", "::1")
    assert s.max_batch * s.event_max_bytes == 500 * 16 * 1024


def test_a_signups_table_of_before_loses_its_insertion_order(tmp_path):
    """A hub of before kept sign-ups in a rowid table: the order people signed up in, to line
    up with the order cards were first used in. At start it is rebuilt WITHOUT ROWID, rows
    kept, the file rewritten (docs/protocol.md, "Order, too")."""
    import sqlite3
    path = tmp_path / "hub.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("""CREATE TABLE signups (id VARCHAR(64) PRIMARY KEY, consultation_id
            VARCHAR(64), site_id VARCHAR(64), meeting_id VARCHAR(64), device_id VARCHAR(64),
            channel VARCHAR(20) NOT NULL, name TEXT, contact TEXT, contact_kind VARCHAR(10),
            age_bracket VARCHAR(20), neighbourhood VARCHAR(64), lang VARCHAR(5) NOT NULL,
            created_at VARCHAR(40) NOT NULL, confirmed_at VARCHAR(40),
            card_issued BOOLEAN NOT NULL)""")
        for i, key in enumerate(("zz-last", "aa-first", "mm-middle")):
            conn.execute("INSERT INTO signups VALUES (?, 'c', NULL, NULL, NULL, 'phone', ?, ?,"
                         " 'email', NULL, NULL, 'fr', '2026-12-06T10:00:00+00:00', NULL, ?)",
                         (key, f"Personne {i}", f"p{i}@example.org", i == 1))
    engine = db.make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("SELECT rowid FROM signups").fetchall()
        rows = conn.execute("SELECT id, name, card_issued FROM signups").fetchall()
    assert rows == [("aa-first", "Personne 1", 1), ("mm-middle", "Personne 2", 0),
                    ("zz-last", "Personne 0", 0)]
    wal = tmp_path / "hub.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0
