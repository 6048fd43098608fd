"""The local store: durable settings, append-only outbox, device sequence, nothing half written."""
import sqlite3

import pytest

from app.cards import Card
from app.errors import StoreError, ValidationError
from app.store import REDACTION_CHECKPOINT_OWED, Store


def test_pragmas_on_disk(disk_store):
    conn = disk_store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert disk_store.schema_version == conn.execute("PRAGMA user_version").fetchone()[0] >= 1


def test_reopen_keeps_device_and_data(tmp_path, demo):
    store = Store.open(tmp_path)
    device = store.device_id
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    store.close()
    again = Store.open(tmp_path)
    assert again.device_id == device
    assert again.answers_of(ballot) == {"q-ticket": "yes"}
    assert again.outbox_counts()["pending"] == 2
    again.close()


def test_every_record_is_an_event_with_device_sequence(store, demo):
    ballot = store.start_ballot(demo, site_id="menton-mediatheque", meeting_id="m-menton-1203")
    store.record_answer(demo, ballot, "q-colour", {"p-bus": "green"})
    store.record_answer(demo, ballot, "q-colour", {"p-bus": "red"})     # changed their mind
    store.record_answer(demo, ballot, "q-cooperation", 4)
    store.withdraw_answer(ballot, "q-cooperation")
    store.close_ballot(ballot)
    events = store.events()
    assert [e.type for e in events] == ["ballot_started", "answer", "answer", "answer",
                                        "answer_withdrawn", "ballot_closed"]
    assert [e.seq for e in events] == list(range(1, 7))
    assert len({e.id for e in events}) == 6
    answer = events[2].payload
    assert answer["value"] == {"p-bus": "red"} and answer["site_id"] == "menton-mediatheque"
    assert answer["consultation_version"] == demo.version
    assert store.answers_of(ballot) == {"q-colour": {"p-bus": "red"}}
    envelope = events[0].envelope(store.device_id)
    assert envelope["device_id"] == store.device_id and envelope["seq"] == 1


def test_sequence_does_not_depend_on_the_clock(store, demo, monkeypatch):
    import app.store.ballots as ballots_module
    import itertools
    stamps = itertools.cycle(["2027-01-01T00:00:00.000+00:00", "2025-01-01T00:00:00.000+00:00"])
    monkeypatch.setattr(ballots_module, "now_iso", lambda: next(stamps))
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "no")
    store.record_answer(demo, ballot, "q-ticket", "yes")
    events = store.events()
    assert [e.seq for e in events] == [1, 2, 3]
    assert store.answers_of(ballot) == {"q-ticket": "yes"}


def test_outbox_is_append_only(store, demo):
    store.start_ballot(demo)
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("DELETE FROM outbox")
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE outbox SET event_id = 'x'")
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE outbox SET seq = 99")
    assert len(store.events()) == 1


def test_invalid_answer_changes_nothing(store, demo):
    ballot = store.start_ballot(demo)
    before = store.events()
    for question, value in [("q-themes", ["health", "economy", "services"]),
                            ("q-budget", {"p-bus": 240000, "p-telehealth": 150000,
                                          "p-coworking": 120000}),
                            ("q-missing", "x" * 10_000), ("q-nowhere", "yes")]:
        with pytest.raises(ValidationError):
            store.record_answer(demo, ballot, question, value)
    assert store.events() == before
    assert store.answers_of(ballot) == {}


def test_closed_or_unknown_ballot_refused(store, demo):
    ballot = store.start_ballot(demo)
    store.close_ballot(ballot, reason="abandoned")
    with pytest.raises(StoreError):
        store.record_answer(demo, ballot, "q-ticket", "yes")
    with pytest.raises(StoreError):
        store.record_answer(demo, "no-such-ballot", "q-ticket", "yes")
    fresh = Store.memory()
    with pytest.raises(StoreError):
        fresh.record_answer(demo, ballot, "q-ticket", "yes")


def test_abandoned_ballot_answers_still_count(store, demo):
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    store.close_ballot(ballot, reason="abandoned")
    assert store.results(demo)["q-ticket"]["counts"]["yes"] == 1


