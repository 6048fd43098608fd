"""The Decidim connector's outbox at the central hub (docs/connectors.md).

`DecidimOutbox` (a thread of the hub's process, started by `serve` like the room hub's
forwarder) does, every settings.decidim_interval seconds, for each consultation that has a
Decidim (server.connectors.decidim.load_configs):

1. queues the ideas moderation approved and those edited since (`queue_approved`): one row per
   idea in `decidim_outbox`, its `revision` the idea's moderation_seq. It reads the ideas
   table, so ingest never waits for it, and an idea approved before the connector was set up
   is queued too;
2. sends what is due, one row at a time, each claimed by a lease (several hub processes on one
   PostgreSQL never send one row twice at once): a proposal Decidim does not have yet is made
   (createProposal), one whose idea changed is updated (updateProposal). Before creating, the
   row is marked `uncertain`; if no answer comes back (timeout, cut response), the next
   attempt first looks for the proposal carrying the idea's marker: a retry never makes a
   second proposal. An instance that fails waits (2 s, 4 s… up to an hour, with jitter); one
   that says no leaves the row `refused` with Decidim's own message, until the idea changes;
3. every settings.decidim_answers_interval seconds, reads the component's proposals and brings
   the city's answers back: the answer per locale for the idea's receipt page, the state and
   the idea's language's text as the hub's answer (IdeaRegister.answer_proposal), so the
   tablet that collected it learns it too.
"""
from __future__ import annotations

import json
import logging
import threading
import time

from sqlalchemy import and_, select, update

from app.clock import now_iso
from app.errors import ValidationError
from app.text import clean_text
from sync.batches import backoff_delay

from .. import db
from ..errors import HubError
from .decidim import (DecidimClient, DecidimConfig, DecidimRefused, DecidimUnavailable,
                      load_configs, marked_ideas, marker, plain_text)

log = logging.getLogger("piazzetta.hub.decidim")

BACKOFF = (2.0, 3600.0)     # seconds: first wait after a failure, longest wait
# A process holds a row it is sending for a few requests' timeouts: a process killed while
# sending leaves the row to the next one after that.
LEASE_TIMEOUTS = 3
ROUND = 50                  # rows sent per consultation and round at most
# Decidim's answer states (answer_proposal_attributes.rb) as the hub's (app/proposals.py).
ANSWER_STATES = {"accepted": "accepted", "rejected": "rejected", "evaluating": "under_study"}
QUEUE_STATES = ("waiting", "sent", "refused")
ANSWER_MAX = 4000           # characters of an answer the hub keeps (IdeaRegister.answer_proposal)


def queue_approved(engine, consultation_ids: list[str]) -> int:
    """Rows for the approved ideas of these consultations that have none, and a new revision
    (state waiting) for those whose idea moderation changed since; how many."""
    if not consultation_ids:
        return 0
    p, o = db.proposals, db.decidim_outbox
    changed = 0
    with db.writer(engine).begin() as conn:
        fresh = conn.execute(
            select(p.c.id, p.c.consultation_id, p.c.moderation_seq)
            .select_from(p.outerjoin(o, o.c.proposal_id == p.c.id))
            .where(p.c.consultation_id.in_(consultation_ids), p.c.status == "approved",
                   o.c.proposal_id.is_(None))).all()
        if fresh:
            now = now_iso()
            statement = db.dialect_insert(conn, o).on_conflict_do_nothing(
                index_elements=[o.c.proposal_id])
            conn.execute(statement, [
                {"proposal_id": r.id, "consultation_id": r.consultation_id,
                 "revision": r.moderation_seq, "sent_revision": -1, "state": "waiting",
                 "uncertain": False, "attempts": 0, "next_attempt": 0.0, "lease_until": 0.0,
                 "queued_at": now} for r in fresh])
            changed += len(fresh)
        edited = conn.execute(
            select(p.c.id, p.c.moderation_seq).join(o, o.c.proposal_id == p.c.id)
            .where(p.c.consultation_id.in_(consultation_ids), p.c.status == "approved",
                   p.c.moderation_seq > o.c.revision)).all()
        for r in edited:
            conn.execute(update(o).where(o.c.proposal_id == r.id,
                                         o.c.revision < r.moderation_seq).values(
                revision=r.moderation_seq, state="waiting", attempts=0, next_attempt=0.0,
                message=None))
        changed += len(edited)
    return changed


