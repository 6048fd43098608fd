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
        "it": "Quali temi sono i più importanti per Lei?"}
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
    c["title_easy"] = {"fr": "Votre avis sur la région", "it": "Il Suo parere sulla regione"}
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


# -- navigation buttons read aloud, and what is being read shown ------------------------------

def finger(widget):
    """A real touch, down then up, on the middle of `widget` (through the tap guard)."""
    from kivy.tests.common import UnitTestTouch
    wait_settled()
    touch = UnitTestTouch(*widget.to_window(*widget.center))
    touch.touch_down()
    step(1)
    touch.touch_up()
    step(2)


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_audio_first_reads_the_navigation_buttons_before_they_act(kiosk_factory, lang):
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    k = kiosk_factory(lang=lang, read_aloud="audio_first")
    speaker = k.root.speaker
    welcome = k.root.welcome
    start = welcome.ids.start

    def heard(widget, words):
        assert wait_for(lambda: speaker.played and speaker.played[-1][1].shown_by == widget)
        _kind, utterance, path = speaker.played[-1]
        # Read as one line of words (a no-break space is a space to a voice).
        assert utterance.text == " ".join(words.split()) and utterance.lang == lang
        sound_of(path)

    finger(start)                             # read, not started
    heard(start, tr._("Start"))
    assert k.root.current == "welcome" and not k.session.started
    k.shot(f"audio-first-start-{lang}")
    finger(start)                             # the second touch starts
    assert k.root.current == "question" and k.session.started
    question = k.root.question
    while k.session.question.kind != "yes_no":
        question.skip()
        step(2)
    qid = question.question.id
    back, nxt, stop = question.ids.back, question.ids.next, question.ids.stop
    finger(question.body.ids.yes)
    finger(question.body.ids.yes)             # chosen at the second touch: the next question
    assert k.session.answers.get(qid) == "yes" and k.session.question.id != qid
    for button, words in ((back, tr._("Back")), (stop, tr._("Stop voting"))):
        finger(button)
        heard(button, words)
    # Reading Back, then Stop voting, did neither: still here, no dialog.
    assert k.session.question.id != qid and question.confirm_stop is None
    finger(back)                              # a touch elsewhere between: read again first
    heard(back, tr._("Back"))
    finger(back)
    assert k.session.question.id == qid       # Back acted
    assert k.store.answers_of(k.session.ballot_id)[qid] == "yes"   # and nothing was unwritten
    finger(nxt)
    heard(nxt, tr._("Next"))
    assert k.session.question.id == qid
    finger(nxt)
    assert k.session.question.id != qid
    # The "Stop here?" dialog over the screen: its buttons are read first too.
    here = k.session.question.id
    finger(stop)
    heard(stop, tr._("Stop voting"))
    finger(stop)
    dialog = question.confirm_stop
    assert dialog is not None and dialog.parent is not None
    stay, leave = dialog.ids.stay, dialog.ids.leave
    finger(leave)
    heard(leave, tr._("Yes, stop"))
    assert dialog.parent is not None and k.session.started     # read, not stopped
    k.shot(f"audio-first-dialog-{lang}")
    finger(stay)
    heard(stay, tr._("Continue"))
    assert dialog.parent is not None
    finger(stay)                              # the second touch acts: back to the ballot
    assert dialog.parent is None and k.session.question.id == here and k.session.started
    # A language button is read in its own language.
    other = "it" if lang == "fr" else "fr"
    chooser = next(b for b in question.ids.languages.children if b.lang == other)
    finger(chooser)
    assert wait_for(lambda: speaker.played[-1][1].shown_by == chooser)
    assert speaker.played[-1][1].lang == other and tr.lang == lang
    # The thanks screen's words: its text is read when touched, Finish at the first touch.
    k.root._show_thanks()
    k.settle()
    thanks = k.root.thanks
    title = next(w for w in thanks.walk() if getattr(w, "text", "") == tr._("Thank you!"))
    finger(title)
    heard(title, tr._("Thank you!"))
    finish = thanks.ids.finish
    finger(finish)
    heard(finish, tr._("Finish"))
    assert k.root.current == "thanks"
    k.shot(f"audio-first-thanks-{lang}")
    finger(finish)
    assert k.root.current == "welcome"


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_the_welcome_is_read_aloud_with_what_is_read_outlined_and_a_stop_button(
        kiosk_factory, lang):
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    k = kiosk_factory(lang=lang)
    welcome = k.root.welcome
    button = welcome.ids.read_aloud
    assert button.parent is None                      # read aloud off: no button
    panel = open_panel(k, welcome.ids.display)
    k.tap(panel.ids.read_on_demand)
    close_panel(k, panel)
    assert shown(button) and button.text == tr._("Read aloud")
    k.tap(button)
    speaker = k.root.speaker
    assert wait_for(lambda: speaker.played)
    _kind, first, path = speaker.played[0]
    assert first.shown_by == welcome.ids.title and first.text == welcome.ids.title.text
    sound_of(path)
    # What is read is outlined, and the button now stops the reading.
    x, y = welcome.ids.title.to_window(*welcome.ids.title.pos)
    assert k.root.reading_box == [x, y, welcome.ids.title.width, welcome.ids.title.height]
    assert k.root.speaking and button.text == tr._("Stop reading") and button.selected
    shot = k.shot(f"welcome-reading-{lang}")
    # The outline's stroke clear of the words it outlines (it touched the title's first
    # letter): read on the screenshot, the accent beside the title, not within 4 px of it.
    from PIL import Image
    image = Image.open(shot).convert("RGB")
    accent = tuple(round(c * 255) for c in theme.colours["accent"][:3])
    row = image.height - round(y + welcome.ids.title.height / 2)

    def is_accent(px):
        return max(abs(a - b) for a, b in zip(image.getpixel((round(px), row)), accent)) < 40

    assert any(is_accent(x - d) for d in range(5, 16))          # the outline is there
    assert not any(is_accent(x - d) for d in range(0, 4))       # and clear of the words
    k.tap(button)
    assert not k.root.speaking and not speaker.speaking
    assert k.root.reading_box[2] == 0 and button.text == tr._("Read aloud")
    # Read whole, it reads the title, the description, what to expect, then Start.
    k.tap(button)
    assert wait_for(lambda: not k.root.speaking, 120)
    said = [u.shown_by for _kind, u, _path in speaker.played[-4:]]
    ids = welcome.ids
    assert said == [ids.title, ids.description, ids.status, ids.start]
    assert speaker.played[-1][1].text == tr._("Start")
    # On the question screen the same button stops a reading under way.
    question = to_question(k, "choice")
    k.tap(question.ids.read_aloud)
    assert wait_for(lambda: speaker.played and speaker.played[-1][1].shown_by
                    == question.ids.prompt)
    assert question.ids.read_aloud.text == tr._("Stop reading")
    k.shot(f"question-reading-{lang}")
    k.tap(question.ids.read_aloud)
    assert not k.root.speaking and question.ids.read_aloud.text == tr._("Read aloud")


