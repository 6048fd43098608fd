"""The hub's ingest registry (server/ingest.py): every event type of the protocol has exactly one
handler, an extension point cannot be claimed twice, and an extension's state and hooks belong
to one batch."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from server.ingest import Batch, IngestExtension, IngestRegistry, RegistryError

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def protocol_event_types() -> list[str]:
    """The types of the event table in docs/protocol.md ("Events")."""
    text = PROTOCOL.read_text(encoding="utf-8")
    table = text[text.index("| type | payload |"):]
    table = table[:table.index("\n\n")]
    return re.findall(r"^\| `([a-z_]+)` \|", table, re.M)


def test_every_event_type_of_the_protocol_has_exactly_one_handler(hub):
    documented = protocol_event_types()
    assert len(documented) == len(set(documented)) >= 8
    registry = hub.ingest_registry
    assert sorted(registry.event_types) == sorted(documented)
    for event_type in documented:
        claimed = [e.name for e in registry.extensions if event_type in e.handlers]
        assert len(claimed) == 1, (event_type, claimed)
        assert registry.handler(event_type).extension == claimed[0]
    assert registry.handler("Signup") is None and registry.handler(None) is None


def test_an_extension_cannot_handle_a_type_twice():
    extension = IngestExtension("twice", dict)
    extension.handles("ping", lambda batch, state, event: None)
    with pytest.raises(RegistryError):
        extension.handles("ping", lambda batch, state, event: None)


def test_a_type_already_handled_or_an_extension_registered_again_is_refused(hub):
    registry = IngestRegistry()
    first = IngestExtension("first", dict)
    first.handles("ping", lambda batch, state, event: None)
    registry.register(first)
    second = IngestExtension("second", dict)
    second.handles("pong", lambda batch, state, event: None)
    second.handles("ping", lambda batch, state, event: None)
    with pytest.raises(RegistryError):
        registry.register(second)
    with pytest.raises(RegistryError):
        registry.register(first)
    assert registry.event_types == ("ping",) and registry.extensions == (first,)
    # The hub's own extensions are held to the same rule.
    for extension in hub.ingest_registry.extensions:
        with pytest.raises(RegistryError):
            hub.ingest_registry.register(extension)


@dataclass
class Pings:
    seen: list[str] = field(default_factory=list)
    written: list[list[str]] = field(default_factory=list)


def test_each_batch_gets_a_fresh_state_and_its_write_hook_runs_once(hub, tablet):
    states = []

    def new_state() -> Pings:
        states.append(Pings())
        return states[-1]

    def apply(batch: Batch, state: Pings, event) -> None:
        state.seen.append(batch.ident(event.payload, "ping_id"))

    extension = IngestExtension("pings", new_state,
                                write=lambda batch, state: state.written.append(list(state.seen)))
    extension.handles("ping", apply)
    registry = IngestRegistry([extension])
    _store, device = tablet(hub)

    def run(envelopes):
        with hub.unit_of_work() as uow:
            return Batch(registry, uow.conn, device, hub.consultation).run(envelopes)

    def ping(n: int, ping_id: str = "p", type_: str = "ping") -> dict:
        return {"id": f"e{n}", "device_id": device["id"], "seq": n, "type": type_,
                "recorded_at": "2030-01-01T00:00:00", "payload": {"ping_id": ping_id}}

    results = run([ping(1, "a"), ping(2, "b b"), ping(3, "c", "answer")])
    assert [r["status"] for r in results] == ["stored", "rejected", "rejected"]
    assert results[1]["field"] == "payload.ping_id" and results[2]["field"] == "type"
    assert run([ping(1, "a"), ping(4, "d")])[0]["status"] == "duplicate"
    assert [(s.seen, s.written) for s in states] == [(["a"], [["a"]]), (["d"], [["d"]])]
