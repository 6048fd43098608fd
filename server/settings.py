"""The hub's settings, read from environment variables (see docs/protocol.md)."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_MAX_BATCH = 500
# The latest a sign-up link may expire, in hours past the hub's now: tablets mint 12 h links,
# so 24 h also tolerates a tablet clock half a day fast.
DEFAULT_SIGNUP_LINK_MAX_HOURS = 24
# Bytes one event may take in a batch. The largest legal payload is an idea: a title of 120,
# a text of 2,000 and a contact of 120 characters (app/proposals.py), at most 4 bytes each in
# UTF-8 (tablets send ensure_ascii=False): 8,960 bytes, plus under 1 KiB of envelope (IDs,
# seq, type, time, consultation) = 9,984. 16 KiB leaves room for an open answer of about
# 3,800 characters; a bundle that allows longer answers needs PIAZZETTA_HUB_EVENT_MAX_BYTES.
DEFAULT_EVENT_MAX_BYTES = 16 * 1024


def _int(env, name: str, default: int, overrides: dict, key: str) -> int:
    value = overrides.pop(key, None)
    if value is None:
        value = env.get(name) or default
    return int(value)


def _flag(env, name: str, default: bool, overrides: dict, key: str) -> bool:
    value = overrides.pop(key, None)
    if value is None:
        raw = (env.get(name) or "").strip().lower()
        return default if not raw else raw in ("1", "true", "yes", "on")
    return bool(value)


def _text(env, name: str, default: str, overrides: dict, key: str) -> str:
    value = overrides.pop(key, None)
    return str(value if value is not None else env.get(name) or default).strip()


def private_dir(path: Path) -> Path:
    """Make `path` (the hub's data folder: secrets, and sign-up contacts in SQLite) a folder
    only the hub's user can enter, or tighten it to that."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(0o700)
        except PermissionError:   # not ours to change: the operator's choice stands
            pass
    return path


def _secret_from_file(path: Path, nbytes: int = 32) -> str:
    """Read a secret from `path`, making one (readable by the owner only) when absent."""
    private_dir(path.parent)
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8765
    public_url: str = ""
    secret_key: str = ""
    admin_token: str = ""
    max_batch: int = DEFAULT_MAX_BATCH
    signup_link_max_hours: int = DEFAULT_SIGNUP_LINK_MAX_HOURS
    # Request bodies (server/body.py): every route but two, an event batch per event, a bundle.
    body_max_bytes: int = 64 * 1024
    event_max_bytes: int = DEFAULT_EVENT_MAX_BYTES
    bundle_max_bytes: int = 16 * 1024 * 1024
    # Slow clients (server/admin.py serve, server/body.py): seconds to send a request's head,
    # seconds between two body chunks, idle seconds between requests, open connections.
    header_timeout: int = 10
    body_timeout: int = 30
    keep_alive_timeout: int = 5
    max_connections: int = 400
    max_connections_per_address: int = 64     # 0: none; trusted proxies have none
    # `serve --workers N`: the port of the one process that serves the sign-up pages (the
    # workers refuse them: server/workers.py); 0: the port + 1.
    signup_port: int = 0
    # Results streams (server/results_stream.py): open in all, per client address, and the
    # seconds between two heartbeats. Each holds a connection: keep them under max_connections.
    stream_max: int = 200
    stream_max_per_address: int = 8
    stream_heartbeat: int = 15
    # Log lines per message kind and interval (seconds) before they are only counted.
    log_burst: int = 20
    log_interval: int = 60
    # The dashboard: a Secure cookie (on when the public URL is https), session hours, /docs.
    secure_cookies: bool = False
    session_hours: int = 12
    api_docs: bool = False
    # Hours a sign-up's confirmation link (which shows its participation card once) stays valid.
    confirm_link_hours: int = 2
    # Cards made in one batch for confirmed sign-ups to draw from (server/issued_cards.py).
    card_pool: int = 100
    # Seconds confirmations wait in memory before one transaction writes them all
    # (server/register.py, SignupRegister.write_confirmations).
    confirm_batch_seconds: int = 300
    # Rate limits (server/limits.py), in the `limits` package's notation ("10/minute").
    rate_enroll: str = "60/minute"
    rate_enroll_device: str = "20/minute"
    rate_signup: str = "60/minute"
    rate_signup_device: str = "120/minute"
    rate_cards: str = "3/day"
    rate_public: str = "300/minute"
    rate_login: str = "20/minute"
    rate_upload: str = "60/hour"          # sheet uploads checked per staff session
    rate_phone: str = "30/minute"         # phones' answers per address (server/phone_ballot.py)
    # The reverse proxy whose X-Forwarded-For the hub believes (comma-separated addresses);
    # empty: the peer address is the client's, X-Forwarded-For is ignored.
    trusted_proxies: tuple[str, ...] = ()
    # A room hub's upstream (server/upstream.py): seconds between rounds while the central hub
    # answers, and the longest wait of the backoff while it does not.
    upstream_interval: int = 10
    upstream_backoff: int = 300
    upstream_timeout: int = 60      # seconds to wait for the central hub's answer
    upstream_content_interval: int = 300   # seconds between two pulls of consultations, cards
    # Milliseconds the forwarder pauses between two batches while tablets push (the room is live).
    upstream_live_pause_ms: int = 200
    # Cards a site's room hub may make per consultation when staff set no quota for it.
    room_card_quota: int = 500
    # A room hub serves HTTPS with the certificate it made (server/tls.py, `python -m server
    # room`): its files, and the fingerprint its enrollment QRs carry for tablets to pin.
    tls_cert: str = ""
    tls_key: str = ""
    tls_pin: str = ""
    # A room hub's own sign-up page for residents' phones on the room's Wi-Fi (`room
    # --phones-here`); off: its tablets send phones to the central hub (server/room.py).
    phones_here: bool = False
    # The Decidim connector (server/connectors/decidim.py, docs/connectors.md): the file naming
    # each consultation's instance and component (only the hub reads it), the API credentials
    # it uses where that file gives none (a value, or the path of a file holding it), and the
    # seconds between two rounds of sending and between two pulls of the city's answers.
    decidim_file: str = ""
    decidim_api_key: str = ""
    decidim_api_secret: str = ""
    decidim_interval: int = 10
    decidim_answers_interval: int = 120

    @classmethod
    def from_env(cls, env: dict | None = None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        data_dir = Path(overrides.pop("data_dir", None) or env.get("PIAZZETTA_HUB_DATA_DIR")
                        or "build/hub").resolve()
        host = overrides.pop("host", None) or env.get("PIAZZETTA_HUB_HOST") or "127.0.0.1"
        port = int(overrides.pop("port", None) or env.get("PIAZZETTA_HUB_PORT") or 8765)
        database_url = (overrides.pop("database_url", None)
                        or env.get("PIAZZETTA_HUB_DATABASE_URL")
                        or f"sqlite:///{data_dir / 'hub.sqlite3'}")
        public_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        public_url = (overrides.pop("public_url", None) or env.get("PIAZZETTA_HUB_PUBLIC_URL")
                      or f"http://{public_host}:{port}").rstrip("/")
        max_batch = int(overrides.pop("max_batch", None) or env.get("PIAZZETTA_HUB_MAX_BATCH")
                        or DEFAULT_MAX_BATCH)
        secret_key = overrides.pop("secret_key", None) or env.get("PIAZZETTA_HUB_SECRET_KEY")
        if secret_key and Path(secret_key).is_file():
            secret_key = Path(secret_key).read_text(encoding="utf-8").strip()
        admin_token = overrides.pop("admin_token", None) or env.get("PIAZZETTA_HUB_ADMIN_TOKEN")
        link_hours = int(overrides.pop("signup_link_max_hours", None)
                         or env.get("PIAZZETTA_HUB_SIGNUP_LINK_MAX_HOURS")
                         or DEFAULT_SIGNUP_LINK_MAX_HOURS)
        knobs = {
            "body_max_bytes": _int(env, "PIAZZETTA_HUB_BODY_MAX_BYTES", 64 * 1024, overrides,
                                   "body_max_bytes"),
            "event_max_bytes": _int(env, "PIAZZETTA_HUB_EVENT_MAX_BYTES",
                                    DEFAULT_EVENT_MAX_BYTES, overrides, "event_max_bytes"),
            "bundle_max_bytes": _int(env, "PIAZZETTA_HUB_BUNDLE_MAX_BYTES", 16 * 1024 * 1024,
                                     overrides, "bundle_max_bytes"),
            "header_timeout": _int(env, "PIAZZETTA_HUB_HEADER_TIMEOUT", 10, overrides,
                                   "header_timeout"),
            "body_timeout": _int(env, "PIAZZETTA_HUB_BODY_TIMEOUT", 30, overrides,
                                 "body_timeout"),
            "keep_alive_timeout": _int(env, "PIAZZETTA_HUB_KEEP_ALIVE_TIMEOUT", 5, overrides,
                                       "keep_alive_timeout"),
            "max_connections": _int(env, "PIAZZETTA_HUB_MAX_CONNECTIONS", 400, overrides,
                                    "max_connections"),
            "max_connections_per_address": _int(
                env, "PIAZZETTA_HUB_MAX_CONNECTIONS_PER_ADDRESS", 64, overrides,
                "max_connections_per_address"),
            "signup_port": _int(env, "PIAZZETTA_HUB_SIGNUP_PORT", port + 1, overrides,
                                "signup_port"),
            "stream_max": _int(env, "PIAZZETTA_HUB_STREAM_MAX", 200, overrides, "stream_max"),
            "stream_max_per_address": _int(env, "PIAZZETTA_HUB_STREAM_MAX_PER_ADDRESS", 8,
                                           overrides, "stream_max_per_address"),
            "stream_heartbeat": _int(env, "PIAZZETTA_HUB_STREAM_HEARTBEAT", 15, overrides,
                                     "stream_heartbeat"),
            "log_burst": _int(env, "PIAZZETTA_HUB_LOG_BURST", 20, overrides, "log_burst"),
            "log_interval": _int(env, "PIAZZETTA_HUB_LOG_INTERVAL", 60, overrides,
                                 "log_interval"),
            "secure_cookies": _flag(env, "PIAZZETTA_HUB_SECURE_COOKIES",
                                    public_url.startswith("https://"), overrides,
                                    "secure_cookies"),
            "session_hours": _int(env, "PIAZZETTA_HUB_SESSION_HOURS", 12, overrides,
                                  "session_hours"),
            "api_docs": _flag(env, "PIAZZETTA_HUB_API_DOCS", False, overrides, "api_docs"),
            "confirm_link_hours": min(max(1, _int(env, "PIAZZETTA_HUB_CONFIRM_LINK_HOURS", 2,
                                                  overrides, "confirm_link_hours")), 48),
            "confirm_batch_seconds": min(max(1, _int(env, "PIAZZETTA_HUB_CONFIRM_BATCH_SECONDS",
                                                     300, overrides, "confirm_batch_seconds")),
                                         3600),
            "card_pool": min(max(10, _int(env, "PIAZZETTA_HUB_CARD_POOL", 100, overrides,
                                          "card_pool")), 5000),
            "upstream_interval": _int(env, "PIAZZETTA_HUB_UPSTREAM_INTERVAL", 10, overrides,
                                      "upstream_interval"),
            "upstream_backoff": _int(env, "PIAZZETTA_HUB_UPSTREAM_BACKOFF", 300, overrides,
                                     "upstream_backoff"),
            "upstream_timeout": _int(env, "PIAZZETTA_HUB_UPSTREAM_TIMEOUT", 60, overrides,
                                     "upstream_timeout"),
            "upstream_content_interval": _int(env, "PIAZZETTA_HUB_UPSTREAM_CONTENT_INTERVAL", 300,
                                              overrides, "upstream_content_interval"),
            "upstream_live_pause_ms": max(0, _int(env, "PIAZZETTA_HUB_UPSTREAM_LIVE_PAUSE_MS", 200,
                                                  overrides, "upstream_live_pause_ms")),
            "room_card_quota": max(0, _int(env, "PIAZZETTA_HUB_ROOM_CARD_QUOTA", 500,
                                           overrides, "room_card_quota")),
            "trusted_proxies": tuple(p.strip() for p in _text(
                env, "PIAZZETTA_HUB_TRUSTED_PROXIES", "", overrides, "trusted_proxies"
            ).split(",") if p.strip()),
        }
        # Names spelled out: docs/deploy.md's table is checked against them.
        for key, name, default in (
                ("rate_enroll", "PIAZZETTA_HUB_RATE_ENROLL", "60/minute"),
                ("rate_enroll_device", "PIAZZETTA_HUB_RATE_ENROLL_DEVICE", "20/minute"),
                ("rate_signup", "PIAZZETTA_HUB_RATE_SIGNUP", "60/minute"),
                ("rate_signup_device", "PIAZZETTA_HUB_RATE_SIGNUP_DEVICE", "120/minute"),
                ("rate_cards", "PIAZZETTA_HUB_RATE_CARDS", "3/day"),
                ("rate_public", "PIAZZETTA_HUB_RATE_PUBLIC", "300/minute"),
                ("rate_login", "PIAZZETTA_HUB_RATE_LOGIN", "20/minute"),
                ("rate_upload", "PIAZZETTA_HUB_RATE_UPLOAD", "60/hour"),
                ("rate_phone", "PIAZZETTA_HUB_RATE_PHONE", "30/minute")):
            knobs[key] = _text(env, name, default, overrides, key)
        for key in ("tls_cert", "tls_key", "tls_pin"):
            knobs[key] = str(overrides.pop(key, None) or "")
        knobs["phones_here"] = bool(overrides.pop("phones_here", False))
        knobs["decidim_file"] = _text(env, "PIAZZETTA_HUB_DECIDIM_FILE",
                                      str(data_dir / "decidim.json"), overrides, "decidim_file")
        for key, name in (("decidim_api_key", "PIAZZETTA_HUB_DECIDIM_API_KEY"),
                          ("decidim_api_secret", "PIAZZETTA_HUB_DECIDIM_API_SECRET")):
            value = _text(env, name, "", overrides, key)
            if value.startswith("/") and Path(value).is_file():
                value = Path(value).read_text(encoding="utf-8").strip()
            knobs[key] = value
        knobs["decidim_interval"] = max(1, _int(env, "PIAZZETTA_HUB_DECIDIM_INTERVAL", 10,
                                                overrides, "decidim_interval"))
        knobs["decidim_answers_interval"] = max(1, _int(
            env, "PIAZZETTA_HUB_DECIDIM_ANSWERS_INTERVAL", 120, overrides,
            "decidim_answers_interval"))
        if overrides:
            raise TypeError(f"unknown settings: {sorted(overrides)}")
        return cls(data_dir=data_dir, database_url=database_url, host=host, port=port,
                   public_url=public_url, secret_key=secret_key or "",
                   admin_token=admin_token or "", max_batch=max(1, max_batch),
                   signup_link_max_hours=min(max(1, link_hours), 24 * 30), **knobs)

    def with_secrets(self) -> "Settings":
        """These settings with the signing key and admin token made (in the data dir) if unset."""
        return replace(
            self,
            secret_key=self.secret_key or _secret_from_file(self.data_dir / "secret-key"),
            admin_token=self.admin_token or _secret_from_file(self.data_dir / "admin-token"))