# -- the walk's findings (a 75-year-old, very large text, high contrast) ----------------------

def pill_never_over_text(scroll):
    """While more lies below, the "More below" pill sits in the strip under the scroll, not
    over its words."""
    if not scroll.more_below:
        return
    strip = scroll.cue_host
    assert strip is not None and strip.height > 0
    _x, scroll_bottom = scroll.to_window(scroll.x, scroll.y)
    _x, strip_top = strip.to_window(strip.x, strip.top)
    assert strip_top <= scroll_bottom + 0.5


@pytest.mark.parametrize("size", [(1280, 800), (800, 1280)], ids=["landscape", "portrait"])
def test_very_large_text_keeps_every_word_in_sight(kiosk_factory, size):
    set_size(*size)
    orientation = "landscape" if size[0] > size[1] else "portrait"
    k = kiosk_factory(text_size="very_large", high_contrast=True)
    welcome = k.root.welcome
    wait_settled()
    step(4)
    scroll, description = welcome.ids.scroll, welcome.ids.description
    pill_never_over_text(scroll)
    # The description starts inside the view, under the title: not pushed out by the rest.
    _x, view_bottom = scroll.to_window(scroll.x, scroll.y)
    _x, top = description.to_window(description.x, description.top)
    assert view_bottom < top <= view_bottom + scroll.height
    # The display and voice button: words as large as the languages', "Aa" and a speaker.
    display = welcome.ids.display
    language = welcome.ids.languages.children[0]
    assert display.icon == "display_voice"
    assert display.ids.words.font_size == language.font_size == theme.font_button
    assert display.height >= language.height
    k.shot(f"walk-welcome-{orientation}")
    tr.lang = "it"
    step(4)
    pill_never_over_text(scroll)
    k.shot(f"walk-welcome-{orientation}", lang="it")
    tr.lang = "fr"
    step(2)
    panel = open_panel(k, welcome.ids.display)
    pill_never_over_text(panel.ids.scroll)
    # One name for the mode, and the on-demand choice says which button.
    assert panel.ids.read_audio_first.text == "Lire ce que je touche"
    assert panel.ids.read_on_demand.text == "Avec le bouton «\u00a0Lire à voix haute\u00a0»"
    k.shot(f"walk-panel-{orientation}")
    tr.lang = "it"
    step(4)
    assert panel.ids.read_audio_first.text == "Leggi ciò che tocco"
    pill_never_over_text(panel.ids.scroll)
    k.shot(f"walk-panel-{orientation}", lang="it")
    tr.lang = "fr"
    close_panel(k, panel)
    question = to_question(k, "colour")
    step(4)
    pill_never_over_text(question.body.ids.scroll)
    # How to answer, under the question: body size, full contrast.
    how = question.ids.help
    assert how.text and how.font_size == theme.font_body
    assert list(how.color) == list(theme.colours["text"])
    # The progress beside the larger buttons wraps, whole: the header grows, no word cut.
    progress = question.ids.progress_label
    assert progress.texture_size[1] <= progress.height + 1
    k.shot(f"walk-colour-{orientation}")
    while k.session.question.kind != "choice":
        question.skip()
        step(2)
    wait_settled()
    # The instruction that decides what a touch does: body size, full contrast.
    hint = question.body.ids.hint
    assert hint.font_size == theme.font_body and list(hint.color) == list(theme.colours["text"])
    k.shot(f"walk-choice-{orientation}")
    tr.lang = "it"
    step(4)
    k.shot(f"walk-choice-{orientation}", lang="it")


