"""A device changes only what it collected (review, item 2): answers, withdrawals and closes
only in ballots it started, moderation only of ideas it collected, corrections only of its own
counts; sequence numbers compare only within one device. Every refusal has its own reason
and the rest of the batch goes in."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from server import db
from server.errors import HubError

SITE = "menton-mediatheque"
OTHER_BALLOT = "This ballot belongs to another device."
OTHER_IDEA = "This idea was collected by another device."
OTHER_COUNT = "This count was recorded by another device."


def forged(envelope: dict, device: dict, seq: int = 10 ** 9, **payload) -> dict:
    """Another device's event about the same thing: its own ID, device and (high) seq."""
    return dict(envelope, id=uuid.uuid4().hex, device_id=device["id"], seq=seq,
                payload=dict(envelope["payload"], **payload))


def counts(hub, question="q-ticket"):
    return json.loads(hub.read_results("alpimed-2030")[1])["questions"][question]


def ballot_row(hub, ballot_id):
    with hub.engine.connect() as conn:
        return conn.execute(select(db.ballots).where(db.ballots.c.id == ballot_id)).first()


def test_another_device_cannot_change_withdraw_or_close_a_ballot(hub, demo, tablet, pending, push,
                                                                 statuses):
    a, device_a = tablet(hub)
    b, device_b = tablet(hub)
    ballot = a.start_ballot(demo)
    a.record_answer(demo, ballot, "q-ticket", "yes")
    start, answer = pending(a)
    assert statuses(push(hub, a, device_a)) == ["stored", "stored"]
    mine = b.start_ballot(demo)
    b.record_answer(demo, mine, "q-ticket", "no")
    good = pending(b)
    attacks = [forged(answer, device_b, value="no"),
               forged(answer, device_b, type="answer_withdrawn",
                      payload={"ballot_id": ballot, "question_id": "q-ticket",
                               "consultation_id": demo.id}),
               forged(start, device_b, type="ballot_closed",
                      payload={"ballot_id": ballot, "reason": "abandoned"}),
               forged(start, device_b)]
    results = hub.ingest(device_b, [good[0], *attacks, good[1]])
    assert statuses(results) == ["stored"] + ["rejected"] * 4 + ["stored"]
    assert {r["message"] for r in results[1:-1]} == {OTHER_BALLOT}
    assert all(r["field"] == "payload.ballot_id" for r in results[1:-1])
    assert counts(hub)["counts"] == {"yes": 1, "no": 1, "abstain": 0}
    assert ballot_row(hub, ballot).closed_reason is None
    assert ballot_row(hub, ballot).device_id == device_a["id"]
    # The owner's later answer still wins over nothing the other device sent.
    a.record_answer(demo, ballot, "q-ticket", "abstain")
    assert statuses(push(hub, a, device_a)) == ["stored"]
    assert counts(hub)["counts"] == {"yes": 0, "no": 1, "abstain": 1}
    assert json.loads(hub.read_results(demo.id)[1])["ballots"] == 2
    reasons = [r["reason"] for r in hub.reviews() if r["kind"] == "rejected"]
    assert reasons.count(OTHER_BALLOT) == 4


def test_an_answer_before_its_ballot_start_makes_the_ballot_its_senders(hub, demo, tablet, pending,
                                                                        statuses):
    a, device_a = tablet(hub)
    b, device_b = tablet(hub)
    ballot = a.start_ballot(demo, mode="facilitated", site_id=SITE, meeting_id="m-menton-1203")
    a.record_answer(demo, ballot, "q-ticket", "yes")
    start, answer = pending(a)
    assert statuses(hub.ingest(device_a, [answer])) == ["stored"]      # out of order
    row = ballot_row(hub, ballot)
    assert row.device_id == device_a["id"] and row.site_id == SITE
    assert counts(hub)["counts"]["yes"] == 1
    assert statuses(hub.ingest(device_b, [forged(start, device_b)])) == ["rejected"]
    assert statuses(hub.ingest(device_a, [start])) == ["stored"]       # the start fills in
    row = ballot_row(hub, ballot)
    assert (row.mode, row.meeting_id, row.device_id) == ("facilitated", "m-menton-1203",
                                                         device_a["id"])
    assert json.loads(hub.read_results(demo.id)[1])["ballots"] == 1    # counted once
    # The other way round: another device answered first into a ballot ID it never started;
    # it owns that ballot now, and the real start from the first device is refused.
    second = a.start_ballot(demo)
    a.record_answer(demo, second, "q-ticket", "no")
    start2, answer2 = pending(a)[-2:]
    assert statuses(hub.ingest(device_b, [forged(answer2, device_b, value="yes")])) == \
        ["stored"]
    results = hub.ingest(device_a, [start2, answer2])
    assert statuses(results) == ["rejected", "rejected"]
    assert results[0]["message"] == results[1]["message"] == OTHER_BALLOT


