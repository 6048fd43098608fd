"""Words on the hub's pages (issue 29/30 leftovers): one msgid where the phone page and the
kiosk say the same thing, and words a city officer or a resident reads rather than internal
names."""
import re

from tests.unit.test_i18n import catalog, source_msgids


def test_the_phone_page_and_the_kiosk_share_one_question_n_of_n():
    """The phone page had its own "Question {n} of {total}" beside the kiosk's
    "Question {number} of {total}": two entries to keep in step in every language."""
    forms = sorted(m for m in source_msgids() if re.fullmatch(r"Question \{\w+\} of \{\w+\}", m))
    assert forms == ["Question {number} of {total}"]
    for lang, word in (("fr", "Question {number} sur {total}"),
                       ("it", "Domanda {number} di {total}")):
        assert catalog(lang).get(forms[0]).string == word


def test_the_dashboard_names_meetings_and_consultations_not_their_ids(hub, demo, tablet, push,
                                                                     api):
    """A city officer reads the participation table by the meeting's title and time, the
    cards by the consultation's title, and a link by what it is for: never "m-menton-1203",
    "alpimed-2030" or "JSON"."""
    import html

    from app.formatting import day_and_time
    from tests.unit.test_closing import MEETING, meeting_played

    meeting_played(hub, demo, tablet, push)
    browser = api.fresh()
    csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/dashboard").text).group(1)
    browser.post("/dashboard/login", data={"token": hub.settings.admin_token, "csrf": csrf})
    meeting = next(m for m in demo.meetings if m.id == MEETING)
    for lang, outside in (("fr", "Hors réunion"), ("it", "Fuori dalle riunioni")):
        page = browser.get("/dashboard", params={"lang": lang}).text
        text = html.unescape(re.sub(r"<[^>]+>", " ", page))
        assert meeting.title[lang] in text
        assert day_and_time(meeting.starts_at, lang) in text
        assert demo.title[lang] in text and outside in text
        for internal in (MEETING, demo.id, "JSON"):
            assert internal not in text, internal


def test_the_closing_page_says_what_its_fingerprints_list_and_they_link_nothing(
        hub, demo, tablet, push, api):
    """The used-card fingerprints (docs/protocol.md, "Used-card fingerprints"): a card's
    holder finds theirs; nobody else — no visitor of the page, no client without a tablet's
    credential — links a fingerprint to a card, nor one card's fingerprints across questions.
    And the page says plainly what the list holds and what it does not."""
    import html
    import json

    from sqlalchemy import select

    from server import closing as closings, db
    from server.closing import card_fingerprint
    from tests.unit.test_closing import MEETING, meeting_played

    meeting_played(hub, demo, tablet, push)
    row = closings.make_for(hub, meeting_id=MEETING)
    record = closings.verify_document(row["document"], closings.hub_public_key(hub))
    with hub.engine.connect() as conn:
        keys = dict(conn.execute(select(db.issued_cards.c.lookup, db.issued_cards.c.public_key)
                                 .where(db.issued_cards.c.consultation_id == demo.id)).all())
    listed = record["used_cards"]
    assert set(listed) == {"q-ticket", "q-cooperation"}
    # A holder (lookup + key, from the card) finds theirs under each question answered...
    mine = {lookup: {q: card_fingerprint(demo.id, q, lookup, key) for q in listed}
            for lookup, key in keys.items()}
    found = [lookup for lookup, prints in mine.items()
             if all(prints[q] in listed[q] for q in listed)]
    assert len(found) == 4
    # ...different from question to question: nothing pairs one card's lines.
    assert not set(listed["q-ticket"]) & set(listed["q-cooperation"])
    # The lookup ID alone (a few characters, guessable) does not give them.
    assert all(card_fingerprint(demo.id, "q-ticket", lookup, "") not in listed["q-ticket"]
               for lookup in keys)
    # Nothing public holds a card's lookup ID or key: the page, the signed file, and the card
    # checks without a tablet's (or a room hub's) credential.
    anyone = api.fresh()
    public = anyone.get(f"/closing/{row['id']}").text + anyone.get(
        f"/api/v1/closings/{row['id']}").text
    assert not [k for k in keys.values() if k in public]
    assert not [lookup for lookup in keys if re.search(rf"\b{lookup}\b", public)]
    assert anyone.get("/api/v1/cards").status_code == 401
    assert anyone.get("/api/v1/relay/cards").status_code == 401
    assert json.loads(anyone.get(f"/api/v1/closings/{row['id']}").text)["record"][
        "used_cards"] == listed
    for lang, words in (("fr", ("une empreinte par carte de participation",
                                "différent d'une question à l'autre",
                                "ni à quelles autres questions la même carte a répondu")),
                        ("it", ("un'impronta per ogni tessera di partecipazione",
                                "diverso da una domanda all'altra",
                                "né a quali altre domande ha risposto la stessa tessera"))):
        text = html.unescape(anyone.get(f"/closing/{row['id']}", params={"lang": lang}).text)
        assert all(w in text for w in words), lang