# -- easy read for the projects (colour vote, budget) -----------------------------------------

PROJECT_EASY = {
    "title": {"fr": "Un bus entre Menton et Vintimille",
              "it": "Un autobus tra Mentone e Ventimiglia"},
    "description": {"fr": "Un bus passe toutes les heures. Il passe aussi le dimanche.",
                    "it": "Un autobus passa ogni ora. Passa anche la domenica."},
}


@pytest.mark.parametrize("lang", ["fr", "it"])
def test_easy_read_shows_the_projects_easy_words_in_the_colour_vote_and_the_budget(
        kiosk_factory, tmp_path, lang):
    import json
    import shutil
    from app.bundle import load_bundle
    from app.paths import DEMO_BUNDLE_DIR
    folder = tmp_path / "projects-easy"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    data = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    bus = next(p for p in data["consultation"]["projects"] if p["id"] == "p-bus")
    bus["title_easy"], bus["description_easy"] = PROJECT_EASY["title"], PROJECT_EASY["description"]
    (folder / "bundle.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    consultation = load_bundle(folder)
    assert consultation.project("p-bus").title_easy == PROJECT_EASY["title"]
    k = kiosk_factory(lang=lang, consultation=consultation, bundle_dir=folder)
    panel = open_panel(k, k.root.welcome.ids.display)
    k.tap(panel.ids.easy_on)
    close_panel(k, panel)
    question = to_question(k, "colour")
    body = question.body
    assert body.project.id == "p-bus"
    assert body.ids.project_title.text == PROJECT_EASY["title"][lang]
    assert body.ids.project_text.text == PROJECT_EASY["description"][lang]
    assert body.image_source                   # its picture beside the words
    k.shot(f"easy-read-colour-{lang}")
    # A project without easy words keeps its usual ones.
    body.skip()
    step(2)
    assert body.ids.project_title.text == tr.loc(consultation.project("p-bike").title)
    question = to_question_from(k, "budget")
    row = question.body.rows["p-bus"]
    assert row.ids.title.text == PROJECT_EASY["title"][lang]
    # Its picture beside the words, whole, left of the title and not over it.
    picture = row.ids.picture
    assert row.image_source.endswith(consultation.project("p-bus").image)
    assert picture.width > 0 and picture.opacity == 1 and picture.texture is not None
    assert picture.right <= row.ids.title.x + 1
    k.shot(f"easy-read-budget-{lang}")
    # Usual texts again: the usual words, at once, and no picture.
    k.root.resident.easy_read = False
    step(2)
    assert row.ids.title.text == tr.loc(consultation.project("p-bus").title)
    assert row.image_source == "" and row.ids.picture.width == 0


def to_question_from(k, kind):
    """On from the current question to the next one of `kind`."""
    while k.session.question.kind != kind:
        k.root.question.skip()
        step(2)
    wait_settled()
    return k.root.question
