"""The results stream (GET /api/v1/consultations/{id}/results/stream, server/results_stream.py):
the app from its factory served by uvicorn in this process (a test client buffers a whole body,
and a stream never ends), read with `requests` as the projector reads it. An ingest makes an
event, a moderation and a display control too; Last-Event-ID sends only what changed; the caps
on open streams; an unknown consultation; every stream ends when the server stops."""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import replace

import pytest
import requests
import uvicorn

from server.api import create_app
from server.hub import Hub

CID = "alpimed-2030"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """create_app(hub=…) served by uvicorn in a thread of this process, on 127.0.0.1."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.app = create_app(hub=hub)
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error",
                                timeout_graceful_shutdown=5, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)

    def stop(self) -> float:
        """Stop as a signal would (streams closed, then uvicorn's exit); seconds it took."""
        started = time.monotonic()
        self.app.state.streams.close_all()
        self.server.should_exit = True
        self.thread.join(10)
        return time.monotonic() - started


@pytest.fixture
def served(hub):
    hub.settings = replace(hub.settings, stream_heartbeat=1, stream_max=6,
                           stream_max_per_address=3)
    s = Served(hub)
    yield s
    if s.thread.is_alive():
        s.stop()


class Reader:
    """An open stream read event by event (comments kept as events named ':')."""

    def __init__(self, url: str, headers: dict | None = None, timeout: float = 5.0):
        self.response = requests.get(f"{url}/api/v1/consultations/{CID}/results/stream",
                                     headers=headers or {}, stream=True, timeout=(2, timeout))
        self.lines = self.response.iter_lines(chunk_size=1, decode_unicode=True)

    def next(self) -> dict:
        event: dict = {}
        for line in self.lines:
            if line == "":
                if event:
                    return event
                continue
            if line.startswith(":"):
                return {"event": ":", "comment": line[1:].strip()}
            key, _, value = line.partition(":")
            event[key] = value[1:] if value.startswith(" ") else value
        raise EOFError("the stream ended")

    def next_event(self, kind: str | None = None) -> dict:
        while True:
            event = self.next()
            if event.get("event") not in (":", None) and (kind is None or
                                                          event["event"] == kind):
                return event

    def close(self):
        self.response.close()


def test_stream_sends_state_then_every_ingest(served, tablet, push):
    reader = Reader(served.url)
    assert reader.response.status_code == 200
    assert reader.response.headers["content-type"].startswith("text/event-stream")
    assert reader.next() == {"retry": "2000"}
    first = reader.next_event("results")
    body = json.loads(first["data"])
    assert body["consultation_id"] == CID and body["protocol"] == 1
    etag = requests.get(f"{served.url}/api/v1/consultations/{CID}/results").headers["ETag"]
    assert first["id"].split("~")[0] == etag.strip('"')
    display = reader.next_event("display")
    assert json.loads(display["data"])["revision"] == 0

    store, device = tablet(served.hub)
    demo = served.hub.consultation(CID)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    store.close_ballot(ballot)
    push(served.hub, store, device)
    changed = reader.next_event("results")
    after = json.loads(changed["data"])
    assert after["revision"] > body["revision"]
    assert after["questions"]["q-ticket"]["counts"]["yes"] == \
        body["questions"]["q-ticket"]["counts"]["yes"] + 1
    assert changed["id"] != first["id"]

    # A moderation the projector shows (approved ideas) is an event too.
    idea = store.submit_proposal(demo, title="Un banc", text="à l'ombre")
    push(served.hub, store, device)
    received = json.loads(reader.next_event("results")["data"])
    store.moderate_proposal(idea.id, "approved")
    push(served.hub, store, device)
    approved = json.loads(reader.next_event("results")["data"])
    assert approved["ideas"]["approved"] == received["ideas"]["approved"] + 1
    reader.close()
    store.close()


def test_display_control_is_an_event(served):
    from server import display_controls
    reader = Reader(served.url)
    reader.next_event("display")
    display_controls.set_display(served.hub, CID, {"hidden": True}, "staff")
    event = reader.next_event()
    assert event["event"] == "display"
    body = json.loads(event["data"])
    assert body["control"]["hidden"] is True and body["revision"] == 1
    assert event["id"].endswith("~1")
    reader.close()


def test_heartbeat_while_nothing_changes(served):
    reader = Reader(served.url, timeout=3)
    reader.next_event("display")
    seen = [reader.next(), reader.next()]
    assert seen == [{"event": ":", "comment": "heartbeat"}] * 2
    reader.close()


def test_last_event_id_resends_only_what_changed(served, tablet, push):
    reader = Reader(served.url)
    ident = reader.next_event("results")["id"]
    reader.next_event("display")
    reader.close()

    # Nothing changed: the stream says it is live (a comment) and sends no event.
    again = Reader(served.url, {"Last-Event-ID": ident})
    assert again.next() == {"retry": "2000"}
    assert again.next() == {"event": ":", "comment": "ok"}
    again.close()

    store, device = tablet(served.hub)
    demo = served.hub.consultation(CID)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "no")
    store.close_ballot(ballot)
    push(served.hub, store, device)    # while no stream is open

    later = Reader(served.url, {"Last-Event-ID": ident})
    assert later.next() == {"retry": "2000"}
    event = later.next()
    assert event["event"] == "results" and event["id"] != ident   # the results only
    assert later.next() == {"event": ":", "comment": "heartbeat"}
    later.close()
    store.close()


