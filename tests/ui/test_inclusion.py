"""Issue 31: what a resident who does not read easily reaches alone, on the real window: the
display and voice panel (no PIN) from the welcome screen and the questions, in both
orientations, reset after the resident to the facilitator's defaults."""
import os

import pytest
from kivy.core.window import Window

from screens.i18n import tr
from screens.theme import theme
from tests.ui.conftest import set_size, shown, step, wait_settled


def open_panel(k, button):
    wait_settled()
    k.tap(button)
    panel = k.root._panel
    assert panel is not None and panel.parent is Window, "the panel did not open"
    assert k.root.current not in ("pin", "facilitator")
    wait_settled()
    return panel


def close_panel(k, panel):
    k.tap(panel.ids.done)
    assert panel.parent is None
    wait_settled()


@pytest.mark.parametrize("size", [(1280, 800), (800, 1280)], ids=["landscape", "portrait"])
def test_a_resident_changes_the_display_alone_and_the_next_one_gets_the_defaults(
        kiosk_factory, size):
    set_size(*size)
    orientation = "landscape" if size[0] > size[1] else "portrait"
    k = kiosk_factory()
    welcome = k.root.welcome
    assert shown(welcome.ids.display) and welcome.ids.display.text == "Affichage et voix"
    panel = open_panel(k, welcome.ids.display)
    k.tap(panel.ids.size_very_large)
    k.tap(panel.ids.high_contrast)
    k.tap(panel.ids.read_on_demand)
    k.tap(panel.ids.volume_up)
    assert (theme.text_size, theme.high_contrast) == ("very_large", True)
    assert k.root.resident.read_aloud == "on_demand" and k.root.resident.volume == 1.0
    assert k.session.settings.text_size == "normal"      # the tablet's defaults are unchanged
    k.shot(f"resident-panel-{orientation}")
    tr.lang = "it"
    step(4)
    k.shot(f"resident-panel-{orientation}", lang="it")
    close_panel(k, panel)
    k.shot(f"welcome-very-large-contrast-{orientation}", lang="it")
    tr.lang = "fr"
    step(2)
    # The button sits fully inside the window, whatever the text size.
    x, y = welcome.ids.display.to_window(*welcome.ids.display.pos)
    assert 0 <= x and x + welcome.ids.display.width <= Window.width

    k.tap(welcome.ids.start)
    assert k.root.current == "question"
    question = k.root.question
    wait_settled()
    assert shown(question.ids.display) and shown(question.ids.read_aloud)
    assert question.ids.read_aloud.opacity == 1 and not question.ids.read_aloud.disabled
    k.shot(f"question-very-large-read-aloud-{orientation}")
    panel = open_panel(k, question.ids.display)
    k.tap(panel.ids.size_large)
    assert theme.text_size == "large"
    close_panel(k, panel)

    # The resident stops: the next one finds the tablet as the facilitator set it.
    k.tap(question.ids.stop)
    k.tap(question.confirm_stop.ids.leave)
    assert k.root.current == "welcome"
    assert (theme.text_size, theme.high_contrast) == ("normal", False)
    assert k.root.resident.read_aloud == "off" and k.root.resident.volume == 0.8
    assert list(Window.clearcolor) == list(theme.colours["background"])


def test_the_facilitators_choice_stays_the_default_after_each_resident(kiosk_factory):
    k = kiosk_factory(text_size="large", high_contrast=True)
    assert (theme.text_size, theme.high_contrast) == ("large", True)
    panel = open_panel(k, k.root.welcome.ids.display)
    k.tap(panel.ids.size_normal)
    k.tap(panel.ids.standard)
    k.tap(panel.ids.read_audio_first)
    assert (theme.text_size, theme.high_contrast) == ("normal", False)
    close_panel(k, panel)
    k.tap(k.root.welcome.ids.start)
    k.root.finish()          # the thanks screen's end
    step(2)
    assert (theme.text_size, theme.high_contrast) == ("large", True)
    assert k.root.resident.read_aloud == "off"
    # The idle reset too, with the panel left open.
    panel = open_panel(k, k.root.welcome.ids.display)
    k.tap(panel.ids.size_very_large)
    k.root.reset_resident()
    step(2)
    assert panel.parent is None and theme.text_size == "large"


# -- read aloud -----------------------------------------------------------------------------

def wait_for(condition, seconds=60.0):
    """Step frames until `condition()` holds (speech is made off the UI thread)."""
    import time
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        step(1)
        time.sleep(0.01)
    return condition()


def to_question(k, kind):
    wait_settled()
    k.tap(k.root.welcome.ids.start)
    while k.session.question.kind != kind:
        k.root.question.skip()
        step(2)
    wait_settled()
    return k.root.question


