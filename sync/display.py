"""The projector's controls through the hub (docs/protocol.md, "Display controls").

A facilitator's tablet sends a DisplayControl with `send_display_control` (the device's own
credentials); projectors poll `GET /api/v1/consultations/{id}/display` with `DisplayControlSource`
and apply only the keys set since the revision they last applied. `HubProjectorSource` polls
results and controls together for the projector's ResultsPoller. Pure Python, never Kivy.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping

from app.display import parse_control, views_of
from app.errors import N_
from app.model import Consultation
from app.store import Store

from . import protocol as p
from .client import HubClient
from .enroll import client_for, is_enrolled
from .results_source import (HubResultsSource, LocalResultsSource, RefusedHubSource,
                             ResultsPoll, ResultsPoller, StreamingResultsPoller, refused_hub)

SEND_TIMEOUT = (3.0, 5.0)     # a facilitator waits for this tap: keep it short


def send_display_control(store: Store, consultation: Consultation, control: Mapping[str, Any],
                         *, lang: str = "en", timeout: tuple[float, float] = SEND_TIMEOUT) -> dict:
    """Send a DisplayControl to the hub as this device; return the hub's merged state.

    The control is checked here first (app.display.parse_control raises ValidationError with a
    translatable message). Raises SyncError when the tablet is not enrolled, the hub cannot be
    reached (HubUnreachable) or refuses it (HubRefused, whose message the hub translated into
    `lang`). Blocking, a few seconds at most: call it off the UI thread."""
    parse_control(control, views_of(consultation))
    if not is_enrolled(store):
        raise p.SyncError(N_("This tablet is not enrolled with a hub yet."), "hub_url")
    client = client_for(store, timeout)
    try:
        answer = client.put_json(p.consultation_path(consultation.id, "display"), control,
                                 lang=lang)
    finally:
        client.close()
    return {k: answer.get(k) for k in ("revision", "control", "set_at")}


class DisplayControlSource:
    """Polls a consultation's display control with If-None-Match, anonymously (the endpoint is
    public); `poll()` returns the control to apply now (the keys set since the last revision
    applied, with that revision), or None — also when the hub cannot be read."""

    def __init__(self, hub_url: str, consultation_id: str, *,
                 timeout: tuple[float, float] = (1.0, 2.0), client: HubClient | None = None):
        self.hub_url = hub_url
        self.consultation_id = consultation_id
        self.timeout = timeout
        self._client = client
        self._etag: str | None = None
        self.revision = 0          # the last revision handed over

    def poll(self) -> dict | None:
        try:
            if self._client is None:    # made on first use, in the polling thread
                self._client = HubClient(self.hub_url, timeout=self.timeout)
            body, etag = self._client.get_json(
                p.consultation_path(self.consultation_id, "display"), self._etag)
        except p.SyncError:
            return None
        if body is None:                # 304: nothing new
            return None
        self._etag = etag
        return self.changes(body)

    def changes(self, body: Any) -> dict | None:
        """The part of a display answer not applied yet, as a DisplayControl."""
        if not isinstance(body, dict) or body.get("protocol") != p.PROTOCOL_VERSION:
            return None
        revision, control, set_at = body.get("revision"), body.get("control"), body.get("set_at")
        if isinstance(revision, bool) or not isinstance(revision, int) \
                or not isinstance(control, dict) or not isinstance(set_at, dict):
            return None
        if revision <= self.revision:
            if revision < self.revision:     # the hub was reset: follow it from now on
                self.revision = revision
            return None
        since = self.revision
        fresh = {k: v for k, v in control.items()
                 if isinstance(set_at.get(k), int) and set_at[k] > since}
        self.revision = revision
        return {**fresh, "revision": revision} if fresh else None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class HubProjectorSource:
    """Results and display controls from one hub, polled together: each ResultsPoll carries
    the control to apply, if any (`ResultsPoll.control`)."""

    def __init__(self, hub_url: str, consultation_id: str, *,
                 timeout: tuple[float, float] = (1.0, 2.0)):
        self.results = HubResultsSource(hub_url, consultation_id, timeout=timeout)
        self.display = DisplayControlSource(hub_url, consultation_id, timeout=timeout)

    def poll(self) -> ResultsPoll:
        outcome = self.results.poll()
        if not outcome.reachable:
            return outcome
        control = self.display.poll()
        return replace(outcome, control=control) if control else outcome

    def close(self) -> None:
        self.results.close()
        self.display.close()


class DisplayRemote:
    """What a facilitator's screen calls to drive the room's projector: `send(control, lang,
    done)` sends in a background thread (with its own store connection) and calls
    `done(state, error)` from that thread — the screen hops to the UI thread itself. `error`
    is None, or an exception whose `describe(_)` (a DomainError) the screen shows."""

    def __init__(self, store_path, consultation: Consultation):
        self.store_path = store_path
        self.consultation = consultation

    def send(self, control: Mapping[str, Any], lang: str, done) -> None:
        import threading

        def run():
            store = Store.open(self.store_path)
            try:
                state = send_display_control(store, self.consultation, control, lang=lang)
            except Exception as exc:   # noqa: BLE001  reported to the screen, never raised
                done(None, exc)
            else:
                done(state, None)
            finally:
                store.close()

        threading.Thread(target=run, name="display-remote", daemon=True).start()


def projector_results(consultation: Consultation, *, hub_url: str | None = None,
                      store_path=None, interval: float = 0.5, stream: bool = True,
                      rehearsal: bool = False
                      ) -> Callable[[Callable[[ResultsPoll], None]], ResultsPoller]:
    """What main.py hands the projector's screen (which never imports sync): a `watch(deliver)`
    that starts following the hub at `hub_url` — results and the facilitators' display
    controls pushed by its results stream, polled every `interval` seconds while the stream is
    down (StreamingResultsPoller; `stream=False`: polls only, ResultsPoller) — or else the
    local store at `store_path` (results, LocalResultsSource, polled), and returns the poller
    (`stop()` ends it). `deliver` is called in a background thread. `rehearsal`: the
    rehearsal's tally only (the hub's `…/rehearsal/results`, polled; or the store's rehearsal
    answers), never the real results."""
    def watch(deliver: Callable[[ResultsPoll], None]):
        refused = refused_hub(hub_url) if hub_url else None
        if refused is not None:         # said on the projector's corner; nothing is asked
            return ResultsPoller(RefusedHubSource(refused), deliver, max(interval, 5.0)).start()
        if rehearsal:
            source = (HubResultsSource(hub_url, consultation.id, rehearsal=True) if hub_url
                      else LocalResultsSource(store_path, consultation, rehearsal=True))
            return ResultsPoller(source, deliver, interval).start()
        if hub_url:
            source = HubProjectorSource(hub_url, consultation.id)
            if stream:
                return StreamingResultsPoller(source, deliver, interval).start()
            return ResultsPoller(source, deliver, interval).start()
        return ResultsPoller(LocalResultsSource(store_path, consultation), deliver,
                             interval).start()
    return watch
