"""The results log's pieces that need no PostgreSQL (server/results.py, server/unit_of_work.py):
every tally delta survives its JSON form, a tally rebuilt at a revision skips the log's earlier
changes, and SQLite keeps its one-process tallies (no log, its own ETags). The shared path
itself runs on PostgreSQL: tests/integration/test_hub_scale.py."""
from __future__ import annotations

import json

from app.canonical import compact_json
from server.results import (AnswerDelta, BallotDelta, CountDelta, DisplayDelta, IdeaDelta,
                            ResultsCache, decode_deltas, encode_deltas)


def test_every_delta_comes_back_from_its_json_form():
    deltas = [AnswerDelta("c", "q-ticket", "yes"), AnswerDelta("c", "q-colour",
                                                               {"p-bus": "red"}, -1),
              CountDelta("c", "q-ticket", "paper", {"yes": 3, "no": 1}, 4),
              CountDelta("c", "q-ticket", "online", {"yes": 2}, None, -1),
              BallotDelta("c", 2), IdeaDelta("c", None, "pending"),
              IdeaDelta("c", "pending", "approved"), DisplayDelta("c")]
    assert decode_deltas(json.loads(compact_json(encode_deltas(deltas)))) == deltas


def test_a_tally_rebuilt_at_a_revision_skips_the_changes_it_holds(hub, demo):
    cache = ResultsCache()
    with hub.engine.connect() as conn:
        cache.load(conn, demo)
    entry = cache._entries[demo.id]
    entry.followed = 10       # as if rebuilt in a snapshot at revision 10
    ballots = entry.ballots
    cache.apply([BallotDelta(demo.id, 5)], revision=9)        # held already: skipped
    assert cache._entries[demo.id].ballots == ballots
    cache.apply([BallotDelta(demo.id, 5)], revision=11)
    assert cache._entries[demo.id].ballots == ballots + 5
    assert cache._entries[demo.id].revision == cache._entries[demo.id].followed == 11


def test_display_changes_wake_streams_without_a_new_results_revision(hub, demo):
    etag = hub.read_results(demo.id)[0]
    hub.results.apply([DisplayDelta(demo.id)])
    assert hub.read_results(demo.id)[0] == etag


def test_sqlite_keeps_one_process_tallies(hub):
    assert not hub.units.shared and not hub.results.shared and hub.listener is None
    assert hub.readiness()["ready"] and "listening" not in hub.readiness()
