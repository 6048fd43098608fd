"""Shared fixtures: the demo consultation and stores (in memory and on disk)."""
import gc
import os
import sys
from pathlib import Path

import pytest

try:
    import resource
except ImportError:          # Windows: no peak RSS in --cpu-files
    resource = None

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("KIVY_NO_ARGS", "1")

from app.bundle import load_bundle  # noqa: E402
from app.paths import DEMO_BUNDLE_DIR  # noqa: E402
from app.store import Store  # noqa: E402


@pytest.fixture(scope="session")
def demo():
    """The demo consultation, loaded and validated from assets/demo."""
    return load_bundle(DEMO_BUNDLE_DIR)


@pytest.fixture
def store():
    s = Store.memory()
    yield s
    s.close()


@pytest.fixture
def disk_store(tmp_path):
    s = Store.open(tmp_path)
    yield s
    s.close()


# -- tiers and parallel runs -------------------------------------------------------------------
# Markers (declared in pytest.ini): `ui` for every test under tests/ui (a Kivy window: needs a
# display), `process` for every test under tests/integration (real hub processes over TCP, room
# kits, browsers) and for unit tests that start processes themselves; `slow` for soak, kill and
# load tests. `make check` is the fast tier: tests/unit less `process` and `slow`.
#
# Under pytest-xdist (`make test`: -n N --dist loadgroup --no-loadscope-reorder; the window
# tests run beside it in a process of their own) every test file is one group, so its
# module-scoped hubs start once on one worker; the tests on the shared PostgreSQL cluster share
# one group (a WAL reading test sees the whole cluster's records), and so would the window tests
# (one worker, in order, as in one process). The longest groups are sent first.
_DIRECTORY_MARKS = {"ui": "ui", "integration": "process"}
_FIRST = ("ui", "postgres", "process")          # group order under xdist: the long ones first


def _group(item) -> str:
    if item.get_closest_marker("ui"):
        return "ui"
    if item.get_closest_marker("postgres"):
        return "postgres"
    return item.nodeid.split("::", 1)[0]


# -- window tests in shares -------------------------------------------------------------------
# `make test` runs the window tests in two processes (each on a display of its own) beside the
# other tests: `--shard K/N` keeps the K-th of N shares of the test files, balanced by each
# file's cost: its CPU seconds as `pytest --cpu-files` printed them for both shares run side by
# side (7 Dec 2026, 05:17, after the collector was moved between tests and the facilitator's
# pages were built when first shown; two other engineers' tests running meanwhile), plus half of
# what its tests wait on the wall clock beyond their CPU (speech played in real time, the
# kiosk's own fades, hub processes): a share runs at about half a core beside the others, so a
# second of waiting costs what half a second of CPU does. By CPU alone the share with the
# read-aloud tests ended 100 s after the other. A file not listed counts 3 s a test: add a new
# file here once its figure is known.
# Every file lands in exactly one share. The leak check and the hit walk each run first in a
# process of their own (as alone: after other window tests they had once found a kiosk still
# held and a control missed), the leak check before the hit walk when there is one share.
SHARD_SECONDS = {
    # CPU seconds, and (+) half the seconds waited beyond it
    "test_inclusion.py": 26 + 31, "test_projector.py": 30, "test_screenshots.py": 28,
    "test_place.py": 21, "test_layout.py": 21, "test_hits.py": 20, "test_followup_flow.py": 19,
    "test_city_map.py": 15, "test_sync_refusal_words.py": 13, "test_taps.py": 13,
    "test_idea_place.py": 10, "test_live_push.py": 9 + 3, "test_tablet_channels.py": 9,
    "test_rehearsal.py": 9, "test_session_life.py": 8, "test_signup_e2e.py": 8 + 2,
    "test_qr_scanner.py": 8 + 4, "test_sync_certificate.py": 7 + 4, "test_soak.py": 7 + 8,
    "test_facilitator.py": 7, "test_place_figures.py": 7, "test_resident.py": 7,
    "test_preview.py": 6, "test_facilitator_ux.py": 6, "test_projector_plain_http.py": 5,
    "test_live_pictures.py": 5 + 3, "test_projector_closing.py": 5, "test_projector_type.py": 5,
    "test_projector_signup.py": 4, "test_projector_hub.py": 3 + 2, "test_projector_phones.py": 3,
    "test_pictures.py": 2, "test_memory.py": 2, "test_kiosk_words.py": 2, "test_messages.py": 1,
    "test_idea_pill.py": 1, "test_consultation_choice.py": 1, "test_closed_consultation.py": 1,
}
SHARD_FIRST = ("test_memory.py", "test_hits.py")


