"""main.py's options: the role defaults to the kiosk (Android starts it with no arguments),
pulled bundles take over from the demo, and a broken bundle stops with a clear message. And
the screens it wires import one another without a circle."""
import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import main
from app.paths import DEMO_BUNDLE_DIR

ROOT = Path(__file__).resolve().parents[2]


def test_role_defaults_to_kiosk():
    args = main.parse_args([])
    assert args.role == "kiosk" and args.lang == "fr" and not args.demo
    assert main.parse_args(["projector", "--hub", "http://127.0.0.1:8765"]).hub == \
        "http://127.0.0.1:8765"


def test_android_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ANDROID_PRIVATE", str(tmp_path))
    assert main.default_data_dir() == tmp_path / "piazzetta"


def test_pulled_bundle_is_preferred_to_the_demo(tmp_path):
    assert main.choose_bundle(tmp_path) == DEMO_BUNDLE_DIR
    pulled = tmp_path / "bundles" / "alpimed-2030"
    shutil.copytree(DEMO_BUNDLE_DIR, pulled)
    assert main.choose_bundle(tmp_path) == pulled


@pytest.mark.process        # main.py as a process
def test_broken_bundle_is_refused_with_file_and_field(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(DEMO_BUNDLE_DIR, broken)
    data = json.loads((broken / "bundle.json").read_text(encoding="utf-8"))
    data["consultation"]["questions"][0]["kind"] = "lottery"
    (broken / "bundle.json").write_text(json.dumps(data), encoding="utf-8")
    result = subprocess.run([sys.executable, "main.py", "kiosk", "--bundle", str(broken),
                             "--data-dir", str(tmp_path / "data")], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "consultation.questions[0].kind" in result.stderr and "lottery" in result.stderr
    assert "kivy" not in result.stderr.lower()   # refused before any window is opened


def screens_imports():
    """{module: the screens modules it imports, at the top or inside a function}."""
    graph = {}
    for path in sorted((ROOT / "screens").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        module = ".".join(parts)
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[module] = found
    return {m: {i for i in found if i in graph and i != m} for m, found in graph.items()}


def test_screens_import_one_another_without_a_circle():
    graph = screens_imports()
    assert "screens.question" in graph and "screens.facilitator.screen" in graph
    visiting, done, circles = [], set(), []

    def visit(module):
        if module in visiting:
            circles.append(visiting[visiting.index(module):] + [module])
            return
        if module in done:
            return
        visiting.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert circles == []
