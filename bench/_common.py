"""Small helpers shared by the benchmarks: percentiles and a uniform report."""
import os
import statistics
import sys
from pathlib import Path

# The hubs the benchmarks start measure throughput, not the hub's rate limits (enrollment,
# sign-ups, public pages: tests/integration/test_hardening.py checks those): lifted here, for
# hub processes started from a benchmark only.
for _variable in ("RATE_ENROLL", "RATE_ENROLL_DEVICE", "RATE_SIGNUP", "RATE_SIGNUP_DEVICE",
                  "RATE_PUBLIC", "RATE_LOGIN"):
    os.environ.setdefault(f"PIAZZETTA_HUB_{_variable}", "1000000/minute")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def percentile(values, p):
    """The p-th percentile (0..100) by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(values):
    return {"p50_ms": percentile(values, 50) * 1e3, "p95_ms": percentile(values, 95) * 1e3,
            "p99_ms": percentile(values, 99) * 1e3, "mean_ms": statistics.fmean(values) * 1e3}
