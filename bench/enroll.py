"""Enrollment against a hub on loopback: the tablet's own credential (sync.enroll.enroll), the
same request again (a lost answer retried), a move to another site proven by the credential,
against two baselines measured in the same run: the cheapest round trip (`GET /api/v1`) and
the enrollment of before (the hub makes the secret: a POST without `credential`).

    python bench/enroll.py [--quick] [--tablets N]

Prints p50/p95 per kind, HTTP requests per enrollment, and the ratios to the baselines.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import summary_ms  # noqa: E402  (puts the repository on sys.path)

from app.store import Store  # noqa: E402
from sync.client import HubClient  # noqa: E402
from sync.enroll import enroll  # noqa: E402
from tests.integration.conftest import start_hub  # noqa: E402


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds: CI smoke run")
    parser.add_argument("--tablets", type=int, default=None)
    args = parser.parse_args()
    n = args.tablets or (30 if args.quick else 300)
    import requests
    with tempfile.TemporaryDirectory() as tmp:
        hub = start_hub(Path(tmp) / "hub")
        try:
            session = requests.Session()
            admin = {"Authorization": f"Bearer {hub.admin_token}"}

            def codes(count, site="menton-mediatheque"):
                return [session.post(hub.url + "/api/v1/admin/enrollment-codes", headers=admin,
                                     json={"site_id": site, "minutes": 60}).json()["code"]
                        for _ in range(count)]

            round_trip = [timed(lambda: session.get(hub.url + "/api/v1").raise_for_status())
                          for _ in range(n)]
            legacy = []
            for code in codes(n):
                # As sync.enroll did it before: a client of its own, one POST, no credential.
                body = {"code": code, "device_id": uuid.uuid4().hex}

                def old_enroll():
                    client = HubClient(hub.url)
                    try:
                        client._checked(client._request("POST", "/api/v1/devices/enroll",
                                                        json=body))
                    finally:
                        client.close()
                legacy.append(timed(old_enroll))
            stores = [Store.memory() for _ in range(n)]
            first_codes = codes(n)
            own = [timed(lambda: enroll(s, hub.url, c)) for s, c in zip(stores, first_codes)]
            again = [timed(lambda: enroll(s, hub.url, c)) for s, c in zip(stores, first_codes)]
            moved = [timed(lambda: enroll(s, hub.url, c))
                     for s, c in zip(stores, codes(n, "ventimiglia-biblioteca"))]
        finally:
            hub.stop()
    base = summary_ms(round_trip)["p50_ms"]
    old = summary_ms(legacy)["p50_ms"]
    for name, values in (("baseline GET /api/v1", round_trip),
                         ("baseline enrollment of before (hub-made secret)", legacy),
                         ("enrollment with the tablet's own credential", own),
                         ("the same request again (lost answer)", again),
                         ("another site, proven by the credential", moved)):
        s = summary_ms(values)
        print(f"enroll: {name}: {len(values)} x, p50 {s['p50_ms']:.1f} ms, "
              f"p95 {s['p95_ms']:.1f} ms; p50 ratio to a round trip {s['p50_ms'] / base:.2f}, "
              f"to the enrollment of before {s['p50_ms'] / old:.2f}")
    print("enroll: HTTP requests per enrollment: 1 (2 only when a lost answer is followed by "
          "another code: the tablet then proves its credential)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
