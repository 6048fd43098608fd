"""The projector's display state, its keyboard, its controls, and its local results source."""
import threading

import pytest

from app.display import (BILINGUAL_MODES, IDEAS_VIEW, PARTICIPATION_VIEW, DisplayState,
                         cloud_words, control_for_key, key_help, parse_control, views_of)
from app.errors import ValidationError
from sync.results_source import LocalResultsSource, ResultsPoller, public_idea


@pytest.fixture
def state(demo):
    return DisplayState.initial(demo)


def test_views_are_the_questions_then_ideas_and_participation(demo, state):
    assert views_of(demo)[:-2] == tuple(q.id for q in demo.questions)
    assert state.views[-2:] == (IDEAS_VIEW, PARTICIPATION_VIEW)
    assert state.view == demo.questions[0].id
    assert (state.rotating, state.hidden, state.frozen, state.bilingual) == (
        True, False, False, "off")


def test_rotation_wraps_and_stops_when_off_or_frozen(state):
    seen = [state.view]
    s = state
    for _ in range(len(state.views)):
        s = s.rotate()
        seen.append(s.view)
    assert seen[-1] == state.view and len(set(seen)) == len(state.views)
    assert state.apply({"rotating": False}).rotate().view == state.view
    assert state.apply({"frozen": True}).rotate().view == state.view


def test_keyboard_steps_toggles_and_numbers(state):
    def press(s, key):
        control = control_for_key(s, key)
        return s.apply(control) if control is not None else s

    assert press(state, "right").view == state.views[1]
    assert press(state, "left").view == state.views[-1]
    assert press(state, "spacebar").view == state.views[1]
    assert press(state, "3").view == state.views[2]
    assert press(state, "i").view == IDEAS_VIEW
    assert press(state, "p").view == PARTICIPATION_VIEW
    assert press(state, "h").hidden is True
    assert press(press(state, "h"), "h").hidden is False
    assert press(state, "f").frozen is True
    assert press(state, "r").rotating is False
    assert [press(state, "b").bilingual, press(press(state, "b"), "b").bilingual] == [
        "side_by_side", "alternating"]
    assert press(state, "l").lang == "it"
    assert press(state, "+").period > state.period > press(state, "-").period
    assert control_for_key(state, "z") is None
    # 8 questions, then ideas and participation: 9 is the ideas, the last is reached by "p"
    assert state.views[7:] == ("q-place", IDEAS_VIEW, PARTICIPATION_VIEW)
    assert press(state, "8").view == "q-place"
    assert press(state, "9").view == IDEAS_VIEW
    assert control_for_key(DisplayState(views=("a", "b"), view="a"), "5") is None
    longest = state
    for _ in range(20):
        longest = press(longest, "+")
    assert longest.period == 120


def test_key_help_names_every_action():
    lines = key_help()
    assert any("h" in keys for keys, _ in lines)
    assert len({msgid for _, msgid in lines}) == len(lines)


def test_controls_are_absolute_and_idempotent(state):
    control = {"view": "q-budget", "hidden": True, "bilingual": "side_by_side", "period": 30}
    once = state.apply(control)
    assert once.apply(control) == once
    assert (once.view, once.hidden, once.bilingual, once.period) == (
        "q-budget", True, "side_by_side", 30)
    mirrored = state.apply(once.as_control())
    assert mirrored == once


def test_stale_revisions_are_ignored(state):
    newer = state.apply({"view": "q-ticket", "revision": 5})
    assert newer.revision == 5
    assert newer.apply({"view": "q-budget", "revision": 5}) is newer
    assert newer.apply({"view": "q-budget", "revision": 3}) is newer
    assert newer.apply({"view": "q-budget", "revision": 6}).view == "q-budget"


@pytest.mark.parametrize("control, field", [
    ({"view": "q-nope"}, "view"), ({"view": 3}, "view"),
    ({"hidden": "yes"}, "hidden"), ({"frozen": 1}, "frozen"),
    ({"period": 2}, "period"), ({"period": 10 ** 9}, "period"), ({"period": True}, "period"),
    ({"bilingual": "both"}, "bilingual"), ({"lang": "de"}, "lang"),
    ({"revision": -1}, "revision"), ({"revision": "7"}, "revision"),
    ({"view": "q-ticket", "lang": "<script>"}, "lang"),
])
def test_bad_controls_are_refused_whole(state, control, field):
    with pytest.raises(ValidationError) as info:
        state.apply(control)
    assert info.value.field == field
    assert state.view == state.views[0]  # frozen dataclass: nothing changed


def test_unknown_keys_are_ignored_and_non_objects_refused(state):
    assert state.apply({"future_option": 1}) == state
    with pytest.raises(ValidationError):
        parse_control(["view"], state.views)
    with pytest.raises(ValidationError) as info:
        state.apply({"view": "x" * 10_000})
    assert len(info.value.describe()) < 200


