"""The kiosk's screens are declared once (screens/kiosk.py, SCREENS): every name the kiosk is
sent to has an entry, and every entry builds a screen of that name from a module that exists.
Read from the source, so no window is needed."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KIOSK = ROOT / "screens" / "kiosk.py"


def registry() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(KIOSK.read_text(encoding="utf-8"))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["SCREENS"]:
            return {key.value: functions[value.id]
                    for key, value in zip(node.value.keys, node.value.values)}
    raise AssertionError("screens/kiosk.py declares no SCREENS registry")


def names_navigated_to() -> set[str]:
    """Every literal name passed to a kiosk's go() or _build(), in the app and its tests."""
    files = [ROOT / "main.py", *(ROOT / "screens").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    found = set()
    for file in files:
        text = file.read_text(encoding="utf-8")
        found |= set(re.findall(r"""\b(?:go|_build)\(\s*["']([a-z_]+)["']""", text))
    return found


def test_every_screen_the_kiosk_goes_to_is_declared():
    names = names_navigated_to()
    assert {"question", "thanks", "pin", "facilitator"} <= names   # the scan finds them
    assert names - {"welcome"} <= set(registry())


def test_each_entry_builds_its_own_screen_from_a_module_that_exists():
    for name, factory in registry().items():
        calls = [node for node in ast.walk(factory) if isinstance(node, ast.Call)
                 and any(k.arg == "name" for k in node.keywords)]
        assert len(calls) == 1, name
        given = next(k.value.value for k in calls[0].keywords if k.arg == "name")
        assert given == name
        modules = [node.module for node in ast.walk(factory)
                   if isinstance(node, ast.ImportFrom) and node.module.startswith("screens.")]
        assert modules, name
        for module in modules:
            path = ROOT / module.replace(".", "/")
            assert path.with_suffix(".py").exists() or (path / "__init__.py").exists(), module



def test_the_kiosk_builds_screens_through_the_registry_only():
    tree = ast.parse(KIOSK.read_text(encoding="utf-8"))
    build = next(node for node in ast.walk(tree)
                 if isinstance(node, ast.FunctionDef) and node.name == "_build")
    names = [node for node in ast.walk(build) if isinstance(node, ast.Compare)
             and any(isinstance(c, ast.Constant) and isinstance(c.value, str)
                     for c in node.comparators)]
    assert names == []      # no `if name == "…"` chain beside the registry
