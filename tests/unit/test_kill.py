"""Invariant 1 under SIGKILL: a process recording answers is killed at a random moment, 20 times
over; every answer whose record call had returned is in the store, and the file is sound."""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.store import Store

RECORDER = Path(__file__).with_name("recorder_process.py")


@pytest.mark.slow
def test_answers_survive_sigkill(tmp_path):
    rng = random.Random(int(os.environ.get("PIAZZETTA_KILL_SEED", "20261122")))
    folder = tmp_path / "store"
    promised = []
    for _round in range(20):
        child = subprocess.Popen([sys.executable, str(RECORDER), str(folder)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True)
        reader.start()
        # Wait until it records, then kill it at a random moment.
        deadline = time.monotonic() + 30
        while not lines and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lines, child.stderr.read()
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        reader.join(timeout=10)
        child.stderr.close()
        promised.extend(json.loads(line) for line in lines if line.endswith("\n"))

        store = Store.open(folder)
        assert store.integrity_check() == "ok"
        for ballot, question_id, value in promised:
            assert store.answers_of(ballot).get(question_id) == value, (ballot, question_id)
        events = store.events()
        assert [e.seq for e in events] == sorted({e.seq for e in events})
        store.close()
    assert len(promised) > 100