def test_languages_by_bilingual_mode(state):
    assert state.languages() == ("fr",)
    assert state.apply({"lang": "it"}).languages() == ("it",)
    assert state.apply({"bilingual": "side_by_side"}).languages() == ("fr", "it")
    alternating = state.apply({"bilingual": "alternating"})
    assert {alternating.languages(t)[0] for t in (0, 9, 17, 25)} == {"fr", "it"}
    assert set(BILINGUAL_MODES) == {"off", "side_by_side", "alternating"}


def test_word_cloud_keeps_shared_plain_words_only():
    words = [["transport", 5], ["médecins", 3], ["dupont", 1], ["pour", 4],
             ["jean.dupont", 3], ["trasporti", 2], [12, 3], "bad", ["bus", True]]
    assert cloud_words(words) == [("transport", 5), ("médecins", 3)]
    assert cloud_words(words, min_count=2)[-1] == ("trasporti", 2)
    assert cloud_words(words, min_count=3, limit=1) == [("transport", 5)]


def test_public_idea_drops_everything_personal():
    raw = {"short_code": "K7PQ2M", "title": "Un bus le soir", "text": "Entre Menton et Vintimille",
           "theme": "infrastructure", "status": "approved", "contact": "a@b.fr",
           "device_id": "dev", "site_id": "s"}
    assert public_idea(raw) == {"short_code": "K7PQ2M", "title": "Un bus le soir",
                                "text": "Entre Menton et Vintimille", "theme": "infrastructure",
                                "lang": None}
    # The language it was written in is kept when it is one of ours.
    assert public_idea({**raw, "lang": "fr"})["lang"] == "fr"
    assert public_idea({**raw, "lang": "<b>"})["lang"] is None
    assert public_idea({**raw, "status": "pending"}) is None
    assert public_idea({**raw, "title": "  "}) is None
    assert public_idea("nope") is None


def _fill(store, demo, ballots):
    for i in range(ballots):
        ballot = store.start_ballot(demo)
        store.record_answer(demo, ballot, "q-ticket", ("yes", "no", "abstain")[i % 3])
        store.record_answer(demo, ballot, "q-colour", {"p-bus": "green"})


def test_local_source_reads_its_own_store_in_the_polling_thread(tmp_path, demo):
    from app.store import Store
    writer = Store.open(tmp_path)
    _fill(writer, demo, 4)
    idea = writer.submit_proposal(demo, title="Un bus le soir", text="Entre les villages",
                                  contact="jean@example.org", contact_consent=True)
    writer.submit_proposal(demo, title="Pas encore modérée", text="…")
    writer.moderate_proposal(idea.id, "approved")

    source = LocalResultsSource(tmp_path, demo)
    polls = []
    done = threading.Event()

    def deliver(poll):
        polls.append((poll, threading.current_thread().name))
        if len(polls) >= 2:
            done.set()

    poller = ResultsPoller(source, deliver, interval=0.05).start()
    assert done.wait(10)
    poller.stop()
    first, thread_name = polls[0]
    assert thread_name == "results-poller"
    assert first.reachable and first.snapshot is not None
    snap = first.snapshot
    assert snap.questions["q-ticket"]["counts"] == {"yes": 2, "no": 1, "abstain": 1}
    assert snap.ballots == 4 and snap.ideas_received == 2 and snap.ideas_approved == 1
    assert snap.contributions == 6
    assert [i["title"] for i in snap.approved_ideas] == ["Un bus le soir"]
    assert "jean@example.org" not in repr(snap)
    assert polls[1][0].reachable and polls[1][0].snapshot is None  # unchanged: nothing new

    _fill(writer, demo, 1)
    again = source.poll()
    assert again.snapshot.questions["q-ticket"]["counts"]["yes"] == 3
    source.close()
    writer.close()


def test_projector_results_main_hands_the_screen_read_the_local_store(tmp_path, demo):
    # main.py gives the projector's screen this `watch(deliver)`: without a hub, the results
    # of the device's own store, polled in the poller's thread until stop().
    from app.store import Store
    from sync.display import projector_results
    writer = Store.open(tmp_path)
    _fill(writer, demo, 2)
    polls = []
    done = threading.Event()

    def deliver(poll):
        polls.append((poll, threading.current_thread().name))
        done.set()

    poller = projector_results(demo, store_path=writer.path, interval=0.05)(deliver)
    assert done.wait(10)
    poller.stop()
    first, thread_name = polls[0]
    assert thread_name == "results-poller" and first.reachable
    assert first.snapshot.ballots == 2
    assert first.snapshot.questions["q-ticket"]["counts"] == {"yes": 1, "no": 1, "abstain": 0}
    writer.close()


def test_local_source_reports_an_unreadable_store(tmp_path, demo):
    bad = tmp_path / "broken.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    poll = LocalResultsSource(bad, demo).poll()
    assert not poll.reachable and poll.snapshot is None and poll.problem
