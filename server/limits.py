"""Rate limits and bounded logs: what keeps one client from taking the hub for itself.

Counters live in the hub's database (`rate_counters`), behind the `limits` package's Storage
interface, so that every hub process on one PostgreSQL counts together (in memory, N workers
would each allow the limit: N times it in all). The strategy is `limits`' fixed window: one
atomic upsert per hit, the same statement on SQLite and PostgreSQL.

Keys are HMAC-SHA256 digests of what they count (an address, a device, a contact): the table
never holds an address or an email. What that protects, said plainly: a copy of the database
*without* the `secret-key` file (which sits in the same data folder) cannot test a guessed
address against it; the operator, who holds both, can. So a contact's key (the emails sent to
one address) is keyed differently: with a random key made when the process starts, held in
memory only and never written — no copy of the data folder, the secret file included, tests an
address against those rows (the running process's memory is another matter). The cost: a restart of the hub starts the contacts'
counts again (at most `rate_cards` more emails to an address per restart). Windows are aligned
on the clock (a day's window ends at midnight UTC, a minute's at the minute): `expires_at` is
the window's end, never the time of someone's first request.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import threading
import time

from limits import RateLimitItemPerHour, parse
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import case, delete, select
from sqlalchemy.exc import SQLAlchemyError

from app.errors import N_

from . import db
from .errors import HubError


class DatabaseStorage(Storage):
    """`limits` counters in the hub's database; incr is one INSERT … ON CONFLICT DO UPDATE."""

    STORAGE_SCHEME = ["piazzetta-db"]

    def __init__(self, engine, writer=None, **options):
        super().__init__(None, **options)
        self.engine = engine
        self.writer = writer or engine
        self._last_sweep = 0.0

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        ends = window_end(now, expiry)
        table = db.rate_counters
        insert = db.dialect_insert(self.writer, table).values(
            key=key, count=amount, expires_at=ends)
        expired = table.c.expires_at <= now
        # A window that has ended starts again from `amount`; an open one adds to its count.
        upsert = insert.on_conflict_do_update(index_elements=[table.c.key], set_={
            "count": case((expired, amount), else_=table.c.count + amount),
            "expires_at": case((expired, ends), else_=table.c.expires_at)},
        ).returning(table.c.count)
        with self.writer.begin() as conn:
            count = conn.execute(upsert).scalar_one()
            if now - self._last_sweep > 300:   # keep the table to the windows still open
                self._last_sweep = now
                conn.execute(delete(table).where(table.c.expires_at <= now))
        return int(count)

    def _row(self, key: str):
        with self.engine.connect() as conn:
            return conn.execute(select(db.rate_counters.c.count, db.rate_counters.c.expires_at)
                                .where(db.rate_counters.c.key == key)).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return int(row[0]) if row is not None and row[1] > time.time() else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return float(row[1]) if row is not None else time.time()

    def check(self) -> bool:
        try:
            self._row("")
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.writer.begin() as conn:
            return conn.execute(delete(db.rate_counters)).rowcount

    def clear(self, key: str) -> None:
        with self.writer.begin() as conn:
            conn.execute(delete(db.rate_counters).where(db.rate_counters.c.key == key))