def sound_of(path):
    from app.speech import wav_figures
    seconds, peak = wav_figures(path)
    assert seconds > 0.3, (path, seconds)
    assert peak > 1000, (path, peak)         # not silence


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_read_aloud_speaks_the_question_then_each_option(kiosk_factory, lang):
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    k = kiosk_factory(lang=lang)
    panel = open_panel(k, k.root.welcome.ids.display)
    k.tap(panel.ids.read_on_demand)
    close_panel(k, panel)
    question = to_question(k, "choice")
    k.tap(question.ids.read_aloud)
    speaker = k.root.speaker
    options = [tr.loc(o.label) for o in question.question.options]
    expected = [tr.loc(question.question.prompt)] + \
        ([tr.loc(question.question.help)] if tr.loc(question.question.help) else [])
    assert wait_for(lambda: len(speaker.played) >= 1)
    kind, first, path = speaker.played[0]
    assert (kind, first.text, first.lang) == ("synthesis", expected[0], lang)
    sound_of(path)
    # The rest follows, each option in turn, in the kiosk's language.
    assert wait_for(lambda: len(speaker.played) >= len(expected) + len(options), 120)
    said = [u.text for _kind, u, _path in speaker.played]
    assert said == expected + options
    for _kind, _u, path in speaker.played:
        sound_of(path)
    k.shot(f"read-aloud-choice-{lang}")
    # The next resident hears nothing of it.
    k.root.reset_resident()
    step(2)
    assert not speaker.speaking and k.root.resident.read_aloud == "off"


def test_audio_first_reads_an_answer_at_the_first_touch_and_chooses_it_at_the_second(
        kiosk_factory):
    from kivy.tests.common import UnitTestTouch
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    k = kiosk_factory(lang="it")
    panel = open_panel(k, k.root.welcome.ids.display)
    k.tap(panel.ids.read_audio_first)
    close_panel(k, panel)
    question = to_question(k, "yes_no")
    qid = question.question.id
    no = question.body.ids.no

    def touch(widget):
        wait_settled()
        finger = UnitTestTouch(*widget.to_window(*widget.center))
        finger.touch_down()
        step(1)
        finger.touch_up()
        step(2)

    touch(no)
    speaker = k.root.speaker
    assert wait_for(lambda: speaker.played)
    assert speaker.played[-1][1].text == no.text == "No"
    sound_of(speaker.played[-1][2])
    assert qid not in k.session.answers and k.session.question.id == qid   # nothing chosen
    touch(no)                                 # the second touch chooses, as a tap does
    assert k.session.answers.get(qid) == "no"
    assert k.session.question.id != qid
    # Written to the store like any answer.
    assert k.store.answers_of(k.session.ballot_id)[qid] == "no"


# -- easy read, pictures and recordings from the bundle ---------------------------------------

EASY = {"fr": "Quels sujets sont les plus importants pour vous ?",
        "it": "Quali temi sono i più importanti per voi?"}
EASY_OPTIONS = {
    "infrastructure": ({"fr": "Les routes et les bus", "it": "Strade e autobus"},
                       "images/p-bus.png"),
    "economy": ({"fr": "Le travail", "it": "Il lavoro"}, "images/p-coworking.png"),
    "health": ({"fr": "La santé", "it": "La salute"}, "images/p-telehealth.png"),
    "services": ({"fr": "L'aide aux personnes", "it": "L'aiuto alle persone"},
                 "images/p-services.png"),
}


def tone(path, seconds=0.6, hz=440):
    """A recording as a city would ship one (here a tone, to tell it from synthesis)."""
    import math
    import struct
    import wave
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(22050)
        wav.writeframes(b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * n
                                                                            / 22050)))
                                 for n in range(int(22050 * seconds))))


