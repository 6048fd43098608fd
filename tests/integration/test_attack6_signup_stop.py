"""attack6: a sign-up process told to stop (SIGTERM: a rolling restart, `serve --workers`'
SIGHUP) closed its listener and said 503 on /readyz at once — the balancer then sent the
sign-up pages to the other process — but wrote the confirmations waiting in its memory (a
card just shown) only once its last requests had ended, up to the graceful timeout later.
Meanwhile the same link opened on the other process found no card shown: a second card. Now
they are written first, as the stop begins. A real hub process on SQLite (the same code
writes PostgreSQL's stage) with a slow request holding its graceful stop open."""
from __future__ import annotations

import re
import socket
import sqlite3
import time

import pytest
import requests

from server.settings import Settings

from .conftest import HubProcess, signed_up, signup_token

pytestmark = pytest.mark.process


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def test_a_stopping_hub_writes_the_cards_it_showed_before_it_stops_answering(tmp_path):
    process = HubProcess(tmp_path / "hub")
    settings = Settings.from_env({}, data_dir=tmp_path / "hub", public_url=process.url)
    token = signup_token(settings)
    process.start()
    slow = None
    try:
        signup, link, code = signed_up(process.url, token, settings)
        page = requests.post(process.url + "/signup/confirm", data={"t": link, "code": code},
                             timeout=30)
        assert re.findall(r'class="code"[^>]*>([A-Z0-9-]+)<', page.text)   # a card shown
        # A request still in flight: the graceful stop waits for it.
        slow = socket.create_connection(("127.0.0.1", process.port), timeout=10)
        slow.sendall(b"POST /signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/"
                     b"x-www-form-urlencoded\r\nContent-Length: 400\r\n\r\nname=R")
        time.sleep(0.5)
        process.proc.send_signal(__import__("signal").SIGTERM)
        deadline = time.monotonic() + 30
        while not _refuses(process.port) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _refuses(process.port)          # the balancer sends the pages elsewhere now
        assert process.proc.poll() is None     # while this process still finishes a request
        db = sqlite3.connect(f"file:{tmp_path / 'hub' / 'hub.sqlite3'}?mode=ro", uri=True)
        try:
            issued = db.execute("SELECT card_issued FROM signups WHERE id = ?",
                                (signup,)).fetchone()
        finally:
            db.close()
        assert issued is not None and issued[0]   # already written: the other one sees it
    finally:
        if slow is not None:
            slow.close()
        process.stop()
