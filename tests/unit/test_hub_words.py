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
