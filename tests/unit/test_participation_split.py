"""The register of people and the participation cards share nothing (DESIGN.md, invariant 9):
server/register.py (with server/mailer.py) and server/issued_cards.py do not import each other,
not even through another module of the hub; server/participation.py is the one place that
imports both."""
from tests.unit.test_imports import import_graph

PEOPLE = {"server.register", "server.mailer"}
CARDS = {"server.issued_cards"}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_register_and_the_cards_do_not_import_each_other():
    graph = import_graph()
    assert PEOPLE | CARDS <= set(graph)
    for module in PEOPLE:
        assert not reachable(graph, module) & CARDS, module
    for module in CARDS:
        assert not reachable(graph, module) & PEOPLE, module


def test_participation_is_the_one_place_that_imports_both():
    graph = import_graph()
    both = [name for name, imports in graph.items()
            if imports & PEOPLE and imports & CARDS]
    assert both == ["server.participation"]


def test_the_reachability_walk_follows_imports():
    assert reachable({"a": {"b"}, "b": {"c"}, "c": set()}, "a") == {"b", "c"}
