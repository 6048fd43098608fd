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

`--database postgresql+psycopg://…` (a throw-away database: tables are made there) measures
PostgreSQL: the same `register` and `confirm`, **before** with the stage off (the path of before
it: `signups` inserted and updated at once), **after** with it (both write the UNLOGGED stage,
server/stage.py); the hourly flush of the after side's rows is timed too.
"""
import argparse
import logging
import secrets
import tempfile
import time
from pathlib import Path

from _common import summary_ms

from app.clock import now_iso, to_hour
from app.paths import DEMO_BUNDLE_DIR
from app.signup import SignupConfig, validate_signup

CONSULTATION = "alpimed-2030"
CLAIMS = {"consultation": CONSULTATION, "site": "menton-mediatheque", "meeting": None,
          "device": None}


def old_register(hub, form: dict) -> str:
    parts = hub.participation
    key = secrets.token_urlsafe(18)
    draft = validate_signup(SignupConfig(), form)
    row = parts.signups._row(key, draft, CONSULTATION, CLAIMS["site"], None, None, "phone", "fr")
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
        parts.cards._issue(conn, row.consultation_id, 1)
        conn.execute(db.signups.update().where(db.signups.c.id == key).values(
            card_issued=True, confirmed_at=to_hour(now_iso())))


def pg_register(hub, form: dict) -> str:
    """PostgreSQL before the stage: Participation.register with the stage off."""
    hub.stage.active = False
    try:
        return hub.participation.register(form, submission_key=secrets.token_urlsafe(18),
                                          claims=CLAIMS, lang="fr")[0]["id"]
    finally:
        hub.stage.active = True


def pg_confirm(hub, key: str) -> None:
    """PostgreSQL before the stage: Participation.confirm with the stage off."""
    parts = hub.participation
    hub.stage.active = False
    try:
        assert parts.confirm(parts.confirmation_link(key).split("t=", 1)[1]).status == "issued"
    finally:
        hub.stage.active = True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="a few people (CI smoke)")
    parser.add_argument("--database", default=None,
                        help="a throw-away PostgreSQL database URL (default: SQLite)")
    args = parser.parse_args()
    people = 20 if args.quick else args.people
    logging.getLogger("piazzetta").setLevel(logging.ERROR)
    from server.hub import Hub
    from server.settings import Settings
    with tempfile.TemporaryDirectory() as folder:
        extra = {"database_url": args.database} if args.database else {}
        hub = Hub(Settings.from_env({}, data_dir=str(Path(folder)), secret_key="bench",
                                    public_url="https://hub.example", card_pool=args.pool,
                                    **extra))
        register_before = pg_register if hub.stage.active else old_register
        confirm_before = pg_confirm if hub.stage.active else old_confirm
        flush_ms = None
        try:
            hub.import_bundle(DEMO_BUNDLE_DIR)
            parts = hub.participation
            signup = {"before": [], "after": []}
            keys = {"before": [], "after": []}
            for i in range(people):
                form = {"name": f"P{i}", "contact": f"p{i}@example.org", "consent": "1"}
                started = time.perf_counter()
                keys["before"].append(register_before(hub, dict(form,
                                                             contact=f"o{i}@example.org")))
                signup["before"].append(time.perf_counter() - started)
                started = time.perf_counter()
                row, _created, _mail = parts.register(
                    form, submission_key=secrets.token_urlsafe(18), claims=CLAIMS, lang="fr")
                signup["after"].append(time.perf_counter() - started)
                keys["after"].append(row["id"])
            confirm = {"before": [], "after": []}
            for old, new in zip(keys["before"], keys["after"]):
                started = time.perf_counter()
                confirm_before(hub, old)
                confirm["before"].append(time.perf_counter() - started)
                token = parts.confirmation_link(new).split("t=", 1)[1]
                started = time.perf_counter()
                done = parts.confirm(token)
                confirm["after"].append(time.perf_counter() - started)
                assert done.status == "issued", done.status
            if hub.stage.active:
                started = time.perf_counter()
                hub.stage.flush()
                flush_ms = (time.perf_counter() - started) * 1000
        finally:
            hub.close()
    rate = {k: len(v) / sum(v) for k, v in signup.items()}
    latency = {k: summary_ms(v) for k, v in confirm.items()}
    kind = "PostgreSQL" if args.database else "SQLite"
    print(f"{people} sign-ups and confirmations each way, {kind}, pool of {args.pool}")
    for k in ("before", "after"):
        print(f"  {k:6}: sign-ups {rate[k]:7.1f}/s   confirmation p50 "
              f"{latency[k]['p50_ms']:6.2f} ms  p95 {latency[k]['p95_ms']:6.2f} ms")
    print(f"  ratio after/before: sign-up throughput {rate['after'] / rate['before']:.2f}x, "
          f"confirmation p95 {latency['after']['p95_ms'] / latency['before']['p95_ms']:.2f}x")
    if flush_ms is not None:
        print(f"  the hour's flush of {people} staged sign-ups: {flush_ms:.1f} ms")


if __name__ == "__main__":
    main()
