"""Results kept up to date in memory with the domain's tallies (app.tally).

Each consultation's tallies are built once from the database (at start, or when a new version is
imported) and then changed by the deltas of every committed batch: `add` for a new answer,
`remove` for an answer replaced or withdrawn, `count` for a paper, show-of-hands or online count
coming in (+1) or superseded by its correction (-1). Every question keeps its total and one
tally per channel (app.counts.ChannelTally). Reading results never rescans the ballots; the
JSON body is built at most once per revision and served with an ETag. On PostgreSQL several hub
processes keep the same tallies: the deltas travel through the results log
(server.unit_of_work), the revision is the log's and the ETag names the database.
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Union, get_args

from sqlalchemy import func, select

from app.answers import validate_answer
from app.canonical import compact_json
from app.counts import (PHONE, PHONE_DEVICE_PREFIX, TABLET, ChannelTally, ballot_channel,
                        participants, validate_count)
from app.errors import ValidationError
from app.model import Consultation

from . import PROTOCOL_VERSION, db
from .results_stream import Changes

log = logging.getLogger("piazzetta.hub.results")
_BOOT = secrets.token_hex(4)  # a restarted hub never reuses an ETag for other content


# -- what a committed batch changes in the tallies (made by server.ballots, server.ideas and
# server.channels inside the transaction, applied by ResultsCache.apply once it committed) --

@dataclass(frozen=True)
class AnswerDelta:
    """An answer of a question counted (`sign` +1) or taken out (-1: replaced or withdrawn)."""
    consultation_id: str
    question_id: str
    value: Any
    sign: int = 1
    channel: str = TABLET       # a ballot's channel: its device's (app.counts.ballot_channel)


@dataclass(frozen=True)
class CountDelta:
    """A paper, show-of-hands or online count coming in (+1) or superseded by its
    correction (-1)."""
    consultation_id: str
    question_id: str
    channel: str
    counts: Any
    ballots: int | None
    sign: int = 1


@dataclass(frozen=True)
class BallotDelta:
    """Ballots started in a consultation."""
    consultation_id: str
    ballots: int = 1
    channel: str = TABLET


@dataclass(frozen=True)
class IdeaDelta:
    """An idea's status: `old` None for a new idea."""
    consultation_id: str
    old: str | None
    new: str


@dataclass(frozen=True)
class DisplayDelta:
    """A consultation's display control changed (server.display_controls): its results
    streams send it; the tallies do not change."""
    consultation_id: str


TallyDelta = Union[AnswerDelta, CountDelta, BallotDelta, IdeaDelta, DisplayDelta]
# The results log's names: every type of TallyDelta (a new one joins the Union, nothing else).
DELTA_TYPES = {cls.__name__: cls for cls in get_args(TallyDelta)}


def encode_deltas(deltas: list[TallyDelta]) -> list:
    """A unit of work's deltas as JSON values (the results log, server.unit_of_work)."""
    return [[type(d).__name__, *(getattr(d, f) for f in d.__dataclass_fields__)]
            for d in deltas]


def decode_deltas(values: list) -> list[TallyDelta]:
    """encode_deltas' inverse (answer values and counts come back in their JSON form, the
    form the tallies also get from the database)."""
    return [DELTA_TYPES[name](*fields) for name, *fields in values]


@dataclass
class _Entry:
    consultation: Consultation
    tallies: dict[str, ChannelTally]
    ballots: int = 0
    phone_ballots: int = 0
    ideas: Counter = field(default_factory=Counter)
    revision: int = 0
    cached: tuple[int, str, bytes] | None = None   # (revision, etag, body)
    # Shared (PostgreSQL): the results log's revision these tallies hold every commit up to.
    followed: int = 0


