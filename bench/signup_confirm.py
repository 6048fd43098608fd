"""What the secret ballot in every byte costs a sign-up and a confirmation at the hub:
`python bench/signup_confirm.py [--people N] [--pool N] [--quick]`.

In the same run, on one SQLite hub, interleaved so that a noisy neighbour hits both alike:
- **before** (the path of the main branch of before, rebuilt here from the same pieces): a
  sign-up is one insert; a confirmation makes its card (its check: 20,000 PBKDF2 rounds) and
  updates the sign-up in one transaction;
- **after** (`Participation.register` / `Participation.confirm`): a sign-up is one insert
  followed by a WAL checkpoint (TRUNCATE); a confirmation draws a card from the pool (made
  ahead in batches, in a thread) and updates the sign-up only, then checkpoints.
Prints sign-ups per second and the confirmation's p50/p95 for both, and the ratio after/before.
"""
import argparse
import logging
import secrets
import tempfile
import time
from pathlib import Path

from _common import summary_ms

from app.clock import now_iso
from app.paths import DEMO_BUNDLE_DIR
from app.signup import SignupConfig, validate_signup

CONSULTATION = "alpimed-2030"
CLAIMS = {"consultation": CONSULTATION, "site": "menton-mediatheque", "meeting": None,
          "device": None}


def old_register(hub, form: dict) -> str:
    parts = hub.participation
    key = secrets.token_urlsafe(18)
    draft = validate_signup(SignupConfig(), form)
    row = parts._row(key, draft, CONSULTATION, CLAIMS["site"], None, None, "phone", "fr")
    from server import db
    with hub.writer.begin() as conn:
        conn.execute(db.signups.insert(), [row])
    return key


def old_confirm(hub, key: str) -> None:
    from sqlalchemy import select
    from server import db
    parts = hub.participation
    with hub.writer.begin() as conn:
        row = conn.execute(select(db.signups).where(db.signups.c.id == key)).first()
        parts._issue(conn, row.consultation_id, 1)
        conn.execute(db.signups.update().where(db.signups.c.id == key).values(
            card_issued=True, confirmed_at=now_iso()[:13] + ":00:00+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="a few people (CI smoke)")
    args = parser.parse_args()
    people = 20 if args.quick else args.people
    logging.getLogger("piazzetta").setLevel(logging.ERROR)
    from server.hub import Hub
    from server.settings import Settings
    with tempfile.TemporaryDirectory() as folder:
        hub = Hub(Settings.from_env({}, data_dir=str(Path(folder)), secret_key="bench",
                                    public_url="https://hub.example", card_pool=args.pool))
        try:
            hub.import_bundle(DEMO_BUNDLE_DIR)
            parts = hub.participation
            signup = {"before": [], "after": []}
            keys = {"before": [], "after": []}
            for i in range(people):
                form = {"name": f"P{i}", "contact": f"p{i}@example.org", "consent": "1"}
                started = time.perf_counter()
                keys["before"].append(old_register(hub, dict(form, contact=f"o{i}@example.org")))
                signup["before"].append(time.perf_counter() - started)
                started = time.perf_counter()
                row, _created, _mail = parts.register(
                    form, submission_key=secrets.token_urlsafe(18), claims=CLAIMS, lang="fr")
                signup["after"].append(time.perf_counter() - started)
                keys["after"].append(row["id"])
            confirm = {"before": [], "after": []}
            for old, new in zip(keys["before"], keys["after"]):
                started = time.perf_counter()
                old_confirm(hub, old)
                confirm["before"].append(time.perf_counter() - started)
                token = parts.confirmation_link(new).split("t=", 1)[1]
                started = time.perf_counter()
                done = parts.confirm(token)
                confirm["after"].append(time.perf_counter() - started)
                assert done.status == "issued", done.status
        finally:
            hub.close()
    rate = {k: len(v) / sum(v) for k, v in signup.items()}
    latency = {k: summary_ms(v) for k, v in confirm.items()}
    print(f"{people} sign-ups and confirmations each way, SQLite, pool of {args.pool}")
    for k in ("before", "after"):
        print(f"  {k:6}: sign-ups {rate[k]:7.1f}/s   confirmation p50 "
              f"{latency[k]['p50_ms']:6.2f} ms  p95 {latency[k]['p95_ms']:6.2f} ms")
    print(f"  ratio after/before: sign-up throughput {rate['after'] / rate['before']:.2f}x, "
          f"confirmation p95 {latency['after']['p95_ms'] / latency['before']['p95_ms']:.2f}x")


if __name__ == "__main__":
    main()
