"""The Decidim connector's parts that need no network (issue 28): what each version takes, the
outbox's queue fed from moderation, and the import files read back with the column rules of
Decidim's importers (decidim-proposals/lib/decidim/proposals/import/proposal_creator.rb,
proposals_verifier.rb, proposal_answer_creator.rb, proposals_answers_verifier.rb)."""
from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select, update

from server import db
from server.connectors import files, outbox
from server.connectors.decidim import capabilities, load_configs, marker, plain_text

CONSULTATION = "alpimed-2030"
ORGANIZATION_LOCALES = ("en", "fr", "it")     # the organization's available_locales


def write_config(hub, **extra) -> None:
    path = hub.settings.decidim_file
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"consultations": {CONSULTATION: {
            "url": "https://decidim.example.org/", "api_key": "k", "api_secret": "s",
            "proposals_component": 12, "locales": {"fr": "fr", "it": "it", "en": "en"},
            "taxonomies": {"mobility": ["31", "32"]}, **extra}}}, out)


def ideas_on_the_hub(hub, tablet, push) -> dict:
    consultation = hub.consultation(CONSULTATION)
    store, device = tablet(hub)
    made = {
        "fr": store.submit_proposal(consultation, title="Un banc à l'ombre des platanes",
                                    text="Sur la place du marché.", lang="fr",
                                    theme=consultation.themes[0].id
                                    if consultation.themes else None),
        "it": store.submit_proposal(consultation, title="Una panchina all'ombra dei platani",
                                    text="=In piazza del mercato.", lang="it"),
        "no": store.submit_proposal(consultation, title="Publicité pour un magasin",
                                    text="Achetez nos chaussures.", lang="fr"),
    }
    store.moderate_proposal(made["fr"].id, "approved")
    store.moderate_proposal(made["it"].id, "approved")
    store.moderate_proposal(made["no"].id, "rejected", reason="Publicité")
    push(hub, store, device)
    return {"store": store, "device": device, **made}


# -- Decidim's importers' rules, as their source reads them ----------------------------------------

def read_import(text: str, required: list[str]) -> list[dict]:
    """Decidim::Admin::Import::Verifier: every required header present; then each row's data
    as the creators read it (a header `a/b` nests b under a: Decidim's locale_hasher)."""
    rows = list(csv.DictReader(io.StringIO(text)))
    headers = next(csv.reader(io.StringIO(text)))
    missing = [h for h in required if h not in headers]
    assert missing == [], f"the importer refuses the file: missing {missing}"
    return rows


def localized(row: dict, field: str) -> dict:
    return {h.split("/", 1)[1]: v for h, v in row.items() if h.startswith(field + "/")}


def read_proposals(text: str) -> list[dict]:
    """ProposalsVerifier#required_headers, ProposalCreator#title/body/address/latitude/
    longitude/taxonomies (taxonomies/ids: split(",").map(&:to_i))."""
    required = [f"title/{loc}" for loc in ORGANIZATION_LOCALES] + \
        [f"body/{loc}" for loc in ORGANIZATION_LOCALES]
    out = []
    for row in read_import(text, required):
        out.append({"title": localized(row, "title"), "body": localized(row, "body"),
                    "address": row.get("address"),
                    "latitude": float(row["latitude"]) if row.get("latitude") else None,
                    "longitude": float(row["longitude"]) if row.get("longitude") else None,
                    "taxonomies": [int(t) for t in (row.get("taxonomies/ids") or "").split(",")
                                   if t]})
    return out


def read_answers(text: str) -> list[dict]:
    """ProposalsAnswersVerifier (`id`, `status` and answer/<locale>; other versions `state`),
    ProposalAnswerCreator (`id`.to_i, `state` a proposal state's token, answer/<locale>)."""
    required = ["id", "status", "state"] + [f"answer/{loc}" for loc in ORGANIZATION_LOCALES]
    return [{"id": int(row["id"]), "state": row["state"], "answer": localized(row, "answer")}
            for row in read_import(text, required)]


# -- tests -----------------------------------------------------------------------------------------

