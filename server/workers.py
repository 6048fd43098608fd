"""`python -m server serve --workers N`: N hub processes on one port (SO_REUSEPORT: the kernel
spreads connections among them), PostgreSQL only (docs/deploy.md, "Several processes").

The parent holds no hub: it makes the data folder's secrets once (so that every worker signs
with the same key), starts the workers, starts again one that exits, and stops them all on
SIGTERM or Ctrl-C. SIGHUP restarts them one at a time, each new one serving before its old one
stops (a rolling restart on one machine: new code, no refused connection). Every state a
request needs is in the database (server.unit_of_work's results log among them), so any worker
answers any request; the register of people's pages are the exception docs/deploy.md names.
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


class Workers:
    def __init__(self, settings: Settings, count: int, log_level: str):
        self.settings, self.count, self.log_level = settings, count, log_level
        self.folder = Path(tempfile.mkdtemp(prefix="piazzetta-workers-"))
        self.env = {**os.environ, "PIAZZETTA_HUB_REUSE_PORT": "1",
                    "PIAZZETTA_HUB_DATA_DIR": str(settings.data_dir),
                    "PIAZZETTA_HUB_DATABASE_URL": settings.database_url,
                    "PIAZZETTA_HUB_HOST": settings.host, "PIAZZETTA_HUB_PORT": str(settings.port)}
        self.children: list[subprocess.Popen] = []
        self.stopping = False
        self.rolling = False
        self._made = 0

    def _start(self) -> subprocess.Popen:
        self._made += 1
        ready = self.folder / f"ready-{self._made}"
        child = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--log-level", self.log_level],
            env={**self.env, "PIAZZETTA_HUB_READY_FILE": str(ready)})
        child.ready_file = ready          # type: ignore[attr-defined]
        return child

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

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "rolling", True))
        self.children = [self._start() for _ in range(self.count)]
        print(f"Piazzetta hub: {self.count} workers on {self.settings.host}:"
              f"{self.settings.port}", flush=True)
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
                time.sleep(0.2)
        finally:
            for child in self.children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in self.children:
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