def queue(engine, consultation_id: str | None = None) -> list[dict]:
    """The outbox as the dashboard shows it: each row with its idea's code and title."""
    p, o = db.decidim_outbox, db.proposals
    query = (select(p, o.c.short_code, o.c.title, o.c.corrected_title)
             .join(o, o.c.id == p.c.proposal_id)
             .order_by(p.c.queued_at, p.c.proposal_id))
    if consultation_id is not None:
        query = query.where(p.c.consultation_id == consultation_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"proposal_id": r.proposal_id, "consultation_id": r.consultation_id,
             "short_code": r.short_code, "title": r.corrected_title or r.title,
             "state": r.state, "decidim_id": r.decidim_id, "attempts": r.attempts,
             "message": r.message, "queued_at": r.queued_at, "sent_at": r.sent_at,
             "answer_state": r.answer_state} for r in rows]


def queue_counts(rows: list[dict]) -> dict[str, int]:
    """How many of queue()'s rows are sent, waiting, refused."""
    counts = dict.fromkeys(QUEUE_STATES, 0)
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts


def decidim_ids(hub, consultation_id: str) -> dict[str, str | None]:
    """Idea ID → the Decidim ID of its proposal (None until Decidim holds one)."""
    o = db.decidim_outbox
    with hub.engine.connect() as conn:
        return dict(conn.execute(select(o.c.proposal_id, o.c.decidim_id).where(
            o.c.consultation_id == consultation_id)).all())


def city_answer(engine, proposal_id: str, lang: str, idea_lang: str | None) -> str | None:
    """The city's answer to an idea as Decidim holds it, in `lang` where it has one, else in
    the idea's language, else the first there is."""
    with engine.connect() as conn:
        stored = conn.execute(select(db.decidim_outbox.c.answer).where(
            db.decidim_outbox.c.proposal_id == proposal_id)).scalar()
    if not stored:
        return None
    texts = json.loads(stored)
    for key in (lang, idea_lang):
        if key and texts.get(key):
            return texts[key]
    return next((t for t in texts.values() if t), None)