def test_what_each_version_takes_through_its_api():
    assert capabilities("0.30.4") == frozenset()
    assert capabilities("0.31.0") == {"answer"}
    assert capabilities("0.32.2") == {"answer", "create_proposal", "update_proposal",
                                      "update_meeting"}
    assert "close_meeting" in capabilities("0.33.0.dev")
    assert plain_text("<p>Oui : en mars &amp; avril.</p><p>Merci</p>") == \
        "Oui : en mars & avril.\nMerci"


def test_the_configuration_is_read_from_the_hubs_file_only(hub):
    assert load_configs(hub.settings) == {}           # no file: no connector
    write_config(hub)
    config = load_configs(hub.settings)[CONSULTATION]
    assert config.url == "https://decidim.example.org" and config.proposals_component == "12"
    assert config.locale("it") == "it" and config.lang("fr") == "fr"
    assert config.taxonomies == {"mobility": ["31", "32"]}


def test_approved_ideas_are_queued_once_and_an_edit_queues_them_again(hub, tablet, push):
    made = ideas_on_the_hub(hub, tablet, push)
    assert outbox.queue_approved(hub.engine, [CONSULTATION]) == 2
    assert outbox.queue_approved(hub.engine, [CONSULTATION]) == 0
    rows = {r["proposal_id"]: r for r in outbox.queue(hub.engine, CONSULTATION)}
    assert rows.keys() == {made["fr"].id, made["it"].id}
    assert {r["state"] for r in rows.values()} == {"waiting"}
    with hub.writer.begin() as conn:
        conn.execute(update(db.decidim_outbox).values(state="sent", sent_revision=1))
    made["store"].moderate_proposal(made["fr"].id, "approved", title="Un banc sous les platanes")
    push(hub, made["store"], made["device"])
    assert outbox.queue_approved(hub.engine, [CONSULTATION]) == 1
    counts = outbox.queue_counts(outbox.queue(hub.engine, CONSULTATION))
    assert counts == {"waiting": 1, "sent": 1, "refused": 0}


def test_the_import_files_read_back_with_decidims_importer_rules(hub, tablet, push):
    made = ideas_on_the_hub(hub, tablet, push)
    write_config(hub)
    config = files.config_for(hub, CONSULTATION)
    proposals = read_proposals(files.import_file(hub, config, "proposals"))
    assert len(proposals) == 2                        # approved only
    by_title = {p["title"]["it"]: p for p in proposals}
    italian = by_title["Una panchina all'ombra dei platani"]
    # The formula-looking text is made inert by the one CSV rule (server/tabular.py).
    assert italian["body"]["it"] == \
        f"'=In piazza del mercato.\n\n{marker(made['it'].id, hub.settings.secret_key)}"
    assert set(italian["title"]) == set(ORGANIZATION_LOCALES)
    assert all(marker(made["no"].id) not in b for p in proposals for b in p["body"].values())

    # Once Decidim holds a proposal, it leaves the proposals file; staff's answers to it go
    # into the answers file under Decidim's ID.
    outbox.queue_approved(hub.engine, [CONSULTATION])
    with hub.writer.begin() as conn:
        conn.execute(update(db.decidim_outbox).where(
            db.decidim_outbox.c.proposal_id == made["fr"].id).values(
            state="sent", decidim_id="405"))
    hub.answer_proposal(made["fr"].id, "under_study", "Nous étudions le lieu.")
    hub.answer_proposal(made["it"].id, "accepted", "Sì.")      # Decidim has not got it
    assert len(read_proposals(files.import_file(hub, config, "proposals"))) == 1
    answers = read_answers(files.import_file(hub, config, "answers"))
    assert answers == [{"id": 405, "state": "evaluating",
                        "answer": {loc: "Nous étudions le lieu." for loc in
                                   ORGANIZATION_LOCALES}}]
    with hub.engine.connect() as conn:
        assert conn.execute(select(db.decidim_outbox.c.decidim_id).where(
            db.decidim_outbox.c.proposal_id == made["fr"].id)).scalar() == "405"


