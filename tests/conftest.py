"""Shared fixtures: the demo consultation and stores (in memory and on disk)."""
import os
import sys
from pathlib import Path

import pytest

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


def pytest_collection_modifyitems(config, items):
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
