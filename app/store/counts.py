"""Counts typed in by a facilitator (paper, show of hands, online: app/counts.py) and the
local figures: the tallies over this tablet's answers and counts, and how many ballots,
answers and ideas it holds."""
from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from ..canonical import canonical_json
from ..clock import now_iso
from ..counts import COUNT_EVENT, ChannelTally, TallyCount, validate_count
from ..errors import N_, StoreError, ValidationError
from ..model import Consultation
from .core import StoreCore
from .outbox import append_event


class Counts(StoreCore):
    """Typed-in counts, tallies and figures."""

    # -- reading: local figures ------------------------------------------------------------

    def results(self, consultation: Consultation) -> dict[str, dict]:
        """The domain's tallies of every question over the answers held on this tablet."""
        return {qid: t.result() for qid, t in self.channel_tallies(consultation).items()}

    def channel_tallies(self, consultation: Consultation) -> dict[str, ChannelTally]:
        """Every question's tally over this tablet's answers and its current counts, with
        the breakdown per channel (app.counts)."""
        tallies = {q.id: ChannelTally(consultation, q) for q in consultation.questions}
        for question_id, value in self.conn.execute(
                "SELECT question_id, value FROM answers WHERE consultation_id = ?",
                (consultation.id,)):
            tally = tallies.get(question_id)
            if tally is not None:
                tally.add(json.loads(value))
        # Closed ballots past the retention, folded by purge_acknowledged.
        for question_id, value, n in self.conn.execute(
                "SELECT question_id, value, n FROM answer_totals WHERE consultation_id = ?",
                (consultation.id,)):
            tally = tallies.get(question_id)
            if tally is not None:
                tally.add(json.loads(value), n)
        for count in self.counts(consultation.id):
            tally = tallies.get(count.question_id)
            if tally is not None:
                tally.add_count(count.counts, count.ballots, count.channel)
        return tallies

    # -- counts typed in by a facilitator (app/counts.py) ---------------------------------

    def record_count(self, consultation: Consultation, question_id: str, channel: str,
                     counts: Any, *, ballots: Any = None, supersedes: str | None = None,
                     site_id: str | None = None, meeting_id: str | None = None) -> TallyCount:
        """Validate and record a paper, show-of-hands or online count; on disk when this
        returns. With `supersedes`, the count corrects an earlier current count of the same
        question: both stay in the outbox, only the new one counts."""
        question, counts, ballots = validate_count(consultation, question_id, channel, counts,
                                                   ballots)
        if supersedes is not None:
            old = self.conn.execute(
                "SELECT consultation_id, question_id, superseded_by FROM tally_counts "
                "WHERE id = ?", (supersedes,)).fetchone() if isinstance(supersedes, str) else None
            if old is None or old[0] != consultation.id or old[1] != question.id:
                raise ValidationError(N_("The count to correct is not a count of this "
                                         "question."), "supersedes")
            if old[2] is not None:
                raise ValidationError(N_("This count was already corrected: correct the "
                                         "latest one."), "supersedes")
        count_id = uuid.uuid4().hex
        now = now_iso()
        payload = {"count_id": count_id, "consultation_id": consultation.id,
                   "consultation_version": consultation.version, "question_id": question.id,
                   "channel": channel, "counts": counts, "ballots": ballots,
                   "supersedes": supersedes, "site_id": site_id, "meeting_id": meeting_id}
        with self.transaction() as conn:
            event_id = append_event(conn, COUNT_EVENT, payload, now)
            conn.execute("INSERT INTO tally_counts(id, consultation_id, question_id, channel,"
                         " counts, ballots, supersedes, site_id, meeting_id, recorded_at,"
                         " event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (count_id, consultation.id, question.id, channel,
                          canonical_json(counts), ballots, supersedes, site_id, meeting_id, now,
                          event_id))
            if supersedes is not None:
                changed = conn.execute("UPDATE tally_counts SET superseded_by = ? WHERE id = ?"
                                       " AND superseded_by IS NULL",
                                       (count_id, supersedes)).rowcount
                if changed != 1:
                    raise ValidationError(N_("This count was already corrected: correct the "
                                             "latest one."), "supersedes")
        return self.count(count_id)

    def count(self, count_id: str) -> TallyCount:
        row = self.conn.execute(
            "SELECT id, consultation_id, question_id, channel, counts, ballots, supersedes,"
            " site_id, meeting_id, superseded_by, recorded_at FROM tally_counts WHERE id = ?",
            (count_id,)).fetchone()
        if row is None:
            raise StoreError(N_("Unknown count."), "count")
        return TallyCount(*row[:4], json.loads(row[4]), *row[5:])

    def counts(self, consultation_id: str, question_id: str | None = None, *,
               include_superseded: bool = False) -> list[TallyCount]:
        """The counts of a consultation (or one question), oldest first; only the current
        ones unless `include_superseded`."""
        sql = "SELECT id FROM tally_counts WHERE consultation_id = ?"
        params: list = [consultation_id]
        if question_id is not None:
            sql += " AND question_id = ?"
            params.append(question_id)
        if not include_superseded:
            sql += " AND superseded_by IS NULL"
        return [self.count(r[0]) for r in self.conn.execute(sql + " ORDER BY rowid", params)]

    def figures(self, consultation_id: str, day: date | None = None) -> dict[str, int]:
        """Ballots (today and in all), answers and ideas held on this tablet, those already
        purged after the retention included (as totals). "Today" is the tablet's local day: a
        facilitator counts the evening's meeting, not a UTC day."""
        day = (day or date.today()).isoformat()
        one = lambda sql, *p: self.conn.execute(sql, p).fetchone()[0]  # noqa: E731
        return {
            "ballots": one("SELECT count(*) FROM ballots WHERE consultation_id = ?",
                           consultation_id)
            + one("SELECT coalesce(sum(n), 0) FROM ballot_totals WHERE consultation_id = ?",
                  consultation_id),
            # started_at is kept to the hour in UTC: the local day stays right wherever the
            # offset from UTC is a whole number of hours (France, Italy).
            "ballots_today": one("SELECT count(*) FROM ballots WHERE consultation_id = ?"
                                 " AND date(started_at, 'localtime') = ?", consultation_id, day)
            + one("SELECT coalesce(sum(n), 0) FROM ballot_totals WHERE consultation_id = ?"
                  " AND day = ?", consultation_id, day),
            "answers": one("SELECT count(*) FROM answers WHERE consultation_id = ?",
                           consultation_id)
            + one("SELECT coalesce(sum(n), 0) FROM answer_totals WHERE consultation_id = ?",
                  consultation_id),
            "ideas": one("SELECT count(*) FROM proposals WHERE consultation_id = ?",
                         consultation_id),
        }