def test_results_and_figures(store, demo):
    for value in ("yes", "yes", "no"):
        ballot = store.start_ballot(demo)
        store.record_answer(demo, ballot, "q-ticket", value)
        store.close_ballot(ballot)
    results = store.results(demo)
    assert results["q-ticket"]["counts"] == {"yes": 2, "no": 1, "abstain": 0}
    assert set(results) == {q.id for q in demo.questions}
    figures = store.figures(demo.id)
    assert figures["ballots"] == figures["ballots_today"] == 3
    assert figures["answers"] == 3 and figures["ideas"] == 0


def test_proposal_with_contact_needs_consent(store, demo):
    with pytest.raises(ValidationError) as info:
        store.submit_proposal(demo, title="Navette", text="Une navette le dimanche",
                              contact="ana@example.org", contact_consent=False)
    assert info.value.field == "contact_consent"
    with pytest.raises(ValidationError) as info:
        store.submit_proposal(demo, title="Navette", text="Texte", contact="pas un contact",
                              contact_consent=True)
    assert info.value.field == "contact"
    with pytest.raises(ValidationError) as info:
        store.submit_proposal(demo, title="", text="Texte")
    assert info.value.field == "title"
    with pytest.raises(ValidationError) as info:
        store.submit_proposal(demo, title="T", text="Texte", theme="sport")
    assert info.value.field == "theme"
    assert store.events() == []
    proposal = store.submit_proposal(demo, title="Navette 🚌", text="Le dimanche\x00 aussi",
                                     theme="infrastructure", contact="+39 0184 123456",
                                     contact_consent=True)
    assert proposal.text == "Le dimanche aussi" and proposal.contact == "+39 0184 123456"
    assert len(proposal.short_code) == 6
    assert store.proposal(proposal.short_code) == proposal


def test_an_idea_records_the_language_it_was_written_in(store, demo):
    idea = store.submit_proposal(demo, title="Navetta", text="Per l'ospedale", lang="it")
    assert idea.lang == "it" and store.proposal(idea.id).lang == "it"
    [event] = [e for e in store.events() if e.type == "proposal"]
    assert event.payload["lang"] == "it"
    # Not said (an older caller): still a valid idea, and the event says nothing of it.
    older = store.submit_proposal(demo, title="Un banc", text="À l'ombre")
    assert older.lang is None
    assert "lang" not in [e for e in store.events() if e.type == "proposal"][-1].payload
    before = len(store.events())
    with pytest.raises(ValidationError) as info:
        store.submit_proposal(demo, title="Un banc", text="À l'ombre", lang="de")
    assert info.value.field == "lang" and len(store.events()) == before


def test_moderation_keeps_rejected_ideas_and_originals(store, demo):
    idea = store.submit_proposal(demo, title="Pist cyclable", text="Le long de la mer")
    corrected = store.moderate_proposal(idea.id, "approved", title="Piste cyclable")
    assert corrected.title == "Piste cyclable" and corrected.status == "approved"
    with pytest.raises(ValidationError):
        store.moderate_proposal(idea.id, "rejected")          # a rejection needs a reason
    rejected = store.moderate_proposal(idea.id, "rejected", reason="Déjà au programme")
    assert rejected.status == "rejected" and rejected.reason == "Déjà au programme"
    assert [p.id for p in store.proposals(demo.id)] == [idea.id]
    original = store.events()[0].payload
    assert original["title"] == "Pist cyclable"


def test_acknowledgement(store, demo):
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    pending = store.pending_events()
    assert len(pending) == 2
    assert store.mark_acknowledged([pending[0].id, "unknown"]) == 1
    assert store.mark_acknowledged([pending[0].id]) == 0
    assert [e.id for e in store.pending_events()] == [pending[1].id]
    assert store.outbox_counts() == {"pending": 1, "acknowledged": 1}


def test_settings(store):
    assert store.get_setting("idle_seconds", 60) == 60
    store.set_setting("idle_seconds", 90)
    store.set_setting("site", {"id": "breil-maison"})
    assert store.get_setting("idle_seconds") == 90
    assert store.get_setting("site") == {"id": "breil-maison"}


def test_consultation_not_open(store, demo):
    from dataclasses import replace
    with pytest.raises(StoreError):
        store.start_ballot(replace(demo, status="closed"))


