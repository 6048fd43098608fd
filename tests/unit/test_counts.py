"""Channels on the tablet: paper and show-of-hands counts enter the totals and the breakdown,
a correction is a new event that leaves the old one in the outbox, and bad counts are refused
with a clear message and change nothing."""
import pytest

from app.counts import MAX_COUNT, ChannelTally, participants, validate_count
from app.errors import ValidationError
from app.i18n import gettext_for


def vote(store, demo, **answers):
    ballot = store.start_ballot(demo)
    for question_id, value in answers.items():
        store.record_answer(demo, ballot, question_id.replace("_", "-"), value)
    store.close_ballot(ballot)


def test_paper_count_joins_total_and_breakdown(store, demo):
    vote(store, demo, q_ticket="yes")
    vote(store, demo, q_ticket="no")
    store.record_count(demo, "q-ticket", "paper", {"yes": 12, "no": 3, "abstain": 1})
    result = store.results(demo)["q-ticket"]
    assert result["counts"] == {"yes": 13, "no": 4, "abstain": 1}
    assert result["ballots"] == 18
    assert result["channels"]["tablet"]["counts"] == {"yes": 1, "no": 1, "abstain": 0}
    assert result["channels"]["paper"]["counts"] == {"yes": 12, "no": 3, "abstain": 1}
    assert result["channels"]["paper"]["ballots"] == 16
    assert "show_of_hands" not in result["channels"]


def test_show_of_hands_colour_cards_per_project(store, demo):
    vote(store, demo, q_colour={"p-bus": "green", "p-bike": "red"})
    store.record_count(demo, "q-colour", "show_of_hands",
                       {"p-bus": {"green": 30, "orange": 5, "red": 2},
                        "p-bike": {"green": 10, "red": 20}})
    result = store.results(demo)["q-colour"]
    assert result["projects"]["p-bus"]["counts"] == {"green": 31, "orange": 5, "red": 2}
    assert result["projects"]["p-bike"]["counts"] == {"green": 10, "orange": 0, "red": 21}
    # 37 people raised cards (the biggest project total), plus one tablet ballot
    assert result["ballots"] == 38
    assert result["channels"]["show_of_hands"]["ballots"] == 37
    assert result["projects"]["p-bus"]["shares"]["green"] == round(31 / 38, 4)


def test_scale_and_multiple_choice_counts(store, demo):
    store.record_count(demo, "q-cooperation", "paper", {"4": 3, "5": 2})
    scale = store.results(demo)["q-cooperation"]
    assert scale["distribution"]["4"] == 3 and scale["median"] == 4.0 and scale["ballots"] == 5
    store.record_count(demo, "q-themes", "paper", {"health": 7, "services": 5}, ballots=8)
    choice = store.results(demo)["q-themes"]
    assert choice["counts"]["health"] == 7 and choice["ballots"] == 8
    assert choice["shares"]["health"] == round(7 / 8, 4)


def test_correction_is_a_new_event_and_the_old_count_stays(store, demo):
    first = store.record_count(demo, "q-ticket", "paper", {"yes": 40, "no": 3})
    fixed = store.record_count(demo, "q-ticket", "paper", {"yes": 4, "no": 3},
                               supersedes=first.count_id)
    result = store.results(demo)["q-ticket"]
    assert result["counts"]["yes"] == 4 and result["ballots"] == 7
    events = [e for e in store.events() if e.type == "tally_count"]
    assert [e.payload["count_id"] for e in events] == [first.count_id, fixed.count_id]
    assert events[0].payload["counts"]["yes"] == 40          # nothing overwritten
    assert events[1].payload["supersedes"] == first.count_id
    assert [c.count_id for c in store.counts(demo.id)] == [fixed.count_id]
    kept = store.counts(demo.id, include_superseded=True)
    assert [c.superseded_by for c in kept] == [fixed.count_id, None]
    # the old one cannot be corrected a second time: the latest one is corrected instead
    with pytest.raises(ValidationError) as err:
        store.record_count(demo, "q-ticket", "paper", {"yes": 5}, supersedes=first.count_id)
    assert err.value.field == "supersedes"