def test_the_export_command_writes_the_import_files(hub, tablet, push, capsys):
    from server.admin import main
    ideas_on_the_hub(hub, tablet, push)
    data_dir = str(hub.settings.data_dir)
    assert main(["--data-dir", data_dir, "export", "decidim", "--consultation", CONSULTATION,
                 "--file", "proposals"]) == 0
    proposals = read_proposals_for(capsys.readouterr().out, ("fr", "it"))
    assert len(proposals) == 2
    assert main(["--data-dir", data_dir, "export", "decidim", "--consultation", CONSULTATION,
                 "--file", "meeting"]) == 0
    report = capsys.readouterr().out
    assert report.startswith("<p>Participation en présentiel recueillie avec Piazzetta\u00a0: ")
    assert "<p>Idées approuvées\u00a0: 2</p>" in report
    # No Decidim configured: closing the meeting prints the report for the admin.
    assert main(["--data-dir", data_dir, "decidim-close-meeting",
                 "--consultation", CONSULTATION]) == 0
    assert capsys.readouterr().out == report


def read_proposals_for(text: str, locales: tuple[str, ...]) -> list[dict]:
    required = [f"title/{loc}" for loc in locales] + [f"body/{loc}" for loc in locales]
    return read_import(text, required)


def test_a_031_instance_gets_the_file_then_its_answers_come_back(hub, tablet, push):
    """Decidim 0.31 takes answers through its API but not new proposals: the approved ideas
    wait for the import file; once the admin imported it, the connector finds each proposal
    by its marker line and brings the city's answer back to the idea."""
    from server.connectors.outbox import DecidimOutbox, city_answer
    from tests.integration.decidim_standin import DecidimStandIn
    made = ideas_on_the_hub(hub, tablet, push)
    standin = DecidimStandIn(version="0.31.0")
    try:
        write_config(hub, url=standin.url, api_key="piazzetta-key",
                     api_secret="piazzetta-secret", timeout=5)
        sender = DecidimOutbox(hub, interval=1, answers_interval=1)
        sender.round()
        assert standin.proposals == {} and standin.mutations == 0
        assert outbox.queue_counts(outbox.queue(hub.engine, CONSULTATION))["waiting"] == 2
        # The admin imports the file (ProposalCreator: one proposal per row).
        text = files.import_file(hub, files.config_for(hub, CONSULTATION), "proposals")
        for n, row in enumerate(read_proposals(text)):
            standin.proposals[str(500 + n)] = {
                "id": str(500 + n), "title": row["title"], "body": row["body"],
                "state": None, "answer": None, "publishedAt": "2026-12-06T10:00:00Z"}
        french = next(k for k, p in standin.proposals.items()
                      if marker(made["fr"].id) in p["body"]["fr"])
        standin.answer(french, "rejected", {"fr": "<p>Le lieu est privé.</p>",
                                            "it": "<p>Il luogo è privato.</p>"})
        sender.answers_due.clear()
        sender.round()
        rows = {r["proposal_id"]: r for r in outbox.queue(hub.engine, CONSULTATION)}
        assert rows[made["fr"].id]["decidim_id"] == french
        assert {r["state"] for r in rows.values()} == {"sent"}
        assert city_answer(hub.engine, made["fr"].id, "it", "fr") == "Il luogo è privato."
        staff = {i["id"]: i for i in hub.proposals(CONSULTATION)}
        assert staff[made["fr"].id]["answer_status"] == "rejected"
        assert staff[made["fr"].id]["answer_text"] == "Le lieu est privé."
        assert standin.invalid == [] and len(standin.proposals) == 2
        sender.stop()
    finally:
        standin.close()


