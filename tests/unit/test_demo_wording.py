"""The demo consultation's instructions name what the resident sees: the colour question's help
names its three buttons as they are written in that language ("Pour", "À revoir", "Contre"),
not colours ("Vert : …") that a colour-blind resident cannot tell apart."""
import json

import pytest

from app.i18n import gettext_for
from app.paths import DEMO_BUNDLE_DIR

BUTTONS = ("In favour", "Needs rework", "Against")          # the msgids screens/vote_colour.kv shows
COLOUR_WORDS = {"fr": ("vert", "orange", "rouge"), "it": ("verde", "arancione", "rosso"),
                "en": ("green", "orange", "red")}


def colour_questions():
    data = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))
    return [q for q in data["consultation"]["questions"] if q["kind"] == "colour"]


@pytest.mark.parametrize("lang", ["fr", "it", "en"])
def test_colour_help_names_the_buttons_not_the_colours(lang):
    assert colour_questions()
    _ = gettext_for(lang)
    for question in colour_questions():
        help_text = question["help"][lang]
        for button in BUTTONS:
            assert _(button) in help_text, (lang, _(button), help_text)
        words = help_text.lower().replace(":", " ").split()
        assert not set(COLOUR_WORDS[lang]) & set(words), help_text
