"""The projector's HubResultsSource against a real hub on 127.0.0.1: first poll, 304 when
unchanged, new results after a tablet pushes, approved ideas only and nothing personal, and a
lost hub reported without hanging."""
from __future__ import annotations

from app.store import Store
from sync.enroll import client_for, enroll
from sync.results_source import HubResultsSource
from sync.worker import push_pending

from .conftest import free_port


def test_hub_source_polls_with_etag_and_sees_new_votes(hub, demo):
    source = HubResultsSource(hub.url, demo.id)
    first = source.poll()
    assert first.reachable and first.snapshot is not None
    before = first.snapshot.questions["q-ticket"]["counts"]["yes"]
    unchanged = source.poll()
    assert unchanged.reachable and unchanged.snapshot is None  # a 304: nothing to redraw

    tablet = Store.memory()
    enroll(tablet, hub.url, hub.code())
    for _ in range(3):
        ballot = tablet.start_ballot(demo)
        tablet.record_answer(demo, ballot, "q-ticket", "yes")
        tablet.close_ballot(ballot)
    idea = tablet.submit_proposal(demo, title="Un banc à l'ombre", text="Sur la place",
                                  contact="jean.dupont@example.org", contact_consent=True)
    tablet.moderate_proposal(idea.id, "approved")
    tablet.submit_proposal(demo, title="Pas encore vue", text="En attente")
    push_pending(tablet, client_for(tablet))

    after = source.poll()
    assert after.reachable and after.snapshot is not None
    snap = after.snapshot
    assert snap.questions["q-ticket"]["counts"]["yes"] == before + 3
    assert snap.ballots >= 3 and snap.ideas_received >= 2
    titles = [i["title"] for i in snap.approved_ideas]
    assert "Un banc à l'ombre" in titles and "Pas encore vue" not in titles
    assert "jean.dupont" not in repr(snap)
    assert all(set(i) == {"short_code", "title", "text", "theme", "lang"}
               for i in snap.approved_ideas)
    source.close()
    tablet.close()


def test_lost_hub_is_reported_quickly(demo):
    source = HubResultsSource(f"http://127.0.0.1:{free_port()}", demo.id, timeout=(0.5, 0.5))
    poll = source.poll()
    assert not poll.reachable and poll.snapshot is None and poll.problem == "Hub unreachable"
    source.close()


def test_unknown_consultation_is_a_clear_problem(hub):
    poll = HubResultsSource(hub.url, "no-such-consultation").poll()
    assert not poll.reachable
    assert poll.problem == "The hub does not know this consultation."
