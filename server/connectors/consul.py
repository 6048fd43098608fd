"""Results in the shapes CONSUL Democracy's officers enter them (docs/connectors.md): CONSUL has
no import; per booth assignment and date, an officer types each question's answers' amounts
(Poll::PartialResult: question, answer, amount, date, booth assignment; origin `booth`) and the
recount, blank, null and total ballots (Poll::Recount: white_amount, null_amount, total_amount)
— consuldemocracy/consuldemocracy app/models/poll/partial_result.rb, recount.rb.

A booth is a site, its date the meeting's the ballot was cast in (none: empty). Only the
questions CONSUL's polls can hold (one or several answers among options: `choice`, `yes_no`),
and only the tablets' ballots (paper and show-of-hands counts have no booth of their own).
Per question: `white` the booth's ballots that left it blank (skipped, or "abstain"), `null`
stored answers that no longer fit the consultation, `total` the booth's ballots.
"""
from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import select

from app.answers import validate_answer
from app.errors import ValidationError
from app.model import localized
from app.tally import tally_answers

from .. import db
from ..tabular import csv_text

CONSUL_KINDS = ("choice", "yes_no")
BLANK = "abstain"          # yes_no's explicit blank
RESULT_COLUMNS = ("booth_id", "booth", "date", "question_id", "question", "answer_id", "answer",
                  "amount")
RECOUNT_COLUMNS = ("booth_id", "booth", "date", "question_id", "question", "white", "null",
                   "total")
FILES = ("results", "recounts")


def booth_tables(hub, consultation_id: str, lang: str = "fr") -> tuple[list[dict], list[dict]]:
    """(results rows, recount rows), per booth and date, per question (and answer)."""
    consultation = hub.consultation(consultation_id)
    dates = {m.id: m.starts_at[:10] for m in consultation.meetings}
    sites = {s["id"]: localized(s["name"], lang) for s in hub.sites()}
    questions = {q.id: q for q in consultation.questions if q.kind in CONSUL_KINDS}
    b, a = db.ballots, db.ballot_answers
    with hub.engine.connect() as conn:
        booth_of = {r.id: (r.site_id or "", dates.get(r.meeting_id or "", ""))
                    for r in conn.execute(select(b.c.id, b.c.site_id, b.c.meeting_id).where(
                        b.c.consultation_id == consultation_id))}
        stored = conn.execute(select(a.c.ballot_id, a.c.question_id, a.c.value).where(
            a.c.consultation_id == consultation_id, a.c.value.is_not(None),
            a.c.question_id.in_(list(questions)))).all()
    ballots = defaultdict(int)
    for booth in booth_of.values():
        ballots[booth] += 1
    values = defaultdict(list)
    null = defaultdict(int)
    for ballot_id, question_id, value in stored:
        booth = booth_of.get(ballot_id)
        if booth is None:
            continue
        try:
            values[(booth, question_id)].append(
                validate_answer(consultation, questions[question_id], json.loads(value)))
        except (ValidationError, ValueError, TypeError, KeyError):
            null[(booth, question_id)] += 1
    results, recounts = [], []
    for booth in sorted(ballots):
        site_id, date = booth
        where = {"booth_id": site_id, "booth": sites.get(site_id, site_id), "date": date}
        for question in questions.values():
            prompt = localized(question.prompt, lang)
            answered = values.get((booth, question.id), [])
            counts = tally_answers(consultation, question, answered)["counts"]
            for answer_id, amount in counts.items():
                if answer_id == BLANK:
                    continue
                label = _answer_label(question, answer_id, lang)
                results.append({**where, "question_id": question.id, "question": prompt,
                                "answer_id": answer_id, "answer": label, "amount": amount})
            white = ballots[booth] - len(answered) - null[(booth, question.id)] \
                + counts.get(BLANK, 0)
            recounts.append({**where, "question_id": question.id, "question": prompt,
                             "white": white, "null": null[(booth, question.id)],
                             "total": ballots[booth]})
    return results, recounts


def _answer_label(question, answer_id: str, lang: str) -> str:
    from ..pages import translator
    for option in question.options or ():
        if option.id == answer_id:
            return localized(option.label, lang)
    return translator(lang)({"yes": "Yes", "no": "No"}.get(answer_id, answer_id))


def consul_file(hub, consultation_id: str, which: str, lang: str = "fr") -> str:
    results, recounts = booth_tables(hub, consultation_id, lang)
    if which == "results":
        return csv_text(RESULT_COLUMNS, results)
    if which == "recounts":
        return csv_text(RECOUNT_COLUMNS, recounts)
    raise ValueError(which)
