"""attack6: `serve --workers 2` given SIGHUP as a process group gets it (a terminal's hang-up,
`kill -HUP -<group>`, `pkill -HUP -f "server serve"`): the workers and the sign-up process
died at once (SIGHUP's default), the sign-up process without writing the confirmations
waiting in its memory, so the link confirmed just before showed a second card from the
restarted one. The hub processes now leave SIGHUP to the parent (its rolling restart, which
stops the sign-up process gracefully). Real processes on PostgreSQL."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from server.settings import Settings

from .conftest import ROOT, free_port, signed_up, signup_token
from .test_postgres import pg_url  # noqa: F401  (the fixture: a database of the test's own)

pytestmark = [pytest.mark.postgres, pytest.mark.process, pytest.mark.slow]
if not os.environ.get("PIAZZETTA_TEST_POSTGRES_URL"):
    pytest.skip("PIAZZETTA_TEST_POSTGRES_URL is not set", allow_module_level=True)


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _wait(check, seconds=90.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def _children(pid: int) -> set[int]:
    found = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found |= {int(p) for p in f.read().split()}
    return found


def test_a_hang_up_of_the_group_shows_no_second_card(tmp_path, pg_url):  # noqa: F811
    settings = Settings.from_env({}, data_dir=tmp_path / "hub", database_url=pg_url,
                                 public_url="https://hub.example")
    token = signup_token(settings)
    port, people_port = free_port(), free_port()
    env = {**os.environ, "PIAZZETTA_HUB_DATA_DIR": str(tmp_path / "hub"),
           "PIAZZETTA_HUB_PORT": str(port), "PIAZZETTA_HUB_HOST": "127.0.0.1",
           "PIAZZETTA_HUB_SIGNUP_PORT": str(people_port), "PIAZZETTA_HUB_DATABASE_URL": pg_url,
           "PIAZZETTA_HUB_PUBLIC_URL": "https://hub.example", "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-m", "server", "serve", "--workers", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    workers, people = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{people_port}"
    try:
        assert _wait(lambda: _ready(workers) and _ready(people))
        _signup, link, code = signed_up(people, token, settings)

        def cards() -> list[str]:
            page = requests.post(people + "/signup/confirm", data={"t": link, "code": code},
                                 timeout=30)
            assert page.status_code == 200
            return re.findall(r'class="code"[^>]*>([A-Z0-9-]+)<', page.text)
        assert len(cards()) == 1
        before = _children(parent.pid)
        os.killpg(parent.pid, signal.SIGHUP)       # the whole group, as a hang-up does
        # The parent's rolling restart replaces every process, the sign-up one last.
        assert _wait(lambda: not (_children(parent.pid) & before) and _ready(workers)
                     and _ready(people), 180)
        assert cards() == []                        # shown once, across the restart
        assert parent.poll() is None
    finally:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(60) == 0
