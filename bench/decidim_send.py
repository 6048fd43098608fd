"""The Decidim connector's sending rate: approved ideas per second from a hub's outbox to the
Decidim stand-in (tests/integration/decidim_standin.py) on loopback, against the stand-in's own
rate for the same mutation, in the same run.

    python bench/decidim_send.py [--quick] [--ideas N]

1. Baseline: a bare client signs in once and POSTs N createProposal mutations straight to the
   stand-in (each validated there with graphql-core, as the connector's are): requests per
   second, the most the connector could reach over one connection.
2. A hub (in this process, SQLite in a temporary folder, the demo consultation) holds N ideas
   a tablet collected, approved and pushed; the connector's rounds (server.connectors.outbox)
   queue and send them all: ideas per second from the first round to the last proposal,
   counting its own bookkeeping (the claim, the `uncertain` mark before each creation, the
   result), which is what keeps a cut response from making a second proposal.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.store import Store  # noqa: E402
from server.connectors.decidim import (DecidimClient, DecidimConfig, load_configs,  # noqa: E402
                                       marker)
from server.connectors.outbox import DecidimOutbox, queue, queue_counts  # noqa: E402
from server.hub import Hub  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.integration.decidim_standin import DecidimStandIn  # noqa: E402
from tests.unit.conftest import enroll_tablet, pending_envelopes  # noqa: E402

CONSULTATION = "alpimed-2030"


def baseline(standin: DecidimStandIn, n: int) -> float:
    client = DecidimClient(DecidimConfig(CONSULTATION, standin.url, "piazzetta-key",
                                         "piazzetta-secret", standin.component_id))
    client.sign_in()
    started = time.perf_counter()
    for i in range(n):
        client.create_proposal("fr", {"title": f"Une idée de banc numéro {i}",
                                      "body": f"Un banc à l'ombre.\n\n{marker(f'b{i}')}"})
    seconds = time.perf_counter() - started
    client.close()
    return n / seconds


def connector(standin: DecidimStandIn, n: int, folder: Path) -> tuple[float, dict]:
    hub = Hub(Settings.from_env({}, data_dir=folder / "hub"))
    try:
        consultation = hub.import_bundle(DEMO_BUNDLE_DIR)
        (folder / "hub" / "decidim.json").write_text(json.dumps({"consultations": {
            CONSULTATION: {"url": standin.url, "api_key": "piazzetta-key",
                           "api_secret": "piazzetta-secret",
                           "proposals_component": standin.component_id}}}))
        (folder / "hub" / "decidim.json").chmod(0o600)
        assert load_configs(hub.settings)
        store, device = enroll_tablet(hub)
        for i in range(n):
            idea = store.submit_proposal(consultation, title=f"Un banc à l'ombre numéro {i}",
                                         text="Sous les platanes de la place.", lang="fr")
            store.moderate_proposal(idea.id, "approved")
        envelopes = pending_envelopes(store)
        for start in range(0, len(envelopes), 500):       # the hub's batch limit
            hub.ingest(device, envelopes[start:start + 500])
        store.close()
        outbox = DecidimOutbox(hub, interval=1, answers_interval=3600)
        before = standin.mutations
        started = time.perf_counter()
        while queue_counts(queue(hub.engine, CONSULTATION))["sent"] < n:
            outbox.round()
        seconds = time.perf_counter() - started
        outbox.stop()
        assert standin.mutations - before == n and standin.invalid == []
        return n / seconds, queue_counts(queue(hub.engine, CONSULTATION))
    finally:
        hub.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="40 ideas: a CI smoke run")
    parser.add_argument("--ideas", type=int, default=None, help="ideas to send (default 400)")
    args = parser.parse_args()
    n = args.ideas or (40 if args.quick else 400)
    standin = DecidimStandIn()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bare = baseline(standin, n)
            print(f"baseline: a bare client POSTs {n} createProposal to the stand-in   "
                  f"{bare:.1f} requests/s")
            rate, counts = connector(standin, n, Path(tmp))
            print(f"connector: the hub's outbox sends {n} approved ideas              "
                  f"{rate:.1f} ideas/s  ({counts})")
            print(f"ratio connector / bare POST: {rate / bare:.2f}")
    finally:
        standin.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
