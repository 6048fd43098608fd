"""`python -m server serve --workers N`: N hub processes on one port (SO_REUSEPORT: the kernel
spreads connections among them), PostgreSQL only (docs/deploy.md, "Several processes").

The parent holds no hub: it makes the data folder's secrets once (so that every worker signs
with the same key), starts the workers, starts again one that exits, and stops them all on
SIGTERM or Ctrl-C. SIGHUP restarts them one at a time, each new one serving before its old one
stops (a rolling restart on one machine: new code, no refused connection). Every state a
request needs is in the database (server.unit_of_work's results log among them), so any worker
answers any request, except the register of people's pages (`/signup…`): a confirmation's card
and the memory that it was shown wait in one process (server/register.py: no commit, row
version or transaction ID may be one person's, so they cannot be claimed in a shared row), and
with two processes a link confirmed twice could show two cards. So the workers refuse
`/signup…` (`SignupElsewhere`), and the parent starts one more hub process of its own on the
sign-up port (PIAZZETTA_HUB_SIGNUP_PORT: Settings.signup_port, the port + 1 by default), the
one the reverse proxy sends `/signup…` to; it restarts it last, stopping the old one before
the new one binds (a few seconds without sign-up pages, never two).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .settings import Settings

READY_TIMEOUT = 120      # seconds a new worker has to serve


def signup_port(settings: Settings) -> int:
    """The port of the one process that serves `/signup…` beside `serve --workers`."""
    return settings.signup_port or settings.port + 1


class Workers:
    def __init__(self, settings: Settings, count: int, log_level: str):
        self.settings, self.count, self.log_level = settings, count, log_level
        self.folder = Path(tempfile.mkdtemp(prefix="piazzetta-workers-"))
        common = {k: v for k, v in os.environ.items() if k != "PIAZZETTA_HUB_REUSE_PORT"}
        common.update({"PIAZZETTA_HUB_DATA_DIR": str(settings.data_dir),
                       "PIAZZETTA_HUB_DATABASE_URL": settings.database_url,
                       "PIAZZETTA_HUB_HOST": settings.host})
        self.env = {**common, "PIAZZETTA_HUB_REUSE_PORT": "1",
                    "PIAZZETTA_HUB_PORT": str(settings.port)}
        self.signup_env = {**common, "PIAZZETTA_HUB_PORT": str(signup_port(settings))}
        self.children: list[subprocess.Popen] = []
        self.signups: subprocess.Popen | None = None
        self.stopping = False
        self.rolling = False
        self._made = 0

    def _start(self, env: dict | None = None) -> subprocess.Popen:
        self._made += 1
        ready = self.folder / f"ready-{self._made}"
        child = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--log-level", self.log_level],
            env={**(env or self.env), "PIAZZETTA_HUB_READY_FILE": str(ready)})
        child.ready_file = ready          # type: ignore[attr-defined]
        return child

    def _start_signups(self) -> subprocess.Popen:
        return self._start(self.signup_env)

    def _wait_ready(self, child: subprocess.Popen) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and child.poll() is None:
            if child.ready_file.exists():          # type: ignore[attr-defined]
                return True
            time.sleep(0.1)
        return False

    @staticmethod
    def _stop(child: subprocess.Popen) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)

    def roll(self) -> None:
        """Each worker replaced in turn: the new one serves before the old one stops."""
        for i, old in enumerate(list(self.children)):
            if self.stopping:
                return
            new = self._start()
            if not self._wait_ready(new):
                print("a new worker did not start: the rolling restart stops here",
                      file=sys.stderr, flush=True)
                self._stop(new)
                return
            self.children[i] = new
            self._stop(old)
        if not self.stopping and self.signups is not None:
            # Never two sign-up processes: the old one stops (writing its pending
            # confirmations) before the new one binds the port.
            self._stop(self.signups)
            self.signups = self._start_signups()
            self._wait_ready(self.signups)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "rolling", True))
        self.children = [self._start() for _ in range(self.count)]
        self.signups = self._start_signups()
        print(f"Piazzetta hub: {self.count} workers on {self.settings.host}:"
              f"{self.settings.port}, the sign-up pages (/signup…) on port "
              f"{signup_port(self.settings)}: send them there", flush=True)
        try:
            while not self.stopping:
                if self.rolling:
                    self.rolling = False
                    self.roll()
                for i, child in enumerate(self.children):
                    if child.poll() is not None and not self.stopping:
                        print(f"worker {child.pid} exited ({child.returncode}): started again",
                              file=sys.stderr, flush=True)
                        self.children[i] = self._start()
                if self.signups.poll() is not None and not self.stopping:
                    print(f"the sign-up process {self.signups.pid} exited "
                          f"({self.signups.returncode}): started again",
                          file=sys.stderr, flush=True)
                    self.signups = self._start_signups()
                time.sleep(0.2)
        finally:
            every = self.children + ([self.signups] if self.signups is not None else [])
            for child in every:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in every:
                self._stop(child)
        return 0


def serve_workers(settings: Settings, count: int, log_level: str = "warning") -> int:
    """Serve with `count` worker processes; refused on SQLite (one writer per file)."""
    if settings.database_url.startswith("sqlite"):
        print("error: --workers needs PostgreSQL (PIAZZETTA_HUB_DATABASE_URL): an SQLite hub "
              "runs one process (docs/deploy.md, \"Several processes\")", file=sys.stderr)
        return 2
    settings.with_secrets()      # made once, here: every worker signs with the same key
    return Workers(settings, count, log_level).run()


def reuse_port_socket(host: str, port: int):
    """The listening socket of one worker: SO_REUSEPORT, so that the others bind it too."""
    import socket
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def is_signup_path(path: str) -> bool:
    """The register of people's pages (server/routes/signup.py): `/signup`, `/signup/…`.
    The path as uvicorn gives it, decoded (`/%73ignup` is `/signup` here too)."""
    return path.startswith("/signup")


class SignupElsewhere:
    """A worker sharing its port (ASGI, around the hub's app): `/signup…` answered 503 with
    a page, never served here (the module's docstring); everything else passed on."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and is_signup_path(scope.get("path", "")):
            from starlette.requests import Request

            from app.errors import N_

            from .pages import render, request_lang
            lang = request_lang(Request(scope))
            response = render("message.html", lang, 503,
                              title=N_("The request cannot be served."),
                              text=N_("Wait a moment, then try again."))
            response.headers["Retry-After"] = "5"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def tell_ready(server) -> None:
    """Touch PIAZZETTA_HUB_READY_FILE once uvicorn serves (the parent's rolling restart)."""
    path = os.environ.get("PIAZZETTA_HUB_READY_FILE")
    if not path:
        return
    import threading

    def wait() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            Path(path).touch()
    threading.Thread(target=wait, daemon=True).start()