BAD = [
    ("q-ticket", "paper", {"yes": -1}, None, "counts.yes", "A number of votes cannot be negative."),
    ("q-ticket", "paper", {"maybe": 3}, None, "counts.maybe", "Unknown option."),
    ("q-ticket", "paper", {"yes": MAX_COUNT + 1}, None, "counts.yes",
     "At most 100000 votes can be counted for one answer."),
    ("q-ticket", "paper", {"yes": 10 ** 30}, None, "counts.yes",
     "At most 100000 votes can be counted for one answer."),
    ("q-ticket", "paper", {"yes": 2.5}, None, "counts.yes",
     "A whole number of votes is expected here."),
    ("q-ticket", "paper", {"yes": True}, None, "counts.yes",
     "A whole number of votes is expected here."),
    ("q-ticket", "paper", ["yes", 3], None, "counts", "The counts do not match this kind of question."),
    ("q-ticket", "paper", {"yes": 0, "no": 0}, None, "counts", "These counts hold no vote at all."),
    ("q-ticket", "carrier pigeon", {"yes": 3}, None, "channel",
     "Unknown channel: paper, show of hands or online is expected."),
    ("q-ticket", "tablet", {"yes": 3}, None, "channel",
     "Unknown channel: paper, show of hands or online is expected."),
    ("q-nope", "paper", {"yes": 3}, None, "question_id", "Unknown question."),
    ("q-services", "paper", {"s-doctor": 3}, None, "question_id",
     "Votes on this kind of question cannot be counted by hand."),
    ("q-missing", "paper", {"x": 1}, None, "question_id",
     "Votes on this kind of question cannot be counted by hand."),
    ("q-colour", "show_of_hands", {"p-nowhere": {"green": 1}}, None, "counts.p-nowhere",
     "Unknown project."),
    ("q-colour", "show_of_hands", {"p-bus": {"purple": 1}}, None, "counts.p-bus.purple",
     "Unknown colour."),
    ("q-colour", "show_of_hands", {"p-bus": 12}, None, "counts.p-bus",
     "The counts do not match this kind of question."),
    ("q-cooperation", "paper", {"6": 2}, None, "counts.6", "Choose a value from 1 to 5."),
    ("q-themes", "paper", {"health": 7, "services": 5}, 13, "ballots",
     "The number of ballots must be between 7 and 12 for these counts."),
    ("q-ticket", "paper", {"yes": "🙂"}, None, "counts.yes", "A whole number of votes is expected here."),
    ("q-ticket", "paper", {"'; DROP TABLE outbox; --": 1}, None,
     "counts.'; DROP TABLE outbox; --", "Unknown option."),
]


@pytest.mark.parametrize("question_id, channel, counts, ballots, field, message", BAD)
def test_bad_counts_are_refused_and_change_nothing(store, demo, question_id, channel, counts,
                                                   ballots, field, message):
    store.record_count(demo, "q-ticket", "paper", {"yes": 2})
    before_events, before = store.events(), store.results(demo)
    with pytest.raises(ValidationError) as err:
        store.record_count(demo, question_id, channel, counts, ballots=ballots)
    assert err.value.field == field
    assert err.value.describe() == message
    assert err.value.describe(gettext_for("fr")) != message      # translated for the screen
    assert err.value.describe(gettext_for("it")) != message
    assert store.events() == before_events and store.results(demo) == before


def test_correcting_a_count_of_another_question_is_refused(store, demo):
    other = store.record_count(demo, "q-cooperation", "paper", {"3": 1})
    with pytest.raises(ValidationError) as err:
        store.record_count(demo, "q-ticket", "paper", {"yes": 1}, supersedes=other.count_id)
    assert err.value.field == "supersedes"
    with pytest.raises(ValidationError):
        store.record_count(demo, "q-ticket", "paper", {"yes": 1}, supersedes="no-such-count")
    assert [e.type for e in store.events()] == ["tally_count"]


def test_channel_tally_and_participants(demo):
    question = demo.question("q-ticket")
    tally = ChannelTally(demo, question)
    tally.add("yes")
    _q, counts, ballots = validate_count(demo, "q-ticket", "online", {"no": 5})
    tally.add_count(counts, ballots, "online")
    tally.remove_count(counts, ballots, "online")
    tally.add_count({"yes": 0, "no": 2, "abstain": 0}, 2, "online")
    assert tally.result()["counts"] == {"yes": 1, "no": 2, "abstain": 0}
    assert tally.channel_ballots() == {"tablet": 1, "online": 2}
    colour = ChannelTally(demo, demo.question("q-colour"))
    colour.add_count({"p-bus": {"green": 9, "orange": 0, "red": 0}}, 9, "paper")
    assert participants([tally, colour], 1) == {"tablet": 1, "paper": 9, "online": 2}
