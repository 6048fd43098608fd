"""The room kit (`python -m server room`) as a process on 127.0.0.1: HTTPS with the certificate
the room made itself (server/tls.py), for the TLS tests and bench/push_tls.py."""
from __future__ import annotations

import hashlib
import ssl
import subprocess
import sys
import time
from pathlib import Path

import requests

from .conftest import ROOT, SITE, HubProcess


class RoomKit(HubProcess):
    """`python -m server room` on 127.0.0.1: HTTPS with the room's own certificate."""

    def __init__(self, data_dir: Path, port: int | None = None):
        super().__init__(data_dir, port=port)
        self.url = f"https://127.0.0.1:{self.port}"
        self.env.update({"PIAZZETTA_HUB_RATE_ENROLL": "1000/minute",
                         "PIAZZETTA_HUB_RATE_LOGIN": "1000/minute"})
        self.out = data_dir.parent / f"{data_dir.name}-{self.port}.out"
        self.extra: list[str] = []          # more options of `room`

    def start(self) -> "RoomKit":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.out, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "--data-dir", str(self.data_dir), "room",
                 "--host", "127.0.0.1", "--port", str(self.port), *self.extra],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                if Path(self.cert).is_file() and requests.get(
                        self.url + "/api/v1", timeout=2, verify=self.cert).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("the room kit did not start:\n"
                           + self.out.read_text(errors="replace")[-3000:])

    @property
    def cert(self) -> str:
        return str(self.data_dir / "tls" / "room-cert.pem")

    @property
    def pin(self) -> str:
        """The certificate's SHA-256, computed here from its file (not the hub's word)."""
        der = ssl.PEM_cert_to_DER_cert((self.data_dir / "tls" / "room-cert.pem").read_text())
        return hashlib.sha256(der).hexdigest()

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        # The test checks the room's certificate against its file (its SAN names 127.0.0.1).
        return requests.request(method, self.url + "/api/v1/admin" + path, timeout=30,
                                verify=self.cert,
                                headers={"Authorization": f"Bearer {self.admin_token}"},
                                **kwargs)

    def qr(self, site: str = SITE) -> str:
        answer = self.admin("POST", "/enrollment-codes", json={"site_id": site, "minutes": 10})
        assert answer.status_code == 200, answer.text
        return answer.json()["qr"]