def test_the_meeting_outcome_closes_the_meeting_where_decidim_can_else_a_report(
        hub, tablet, push):
    """closeMeeting (the development branch after 0.32): attendees, the closing report, the
    proposals the meeting produced; on 0.32 the closing report is the file."""
    from server.connectors.meeting import close_meeting
    from tests.integration.decidim_standin import DecidimStandIn
    made = ideas_on_the_hub(hub, tablet, push)
    for version, closes in (("0.32.2", False), ("0.33.0.dev", True)):
        standin = DecidimStandIn(version=version)
        try:
            write_config(hub, url=standin.url, api_key="piazzetta-key",
                         api_secret="piazzetta-secret", meetings_component="13",
                         meeting_id="7", timeout=5)
            outbox.queue_approved(hub.engine, [CONSULTATION])
            standin.proposals["900"] = {"id": "900", "title": {"fr": "x"}, "body": {"fr": "x"},
                                        "state": None, "answer": None,
                                        "publishedAt": "2026-12-06T10:00:00Z"}
            with hub.writer.begin() as conn:
                conn.execute(update(db.decidim_outbox).where(
                    db.decidim_outbox.c.proposal_id == made["fr"].id).values(
                    state="sent", decidim_id="900"))
            done = close_meeting(hub, files.config_for(hub, CONSULTATION), "it")
            assert done["sent"] is closes
            assert "Idee approvate: 2" in done["report"]
            assert "Una panchina all&#x27;ombra dei platani" in done["report"]
            meeting = standin.meetings["7"]
            if closes:
                assert meeting["closed"] and meeting["proposalIds"] == ["900"]
                assert meeting["closingReport"] == {"it": done["report"]}
                assert meeting["attendeesCount"] == 0
            else:
                assert not meeting["closed"] and standin.mutations == 0
            assert standin.invalid == []
        finally:
            standin.close()


def test_an_idea_taken_back_before_decidim_had_it_leaves_the_queue(hub, tablet, push):
    from server.connectors.outbox import DecidimOutbox
    from tests.integration.decidim_standin import DecidimStandIn
    made = ideas_on_the_hub(hub, tablet, push)
    outbox.queue_approved(hub.engine, [CONSULTATION])
    made["store"].moderate_proposal(made["it"].id, "rejected", reason="Doppione")
    push(hub, made["store"], made["device"])
    standin = DecidimStandIn()
    try:
        write_config(hub, url=standin.url, api_key="piazzetta-key",
                     api_secret="piazzetta-secret", timeout=5)
        DecidimOutbox(hub, interval=1, answers_interval=3600).round()
        rows = {r["proposal_id"]: r for r in outbox.queue(hub.engine, CONSULTATION)}
        assert rows.keys() == {made["fr"].id} and rows[made["fr"].id]["state"] == "sent"
        assert [p["title"] for p in standin.proposals.values()] == [
            {"fr": "Un banc à l'ombre des platanes"}]
    finally:
        standin.close()


def test_the_dashboard_gives_the_import_files_to_staff_only(hub, api, tablet, push):
    ideas_on_the_hub(hub, tablet, push)
    client = api.fresh()
    base = f"/dashboard/decidim/{CONSULTATION}"
    assert client.get(f"{base}/proposals.csv").status_code == 401
    staff = {"Authorization": f"Bearer {hub.settings.admin_token}"}
    answer = client.get(f"{base}/proposals.csv", headers=staff)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert len(read_proposals_for(answer.text, ("fr", "it"))) == 2
    report = client.get(f"{base}/meeting.html", headers=staff)
    assert report.status_code == 200 and "<p>" in report.text
    assert client.get(f"{base}/meeting.csv", headers=staff).status_code == 404
    assert client.get("/dashboard/decidim/nowhere/answers.csv",
                      headers=staff).status_code == 404
    booths = client.get(f"/dashboard/consul/{CONSULTATION}/recounts.csv?lang=it", headers=staff)
    assert booths.status_code == 200 and booths.text.startswith("booth_id,booth,date,")
    assert client.get(f"/dashboard/consul/{CONSULTATION}/recounts.csv").status_code == 401
    board = client.get("/dashboard?lang=it", headers=staff).text
    assert f"/dashboard/consul/{CONSULTATION}/results.csv" in board


