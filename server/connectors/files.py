"""Import files for a Decidim whose API does not take what the hub has (docs/connectors.md):
built to the columns Decidim's admin importers read (github.com/decidim/decidim):

- proposals (decidim-proposals/lib/decidim/proposals/import/proposal_creator.rb,
  proposals_verifier.rb): `title/<locale>` and `body/<locale>` for every locale of the
  organization (required headers), `address`, `latitude`, `longitude`, `taxonomies/ids`
  (comma-separated IDs); `id` is ignored. Each body ends with the idea's marker line
  (server.connectors.decidim.marker): once the admin imported the file, the connector finds
  the proposals it made by it and brings their answers back, as for those the API made;
- answers (proposal_answer_creator.rb, proposals_answers_verifier.rb): `id` (Decidim's),
  `state` (a proposal state's token: accepted, rejected, evaluating), `answer/<locale>` for every
  locale. Some versions' verifier asks for a `status` header while the creator reads `state`:
  both are written, with the same value.
- paper ballots (the community module decidim-budgets_paper_ballots: PaperBallotResultCreator
  reads `id`.to_i, a budget project's Decidim ID, and `paper_ballots_to_import`.to_i; its
  verifier's headers are those two): per project of a budget question that the connector's
  file maps to a Decidim project, the in-person ballots that funded it (the hub's results'
  `funding_ballots`), to add to the project's online votes.

Only ideas the city can see go in: approved ones, with their public text and rounded point.
"""
from __future__ import annotations

from ..tabular import csv_text
from .decidim import DecidimConfig, load_configs, marker
from .outbox import decidim_ids

# The hub's answer statuses (app/proposals.py) as Decidim's proposal states' tokens.
DECIDIM_STATES = {"accepted": "accepted", "done": "accepted", "rejected": "rejected",
                  "under_study": "evaluating", "received": "evaluating"}
FILES = ("proposals", "answers", "meeting", "paper_ballots")
PAPER_BALLOT_COLUMNS = ("id", "paper_ballots_to_import")


def config_for(hub, consultation_id: str) -> DecidimConfig:
    """The consultation's Decidim as the hub's file names it; without one, the locales FR and
    IT and no taxonomies (a file for an instance the hub never speaks to)."""
    from ..errors import HubError
    from app.errors import N_
    if hub.consultation(consultation_id) is None:
        raise HubError(N_("Unknown consultation."), status=404, code="consultation_unknown")
    return load_configs(hub.settings).get(consultation_id) or DecidimConfig(
        consultation_id=consultation_id, url="", api_key="", api_secret="",
        proposals_component="", locales={"fr": "fr", "it": "it"},
        marker_key=hub.settings.secret_key)


def locales(config: DecidimConfig) -> list[str]:
    return sorted(set(config.locales.values()))


def proposal_columns(config: DecidimConfig) -> tuple[str, ...]:
    out = [f"title/{loc}" for loc in locales(config)]
    out += [f"body/{loc}" for loc in locales(config)]
    return tuple(out) + ("address", "latitude", "longitude", "taxonomies/ids")


def answer_columns(config: DecidimConfig) -> tuple[str, ...]:
    return ("id", "state", "status") + tuple(f"answer/{loc}" for loc in locales(config))


def proposal_rows(hub, config: DecidimConfig) -> list[dict]:
    """The approved ideas Decidim does not hold yet, one row each. An idea is written in one
    language: its title and text fill every locale's columns (the importer requires them all)."""
    from ..exports import decidim_rows, mapped_consultation   # one rule for place columns
    sent = decidim_ids(hub, config.consultation_id)
    ideas = [i for i in hub.proposals(config.consultation_id, public=True)
             if not sent.get(i["id"])]
    consultation = mapped_consultation(hub, config.consultation_id)
    rows = []
    for idea, placed in zip(ideas, decidim_rows(consultation, ideas)):
        row = {f"title/{loc}": idea["title"] for loc in locales(config)}
        body = f"{idea['text']}\n\n{marker(idea['id'], config.marker_key)}"
        row.update({f"body/{loc}": body for loc in locales(config)})
        row.update({k: placed[k] for k in ("address", "latitude", "longitude")})
        row["taxonomies/ids"] = ",".join(config.taxonomies.get(idea.get("theme") or "", []))
        rows.append(row)
    return rows


def answer_rows(hub, config: DecidimConfig) -> list[dict]:
    """The hub's staff answers to ideas Decidim holds (their Decidim ID known)."""
    sent = decidim_ids(hub, config.consultation_id)
    rows = []
    for idea in hub.proposals(config.consultation_id, public=True):
        decidim_id = sent.get(idea["id"])
        if not decidim_id or not idea.get("answer_status"):
            continue
        state = DECIDIM_STATES[idea["answer_status"]]
        row = {"id": decidim_id, "state": state, "status": state}
        row.update({f"answer/{loc}": idea.get("answer_text") or "" for loc in locales(config)})
        rows.append(row)
    return rows


def paper_ballot_rows(hub, config: DecidimConfig) -> list[dict]:
    """The in-person ballots that funded each mapped budget project."""
    import json
    consultation = hub.consultation(config.consultation_id)
    results = json.loads(hub.read_results(config.consultation_id)[1])["questions"]
    rows = []
    for question in consultation.questions:
        if question.kind != "budget":
            continue
        projects = (results.get(question.id) or {}).get("projects") or {}
        for project_id in question.projects:
            decidim_id = config.projects.get(f"{question.id}/{project_id}") \
                or config.projects.get(project_id)
            if decidim_id:
                rows.append({"id": decidim_id, "paper_ballots_to_import": int(
                    (projects.get(project_id) or {}).get("funding_ballots", 0))})
    return rows


def import_file(hub, config: DecidimConfig, which: str) -> str:
    """The text of one file: `proposals`, `answers`, `paper_ballots` (CSV), `meeting` (the
    closing report)."""
    if which == "proposals":
        return csv_text(proposal_columns(config), proposal_rows(hub, config))
    if which == "answers":
        return csv_text(answer_columns(config), answer_rows(hub, config))
    if which == "paper_ballots":
        return csv_text(PAPER_BALLOT_COLUMNS, paper_ballot_rows(hub, config))
    if which == "meeting":       # the closing report, for the meeting's closing form
        from .meeting import closing_report, outcome
        lang = next(iter(config.locales), "fr")
        return closing_report(outcome(hub, config.consultation_id), lang) + "\n"
    raise ValueError(which)

