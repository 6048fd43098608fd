"""attack6: deploy/haproxy-piazzetta.cfg's `people` backend (the sign-up pages on one hub, the
other its backup) failed back to hub1 as soon as hub1 was ready again — while hub2 still held,
in memory until its batch is written (PIAZZETTA_HUB_CONFIRM_BATCH_SECONDS, 5 min), the cards it
had just shown: a link opened again on hub1 showed a second card. The recipe now sticks to
the hub that serves them until that one goes down. Real HAProxy with the recipe's `people`
backend as written; two small servers stand for the hubs (a /readyz that can fail, and who
answered a sign-up page): what is tested is the balancer's routing, not a hub."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from .conftest import free_port

pytestmark = pytest.mark.process
RECIPE = Path(__file__).resolve().parents[2] / "deploy" / "haproxy-piazzetta.cfg"


def _stand_in(name: str, ready: dict):
    class Hub(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            status = 503 if self.path == "/readyz" and not ready[name] else 200
            body = name.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _until(check, seconds=20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_the_sign_up_pages_do_not_fail_back_to_the_first_hub(tmp_path):
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.path.exists(haproxy):
        pytest.skip("HAProxy is not installed (tools/install-system-packages.sh)")
    ready = {"hub1": True, "hub2": True}
    servers = {name: _stand_in(name, ready) for name in ready}
    port = free_port()
    config = RECIPE.read_text(encoding="utf-8")
    for name, server in servers.items():
        config = config.replace(f"{name}:8765", f"127.0.0.1:{server.server_address[1]}")
    config = (config.replace("bind *:8080", f"bind 127.0.0.1:{port}")
              .replace("maxconn 20000", "maxconn 1000").replace("inter 2s", "inter 200ms"))
    (tmp_path / "haproxy.cfg").write_text(config, encoding="utf-8")
    proc = subprocess.Popen([haproxy, "-db", "-f", str(tmp_path / "haproxy.cfg")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def serves() -> str | None:
        try:
            return requests.get(f"http://127.0.0.1:{port}/signup/confirm", timeout=3).text
        except requests.RequestException:
            return None
    try:
        assert _until(lambda: serves() == "hub1")
        ready["hub1"] = False                       # hub1 stops, or loses its database
        assert _until(lambda: serves() == "hub2")
        ready["hub1"] = True                        # hub1 ready again: hub2 keeps the pages
        time.sleep(1.5)                             # several health checks of hub1 passed
        assert {serves() for _ in range(10)} == {"hub2"}
        ready["hub2"] = False                       # until hub2 itself goes down
        assert _until(lambda: serves() == "hub1")
    finally:
        proc.terminate()
        proc.wait(10)
        for server in servers.values():
            server.shutdown()
            server.server_close()
