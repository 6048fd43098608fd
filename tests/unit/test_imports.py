"""The project's packages import each other in layers, without circles: app/ needs nothing of
the others, sync/ needs app/, server/ needs app/ and sync/, screens/ needs app/ only (never
server/, and sync only through the services main.py and the App hand it: SyncService, the
projector's results). Imports inside functions count too (a lazy import is still a dependency);
typing-only imports under `if TYPE_CHECKING:` do not."""
import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "sync", "server", "screens")
MAY_IMPORT = {"app": {"app"}, "sync": {"app", "sync"}, "server": {"app", "sync", "server"},
              "screens": {"app", "screens"}, "main": {"app", "sync", "screens"}}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
             if "__pycache__" not in p.parts}
    found["main"] = ROOT / "main.py"
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return skipped


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets.add(module)
            targets |= {f"{module}.{alias.name}" for alias in node.names}
    found = set()
    for target in targets:
        # the longest project module the import names (a package, a module, or a module's name)
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


@functools.cache
def _read_graph() -> dict[str, frozenset[str]]:
    modules = project_modules()
    return {name: frozenset(imports_of(name, path, modules)) for name, path in modules.items()}


def import_graph() -> dict[str, set[str]]:
    """Every project module and what it imports, read once per test run (a copy each call)."""
    return {name: set(targets) for name, targets in _read_graph().items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_project():
    graph = import_graph()
    assert {"app.store", "sync.worker", "server.hub", "screens.kiosk", "main"} <= set(graph)
    assert "app.store" in graph["app.kiosk"]
    assert "app.errors" in graph["app.store"]


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_circle_of_imports():
    assert circles(import_graph()) == []


def test_screens_reach_sync_only_through_the_app_services():
    graph = import_graph()
    assert {"screens.projector.app", "screens.facilitator.sync",
            "screens.facilitator.projector"} <= set(graph)
    assert "sync.display" in graph["main"]          # main.py hands the projector its results
    assert [f"{name} -> {target}" for name, targets in graph.items()
            if name.split(".")[0] == "screens"
            for target in targets if target.split(".")[0] == "sync"] == []


def test_packages_import_only_the_layers_below():
    offenders = []
    for name, targets in import_graph().items():
        layer = name.split(".")[0]
        for target in targets:
            if target.split(".")[0] not in MAY_IMPORT[layer]:
                offenders.append(f"{name} -> {target}")
    assert offenders == []
