"""A consultation's meeting outcome for the city's Decidim (docs/connectors.md): who took part
per channel, each question's ballots per channel, the ideas it produced, as

- `closeMeeting` where the instance has it (the development branch after 0.32: the
  `close` field of MeetingMutation, decidim-meetings/lib/decidim/api/mutations/
  meeting_mutation_type.rb, close_meeting_type.rb, close_meeting_attributes.rb:
  `attendeesCount`, `closingReport`, `proposalIds`, with `locale`);
- else a closing report file for the admin to paste into the meeting's closing form (0.32's
  `updateMeeting` only rewrites the meeting's own fields: title, description, place, times).

The counts are the hub's results (server.results) as published; no ballot and no person.
"""
from __future__ import annotations

import json
from html import escape

from app.counts import CHANNEL_NAMES
from app.formatting import number
from app.errors import N_
from app.model import localized

from ..pages import translator
from .decidim import DecidimClient, DecidimConfig, DecidimRefused
from .outbox import decidim_ids as decidim_ids_of

CLOSE_MEETING = """
mutation CloseMeeting($component: ID!, $id: ID!, $input: CloseMeetingInput!) {
  component(id: $component) {
    ... on MeetingsMutation { meeting(id: $id) { close(input: $input) { id } } }
  }
}"""


def outcome(hub, consultation_id: str) -> dict:
    """The meeting's outcome as the hub holds it."""
    consultation = hub.consultation(consultation_id)
    _etag, body = hub.read_results(consultation_id)
    results = json.loads(body)
    channels = {k: int(v) for k, v in (results.get("channels") or {}).items()}
    questions = []
    for question in consultation.questions:
        result = results["questions"].get(question.id) or {}
        per_channel = {ch: int((own or {}).get("ballots", 0))
                       for ch, own in (result.get("channels") or {}).items()}
        questions.append({"id": question.id, "prompt": question.prompt,
                          "ballots": int(result.get("ballots", 0)), "channels": per_channel})
    decidim_ids = decidim_ids_of(hub, consultation_id)
    ideas = [{"id": i["id"], "title": i["title"], "decidim_id": decidim_ids.get(i["id"])}
             for i in hub.proposals(consultation_id, public=True)]
    return {"consultation_id": consultation_id, "title": consultation.title,
            "attendees": sum(channels.values()) or int(results.get("ballots", 0)),
            "channels": channels, "questions": questions, "ideas": ideas}


def closing_report(result: dict, lang: str) -> str:
    """The closing report (HTML paragraphs, as Decidim's rich text keeps them) in `lang`."""
    _ = translator(lang)

    def by_channel(counts: dict) -> str:
        return ", ".join(f"{_(CHANNEL_NAMES.get(ch, ch))} {number(n, lang)}"
                         for ch, n in counts.items())

    lines = [_(N_("In-person participation collected with Piazzetta: {title}.")).format(
        title=localized(result["title"], lang))]
    people = _(N_("Participants: {count}")).format(count=number(result["attendees"], lang))
    if result["channels"]:
        people += f" ({by_channel(result['channels'])})"
    lines.append(people)
    for question in result["questions"]:
        line = _(N_("{question} — ballots: {count}")).format(
            question=localized(question["prompt"], lang), count=number(question["ballots"], lang))
        if question["channels"]:
            line += f" ({by_channel(question['channels'])})"
        lines.append(line)
    lines.append(_(N_("Ideas approved: {count}")).format(count=number(len(result["ideas"]), lang)))
    lines += [f"– {idea['title']}" for idea in result["ideas"]]
    return "".join(f"<p>{escape(line)}</p>" for line in lines)


def close_meeting(hub, config: DecidimConfig, lang: str = "fr") -> dict:
    """Send the outcome with closeMeeting where the instance takes it; else say that the file
    is the way. {"sent": bool, "report": the closing report}."""
    result = outcome(hub, config.consultation_id)
    report = closing_report(result, lang)
    if not (config.url and config.meetings_component and config.meeting_id):
        return {"sent": False, "report": report}
    client = DecidimClient(config)
    try:
        if "close_meeting" not in client.capabilities():
            return {"sent": False, "report": report}
        data = client.execute(CLOSE_MEETING, {
            "component": config.meetings_component, "id": config.meeting_id,
            "input": {"locale": config.locale(lang), "attributes": {
                "attendeesCount": result["attendees"], "closingReport": report,
                "proposalIds": [i["decidim_id"] for i in result["ideas"] if i["decidim_id"]]}}})
        meeting = ((data.get("component") or {}).get("meeting") or {}).get("close")
        if not meeting:
            raise DecidimRefused(f"meeting {config.meeting_id} was not closed")
        return {"sent": True, "report": report}
    finally:
        client.close()