def test_streams_are_capped_per_address(served):
    readers = [Reader(served.url) for _ in range(3)]
    for reader in readers:
        reader.next_event("results")
    refused = requests.get(f"{served.url}/api/v1/consultations/{CID}/results/stream",
                           stream=True, timeout=5)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_streams"
    assert refused.headers["Retry-After"]
    readers[0].close()
    deadline = time.monotonic() + 5     # the hub counts the closed stream out at its next write
    while served.app.state.streams.count >= 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served.app.state.streams.count < 3
    readers.append(Reader(served.url))
    assert readers[-1].response.status_code == 200
    for reader in readers[1:]:
        reader.close()


def test_unknown_consultation_is_404(served):
    answer = requests.get(f"{served.url}/api/v1/consultations/nope/results/stream", timeout=5)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "consultation_unknown"
    assert served.app.state.streams.count == 0


def test_streams_end_when_the_server_stops(served):
    readers = [Reader(served.url) for _ in range(3)]
    for reader in readers:
        reader.next_event("display")
    took = served.stop()
    assert not served.thread.is_alive()
    for reader in readers:
        with pytest.raises((EOFError, requests.exceptions.RequestException)):
            while True:
                reader.next()
    print(f"stop with 3 open streams: {took:.2f} s (graceful timeout 5 s)")


def test_the_client_reads_events_split_anywhere(served):
    """The projector's parser (sync.results_source.sse_events) on the hub's own bytes, cut in
    every place a network may cut them."""
    from sync.results_source import sse_events
    response = requests.get(f"{served.url}/api/v1/consultations/{CID}/results/stream",
                            stream=True, timeout=(2, 5))
    raw = b""
    for chunk in response.iter_content(chunk_size=None):
        raw += chunk
        if raw.count(b"\n\n") >= 4:     # retry, results, display, a heartbeat
            break
    response.close()
    whole = list(sse_events([raw]))
    kinds = [kind for kind, _id, _data in whole]
    assert kinds[:3] == ["retry", "results", "display"] and "" in kinds[3:]
    assert json.loads(whole[1][2])["consultation_id"] == CID
    for size in (1, 7, 64):
        pieces = [raw[i:i + size] for i in range(0, len(raw), size)]
        assert list(sse_events(pieces)) == whole
    assert list(sse_events([raw.replace(b"\n", b"\r\n")])) == whole
