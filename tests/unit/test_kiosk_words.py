"""Issue 27's kiosk fixes, in the domain: the welcome screen's meetings are those not yet over,
soonest first; a scale without label rows has the tablet's own words for its kind."""
from dataclasses import replace
from datetime import datetime, timezone

from app.i18n import gettext_for
from app.kinds.scale import scale_label
from app.model import Meeting, upcoming_meetings


def meeting(mid, starts_at, site="s"):
    return Meeting(mid, site, {"fr": mid}, starts_at)


MEETINGS = [meeting("later", "2026-12-10T17:00"), meeting("past", "2026-12-03T18:30"),
            meeting("tonight", "2026-12-06T18:30"), meeting("day", "2026-12-06"),
            meeting("elsewhere", "2026-12-07T10:00", site="other")]


def ids(found):
    return [m.id for m in found]


def test_meetings_over_are_left_out_and_the_next_come_first():
    now = datetime(2026, 12, 6, 20, 0)        # tonight's started 90 minutes ago
    assert ids(upcoming_meetings(MEETINGS, now, "s", limit=5)) == ["day", "tonight", "later"]
    assert ids(upcoming_meetings(MEETINGS, now, "s")) == ["day", "tonight"]
    assert ids(upcoming_meetings(MEETINGS, now, None, limit=5)) == [
        "day", "tonight", "elsewhere", "later"]
    late = datetime(2026, 12, 6, 21, 31)      # three hours after its start: over
    assert ids(upcoming_meetings(MEETINGS, late, "s", limit=5)) == ["day", "later"]
    assert ids(upcoming_meetings(MEETINGS, datetime(2026, 12, 7, 0, 0), "s")) == ["later"]
    assert upcoming_meetings(MEETINGS, datetime(2027, 1, 1), None) == []


def test_a_meeting_published_with_its_offset_is_compared_in_time_not_in_text():
    paris = [meeting("m", "2026-12-06T18:30+01:00")]
    utc = timezone.utc
    assert ids(upcoming_meetings(paris, datetime(2026, 12, 6, 20, 0, tzinfo=utc), None)) == ["m"]
    assert upcoming_meetings(paris, datetime(2026, 12, 6, 20, 31, tzinfo=utc), None) == []


def test_a_scale_without_labels_has_the_tablets_words_for_its_kind(demo):
    question = next(q for q in demo.questions if q.kind == "scale")
    bare = replace(question, scale_labels=(), scale_kind="agreement")
    words = {lang: [scale_label(bare, v, lang, gettext_for(lang)) for v in (1, 5)]
             for lang in ("fr", "it", "en")}
    assert words == {"fr": ["Pas du tout d'accord", "Tout à fait d'accord"],
                     "it": ["Per niente d'accordo", "Del tutto d'accordo"],
                     "en": ["Strongly disagree", "Strongly agree"]}
    important = replace(bare, scale_kind="importance")
    assert [scale_label(important, v, "it", gettext_for("it")) for v in range(1, 6)] == [
        "Per niente importante", "Poco importante", "Abbastanza importante", "Importante",
        "Molto importante"]
    assert scale_label(question, 1, "fr", gettext_for("fr")) == "Pas du tout importante"
