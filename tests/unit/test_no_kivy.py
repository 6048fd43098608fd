"""The domain never knows about the window: importing app/, sync/ and server/ loads no Kivy."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.process        # a Python process of its own
def test_domain_packages_import_no_kivy():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for package in ("app", "sync", "server")
        for p in (ROOT / package).rglob("*.py")
        if p.name != "__main__.py")
    code = ("import importlib, sys\n"
            f"for m in {modules!r}:\n"
            "    importlib.import_module(m.removesuffix('.__init__'))\n"
            "assert 'kivy' not in sys.modules, [m for m in sys.modules if m.startswith('kivy')]\n"
            "print(len(" + repr(modules) + "))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10