class DecidimOutbox(threading.Thread):
    """Sends the approved ideas to each consultation's Decidim and brings its answers back."""

    def __init__(self, hub, interval: float | None = None,
                 answers_interval: float | None = None):
        super().__init__(name="decidim-outbox", daemon=True)
        self.hub = hub
        self.interval = float(interval or hub.settings.decidim_interval)
        self.answers_interval = float(answers_interval or hub.settings.decidim_answers_interval)
        self.stopping = threading.Event()
        self.clients: dict[str, DecidimClient] = {}
        self.answers_due: dict[str, float] = {}
        self.waiting_until: dict[str, float] = {}     # an instance that failed: not before
        self.failures: dict[str, int] = {}
        self.sent = 0                                  # proposals made or updated (bench)
        self.leases: dict[str, tuple[float, float]] = {}   # held rows: (lease_until, length)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout)
        for client in self.clients.values():
            client.close()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.round()
            except Exception:           # a bug or a database gone: log, keep the thread
                log.exception("the Decidim connector's round failed")
            self.stopping.wait(self.interval)

    # -- one round ------------------------------------------------------------------------------

    def round(self) -> None:
        configs = load_configs(self.hub.settings)
        if not configs:
            return
        queue_approved(self.hub.engine, sorted(configs))
        for consultation_id, config in configs.items():
            if self.stopping.is_set():
                return
            if time.monotonic() < self.waiting_until.get(config.url, 0.0):
                continue
            try:
                self.send_due(config)
                if time.monotonic() >= self.answers_due.get(consultation_id, 0.0):
                    self.pull_answers(config)
                    self.answers_due[consultation_id] = time.monotonic() + self.answers_interval
                self.failures.pop(config.url, None)
            except DecidimUnavailable as exc:
                failures = self.failures[config.url] = self.failures.get(config.url, 0) + 1
                wait = backoff_delay(failures, BACKOFF)
                self.waiting_until[config.url] = time.monotonic() + wait
                log.warning("Decidim at %s unavailable (%s): next try in %d s", config.url,
                            exc, round(wait))

    def client(self, config: DecidimConfig) -> DecidimClient:
        client = self.clients.get(config.consultation_id)
        if client is None or client.config != config:
            client = self.clients[config.consultation_id] = DecidimClient(config)
        return client

    def send_due(self, config: DecidimConfig) -> None:
        o = db.decidim_outbox
        with self.hub.engine.connect() as conn:
            due = conn.execute(select(o.c.proposal_id).where(
                o.c.consultation_id == config.consultation_id, o.c.state == "waiting",
                o.c.next_attempt <= time.time(), o.c.lease_until <= time.time())
                .order_by(o.c.queued_at, o.c.proposal_id).limit(ROUND)).scalars().all()
        if not due:
            return
        client = self.client(config)
        if "create_proposal" not in client.capabilities():
            return     # an instance before 0.32: its proposals travel in the import file
        ideas = {i["id"]: i for i in self.hub.proposals(config.consultation_id, public=True)}
        for proposal_id in due:
            if self.stopping.is_set() or not self._claim(proposal_id, config):
                continue
            idea = ideas.get(proposal_id)
            try:
                if idea is None:      # no longer approved: nothing to send (not withdrawn)
                    self._unqueue(proposal_id)
                    continue
                self.send_one(client, config, proposal_id, idea)
                self.failures.pop(config.url, None)      # progress: the backoff starts over
            except DecidimRefused as exc:
                self._finish(proposal_id, state="refused", message=str(exc), uncertain=False)
            except DecidimUnavailable as exc:
                self._retry_later(proposal_id, str(exc))
                raise
            except BaseException:
                self._retry_later(proposal_id, "internal error")
                raise

    def send_one(self, client: DecidimClient, config: DecidimConfig, proposal_id: str,
                 idea: dict) -> None:
        o = db.decidim_outbox
        with self.hub.engine.connect() as conn:
            row = conn.execute(select(o).where(o.c.proposal_id == proposal_id)).first()
        locale = config.locale(idea.get("lang"))
        attributes = self.attributes(config, idea, proposal_id)
        decidim_id, found = row.decidim_id, False
        if decidim_id is None and row.uncertain:
            decidim_id = client.find_marked(proposal_id)
            if decidim_id is not None:      # made by the attempt whose answer was cut
                self._set(proposal_id, decidim_id=decidim_id, uncertain=False)
                found = True
        if decidim_id is None:
            # Marked uncertain before: the answer may never come. Only while this process still
            # holds the row, renewed for the whole create (bounded by the client's watchdog).
            if not self._renew_before_create(proposal_id):
                return
            decidim_id = client.create_proposal(locale, attributes)
        else:
            try:
                client.update_proposal(decidim_id, locale, attributes)
            except DecidimRefused:
                if not found:
                    raise
                # It exists as the cut attempt made it; Decidim refuses the update (its edit
                # time): it stays so.
        self._finish(proposal_id, state="sent", decidim_id=decidim_id, uncertain=False,
                     sent_revision=row.revision)
        self.sent += 1

    def attributes(self, config: DecidimConfig, idea: dict, proposal_id: str) -> dict:
        """createProposal's ProposalAttributes for an idea: its public title and text, its
        place (the public, rounded point; an area's name as the address), its theme's
        taxonomies, and the marker line."""
        attributes = {"title": idea["title"],
                      "body": f"{idea['text']}\n\n{marker(proposal_id, config.marker_key)}"}
        place = idea.get("place") or {}
        if "lat" in place and "lon" in place:
            attributes["latitude"], attributes["longitude"] = place["lat"], place["lon"]
        address = self._area_name(idea, place["area"]) if place.get("area") else ""
        if address:
            attributes["address"] = address
        taxonomies = config.taxonomies.get(idea.get("theme") or "")
        if taxonomies:
            attributes["taxonomies"] = taxonomies
        return attributes

    def _area_name(self, idea: dict, area: str) -> str:
        from app.model import localized
        consultation = self.hub.consultation(idea["consultation_id"])
        found = consultation.map.area(area) if consultation and consultation.map else None
        return localized(found.name, idea.get("lang") or "fr") if found else ""

    def pull_answers(self, config: DecidimConfig) -> int:
        """The city's answers made in Decidim to the proposals made from ideas; how many
        changed. A proposal the admin imported from the import file (server.connectors.files)
        is recognised by its marker line and linked to its idea here."""
        o = db.decidim_outbox
        client = self.client(config)
        if "answer" not in client.capabilities():
            return 0
        with self.hub.engine.connect() as conn:
            rows = conn.execute(
                select(o.c.proposal_id, o.c.decidim_id, o.c.answer_state, o.c.answer).where(
                    o.c.consultation_id == config.consultation_id)).all()
        if not rows:
            return 0
        ours = {r.decidim_id: r for r in rows if r.decidim_id}
        unlinked = {r.proposal_id: r for r in rows if not r.decidim_id}
        langs = {i["id"]: i.get("lang") for i in self.hub.proposals(config.consultation_id)}
        changed = 0
        for decidim_id, state, body, answer in client.proposals():
            row = ours.get(decidim_id)
            if row is None and unlinked:
                found = {m for text in body.values()
                         for m in marked_ideas(text, config.marker_key)}
                proposal_id = next((p for p in found if p in unlinked), None)
                if proposal_id is not None:
                    row = unlinked.pop(proposal_id)
                    self._link(proposal_id, decidim_id)
            if row is None or state not in ANSWER_STATES:
                continue
            texts = {}
            for locale, html in answer.items():
                lang = config.lang(locale)
                text = clean_text(plain_text(html) if isinstance(html, str) else "",
                                  field="answer", max_length=10**9)
                if lang and text:
                    # The hub keeps an answer of at most ANSWER_MAX characters: a longer one
                    # (Decidim has no such limit) is cut, not refused — a refusal raised here
                    # kept every later proposal's answer from coming back, round after round.
                    texts[lang] = text if len(text) <= ANSWER_MAX \
                        else text[:ANSWER_MAX - 1].rstrip() + "…"
            stored = json.dumps(texts, ensure_ascii=False, sort_keys=True)
            if row.answer_state == state and (row.answer or "{}") == stored:
                continue
            idea_lang = langs.get(row.proposal_id)
            own = texts.get(idea_lang or "") or next(iter(texts.values()), None)
            try:
                self.hub.answer_proposal(row.proposal_id, ANSWER_STATES[state], own)
            except (ValidationError, HubError) as exc:     # this one only: the others go on
                log.warning("Decidim's answer to proposal %s not taken: %s", decidim_id,
                            exc.__class__.__name__)
                continue
            self._set(row.proposal_id, answer_state=state, answer=stored)
            changed += 1
        return changed

    def _link(self, proposal_id: str, decidim_id: str) -> None:
        """A proposal Decidim holds for this idea (imported from the file): sent."""
        o = db.decidim_outbox
        with db.writer(self.hub.engine).begin() as conn:
            conn.execute(update(o).where(o.c.proposal_id == proposal_id,
                                         o.c.decidim_id.is_(None)).values(
                decidim_id=decidim_id, state="sent", uncertain=False, message=None,
                sent_revision=o.c.revision, sent_at=now_iso()))

    # -- the row's states ------------------------------------------------------------------------

    def _claim(self, proposal_id: str, config: DecidimConfig) -> bool:
        o = db.decidim_outbox
        now = time.time()
        lease = LEASE_TIMEOUTS * config.timeout + 5.0
        with db.writer(self.hub.engine).begin() as conn:
            held = conn.execute(update(o).where(
                o.c.proposal_id == proposal_id, o.c.state == "waiting",
                o.c.lease_until <= now).values(lease_until=now + lease)).rowcount == 1
        if held:
            self.leases[proposal_id] = (now + lease, lease)
        return held

    def _renew_before_create(self, proposal_id: str) -> bool:
        """Just before a create: the lease renewed — only if this process still holds it (its
        own lease_until is still the row's: a fencing token) — and the row marked uncertain
        in the same write. False: another process took the row over (this one was slower than
        its lease); it must not create."""
        o = db.decidim_outbox
        until, lease = self.leases.get(proposal_id, (None, 0.0))
        if until is None:
            return False
        renewed = time.time() + lease
        with db.writer(self.hub.engine).begin() as conn:
            held = conn.execute(update(o).where(
                o.c.proposal_id == proposal_id, o.c.lease_until == until).values(
                lease_until=renewed, uncertain=True)).rowcount == 1
        if held:
            self.leases[proposal_id] = (renewed, lease)
        return held

    def _set(self, proposal_id: str, **values) -> None:
        with db.writer(self.hub.engine).begin() as conn:
            conn.execute(update(db.decidim_outbox).where(
                db.decidim_outbox.c.proposal_id == proposal_id).values(**values))

    def _finish(self, proposal_id: str, *, state: str, **values) -> None:
        """Sent or refused: the lease let go. A revision queued while it was being sent
        (revision > sent_revision) stays waiting."""
        o = db.decidim_outbox
        values.update(lease_until=0.0, attempts=o.c.attempts + 1)
        if state == "sent":
            values.update(sent_at=now_iso(), message=None)
        with db.writer(self.hub.engine).begin() as conn:
            conn.execute(update(o).where(o.c.proposal_id == proposal_id)
                         .values(state=state, **values))
            if state == "sent" and "sent_revision" in values:
                conn.execute(update(o).where(and_(
                    o.c.proposal_id == proposal_id, o.c.revision > o.c.sent_revision))
                    .values(state="waiting"))

    def _unqueue(self, proposal_id: str) -> None:
        """An idea moderation took back before Decidim had it leaves the queue (approved
        again, it comes back); one Decidim may hold stays as it was."""
        o = db.decidim_outbox
        with db.writer(self.hub.engine).begin() as conn:
            gone = conn.execute(o.delete().where(
                o.c.proposal_id == proposal_id, o.c.decidim_id.is_(None),
                o.c.uncertain.is_(False))).rowcount
            if not gone:
                conn.execute(update(o).where(o.c.proposal_id == proposal_id).values(
                    state="sent", lease_until=0.0))

    def _retry_later(self, proposal_id: str, message: str) -> None:
        o = db.decidim_outbox
        with self.hub.engine.connect() as conn:
            attempts = conn.execute(select(o.c.attempts).where(
                o.c.proposal_id == proposal_id)).scalar() or 0
        self._set(proposal_id, attempts=attempts + 1, lease_until=0.0, message=message[:500],
                  next_attempt=time.time() + backoff_delay(attempts + 1, BACKOFF))


def start_outbox(hub) -> DecidimOutbox:
    outbox = DecidimOutbox(hub)
    outbox.start()
    return outbox


__all__ = ["DecidimOutbox", "city_answer", "decidim_ids", "queue", "queue_approved", "queue_counts",
           "start_outbox"]
