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
