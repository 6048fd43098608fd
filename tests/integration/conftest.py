"""A real hub as a subprocess on a free port of 127.0.0.1, and helpers to drive it.

No mocked HTTP: tests talk to `python -m server` over TCP, directly or through the fault proxy
(tests/integration/faultproxy.py)."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app.paths import DEMO_BUNDLE_DIR
from app.store import Store

ROOT = Path(__file__).resolve().parents[2]
SITE = "menton-mediatheque"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HubProcess:
    """`python -m server` in a data directory; start, stop, kill -9, restart on the same port."""

    def __init__(self, data_dir: Path, *, database_url: str | None = None, max_batch: int = 500,
                 port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PIAZZETTA_HUB_DATA_DIR": str(data_dir),
                    "PIAZZETTA_HUB_PORT": str(self.port), "PIAZZETTA_HUB_HOST": "127.0.0.1",
                    "PIAZZETTA_HUB_PUBLIC_URL": self.url,
                    "PIAZZETTA_HUB_MAX_BATCH": str(max_batch), "PYTHONPATH": str(ROOT)}
        if database_url:
            self.env["PIAZZETTA_HUB_DATABASE_URL"] = database_url
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "hub.log"

    def start(self) -> "HubProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "server", "serve"], cwd=ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hub exited:\n" + self.log.read_text(errors="replace")[-3000:])
            try:
                if requests.get(self.url + "/api/v1", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("hub did not start:\n" + self.log.read_text(errors="replace")[-3000:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """A crash: SIGKILL, no shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def import_bundle(self, folder) -> int:
        """`python -m server import-bundle <folder>` on this hub's data folder, run as
        server.admin.main in the test's process (one interpreter start less: about 1 s of
        CPU); its exit status. `hub.cli_process("import-bundle", …)` runs it as a process."""
        from server.admin import main as admin_main
        database = ["--database-url", self.env["PIAZZETTA_HUB_DATABASE_URL"]] \
            if "PIAZZETTA_HUB_DATABASE_URL" in self.env else []
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return admin_main(["--data-dir", str(self.data_dir), *database,
                           "import-bundle", str(folder)])

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """`python -m server <args>` on this hub's data folder with the process's environment,
        run as server.admin.main in the test's process (an interpreter start and the hub's
        imports less: about 1.3 s of CPU each); its exit status, stdout and stderr as
        subprocess.run gives them. `cli_process` runs it as a process."""
        import contextlib
        import io

        from server.admin import main as admin_main
        out, err = io.StringIO(), io.StringIO()
        # The process's environment, key by key (never an empty one meanwhile: the test's
        # threads, e.g. requests looking up proxies, may read it), put back afterwards.
        saved = dict(os.environ)
        for key in set(saved) - set(self.env):
            del os.environ[key]
        os.environ.update(self.env)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = admin_main(list(args))
                except SystemExit as exc:      # argparse's refusals, as the process exits
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None
                                                                        else 1)
                    if isinstance(exc.code, str):
                        print(exc.code, file=sys.stderr)
        finally:
            for key in set(self.env) - set(saved):
                del os.environ[key]
            os.environ.update(saved)
        return subprocess.CompletedProcess([sys.executable, "-m", "server", *args],
                                           code or 0, out.getvalue(), err.getvalue())

    def cli_process(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "admin-token").read_text().strip()

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url + "/api/v1/admin" + path, timeout=30,
                                headers={"Authorization": f"Bearer {self.admin_token}"},
                                **kwargs)

    def code(self, site: str | None = SITE, device: str | None = None) -> str:
        """A fresh enrollment code for `site`; with `device`, a staff code for that ID only."""
        answer = self.admin("POST", "/enrollment-codes", json={"site_id": site, "minutes": 10,
                                                               "device_id": device})
        assert answer.status_code == 200, answer.text
        return answer.json()["code"]

    def device_events(self, device_id: str) -> int:
        devices = self.admin("GET", "/devices").json()["devices"]
        return next((d["events"] for d in devices if d["id"] == device_id), 0)

    def results(self, consultation_id: str = "alpimed-2030") -> dict:
        answer = requests.get(f"{self.url}/api/v1/consultations/{consultation_id}/results",
                              timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()


def start_hub(data_dir: Path, **kwargs) -> HubProcess:
    hub = HubProcess(data_dir, **kwargs)
    # Import the demo and create its sites before serving: the staff's command, in the test's
    # process (HubProcess.import_bundle).
    assert hub.import_bundle(DEMO_BUNDLE_DIR) == 0
    return hub.start()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """One hub per test module, with the demo consultation imported."""
    process = start_hub(tmp_path_factory.mktemp("hub"))
    yield process
    process.stop()


@pytest.fixture
def fresh_hub(tmp_path):
    """A hub of this test's own (for tests that kill or restart it)."""
    process = start_hub(tmp_path / "hub")
    yield process
    process.kill()


def record_votes(store: Store, consultation, ballots: int, *, seed: int = 0,
                 with_changes: bool = True, ideas: int = 0) -> None:
    """Fill a tablet's store with realistic activity: ballots with answers to several kinds of
    question, some answers changed or withdrawn, some ideas."""
    rng = random.Random(seed)
    for _ in range(ballots):
        ballot = store.start_ballot(consultation)
        store.record_answer(consultation, ballot, "q-ticket", rng.choice(["yes", "no", "abstain"]))
        store.record_answer(consultation, ballot, "q-cooperation", rng.randint(1, 5))
        store.record_answer(consultation, ballot, "q-colour",
                            {"p-bus": rng.choice(["green", "orange", "red"])})
        if with_changes and rng.random() < 0.3:
            store.record_answer(consultation, ballot, "q-ticket", rng.choice(["yes", "no"]))
        if with_changes and rng.random() < 0.1:
            store.withdraw_answer(ballot, "q-cooperation")
        store.close_ballot(ballot)
    for i in range(ideas):
        store.submit_proposal(consultation, title=f"Idée {i} ✨", text="Un banc à l'ombre 🌳")


def expected_results(stores, consultation) -> dict:
    """The results every store's answers make together, with the domain's tallies."""
    import json

    from app.counts import ChannelTally   # the hub's results carry the breakdown per channel
    tallies = {q.id: ChannelTally(consultation, q) for q in consultation.questions}
    for store in stores:
        for question_id, value in store.conn.execute(
                "SELECT question_id, value FROM answers WHERE consultation_id = ?",
                (consultation.id,)):
            tallies[question_id].add(json.loads(value))
    return {qid: t.result() for qid, t in tallies.items()}


def ballots_of(stores, consultation) -> int:
    return sum(s.conn.execute("SELECT count(*) FROM ballots WHERE consultation_id = ?",
                              (consultation.id,)).fetchone()[0] for s in stores)


def signup_token(settings, site: str = SITE, consultation: str = "alpimed-2030") -> str:
    """A tablet's sign-up link for `consultation`: the demo imported and a tablet enrolled
    at `site` in the hub of `settings` (before its process serves)."""
    from app.signup import mint_signup_token
    from server.db import sha256
    from server.hub import Hub
    hub = Hub(settings)
    try:
        hub.import_bundle(DEMO_BUNDLE_DIR)
        answer = hub.enroll(hub.make_enrollment_code(site)["code"], "tab-1",
                            sha256("tablet secret"))
        return mint_signup_token(answer["signup_key"], consultation=consultation, site=site,
                                 meeting=None, device=answer["alias"])
    finally:
        hub.close()


def signed_up(base: str, token: str, settings) -> tuple[str, str, str]:
    """A resident signed up with an email on the hub at `base`: (sign-up ID, the emailed
    link's token, the code the page after the form shows)."""
    import re

    from server.hub import Hub
    form = requests.get(base + "/signup", params={"t": token}, timeout=10)
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.text))
    assert requests.post(base + "/signup", timeout=10, data={
        **hidden, "name": "Résidente", "contact": "r@example.org",
        "consent": "1"}).status_code == 200
    hub = Hub(settings)
    try:
        return (hidden["k"], hub.participation.confirmation_link(hidden["k"]).split("t=", 1)[1],
                hub.participation.confirm_code(hidden["k"]))
    finally:
        hub.close()