def pytest_addoption(parser):
    parser.addoption("--shard", default=None, metavar="K/N",
                     help="run the K-th of N shares of the test files (balanced by time)")
    parser.addoption("--cpu-files", action="store_true",
                     help="print each test file's CPU seconds at the end (its process's and "
                          "threads', and its child processes' once waited for), and how much "
                          "it raised its pytest process's peak RSS")


# -- CPU seconds per test file (`--cpu-files`) --------------------------------------------------
# On a machine shared with other work a test's wall time says more of the load than of the test:
# its CPU seconds, from setup to teardown, are what balancing the shares and cutting costs need
# (under xdist each worker measures its own tests and the figures reach the main process with
# the reports).
# The peak RSS (the largest the pytest process has been) is kept beside it: a file that raises it
# is one that makes the run's memory figure, whether or not it gives the memory back.
_CPU_FILES: dict[str, float] = {}
_PEAK_FILES: dict[str, float] = {}


def _peak_mib() -> float:
    if resource is None:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss      # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _cpu_now() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._cpu_start = _cpu_now()
    item._peak_start = _peak_mib()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "teardown" and hasattr(item, "_cpu_start"):
        outcome.get_result().user_properties.append(("cpu", _cpu_now() - item._cpu_start))
        outcome.get_result().user_properties.append(("peak", _peak_mib() - item._peak_start))


def pytest_runtest_logreport(report):
    if report.when == "teardown":
        for key, value in report.user_properties:
            if key == "cpu":
                path = report.nodeid.split("::", 1)[0]
                _CPU_FILES[path] = _CPU_FILES.get(path, 0.0) + value
            elif key == "peak":
                path = report.nodeid.split("::", 1)[0]
                _PEAK_FILES[path] = _PEAK_FILES.get(path, 0.0) + value


def pytest_terminal_summary(terminalreporter, config):
    if not config.getoption("cpu_files") or not _CPU_FILES:
        return
    terminalreporter.section("CPU seconds per test file")
    for path, seconds in sorted(_CPU_FILES.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f}  {path}")
    terminalreporter.write_line(f"{sum(_CPU_FILES.values()):8.1f}  in all")
    raised = sorted(((m, p) for p, m in _PEAK_FILES.items() if m >= 10), reverse=True)
    if raised:
        terminalreporter.section("MiB each test file raised its pytest process's peak RSS by")
        for mib, path in raised:
            terminalreporter.write_line(f"{mib:8.0f}  {path}")


def _shard(config, items):
    spec = config.getoption("shard")
    if not spec:
        return items
    k, n = (int(x) for x in spec.split("/"))
    if not 1 <= k <= n:
        raise pytest.UsageError(f"--shard {spec}: K must be between 1 and N")
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def seconds(path):
        return SHARD_SECONDS.get(path.rsplit("/", 1)[-1], 3 * len(files[path]))
    loads = [0.0] * n
    share = {}
    alone = [p for name in SHARD_FIRST for p in files if p.rsplit("/", 1)[-1] == name]
    for index, path in enumerate(alone):          # each in a process of its own if there are
        share[path] = index % n                   # enough
        loads[index % n] += seconds(path)
    for path in sorted(set(files) - set(alone), key=lambda p: (-seconds(p), p)):  # longest first
        least = loads.index(min(loads))
        share[path] = least
        loads[least] += seconds(path)
    kept = [item for item in items if share[item.nodeid.split("::", 1)[0]] == k - 1]
    dropped = [item for item in items if share[item.nodeid.split("::", 1)[0]] != k - 1]
    if dropped:
        config.hook.pytest_deselected(items=dropped)

    def first(item):
        name = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        return SHARD_FIRST.index(name) if name in SHARD_FIRST else len(SHARD_FIRST)
    return sorted(kept, key=first)                # stable: each file keeps its order


def pytest_collection_modifyitems(config, items):
    items[:] = _shard(config, items)
    for item in items:
        path = Path(str(item.fspath))
        parts = path.relative_to(ROOT).parts if path.is_relative_to(ROOT) else ()
        if len(parts) > 2 and parts[0] == "tests" and parts[1] in _DIRECTORY_MARKS:
            item.add_marker(_DIRECTORY_MARKS[parts[1]])
    if getattr(config.option, "dist", "no") == "no":
        return
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))

    def rank(item):
        group = _group(item)
        if group in _FIRST:
            return _FIRST.index(group)
        return len(_FIRST) + (0 if item.get_closest_marker("slow") else 1)
    items.sort(key=rank)              # stable: each group keeps its order


def pytest_collection_finish(session):
    """What is alive once the tests are collected (the modules, the kv rules, the window) lives
    to the end: kept out of every later collection's walk (gc.freeze). Measured: the fast tier
    75.3 → 72.4 s of CPU, three window-test files 37.6 → 35.9 s."""
    gc.collect()
    gc.freeze()