def window_end(now: float, expiry: int) -> float:
    """The end of the clock-aligned window of `expiry` seconds that holds `now`."""
    expiry = max(1, int(expiry))
    return float((int(now) // expiry + 1) * expiry)


def digest(value: str, secret: str = "") -> str:
    """The counter key of `value`: HMAC-SHA256 with the hub's secret (a plain SHA-256 of an
    email can be tested against a list of addresses)."""
    key = hashlib.sha256(b"piazzetta-rate-limit|" + secret.encode()).digest()
    return hmac.new(key, value.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


class RateLimits:
    """The hub's limits by kind (settings `rate_*`); `hit(kind, who)` counts, or raises 429."""

    KINDS = ("enroll", "enroll_device", "signup", "signup_device", "cards", "public", "login",
             "upload", "phone")

    def __init__(self, settings, engine, writer=None):
        self.settings = settings
        self.storage = DatabaseStorage(engine, writer)
        self.limiter = FixedWindowRateLimiter(self.storage)
        self.items = {kind: parse(getattr(settings, "rate_" + kind)) for kind in self.KINDS}
        # Confirmation emails to one address: counted only while their links are valid (the
        # window at most PIAZZETTA_HUB_CONFIRM_LINK_HOURS), so that three sign-ups with someone
        # else's address keep them from a card for a link's life, not a day.
        cards, hours = self.items["cards"], int(getattr(settings, "confirm_link_hours", 2))
        if cards.get_expiry() > hours * 3600:
            self.items["cards"] = RateLimitItemPerHour(cards.amount, hours)
        # Contacts' keys: this process's own key, in memory only (the module's docstring).
        self._process_key = secrets.token_hex(32)

    def hit(self, kind: str, who: str) -> None:
        item = self.items[kind]
        who = address_owner(who)      # an IPv6 client counts by its /64
        key = digest(who, self._process_key if who.startswith("contact:")
                     else self.settings.secret_key)
        if self.limiter.hit(item, kind, key):
            return
        reset = self.limiter.get_window_stats(item, kind, key).reset_time
        retry = max(1, math.ceil(reset - time.time()))
        raise HubError(N_("Too many requests: try again in {seconds} seconds."), status=429,
                       code="rate_limited", headers={"Retry-After": str(retry)}, seconds=retry)


def address_owner(address: str) -> str:
    """Whom an address's counts and caps belong to: the address, or an IPv6 client's /64 (one
    home or phone holds the whole /64 and picks any address in it: counted by address, it
    would pass every rate limit by taking the next one). Not on the room's own network: its
    phones share one /64 there (link-local, unique local addresses), each its own address as
    over IPv4. Anything else is returned as is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.is_loopback or ip.is_link_local or ip in _UNIQUE_LOCAL:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


@functools.lru_cache(maxsize=64)
def _networks(trusted: tuple[str, ...]) -> tuple:
    found = []
    for entry in trusted:
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            pass          # a name, not an address: matched as written
    return tuple(found)


def is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    """Whether `address` is one of the trusted reverse proxies (PIAZZETTA_HUB_TRUSTED_PROXIES:
    addresses or networks, e.g. `127.0.0.1,172.30.32.0/24`: a balancer and the TLS proxy in
    front of it)."""
    if not trusted:
        return False
    if address in trusted:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in _networks(tuple(trusted)))


MALFORMED_CLIENT = "forwarded-unreadable"


def client_address(scope, trusted: tuple[str, ...]) -> str:
    """The client's address: the peer's, or, when the peer is a trusted reverse proxy, the
    last address in X-Forwarded-For that is not a trusted proxy (the left ones are the
    client's to write, so they prove nothing). Proxies in a row (a TLS proxy, then a
    balancer) each append the address they saw: trust them all and the client's is found."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not is_trusted(peer, trusted):
        return peer
    forwarded = b",".join(v for k, v in scope.get("headers") or () if k == b"x-forwarded-for")
    for part in reversed(forwarded.decode("latin-1").split(",")):
        address = part.strip()
        if not address or is_trusted(address, trusted):
            continue
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            # Not an address ("1.2.3.4:5678", "unknown"): someone behind the proxy all the
            # same, never the proxy itself (that would give them its trust: /readyz details,
            # no per-address cap); one key for all such clients.
            return MALFORMED_CLIENT
    return peer


# -- bounded logs ----------------------------------------------------------------------------------

class LogFlood(logging.Filter):
    """At most `burst` lines per message kind (logger, level, format string) per `interval`
    seconds; the first line of the next interval says how many were dropped. The table of kinds
    is bounded too: a flood of distinct messages empties it rather than growing it."""

    MAX_KINDS = 1000

    def __init__(self, burst: int = 20, interval: float = 60.0):
        super().__init__()
        self.burst, self.interval = max(1, burst), max(1.0, float(interval))
        self._kinds: dict[tuple, list] = {}     # kind -> [window start, lines, dropped]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, str(record.msg)[:200])
        now = time.monotonic()
        with self._lock:
            state = self._kinds.get(kind)
            if state is None:
                if len(self._kinds) >= self.MAX_KINDS:
                    self._kinds.clear()
                state = self._kinds[kind] = [now, 0, 0]
            if now - state[0] >= self.interval:
                dropped = state[2]
                state[:] = [now, 0, 0]
                if dropped:
                    record.msg = f"[{dropped} similar lines dropped] {record.msg}"
            if state[1] >= self.burst:
                state[2] += 1
                return False
            state[1] += 1
            return True


def bound_logs(burst: int, interval: float) -> LogFlood:
    """Put one LogFlood on every handler of the root and uvicorn loggers (a filter on a handler
    sees the records of every logger below it; one on a logger would not), and give the root
    logger a handler when it has none (the asyncio logger writes there: 'Too many open files')."""
    flood = LogFlood(burst, interval)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "piazzetta"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(flood)
    return flood