def test_consul_booth_results_per_site_and_date(hub, tablet, push, capsys):
    """CONSUL's officers' shapes: per booth (site) and date, each answer's amount; white, null
    and total per question; the totals agree with the hub's results."""
    from server.admin import main
    from server.connectors.consul import booth_tables
    consultation = hub.consultation(CONSULTATION)
    store, device = tablet(hub)
    for n, choice in enumerate(("yes", "no", "yes", "abstain")):
        ballot = store.start_ballot(consultation)
        if n < 4:
            store.record_answer(consultation, ballot, "q-ticket", choice)
        if n < 2:
            store.record_answer(consultation, ballot, "q-themes", ["economy", "health"])
        store.close_ballot(ballot)
    store.close_ballot(store.start_ballot(consultation))        # a ballot left blank
    push(hub, store, device)
    results, recounts = booth_tables(hub, CONSULTATION, "fr")
    ticket = {r["answer_id"]: r["amount"] for r in results if r["question_id"] == "q-ticket"}
    assert ticket == {"yes": 2, "no": 1}
    themes = {r["answer_id"]: r["amount"] for r in results if r["question_id"] == "q-themes"}
    assert themes == {"infrastructure": 0, "economy": 2, "health": 2, "services": 0}
    assert {r["booth_id"] for r in results} == {"menton-mediatheque"}
    recount = {r["question_id"]: r for r in recounts}
    assert (recount["q-ticket"]["white"], recount["q-ticket"]["null"],
            recount["q-ticket"]["total"]) == (2, 0, 5)
    assert (recount["q-themes"]["white"], recount["q-themes"]["total"]) == (3, 5)
    official = json.loads(hub.read_results(CONSULTATION)[1])["questions"]["q-ticket"]["counts"]
    assert official["yes"] == ticket["yes"] and official["no"] == ticket["no"]
    data_dir = str(hub.settings.data_dir)
    assert main(["--data-dir", data_dir, "export", "consul", "--consultation", CONSULTATION,
                 "--file", "recounts"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["question_id"]: r["total"] for r in rows} == {"q-ticket": "5", "q-themes": "5"}
    assert main(["--data-dir", data_dir, "export", "consul", "--consultation", CONSULTATION,
                 "--file", "proposals"]) == 2


def test_paper_ballots_for_decidims_budgets_read_back_with_the_modules_rules(hub, tablet, push):
    """decidim-budgets_paper_ballots' importer: `id`.to_i (the Decidim project) and
    `paper_ballots_to_import`.to_i; its verifier's headers are those two."""
    consultation = hub.consultation(CONSULTATION)
    store, device = tablet(hub)
    for share in ({"p-bus": 240000, "p-market": 60000}, {"p-market": 60000}):
        ballot = store.start_ballot(consultation)
        store.record_answer(consultation, ballot, "q-budget", share)
        store.close_ballot(ballot)
    push(hub, store, device)
    write_config(hub, projects={"p-bus": "101", "q-budget/p-market": 103})
    text = files.import_file(hub, files.config_for(hub, CONSULTATION), "paper_ballots")
    rows = read_import(text, ["id", "paper_ballots_to_import"])
    votes = {int(r["id"]): int(r["paper_ballots_to_import"]) for r in rows}
    funded = json.loads(hub.read_results(CONSULTATION)[1])["questions"]["q-budget"]["projects"]
    assert votes == {101: funded["p-bus"]["funding_ballots"],
                     103: funded["p-market"]["funding_ballots"]}
    assert votes[103] == 2


def test_a_process_slower_than_its_lease_does_not_create_a_second_proposal(hub, tablet, push):
    """Two hub processes' outboxes on one database: the first claims an idea, is slower than its
    lease, and the second takes the row over. The first must then not create the proposal (its
    lease_until is its fencing token); the second creates it once."""
    from server.connectors.decidim import load_configs
    from server.connectors.outbox import DecidimOutbox
    from sqlalchemy import update

    from server import db
    made = ideas_on_the_hub(hub, tablet, push)
    outbox.queue_approved(hub.engine, [CONSULTATION])
    write_config(hub, timeout=5)
    config = load_configs(hub.settings)[CONSULTATION]
    slow, quick = DecidimOutbox(hub, interval=1), DecidimOutbox(hub, interval=1)
    idea = made["fr"].id
    assert slow._claim(idea, config)
    assert not quick._claim(idea, config)              # held
    with db.writer(hub.engine).begin() as conn:          # the slow one's lease runs out
        conn.execute(update(db.decidim_outbox).where(
            db.decidim_outbox.c.proposal_id == idea).values(lease_until=0.0))
    assert quick._claim(idea, config)
    assert not slow._renew_before_create(idea)           # taken over: no create
    assert quick._renew_before_create(idea)              # the holder creates
    with hub.engine.connect() as conn:
        row = conn.execute(db.decidim_outbox.select().where(
            db.decidim_outbox.c.proposal_id == idea)).first()
    assert row.uncertain                                # marked in the same write