def test_sequence_numbers_compare_only_within_one_device(hub, demo, tablet, push, statuses):
    a, device_a = tablet(hub)
    b, device_b = tablet(hub)
    ballot = a.start_ballot(demo)
    a.record_answer(demo, ballot, "q-ticket", "yes")
    push(hub, a, device_a)
    # An answer another device wrote into this ballot before ballots had owners (an older
    # hub), with a seq far above anything the owner will reach.
    with hub.writer.begin() as conn:
        conn.execute(db.events.insert(), [{
            "id": "legacy", "device_id": device_b["id"], "seq": 10 ** 12, "type": "answer",
            "recorded_at": "x", "received_at": "x", "content_hash": "0" * 64, "payload": "{}"}])
        conn.execute(db.ballot_answers.update().where(
            db.ballot_answers.c.ballot_id == ballot).values(seq=10 ** 12, event_id="legacy"))
    a.record_answer(demo, ballot, "q-ticket", "no")
    assert statuses(push(hub, a, device_a)) == ["stored"]
    assert counts(hub)["counts"] == {"yes": 0, "no": 1, "abstain": 0}
    with hub.engine.connect() as conn:
        current = conn.execute(select(db.ballot_answers.c.seq, db.ballot_answers.c.value)
                               .where(db.ballot_answers.c.ballot_id == ballot)).one()
    assert current.value == '"no"' and current.seq < 100


def test_only_the_collecting_device_moderates_an_idea(hub, demo, tablet, pending, push, statuses):
    a, device_a = tablet(hub)
    b, device_b = tablet(hub)
    idea = a.submit_proposal(demo, title="Un banc", text="Près de la gare")
    proposal, = pending(a)
    push(hub, a, device_a)
    a.moderate_proposal(idea.id, "approved")
    moderation, = pending(a)
    results = hub.ingest(device_b, [
        forged(moderation, device_b, status="rejected", reason="spam"),
        forged(proposal, device_b, title="Autre chose")])
    assert statuses(results) == ["rejected", "rejected"]
    assert {r["message"] for r in results} == {OTHER_IDEA}
    assert hub.proposals(demo.id)[0]["status"] == "pending"
    assert hub.proposals(demo.id)[0]["title"] == "Un banc"
    assert statuses(push(hub, a, device_a)) == ["stored"]       # seq 2 < B's 10**9: still in
    assert hub.proposals(demo.id, public=True)[0]["title"] == "Un banc"


def test_only_the_counting_device_corrects_a_count(hub, demo, tablet, pending, push, statuses):
    a, device_a = tablet(hub)
    b, device_b = tablet(hub)
    first = a.record_count(demo, "q-ticket", "paper", {"yes": 20, "no": 4})
    count, = pending(a)
    push(hub, a, device_a)
    results = hub.ingest(device_b, [
        forged(count, device_b, count_id=uuid.uuid4().hex, supersedes=first.count_id,
               counts={"yes": 0, "no": 1}, ballots=1),
        forged(count, device_b, counts={"yes": 1}, ballots=1)])
    assert statuses(results) == ["rejected", "rejected"]
    assert {r["message"] for r in results} == {OTHER_COUNT}
    assert counts(hub)["counts"]["yes"] == 20
    # A "correction" sent ahead of a count it does not own corrects nothing when the count
    # arrives.
    a.record_count(demo, "q-ticket", "show_of_hands", {"yes": 3, "no": 9})
    ahead, = pending(a)
    ahead_id = ahead["payload"]["count_id"]
    pre_emptive = forged(ahead, device_b, count_id=uuid.uuid4().hex, supersedes=ahead_id,
                         counts={"yes": 1, "no": 0}, ballots=1)
    assert statuses(hub.ingest(device_b, [pre_emptive])) == ["stored"]
    assert statuses(push(hub, a, device_a)) == ["stored"]
    ticket = counts(hub)
    assert ticket["counts"]["no"] == 4 + 9 and ticket["counts"]["yes"] == 20 + 3 + 1


def test_no_device_can_enroll_as_staff(hub):
    with pytest.raises(HubError):
        hub.enroll(hub.make_enrollment_code(SITE)["code"], "staff")
