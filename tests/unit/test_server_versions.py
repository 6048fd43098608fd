"""A new version of a consultation must fit what the hub already holds (review, item 1): a
version that changes a question's kind under stored answers or counts is refused whole, and a
stored value that does not fit anyway never stops the hub from starting."""
from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select, update

from app.paths import DEMO_BUNDLE_DIR
from server import db
from server.errors import HubError
from server.hub import Hub


def bundle(version: int, **kinds) -> dict:
    """The demo bundle at `version`, with some questions turned into another kind."""
    data = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text())
    data["consultation"]["version"] = version
    for question in data["consultation"]["questions"]:
        kind = kinds.get(question["id"].replace("-", "_"))
        if kind is not None:
            question["kind"] = kind
            for key in ("options", "multiple", "max_choices", "scale_kind", "labels"):
                question.pop(key, None)
    return data


def stored_rows(hub) -> dict:
    with hub.engine.connect() as conn:
        return {t.name: conn.execute(select(t)).all()
                for t in (db.consultations, db.consultation_versions, db.bundle_files)}


def test_a_version_that_changes_a_kind_under_stored_answers_is_refused_whole(hub, demo, tablet,
                                                                             push):
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-themes", ["health", "economy"])
    assert [r["status"] for r in push(hub, store, device)] == ["stored", "stored"]
    before, results = stored_rows(hub), hub.read_results(demo.id)
    with pytest.raises(HubError) as refused:
        hub.import_bundle(bundle(2, q_themes="yes_no"))
    assert refused.value.status == 409 and refused.value.code == "bundle_incompatible"
    assert refused.value.field == "q-themes" and "q-themes" in refused.value.describe()
    assert stored_rows(hub) == before                # nothing written
    assert hub.read_results(demo.id) == results      # the tallies did not move
    # The hub still starts on this database, and a version that keeps the kind goes in.
    again = Hub(hub.settings)
    assert json.loads(again.read_results(demo.id)[1])["version"] == 1
    again.close()
    assert hub.import_bundle(bundle(2)).version == 2


def test_a_paper_count_under_a_question_turned_into_a_scale_is_refused(hub, demo, tablet, push):
    store, device = tablet(hub)
    store.record_count(demo, "q-ticket", "paper", {"yes": 20, "no": 4})
    assert [r["status"] for r in push(hub, store, device)] == ["stored"]
    with pytest.raises(HubError) as refused:
        hub.import_bundle(bundle(2, q_ticket="scale"))
    assert refused.value.status == 409 and refused.value.field == "q-ticket"
    assert hub.consultation(demo.id).version == 1
    # French, for the staff's screen.
    from app.i18n import gettext_for
    assert "q-ticket" in refused.value.describe(gettext_for("fr"))
    assert refused.value.describe(gettext_for("fr")) != refused.value.describe()


def test_a_dropped_question_does_not_block_a_new_version(hub, demo, tablet, push):
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-missing", "Plus de bancs")
    store.record_answer(demo, ballot, "q-ticket", "no")
    push(hub, store, device)
    data = bundle(2)
    data["consultation"]["questions"] = [q for q in data["consultation"]["questions"]
                                         if q["id"] != "q-missing"]
    assert hub.import_bundle(data).version == 2
    assert json.loads(hub.read_results(demo.id)[1])["questions"]["q-ticket"]["counts"]["no"] == 1


def test_rows_that_do_not_fit_are_left_out_and_the_hub_still_starts(hub, demo, caplog, tablet,
                                                                    push):
    store, device = tablet(hub)
    for value in (["health"], ["economy", "services"]):
        ballot = store.start_ballot(demo)
        store.record_answer(demo, ballot, "q-themes", value)
        store.record_answer(demo, ballot, "q-ticket", "yes")
    store.record_count(demo, "q-ticket", "paper", {"yes": 20, "no": 4})
    push(hub, store, device)
    # What an older hub (without the import check) could have left behind: a version whose
    # q-themes is yes/no and q-ticket a scale, over the answers and count above, plus a
    # damaged row.
    raw = json.dumps(bundle(2, q_themes="yes_no", q_ticket="scale"))
    with hub.writer.begin() as conn:
        conn.execute(db.consultation_versions.insert(), [{
            "consultation_id": demo.id, "version": 2, "bundle": raw, "sha256": "x" * 64,
            "imported_at": "2030-01-01T00:00:00"}])
        conn.execute(update(db.consultations).values(version=2))
        conn.execute(update(db.ballot_answers).where(
            db.ballot_answers.c.question_id == "q-ticket").values(value="{not json"))
    with caplog.at_level(logging.ERROR, logger="piazzetta.hub.results"):
        again = Hub(hub.settings)      # used to die: TypeError / ValueError
    body = json.loads(again.read_results(demo.id)[1])
    assert body["version"] == 2 and body["ballots"] == 2
    assert body["questions"]["q-themes"]["ballots"] == 0
    assert body["questions"]["q-ticket"]["ballots"] == 0
    logged = caplog.text
    assert "q-themes" in logged and "q-ticket" in logged
    assert "economy" not in logged and "not json" not in logged   # never the values
    # A later answer that fits the current version goes in as usual.
    v2 = again.consultation(demo.id)
    later, later_device = tablet(again)
    ballot = later.start_ballot(v2)
    later.record_answer(v2, ballot, "q-themes", "yes")
    assert [r["status"] for r in push(again, later, later_device)] == ["stored", "stored"]
    assert json.loads(again.read_results(demo.id)[1])["questions"]["q-themes"]["ballots"] == 1
    again.close()


def test_the_admin_api_answers_409_and_writes_nothing(hub, demo, tablet, push):
    from fastapi.testclient import TestClient

    from server.api import create_app
    store, device = tablet(hub)
    ballot = store.start_ballot(demo)
    store.record_answer(demo, ballot, "q-themes", ["health"])
    push(hub, store, device)
    client = TestClient(create_app(hub=hub))
    answer = client.post("/api/v1/admin/consultations", json=bundle(2, q_themes="yes_no"),
                         headers={"Authorization": f"Bearer {hub.settings.admin_token}",
                                  "Accept-Language": "it"})
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "bundle_incompatible" and "q-themes" in error["message"]
    assert "versione" in error["message"]          # in the staff's language
    assert hub.consultation(demo.id).version == 1
    assert client.get(f"/api/v1/consultations/{demo.id}/results").status_code == 200