@pytest.fixture
def easy_bundle(tmp_path):
    """The demo with easy-read texts, a picture per option of q-themes, and recordings of the
    question (FR and IT) and of one option (FR), as the spreadsheet's columns build them."""
    import json
    import shutil
    from app.bundle import load_bundle
    from app.paths import DEMO_BUNDLE_DIR
    folder = tmp_path / "easy"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    (folder / "audio").mkdir()
    for name in ("q-themes-fr", "q-themes-it", "health-fr"):
        tone(folder / "audio" / f"{name}.wav")
    data = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    c = data["consultation"]
    c["title_easy"] = {"fr": "Votre avis sur la région", "it": "Il vostro parere sulla regione"}
    q = next(q for q in c["questions"] if q["id"] == "q-themes")
    q["prompt_easy"] = EASY
    q["audio"] = {"fr": "audio/q-themes-fr.wav", "it": "audio/q-themes-it.wav"}
    for option in q["options"]:
        option["label_easy"], option["image"] = EASY_OPTIONS[option["id"]]
        if option["id"] == "health":
            option["audio"] = {"fr": "audio/health-fr.wav"}
    (folder / "bundle.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder, load_bundle(folder)


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_easy_read_shows_easy_words_with_pictures_and_plays_the_bundles_recordings(
        kiosk_factory, easy_bundle, lang):
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    folder, consultation = easy_bundle
    k = kiosk_factory(lang=lang, consultation=consultation, bundle_dir=folder)
    welcome = k.root.welcome
    usual_title = welcome.ids.title.text
    panel = open_panel(k, welcome.ids.display)
    k.tap(panel.ids.easy_on)
    k.tap(panel.ids.read_on_demand)
    close_panel(k, panel)
    assert welcome.ids.title.text == consultation.title_easy[lang] != usual_title
    question = to_question(k, "choice")
    assert question.ids.prompt.text == EASY[lang]
    for option in question.question.options:
        card = question.body.cards[option.id]
        words, image = EASY_OPTIONS[option.id]
        assert card.text == words[lang]
        assert card.picture is not None and card.picture.source == str(folder / image)
        assert card.picture.texture is not None and shown(card.picture)
        # The picture is inside its card, beside the words.
        assert card.collide_point(*card.picture.center)
    k.shot(f"easy-read-choice-{lang}")
    k.tap(question.ids.read_aloud)
    speaker = k.root.speaker
    assert wait_for(lambda: len(speaker.played) >= 5, 120)
    kinds = [(kind, u.text) for kind, u, _path in speaker.played]
    # The question's recording plays instead of synthesis, then each option's easy words;
    # "La santé" has its own recording in French only.
    assert kinds[0] == ("recording", EASY[lang])
    assert speaker.played[0][2] == str(folder / "audio" / f"q-themes-{lang}.wav")
    health = ("recording" if lang == "fr" else "synthesis",
              EASY_OPTIONS["health"][0][lang])
    assert kinds[1:] == [("synthesis", EASY_OPTIONS["infrastructure"][0][lang]),
                         ("synthesis", EASY_OPTIONS["economy"][0][lang]), health,
                         ("synthesis", EASY_OPTIONS["services"][0][lang])]
    # The next resident gets the usual texts back.
    k.root.reset_resident()
    step(2)
    assert welcome.ids.title.text == usual_title
    assert question.body is None or question.easy_read is False


def test_the_facilitator_chooses_read_aloud_as_the_tablets_default(kiosk_factory):
    from tests.ui.test_facilitator import enter_facilitator
    k = kiosk_factory()
    assert k.root._speaker is None              # nothing of speech is loaded while it is off
    fac = enter_facilitator(k)
    k.tap(fac.nav_buttons["display"])
    page = fac.ids.pages.get_screen("display")
    step(2)
    k.tap(page.ids.read_audio_first)
    assert k.store.get_setting("kiosk.read_aloud") == "audio_first"
    assert k.root.resident.read_aloud == "audio_first"
    k.shot("facilitator-display-read-aloud")
    k.root.back_to_kiosk()
    step(2)
    # A resident turns it off for themself; the next one has the tablet's default again.
    panel = open_panel(k, k.root.welcome.ids.display)
    k.tap(panel.ids.read_off)
    close_panel(k, panel)
    assert k.root.resident.read_aloud == "off"
    k.root.reset_resident()
    step(2)
    assert k.root.resident.read_aloud == "audio_first"
    # A kiosk started with it on makes its voice just after the first frame.
    k2 = kiosk_factory(read_aloud="on_demand")
    step(3)
    assert k2.root._speaker is not None and k2.root.resident.read_aloud == "on_demand"


# -- emoji in authored texts ------------------------------------------------------------------

def test_emoji_in_authored_texts_are_drawn_in_the_fallback_font(kiosk_factory, tmp_path):
    import json
    import shutil
    from app.bundle import load_bundle
    from app.glyphs import emoji_font
    from app.paths import DEMO_BUNDLE_DIR
    if emoji_font() is None:
        pytest.skip("no emoji font (fonts-symbola: tools/install-system-packages.sh)")
    folder = tmp_path / "emoji"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    data = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    q = next(q for q in data["consultation"]["questions"] if q["id"] == "q-themes")
    q["prompt"] = {"fr": "Quels thèmes 🌳 passent en premier ? [A&B]",
                   "it": "Quali temi 🌳 vengono per primi? [A&B]",
                   "en": "Which themes 🌳 come first? [A&B]"}
    q["options"][0]["label"] = {"fr": "Vélo 🚲 et bus 🚌", "it": "Bici 🚲 e autobus 🚌",
                                "en": "Bike 🚲 and bus 🚌"}
    (folder / "bundle.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    k = kiosk_factory(consultation=load_bundle(folder), bundle_dir=folder)
    question = to_question(k, "choice")
    prompt, card = question.ids.prompt, question.body.cards["infrastructure"]
    for label in (prompt, card):
        assert label.markup and f"[font={emoji_font()}]" in label.text
    # The markup's own characters in the author's words stay words.
    assert "&bl;A&amp;B&br;" in prompt.text
    # Read aloud reads the author's words, not the markup.
    assert question.spoken_page()[0].text == "Quels thèmes 🌳 passent en premier ? [A&B]"
    k.shot("emoji-question")
    # A text without emoji in the other language of the same label: no markup left behind.
    card.text = "Infrastrutture [A]"
    step(1)
    assert not card.markup and card.text == "Infrastrutture [A]"
    tr.lang = "it"
    step(3)
    assert prompt.markup and "🌳" in prompt.text
    k.shot("emoji-question", lang="it")
