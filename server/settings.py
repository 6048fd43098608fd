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
        if overrides:
            raise TypeError(f"unknown settings: {sorted(overrides)}")
        return cls(data_dir=data_dir, database_url=database_url, host=host, port=port,
                   public_url=public_url, secret_key=secret_key or "",
                   admin_token=admin_token or "", max_batch=max(1, max_batch),
                   signup_link_max_hours=min(max(1, link_hours), 24 * 30))

    def with_secrets(self) -> "Settings":
        """These settings with the signing key and admin token made (in the data dir) if unset."""
        return replace(
            self,
            secret_key=self.secret_key or _secret_from_file(self.data_dir / "secret-key"),
            admin_token=self.admin_token or _secret_from_file(self.data_dir / "admin-token"))