class ResultsCache:
    """`shared`: tallies several hub processes keep on one database (PostgreSQL). Their
    revision is then the results log's (server.unit_of_work), and the ETag is made of the
    body, so that every process serves the same body under the same ETag."""

    def __init__(self, shared: bool = False):
        self.shared = shared
        self.epoch = _BOOT       # shared: the database's (counters "results_epoch"), in hex
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        # Told after every change, so that open results streams send it (server.results_stream).
        self.changes = Changes()

    def load(self, conn, consultation: Consultation, revision: int | None = None) -> None:
        """(Re)build a consultation's tallies from the database: the one full scan.

        Every stored answer and count is checked against this version first (the import
        refuses a version they do not fit, server.content.incompatible_question); one that does not
        fit anyway (written by another process meanwhile, or by an older hub) is left out of
        the tallies and logged, without its value, so a bad row never stops the hub.
        The caller holds the writer's turn (server.unit_of_work), so no batch of this process
        commits meanwhile; shared, `revision` is the results log's at the snapshot `conn` reads.
        """
        tallies = {q.id: ChannelTally(consultation, q) for q in consultation.questions}
        skipped: Counter = Counter()
        for question_id, value, device_id in conn.execute(
                select(db.ballot_answers.c.question_id, db.ballot_answers.c.value,
                       db.ballots.c.device_id)
                .select_from(db.ballot_answers.outerjoin(
                    db.ballots, db.ballots.c.id == db.ballot_answers.c.ballot_id)).where(
                    db.ballot_answers.c.consultation_id == consultation.id,
                    db.ballot_answers.c.value.is_not(None))):
            tally = tallies.get(question_id)
            if tally is None:
                continue
            try:
                tally.add(validate_answer(consultation, tally.question, json.loads(value)),
                          channel=ballot_channel(device_id))
            except (ValidationError, ValueError, TypeError, KeyError):
                skipped[("answer", question_id)] += 1
        for question_id, channel, counts, ballots in conn.execute(
                select(db.tally_counts.c.question_id, db.tally_counts.c.channel,
                       db.tally_counts.c.counts, db.tally_counts.c.ballots).where(
                    db.tally_counts.c.consultation_id == consultation.id,
                    db.tally_counts.c.superseded_by.is_(None))):
            tally = tallies.get(question_id)
            if tally is None:
                continue
            try:
                _q, normal, ballots = validate_count(consultation, question_id, channel,
                                                     json.loads(counts), ballots)
                tally.add_count(normal, ballots, channel)
            except (ValidationError, ValueError, TypeError, KeyError):
                skipped[("count", question_id)] += 1
        for (what, question_id), n in sorted(skipped.items()):
            log.error("results of %s version %s: %d stored %s(s) of question %s do not fit "
                      "this version; left out", consultation.id, consultation.version, n, what,
                      question_id)
        ballots = conn.execute(select(func.count()).select_from(db.ballots).where(
            db.ballots.c.consultation_id == consultation.id)).scalar()
        phone_ballots = conn.execute(select(func.count()).select_from(db.ballots).where(
            db.ballots.c.consultation_id == consultation.id,
            db.ballots.c.device_id.startswith(PHONE_DEVICE_PREFIX, autoescape=True))).scalar()
        ideas = Counter(dict(conn.execute(
            select(db.proposals.c.status, func.count())
            .where(db.proposals.c.consultation_id == consultation.id)
            .group_by(db.proposals.c.status)).all()))
        with self._lock:
            old = self._entries.get(consultation.id)
            if revision is not None:
                changed = conn.execute(select(db.results_revisions.c.revision).where(
                    db.results_revisions.c.consultation_id == consultation.id)).scalar()
                self._entries[consultation.id] = _Entry(
                    consultation, tallies, ballots, phone_ballots, ideas, changed or 0,
                    followed=revision)
            else:
                self._entries[consultation.id] = _Entry(
                    consultation, tallies, ballots, phone_ballots, ideas,
                    (old.revision + 1) if old else 0)
        self.changes.notify(consultation.id, display=True)   # a version: its views too

    def version(self, consultation_id: str) -> int | None:
        entry = self._entries.get(consultation_id)
        return entry.consultation.version if entry else None

    def followed(self, consultation_id: str) -> int:
        entry = self._entries.get(consultation_id)
        return entry.followed if entry else 0

    def apply(self, deltas: list[TallyDelta], revision: int | None = None) -> None:
        """Apply a committed batch's changes; shared, `revision` is its results log revision
        (a tally rebuilt at that revision or later holds them already)."""
        if not deltas:
            return
        displays = []
        with self._lock:
            touched = set()
            for delta in deltas:
                consultation_id = delta.consultation_id
                if isinstance(delta, DisplayDelta):
                    displays.append(consultation_id)
                    continue
                entry = self._entries.get(consultation_id)
                if entry is None or (revision is not None and entry.followed >= revision):
                    continue
                touched.add(consultation_id)
                try:
                    _apply(entry, delta)
                except (ValueError, TypeError, KeyError):
                    # Committed already: a value the tally cannot take must not fail the
                    # batch's answer (the next load() leaves it out and logs it).
                    log.error("results of %s: a %s of question %s does not fit version %s",
                              consultation_id, type(delta).__name__,
                              getattr(delta, "question_id", None), entry.consultation.version)
            for consultation_id in touched:
                entry = self._entries[consultation_id]
                if revision is None:
                    entry.revision += 1
                else:
                    entry.revision = entry.followed = revision
        if displays:
            self.changes.notify(*displays, display=True)
        self.changes.notify(*touched)

    def read(self, consultation_id: str) -> tuple[str, bytes] | None:
        entry = self._entries.get(consultation_id)
        if entry is None:
            return None
        cached = entry.cached
        if cached is not None and cached[0] == entry.revision:
            return cached[1], cached[2]
        with self._lock:
            c = entry.consultation
            revision = entry.revision
            body = {"protocol": PROTOCOL_VERSION, "consultation_id": c.id, "version": c.version,
                    "revision": revision, "ballots": entry.ballots,
                    "channels": participants(entry.tallies.values(), entry.ballots,
                                             entry.phone_ballots),
                    "ideas": {"received": sum(entry.ideas.values()),
                              "approved": entry.ideas["approved"]},
                    "questions": {qid: t.result() for qid, t in entry.tallies.items()}}
        data = compact_json(body).encode()
        # Shared, every process serves this revision's body under the same ETag: it names the
        # database, not the process.
        tag = self.epoch if self.shared else _BOOT
        etag = f'"{c.id}.{c.version}.{tag}.{revision}"'
        entry.cached = (revision, etag, data)
        return etag, data


def _apply(entry: _Entry, delta: TallyDelta) -> None:
    if isinstance(delta, AnswerDelta):
        tally = entry.tallies.get(delta.question_id)
        if tally is not None:
            (tally.add if delta.sign > 0 else tally.remove)(delta.value,
                                                            channel=delta.channel)
    elif isinstance(delta, CountDelta):
        tally = entry.tallies.get(delta.question_id)
        if tally is not None:
            (tally.add_count if delta.sign > 0 else tally.remove_count)(
                delta.counts, delta.ballots, delta.channel)
    elif isinstance(delta, BallotDelta):
        entry.ballots += delta.ballots
        if delta.channel == PHONE:
            entry.phone_ballots += delta.ballots
    elif isinstance(delta, IdeaDelta):
        if delta.old is not None:
            entry.ideas[delta.old] -= 1
        entry.ideas[delta.new] += 1
    else:
        raise TypeError(f"not a tally delta: {delta!r}")
