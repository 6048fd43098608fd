"""Where the projector gets its results: from a hub over HTTP, or from a local store.

Both sources have the same blocking `poll()`, called from a background thread (`ResultsPoller`);
it returns a `ResultsPoll` saying whether the hub (or store) answered and, when the results
changed, the new `ResultsSnapshot`. The projector keeps showing the last snapshot while a source
is unreachable. Pure Python: never imports Kivy; the screen hands polls to the UI thread itself.

Nothing personal crosses this module: ideas keep only their short code, title, text and theme
(never a contact, a device or a site), and only approved ideas are read.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from app.display import contributions
from app.errors import N_
from app.model import LANGUAGES, Consultation

from . import protocol as p
from .client import HubClient

IDEA_FIELDS = ("short_code", "title", "text", "theme", "lang")
IDEAS_ON_WALL = 60  # the most recent approved ideas kept for the wall


@dataclass(frozen=True)
class ResultsSnapshot:
    """Everything the projector draws from, as plain data."""
    consultation_id: str
    questions: dict[str, dict]            # question ID → app.tally result
    ballots: int = 0
    ideas_received: int = 0
    ideas_approved: int = 0
    approved_ideas: tuple[dict, ...] = () # {"short_code", "title", "text", "theme", "lang"}
    revision: int | None = None
    channels: dict = field(default_factory=dict)   # channel → people (app.counts.participants)
    rehearsal: bool = False               # a rehearsal's tally (app/store/rehearsal.py), not results

    @property
    def contributions(self) -> int:
        """Ballots of every channel (tablets, paper, show of hands, online) plus ideas."""
        people = sum(self.channels.values()) if self.channels else self.ballots
        return contributions(people, self.ideas_received)


@dataclass(frozen=True)
class ResultsPoll:
    """One poll: `reachable` False means the source did not answer (keep the last results);
    `snapshot` is set only when something changed."""
    reachable: bool
    snapshot: ResultsSnapshot | None = None
    problem: str | None = None            # an English msgid, translated by the screen
    at: float = field(default_factory=time.monotonic)
    control: dict | None = None           # a DisplayControl relayed by the hub (sync/display.py)


class RefusedHubSource:
    """A hub the projector does not read at all (`refused_hub(hub_url)` said why): every poll
    says so, and no request is made."""

    def __init__(self, problem: str):
        self.problem = problem

    def poll(self) -> ResultsPoll:
        return ResultsPoll(False, problem=self.problem)

    def close(self) -> None:
        pass


# Short: the projector's corner is one line (why, in docs/protocol.md's threat model).
PLAIN_HTTP_RESULTS = N_("Results not shown: the server's address must be https://")


def refused_hub(hub_url: str) -> str | None:
    """Why the projector must not read results and display controls from `hub_url` (a msgid),
    None when it may: over plain http:// to another machine, anyone on the hall's Wi-Fi could
    answer for the hub and show forged results on the room's screen — the rule new versions
    already follow (https://, or this machine: `make run`, the tests' hub)."""
    from .client import require_tls, split_hub_address
    try:
        require_tls(split_hub_address(hub_url)[0])
    except p.SyncError:
        return PLAIN_HTTP_RESULTS
    return None


def public_idea(raw: Any) -> dict | None:
    """An approved idea reduced to what a room may see; None when it is not usable."""
    if not isinstance(raw, dict) or raw.get("status", "approved") != "approved":
        return None
    idea = {key: raw.get(key) for key in IDEA_FIELDS}
    if not isinstance(idea["title"], str) or not idea["title"].strip():
        return None
    idea["text"] = idea["text"] if isinstance(idea["text"], str) else ""
    for key in ("short_code", "theme"):
        if not isinstance(idea[key], str):
            idea[key] = None
    if idea["lang"] not in LANGUAGES:          # not recorded (an older idea), or not one of ours
        idea["lang"] = None
    return idea


class HubResultsSource:
    """Polls `GET /api/v1/consultations/{id}/results` with If-None-Match, so an unchanged poll
    costs a 304 and no body. Approved ideas are read again only when the hub's count of
    approved ideas changes. Anonymous (both endpoints are public), with short timeouts: a
    projector must never hang on a lost hub."""

    def __init__(self, hub_url: str, consultation_id: str, *,
                 timeout: tuple[float, float] = (1.0, 2.0), client: HubClient | None = None,
                 rehearsal: bool = False):
        self.hub_url = hub_url
        self.consultation_id = consultation_id
        # A projector in rehearsal reads the rehearsal's tally (`…/rehearsal/results`), never
        # the real results, and no idea.
        self.rehearsal = rehearsal
        self.timeout = timeout
        self._client = client
        self._etag: str | None = None
        self._last: ResultsSnapshot | None = None
        self._ideas_for: int | None = None   # the approved count the ideas were read at
        self._ideas: tuple[dict, ...] = ()

    def _get(self, tail: str, etag: str | None = None) -> tuple[dict | None, str | None]:
        if self._client is None:    # made on first use, in the polling thread that uses it
            self._client = HubClient(self.hub_url, timeout=self.timeout)
        return self._client.get_json(p.consultation_path(self.consultation_id, tail), etag)

    def poll(self) -> ResultsPoll:
        unreachable = ResultsPoll(False, problem=N_("Hub unreachable"))
        try:
            body, etag = self._get("rehearsal/results" if self.rehearsal else "results",
                                   self._etag)
        except (p.HubRefused, p.NotAcknowledged) as exc:
            if exc.status == 404:
                return ResultsPoll(False, problem=N_("The hub does not know this consultation."))
            return unreachable      # a captive portal, a proxy's page, a hub in trouble
        except p.CertificateRefused:
            # Someone answers for the room's laptop with another certificate: show nothing
            # of theirs, and say why.
            return ResultsPoll(False, problem=N_("The hub's certificate is not the expected "
                                                 "one: results are not read from it."))
        except p.SyncError:
            return unreachable
        if body is None:
            return ResultsPoll(True) if self._last is not None else unreachable
        snapshot = self.take(body, etag)
        if snapshot is None:
            return unreachable if not isinstance(body.get("questions"), dict) \
                else ResultsPoll(True)
        return ResultsPoll(True, snapshot)

    def take(self, body: Any, etag: str | None) -> ResultsSnapshot | None:
        """The snapshot of a results body (a poll's, or a stream's event: `etag` then its
        `id`'s results part, quoted), None when it is not one or is older than the one held
        (a poll and the stream may cross). Its ETag is the next poll's If-None-Match."""
        if not isinstance(body, dict) or not isinstance(body.get("questions"), dict):
            return None
        if _older(etag, self._etag) or (etag is not None and etag == self._etag
                                         and self._last is not None):
            return None
        ideas = body.get("ideas") if isinstance(body.get("ideas"), dict) else {}
        approved = _count(ideas.get("approved"))
        if approved != self._ideas_for and not self.rehearsal:
            fetched = self._fetch_ideas()
            if fetched is not None:
                self._ideas, self._ideas_for = fetched, approved
        snapshot = ResultsSnapshot(
            consultation_id=self.consultation_id,
            questions={k: v for k, v in body["questions"].items() if isinstance(v, dict)},
            ballots=_count(body.get("ballots")), ideas_received=_count(ideas.get("received")),
            ideas_approved=approved, approved_ideas=self._ideas,
            revision=body.get("revision") if isinstance(body.get("revision"), int) else None,
            channels=_channels(body.get("channels")), rehearsal=self.rehearsal)
        self._etag = etag
        self._last = snapshot
        return snapshot

    @property
    def etag(self) -> str | None:
        return self._etag

    def _fetch_ideas(self) -> tuple[dict, ...] | None:
        try:
            body, _ = self._get("proposals")
        except p.SyncError:
            return None
        if body is None or not isinstance(body.get("proposals"), list):
            return None
        ideas = [i for i in (public_idea(raw) for raw in body["proposals"]) if i]
        return tuple(ideas[-IDEAS_ON_WALL:])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _channels(value: Any) -> dict:
    from app.counts import CHANNELS
    if not isinstance(value, dict):
        return {}
    return {c: _count(value.get(c)) for c in CHANNELS if _count(value.get(c))}


def _older(etag: str | None, than: str | None) -> bool:
    """Whether results ETag `etag` ("<id>.<version>.<boot>.<revision>") is an earlier revision
    of the same hub run and version as `than`."""
    if not etag or not than:
        return False
    head, _, revision = etag.strip('"').rpartition(".")
    held_head, _, held = than.strip('"').rpartition(".")
    return head == held_head and revision.isdigit() and held.isdigit() \
        and int(revision) < int(held)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class LocalResultsSource:
    """Results computed from a local store with the domain's tallies (Store.results): a
    projector on the same machine as a tablet's store, or a demo. The store is opened lazily,
    in the thread that polls, since a sqlite3 connection belongs to its thread."""

    def __init__(self, store_path: str | Path, consultation: Consultation, *,
                 rehearsal: bool = False):
        self.store_path = Path(store_path)
        self.consultation = consultation
        self.rehearsal = rehearsal      # the store's rehearsal answers only (no idea)
        self._store = None
        self._last_key: tuple | None = None

    def _open(self):
        if self._store is None:
            from app.store import Store
            self._store = Store.open(self.store_path)
        return self._store

    def poll(self) -> ResultsPoll:
        import sqlite3
        try:
            store = self._open()
            key = store.outbox_revision()
            if key == self._last_key:
                return ResultsPoll(True)
            consultation = self.consultation
            if self.rehearsal:
                from app.counts import participants
                tallies = store.rehearsal_tallies(consultation)
                ballots = store.rehearsal_ballots(consultation.id)
                snapshot = ResultsSnapshot(
                    consultation_id=consultation.id,
                    questions={qid: t.result() for qid, t in tallies.items()},
                    ballots=ballots, revision=key[0], rehearsal=True,
                    channels=participants(tallies.values(), ballots))
                self._last_key = key
                return ResultsPoll(True, snapshot)
            figures = store.figures(consultation.id)
            approved = store.proposals(consultation.id, "approved")
            ideas = tuple(i for i in (public_idea({
                "short_code": p.short_code, "title": p.title, "text": p.text,
                "theme": p.theme, "status": p.status, "lang": p.lang}) for p in approved)
                if i)
            from app.counts import participants
            tallies = store.channel_tallies(consultation)
            snapshot = ResultsSnapshot(
                consultation_id=consultation.id,
                questions={qid: t.result() for qid, t in tallies.items()},
                ballots=figures["ballots"], ideas_received=figures["ideas"],
                ideas_approved=len(approved), approved_ideas=ideas[-IDEAS_ON_WALL:],
                revision=key[0], channels=participants(tallies.values(), figures["ballots"]))
        except sqlite3.Error:
            self.close()
            return ResultsPoll(False, problem=N_("The local results cannot be read."))
        self._last_key = key
        return ResultsPoll(True, snapshot)

    def close(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            finally:
                self._store = None


class ResultsPoller:
    """Polls a source every `interval` seconds in a daemon thread and hands each poll to
    `deliver` (called in the polling thread: a screen wraps it with Clock.schedule_once).
    `stop()` ends the thread and closes the source from it."""

    def __init__(self, source, deliver: Callable[[ResultsPoll], None], interval: float = 0.5):
        self.source = source
        self.deliver = deliver
        self.interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="results-poller", daemon=True)

    def start(self) -> "ResultsPoller":
        self._thread.start()
        return self

    def poll_now(self) -> None:
        """Ask for a poll without waiting for the interval (e.g. on a key press)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    outcome = self.source.poll()
                except Exception:  # noqa: BLE001  a bug in one poll must not stop the projector
                    outcome = ResultsPoll(False, problem=N_("Results cannot be read."))
                if self._stop.is_set():
                    break
                self.deliver(outcome)
                self._wake.wait(max(0.0, self.interval - (time.monotonic() - started)))
                self._wake.clear()
        finally:
            close = getattr(self.source, "close", None)
            if close is not None:
                close()


# -- the results stream: pushed by the hub, polls as the fallback ------------------------------

STREAM_PATH = "results/stream"


def sse_events(chunks) -> Iterator[tuple[str, str | None, str]]:
    """(event, id, data) of each Server-Sent Event in a byte stream; a comment (a heartbeat)
    is ("", None, "") and a `retry:` hint is ("retry", None, its value)."""
    buffer = b""
    event, ident, data = "", None, []
    size = 0                # the event's data lines so far: bounded like one line
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > MAX_EVENT_BYTES:
            raise ValueError("an event too long")
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if line == "":
                if data or event:
                    yield event or "message", ident, "\n".join(data)
                event, data, size = "", [], 0
                continue
            if line.startswith(":"):
                yield "", None, ""
                continue
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "data":
                size += len(raw)
                if size > MAX_EVENT_BYTES:      # data lines that never end in an event
                    raise ValueError("an event too long")
                data.append(value)
            elif key == "event":
                event = value
            elif key == "id":
                ident = value
            elif key == "retry":
                yield "retry", None, value


MAX_EVENT_BYTES = 4 * 1024 * 1024
READ_BYTES = 64 * 1024      # the most one read of the stream takes


def stream_chunks(response, size: int = READ_BYTES) -> Iterator[bytes]:
    """The bytes of a streamed response as they arrive, at most `size` at a time. Not
    `iter_content(chunk_size=None)`: on an answer that is not chunked (a hub or a proxy that
    sends the stream until it closes, or with a Content-Length) that reads the whole body
    before giving a byte — an endless one filled the projector's memory, and no event showed
    before the connection ended."""
    raw = response.raw
    while True:
        data = raw.read1(size, decode_content=True)
        if not data:
            return
        yield data


def _abort(response) -> None:
    """Shut a streamed response's socket down from another thread: a read blocked in it returns
    at once (closing it would not wake the reader)."""
    import socket
    connection = getattr(response.raw, "connection", None) or \
        getattr(response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        response.close()
    except Exception:   # noqa: BLE001  closing what is being torn down
        pass


class StreamingResultsPoller:
    """The projector's results pushed by the hub (`GET …/results/stream`, Server-Sent Events),
    with the conditional-GET polls of `ResultsPoller` as the fallback, without a gap: polls run
    whenever the stream is not live (not opened yet, cut, refused by an older hub, or held by a
    proxy that buffers it), and pause while it is.

    Two daemon threads: the stream's reads events (`requests`, a read timeout above the hub's
    heartbeat, so a dead connection is seen) and reconnects by itself with a backoff and
    `Last-Event-ID`; the poller's polls `source` every `interval` seconds while the stream is
    down. `source` is a HubProjectorSource (results and display controls: sync/display.py) or
    a HubResultsSource; both threads hand `deliver` the same ResultsPoll, one at a time. A
    stream that opens and sends nothing within its read timeout (a buffering proxy), or a hub
    without the stream (404), is tried again only `retry_later` seconds on, polls meanwhile.
    Pure Python, never Kivy."""

    def __init__(self, source, deliver: Callable[[ResultsPoll], None], interval: float = 0.5,
                 *, heartbeat: float = 15.0, retry_later: float = 120.0,
                 backoff: tuple[float, float] = (0.5, 30.0)):
        self.source = source
        self.results: HubResultsSource = getattr(source, "results", source)
        self.display = getattr(source, "display", None)
        self.deliver = deliver
        self.interval = interval
        self.read_timeout = heartbeat * 2 + 1
        # A stream that lasted this long proved its way: when it drops, open one again soon.
        # One that ends sooner (a hub or proxy that says `retry:` and hangs up) backs off
        # like a failure instead of being opened again every half second.
        self.steady = heartbeat
        self.retry_later = retry_later
        self.backoff = backoff
        self.live = threading.Event()       # the stream delivers: polls pause
        # The stream's results and controls reach the screen at most once every `min_gap`
        # seconds: the latest results and the controls merged are held meanwhile and handed
        # over by the polling thread when the gap ends. A hub pushes an event per batch of
        # votes; one that sent thousands a second (hostile, broken) queued a redraw each on
        # the projector's UI thread faster than it draws.
        self.min_gap = 0.1
        self._held: tuple[ResultsSnapshot | None, dict | None] | None = None
        self._handed = 0.0                  # when the stream's last results were handed over
        self.counts = {"streams": 0, "events": 0, "polls": 0, "fallbacks": 0}
        self._turn = threading.Lock()       # one user of the sources (their HTTP session) at once
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._response = None
        self._client: HubClient | None = None
        self._threads = [threading.Thread(target=self._poll_run, name="results-poller",
                                          daemon=True),
                         threading.Thread(target=self._stream_run, name="results-stream",
                                          daemon=True)]

    def start(self) -> "StreamingResultsPoller":
        for thread in self._threads:
            thread.start()
        return self

    def poll_now(self) -> None:
        """Ask for a poll at once (e.g. on a key press), stream or not."""
        self._asked = True
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        response = self._response
        if response is not None:
            _abort(response)            # ends a read in progress at once
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
        with self._turn:
            close = getattr(self.source, "close", None)
            if close is not None:
                close()
            if self._client is not None:
                self._client.close()

    # -- the polls: while the stream is not live ----------------------------------------------

    def _poll_run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._hand_held()
            if not self.live.is_set() or self._asked:
                self._asked = False
                with self._turn:
                    if self._stop.is_set():
                        break
                    self._hand_held(now=True)   # before a poll's newer results, never after
                    try:
                        outcome = self.source.poll()
                    except Exception:  # noqa: BLE001  a bug in one poll must not stop it
                        outcome = ResultsPoll(False, problem=N_("Results cannot be read."))
                    self.counts["polls"] += 1
                    if not self._stop.is_set():
                        self.deliver(outcome)
            # While the stream is live, sleep until it goes down (or a poll is asked for, or
            # results held back are due).
            wait = 60.0 if self.live.is_set() else self.interval - (time.monotonic() - started)
            if self._held is not None:
                wait = min(wait, self._handed + self.min_gap - time.monotonic())
            self._wake.wait(max(0.0, wait))
            self._wake.clear()

    _asked = False

    def _hand_held(self, now: bool = False) -> None:
        """Hand over the stream's results held back, once their gap ended (`now`: at once;
        the caller holds `_turn` then)."""
        if self._held is None:
            return
        if not now:
            with self._turn:
                self._hand_held_locked(False)
        else:
            self._hand_held_locked(True)

    def _hand_held_locked(self, now: bool) -> None:
        held = self._held
        if held is None or self._stop.is_set():
            return
        if not now and time.monotonic() - self._handed < self.min_gap:
            return
        self._held, self._handed = None, time.monotonic()
        self.deliver(ResultsPoll(True, held[0], control=held[1]))

    def _hand(self, snapshot: ResultsSnapshot | None = None,
              control: dict | None = None) -> None:
        """The stream's results or control (with `_turn` held): to the screen now, or held
        back until the gap since the last hand-over ends — the latest results, the controls
        merged (a later field's value over an earlier one's, the net change)."""
        if self._held is None and time.monotonic() - self._handed >= self.min_gap:
            self._handed = time.monotonic()
            self.deliver(ResultsPoll(True, snapshot, control=control))
            return
        held_snapshot, held_control = self._held or (None, None)
        if control and held_control:
            control = {**held_control, **control}
        self._held = (snapshot or held_snapshot, control or held_control)
        self._wake.set()

    # -- the stream ----------------------------------------------------------------------------

    def _last_event_id(self) -> str | None:
        etag = self.results.etag
        if not etag:
            return None
        revision = self.display.revision if self.display is not None else 0
        return f"{etag.strip(chr(34))}~{revision}"

    def _stream_run(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            began = time.monotonic()
            outcome = self._one_stream()
            if self._stop.is_set():
                break
            if outcome == "later":          # no stream here, or one that sends nothing
                self.counts["fallbacks"] += 1
                wait, delay = self.retry_later, self.backoff[0]
            elif outcome == "served" and time.monotonic() - began >= self.steady:
                wait, delay = self.backoff[0], self.backoff[0]  # it worked, then dropped
            else:                           # not reached, or dropped at once: back off
                wait, delay = delay, min(self.backoff[1], delay * 2)
            self._stop.wait(wait)

    def _one_stream(self) -> str:
        """One stream, read to its end: "served" when events came, "later" when this hub or
        the way to it does not stream, "failed" when it could not be reached."""
        if self._client is None:
            self._client = HubClient(self.results.hub_url, timeout=self.results.timeout)
        try:
            response = self._client.open_stream(
                p.consultation_path(self.results.consultation_id, STREAM_PATH),
                last_event_id=self._last_event_id(), read_timeout=self.read_timeout)
        except (p.HubRefused, p.NotAcknowledged) as exc:
            # An older hub (404), streams refused (429 too_many_streams), a proxy's page.
            return "later" if exc.status in (404, 405, 406, 429) or exc.status is None \
                else "failed"
        except p.HubUnreachable as exc:
            # Connected, then no answer within the read timeout: the stream's way holds it.
            return "later" if exc.detail == "ReadTimeout" else "failed"
        except p.SyncError:
            return "failed"
        self.counts["streams"] += 1
        self._response = response
        served = False
        try:
            for kind, ident, data in sse_events(stream_chunks(response)):
                if self._stop.is_set():
                    break
                if not served:
                    served = True
                    self.live.set()     # polls pause from now on
                if kind in ("results", "display"):
                    self._event(kind, ident, data)
        except Exception:   # noqa: BLE001  a cut, a read timeout, a bad event: the stream ends
            pass
        finally:
            self._response = None
            response.close()
            if self.live.is_set():
                self.live.clear()
                self._wake.set()        # polls again, at once: no gap
        return "served" if served else "later"

    def _event(self, kind: str, ident: str | None, data: str) -> None:
        import json
        try:
            body = json.loads(data)
        except ValueError:
            return
        with self._turn:
            if self._stop.is_set():
                return
            self.counts["events"] += 1
            if kind == "results":
                tag = (ident or "").rpartition("~")[0]
                snapshot = self.results.take(body, f'"{tag}"' if tag else None)
                if snapshot is not None:
                    self._hand(snapshot=snapshot)
            elif self.display is not None:
                control = self.display.changes(body)
                if control:
                    self._hand(control=control)
