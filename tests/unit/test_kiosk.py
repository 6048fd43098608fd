"""The kiosk session: a resident's ballot over the store, back/skip, withdraw, idle reset."""
import pytest

from app.errors import StoreError, ValidationError
from app.kiosk import KioskSession, KioskSettings


@pytest.fixture
def session(store, demo):
    return KioskSession(store, demo)


def test_a_full_session_records_every_kind(session, store, demo):
    ballot = session.start()
    assert session.question.id == "q-colour" and session.progress == (1, 8)
    session.record({"p-bus": "green"})
    session.record({"p-bus": "green", "p-bike": "red"}, advance=True)
    session.record("yes", advance=True)
    session.record(4, advance=True)
    session.record(["economy", "health"], advance=True)
    session.record(["s-doctor", "s-transport"], advance=True)
    session.record({"p-bus": 200000, "p-market": 60000}, advance=True)
    session.record("Un train de nuit\n🚆", advance=True)
    assert session.question.id == "q-place" and session.progress == (8, 8)
    session.record({"lon": 7.50312, "lat": 43.77871}, advance=True)
    assert session.at_end and session.question is None
    held = store.answers_of(ballot)
    assert held == {"q-colour": {"p-bus": "green", "p-bike": "red"}, "q-ticket": "yes",
                    "q-cooperation": 4, "q-themes": ["economy", "health"],
                    "q-services": ["s-doctor", "s-transport"],
                    "q-budget": {"p-bus": 200000, "p-market": 60000},
                    "q-missing": "Un train de nuit\n🚆",
                    "q-place": {"lon": 7.50312, "lat": 43.77871, "area": "menton"}}
    session.finish()
    assert not session.started and session.answers == {}
    status = store.conn.execute("SELECT status FROM ballots WHERE id = ?", (ballot,)).fetchone()
    assert status[0] == "finished"


def test_back_skip_and_withdraw(session, store):
    ballot = session.start()
    assert session.back() is False
    session.skip()
    session.record("no")
    session.back()
    assert session.question.id == "q-colour"
    session.next()
    session.withdraw()
    assert store.answers_of(ballot) == {} and session.answers == {}
    assert [e.type for e in store.events()][-1] == "answer_withdrawn"


def test_a_refused_answer_changes_nothing(session, store):
    ballot = session.start()
    session.index = 5  # the budget question
    with pytest.raises(ValidationError):
        session.record({"p-bus": 9_000_000})
    assert store.answers_of(ballot) == {} and session.answers == {}
    assert session.question.id == "q-budget"


def test_idle_reset_keeps_answers_forgets_the_resident(session, store):
    ballot = session.start()
    session.next()
    session.record("abstain")
    session.submit_idea(title="Bancs", text="Plus de bancs")
    session.abandon()
    assert (session.ballot_id, session.index, session.answers, session.proposal) == \
        (None, 0, {}, None)
    assert store.answers_of(ballot) == {"q-ticket": "abstain"}
    row = store.conn.execute("SELECT status FROM ballots WHERE id = ?", (ballot,)).fetchone()
    assert row[0] == "abandoned"


def test_facilitated_mode_needs_an_unlock_per_ballot(store, demo):
    settings = KioskSettings(store)
    settings.ballot_mode = "facilitated"
    session = KioskSession(store, demo, settings=settings)
    assert not session.can_start
    with pytest.raises(StoreError):
        session.start()
    session.unlock()
    ballot = session.start()
    assert store.conn.execute("SELECT mode FROM ballots WHERE id = ?",
                              (ballot,)).fetchone()[0] == "facilitated"
    session.finish()
    with pytest.raises(StoreError):
        session.start()


def test_site_and_meeting_go_into_the_ballot_and_ideas(store, demo):
    settings = KioskSettings(store)
    settings.site_id = "menton-mediatheque"
    settings.meeting_id = "m-menton-1203"
    session = KioskSession(store, demo, settings=settings)
    session.start()
    idea = session.submit_idea(title="Navette", text="Une navette le dimanche",
                               theme="infrastructure", contact="+33 6 12 34 56 78",
                               contact_consent=True)
    event = store.events()[-1]
    assert event.payload["site_id"] == "menton-mediatheque"
    assert event.payload["meeting_id"] == "m-menton-1203"
    assert idea.contact == "+33 6 12 34 56 78"


def test_an_idea_can_carry_a_place_and_a_place_outside_changes_nothing(session, store):
    session.start()
    idea = session.submit_idea(title="Banc", text="Un banc face à la mer",
                               place={"lon": 7.503124, "lat": 43.778714})
    assert idea.place == {"lon": 7.50312, "lat": 43.77871, "area": "menton"}
    assert store.events()[-1].payload["place"] == idea.place
    listed = session.submit_idea(title="Fontaine", text="Une fontaine",
                                 place={"area": "ventimiglia"})
    assert listed.place == {"area": "ventimiglia"}
    assert session.submit_idea(title="Sans lieu", text="Partout").place is None
    ideas = len(store.proposals(session.consultation.id))
    events = len(store.events())
    with pytest.raises(ValidationError) as refused:
        session.submit_idea(title="Loin", text="Ailleurs", place={"lon": 2.35, "lat": 48.85})
    assert refused.value.field == "place"
    assert (len(store.proposals(session.consultation.id)), len(store.events())) == \
        (ideas, events)


def test_settings_persist_and_refuse_bad_values(tmp_path):
    from app.store import Store
    store = Store.open(tmp_path)
    settings = KioskSettings(store)
    assert settings.idle_timeout == 60 and settings.text_size == "normal"
    settings.idle_timeout = 90
    settings.text_size = "very_large"
    settings.high_contrast = True
    for bad in (5, 100000, "60", True):
        with pytest.raises(StoreError):
            settings.idle_timeout = bad
    with pytest.raises(StoreError):
        settings.text_size = "huge"
    with pytest.raises(StoreError):
        settings.ballot_mode = "secret"
    settings.ballot_mode = "identified"      # with participation cards (tests/unit/test_identified.py)
    assert settings.ballot_mode == "identified"
    store.close()
    again = KioskSettings(Store.open(tmp_path))
    assert (again.idle_timeout, again.text_size, again.high_contrast) == (90, "very_large", True)