def test_a_transaction_commits_together_or_not_at_all(disk_store):
    with disk_store.transaction() as conn:
        conn.execute("INSERT INTO meta(key, value) VALUES ('a', '1')")
        conn.execute("INSERT INTO meta(key, value) VALUES ('b', '2')")
    assert not disk_store.conn.in_transaction
    assert (disk_store.get_setting("a"), disk_store.get_setting("b")) == (1, 2)
    other = Store.open(disk_store.path)          # another connection sees it committed
    assert other.get_setting("b") == 2
    other.close()
    with pytest.raises(KeyError):
        with disk_store.transaction() as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES ('c', '3')")
            raise KeyError("anything")
    assert not disk_store.conn.in_transaction and disk_store.get_setting("c") is None


def test_transactions_do_not_nest(store):
    with store.transaction():
        with pytest.raises(RuntimeError):
            with store.transaction():
                pass
        store.set_setting("kept", True)
    assert store.get_setting("kept") is True and not store.conn.in_transaction


CARD = Card("alpimed-2030", "ACDE", "FGHJKLMNPQRTU")


def test_a_refusal_inside_a_record_leaves_no_transaction_open(store, demo):
    first, second = store.start_ballot(demo), store.start_ballot(demo)
    store.record_answer(demo, first, "q-ticket", "yes", card=CARD)
    before = store.events()
    with pytest.raises(StoreError):             # raised between BEGIN and COMMIT
        store.record_answer(demo, second, "q-ticket", "no", card=CARD)
    assert not store.conn.in_transaction and store.events() == before
    store.record_answer(demo, second, "q-ticket", "no")       # the store still writes
    assert store.answers_of(second) == {"q-ticket": "no"}


# -- what sync asks of the store -------------------------------------------------------------

def test_outbox_revision_moves_with_every_event(store, demo):
    assert store.outbox_revision() == (0, 0)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-ticket", "yes")
    assert store.outbox_revision() == (2, 2)
    store.mark_acknowledged([e.id for e in store.pending_events()])
    assert store.outbox_revision() == (2, 2)       # an acknowledgement changes no figure


def test_redactions_keep_the_event_and_owe_a_checkpoint(disk_store, demo):
    store = disk_store
    store.record_signup({"name": "Ada Rossi", "contact": "ada@example.it", "consent": True},
                        consultation_id=demo.id, site_id="menton-mediatheque")
    idea = store.submit_proposal(demo, title="Un banc", text="Près de la gare",
                                 contact="+39 347 1234567", contact_consent=True)
    signup, proposal = store.events()
    store.ensure_secure_delete()
    store.redact_signup(signup, {"signup_id": signup.payload["signup_id"], "redacted": True})
    store.redact_idea_contact(proposal)
    assert store.get_setting(REDACTION_CHECKPOINT_OWED) is True
    signup, proposal = store.events()
    assert signup.payload == {"signup_id": signup.payload["signup_id"], "redacted": True}
    assert proposal.payload["contact"] is None and proposal.payload["title"] == "Un banc"
    assert store.proposal(idea.id).contact is None
    assert store.conn.execute("SELECT sum(redacted) FROM outbox").fetchone()[0] == 2
    assert store.checkpoint_redactions() is True
    assert not store.get_setting(REDACTION_CHECKPOINT_OWED)
    assert store.checkpoint_redactions() is True              # nothing owed: nothing done


def test_a_checkpoint_held_back_by_a_reader_stays_owed(disk_store, demo):
    store = disk_store
    store.submit_proposal(demo, title="Un banc", text="Près de la gare",
                          contact="ada@example.org", contact_consent=True)
    reader = sqlite3.connect(store.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM outbox").fetchone()
    store.redact_idea_contact(store.events()[0])
    timeout = store.conn.execute("PRAGMA busy_timeout").fetchone()[0]
    assert store.checkpoint_redactions(busy_ms=10) is False
    assert store.get_setting(REDACTION_CHECKPOINT_OWED) is True
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == timeout
    reader.execute("COMMIT")
    reader.close()
    assert store.checkpoint_redactions() is True
    assert not store.get_setting(REDACTION_CHECKPOINT_OWED)


def test_a_store_in_memory_owes_no_checkpoint(store, demo):
    store.submit_proposal(demo, title="Un banc", text="Près de la gare",
                          contact="ada@example.org", contact_consent=True)
    store.redact_idea_contact(store.events()[0])
    assert store.checkpoint_redactions() is True
    assert not store.get_setting(REDACTION_CHECKPOINT_OWED)
