"""Issue 31 without a window: the FALC rules a program can check, the spreadsheet's easy-read,
picture and recording columns (built, warned, refused at their cell, written back), the hub
storing and serving recordings with the bundle, and espeak-ng's speech in French and Italian
(a WAV file of some length that is not silence)."""
import json
import math
import shutil
import struct
import sys
import wave

import pytest
from openpyxl import load_workbook

from app.bundle import BUNDLE_FILE, load_bundle, parse_bundle
from app.easy_read import LONG_WORD, TOO_LONG, TOO_MANY_WORDS, falc_breaks
from app.errors import BundleError
from app.paths import DEMO_BUNDLE_DIR
from server import sheets
from server.sheets import SheetError, build_located, bundle_to_sheet


def tone(path, seconds=0.4):
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"".join(struct.pack("<h", int(9000 * math.sin(n / 8)))
                                 for n in range(int(16000 * seconds))))


# -- FALC ---------------------------------------------------------------------------------------

def test_short_sentences_of_everyday_words_pass():
    assert falc_breaks("Le bus passe toutes les 30 minutes. Le billet est le même.") == []
    assert falc_breaks("Voulez-vous ce projet ?") == []


def test_each_checkable_rule_is_named_with_what_breaks_it():
    long = ("Le bus passe toutes les trente minutes entre Menton et Vintimille avec un seul "
            "billet pour les deux côtés de la frontière.")
    assert [m for m, _p in falc_breaks(long)] == [TOO_MANY_WORDS]
    assert falc_breaks(long)[0][1]["count"] == 22
    chars = "Aaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg hhhhhhhhhh iiii."
    assert [m for m, _p in falc_breaks(chars)] == [TOO_LONG]
    assert falc_breaks("L'intercommunalité décide.") == []          # 16 letters: kept
    assert falc_breaks("Une loi anticonstitutionnellement votée.") == [
        (LONG_WORD, {"word": "anticonstitutionnellement", "count": 25, "max": 16})]


# -- the spreadsheet --------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path):
    shutil.copy(DEMO_BUNDLE_DIR / "consultation.xlsx", tmp_path / "consultation.xlsx")
    shutil.copytree(DEMO_BUNDLE_DIR / "images", tmp_path / "images")
    shutil.copytree(DEMO_BUNDLE_DIR / "map", tmp_path / "map")
    (tmp_path / "audio").mkdir()
    tone(tmp_path / "audio" / "q-themes-fr.wav")
    (tmp_path / "audio" / "fake.ogg").write_bytes(b"not a recording at all")
    return tmp_path


def headings(sheet):
    return {cell.value: cell.column_letter for cell in sheet[1] if cell.value}


def fill(path, sheet_name, row_of, values):
    """Write `values` ({heading: value}) into the row whose id (or question, id) matches."""
    workbook = load_workbook(path)
    sheet = workbook[sheet_name]
    columns = headings(sheet)
    for row in sheet.iter_rows(min_row=2):
        if row_of(row, columns):
            for heading, value in values.items():
                sheet[f"{columns[heading]}{row[0].row}"] = value
            break
    else:
        raise AssertionError("row not found")
    workbook.save(path)


def by_id(qid, oid=None):
    def match(row, columns):
        cells = {h: row[ord(letter) - 65].value for h, letter in columns.items()
                 if len(letter) == 1}
        if oid is None:
            return cells.get("id") == qid
        return cells.get("question") == qid and cells.get("id") == oid
    return match


def test_easy_read_pictures_and_recordings_are_built_warned_and_written_back(folder, tmp_path):
    path = folder / "consultation.xlsx"
    fill(path, "consultation", by_id("alpimed-2030"),
         {"title_easy::fr": "Votre avis sur la région", "title_easy::it": "Il Suo parere"})
    fill(path, "questions", by_id("q-themes"),
         {"label_easy::fr": "Quels sujets sont importants pour vous ?",
          "audio::fr": "audio/q-themes-fr.wav"})
    fill(path, "options", by_id("q-themes", "infrastructure"),
         {"label_easy::fr": "Les routes, les bus et les trains qui vont de Menton à "
                            "Vintimille tous les jours de la semaine et le dimanche.",
          "image": "images/p-bus.png"})
    data, files, _where, consultation, warnings = build_located(path, folder)
    assert consultation.title_easy == {"fr": "Votre avis sur la région", "it": "Il Suo parere"}
    question = next(q for q in consultation.questions if q.id == "q-themes")
    assert question.prompt_easy == {"fr": "Quels sujets sont importants pour vous ?"}
    assert question.audio == {"fr": "audio/q-themes-fr.wav"}
    option = question.option("infrastructure")
    assert option.image == "images/p-bus.png" and option.label_easy["fr"].startswith("Les routes")
    assert "audio/q-themes-fr.wav" in files
    # The FALC warning, at its cell; nothing refused.
    falc = [w for w in warnings if w.message == TOO_MANY_WORDS]
    assert [(w.sheet, w.column) for w in falc] == [("options", "label_easy::fr")]
    assert falc[0].describe().startswith("Sheet 'options', row")
    # Written back as a spreadsheet, then built again: the same bundle.
    out = tmp_path / "out"
    sheets.write_bundle_folder(path, out, folder)
    assert (out / "audio" / "q-themes-fr.wav").is_file()
    assert bundle_to_sheet(out, tmp_path / "again.xlsx") == []
    again = build_located(tmp_path / "again.xlsx", out)[3]
    assert again == load_bundle(out)


def test_a_recording_that_is_not_one_is_refused_at_its_cell(folder):
    path = folder / "consultation.xlsx"
    fill(path, "questions", by_id("q-themes"), {"audio::it": "audio/fake.ogg"})
    fill(path, "options", by_id("q-themes", "health"), {"audio::fr": "audio/health.txt"})
    with pytest.raises(SheetError) as info:
        build_located(path, folder)
    found = {(p.sheet, p.column, p.message) for p in info.value.problems}
    assert ("questions", "audio::it",
            "The recording {path} is not an OGG, WAV or MP3 file.") in found
    assert ("options", "audio::fr", "An audio file inside the images folder (OGG, WAV or MP3) "
            "is expected: {value}.") in found


def test_the_bundle_parser_checks_recordings_and_the_hub_serves_them(tmp_path):
    from server.hub import Hub
    from server.settings import Settings
    folder = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    (folder / "audio").mkdir()
    tone(folder / "audio" / "ticket-it.wav")
    data = json.loads((folder / BUNDLE_FILE).read_text(encoding="utf-8"))
    question = next(q for q in data["consultation"]["questions"] if q["id"] == "q-ticket")
    question["audio"] = {"it": "audio/ticket-it.wav"}
    for bad, message in (({"it": "/etc/x.wav"}, "An audio file inside the bundle (OGG, WAV "
                                                "or MP3) is expected."),
                         ({"it": "audio/none.wav"}, "The recording {path} is missing."),
                         ({"de": "audio/ticket-it.wav"}, "Unknown language: {lang}.")):
        with pytest.raises(BundleError) as info:
            parse_bundle({**data, "consultation": {**data["consultation"], "questions": [
                {**q, "audio": bad} if q["id"] == "q-ticket" else q
                for q in data["consultation"]["questions"]]}}, folder=folder)
        assert info.value.message == message
    (folder / BUNDLE_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    hub = Hub(Settings.from_env(data_dir=tmp_path / "hub").with_secrets())
    try:
        hub.content.import_bundle(folder)
        sha, content = hub.content.bundle_file("alpimed-2030", "audio/ticket-it.wav")
        assert content == (folder / "audio" / "ticket-it.wav").read_bytes()
    finally:
        hub.close()


# -- speech ---------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, text", [("fr", "Que pensez-vous de chaque projet ?"),
                                        ("it", "Che cosa pensate di ogni progetto?")])
def test_espeak_ng_speaks_french_and_italian_to_a_wav_without_kivy(tmp_path, lang, text):
    from app import speech
    if speech.espeak() is None:
        pytest.skip("espeak-ng is not installed (tools/install-system-packages.sh)")
    path = speech.synthesize(text, lang, tmp_path / f"{lang}.wav")
    seconds, peak = speech.wav_figures(path)
    assert 0.8 < seconds < 10 and peak > 1000
    assert speech.engine_name() == "espeak-ng"
    # The domain side of speech needs no window.
    code = ("import sys; from app import speech; speech.engine_name(); "
            "assert 'kivy' not in sys.modules")
    import subprocess
    assert subprocess.run([sys.executable, "-c", code], cwd=str(DEMO_BUNDLE_DIR.parents[1]),
                          timeout=60).returncode == 0


# -- emoji drawn in the fallback font -----------------------------------------------------------

def test_emoji_runs_go_to_the_fallback_font_and_latin_text_opens_no_font():
    from app.glyphs import emoji_font, fallback_runs, may_need_fallback
    assert not may_need_fallback("Bus Menton–Vintimille, 50 € l’été « oui »")
    assert may_need_fallback("Vélo 🚲") and may_need_fallback("→ là")
    if emoji_font() is None:
        pytest.skip("no emoji font (fonts-symbola: tools/install-system-packages.sh)")
    assert fallback_runs("Vélo 🚲 et bus 👍🏽 !") == [
        ("Vélo ", False), ("🚲", True), (" et bus ", False), ("👍🏽", True), (" !", False)]
    assert fallback_runs("Santé et social") == [("Santé et social", False)]


def test_a_hung_speech_engine_is_an_oserror(tmp_path, monkeypatch):
    """espeak-ng hanging past its timeout is an OSError like its other failures (the kiosk's
    speech worker catches those and goes on; subprocess.TimeoutExpired is not one)."""
    import stat

    import pytest

    from app import speech
    slow = tmp_path / "espeak-ng"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(speech, "espeak", lambda: str(slow))
    monkeypatch.setattr(speech, "SYNTHESIS_TIMEOUT", 0.2)
    with pytest.raises(OSError, match="too long"):
        speech.synthesize("Bonjour", "fr", tmp_path / "out.wav")


def test_a_projects_easy_read_title_and_description_are_built_warned_and_written_back(
        folder, tmp_path):
    path = folder / "consultation.xlsx"
    long = ("Un bus part de Menton et va jusqu'à Vintimille toutes les heures du matin au "
            "soir et même le dimanche.")
    fill(path, "projects", by_id("p-bus"),
         {"title_easy::fr": "Un bus entre Menton et Vintimille",
          "title_easy::it": "Un autobus tra Mentone e Ventimiglia",
          "description_easy::fr": long})
    data, _files, _where, consultation, warnings = build_located(path, folder)
    bus = consultation.project("p-bus")
    assert bus.title_easy == {"fr": "Un bus entre Menton et Vintimille",
                              "it": "Un autobus tra Mentone e Ventimiglia"}
    assert bus.description_easy == {"fr": long}
    assert consultation.project("p-bike").title_easy == {}
    falc = [w for w in warnings if w.message == TOO_MANY_WORDS]
    assert [(w.sheet, w.column) for w in falc] == [("projects", "description_easy::fr")]
    out = tmp_path / "out"
    sheets.write_bundle_folder(path, out, folder)
    assert bundle_to_sheet(out, tmp_path / "again.xlsx") == []
    assert build_located(tmp_path / "again.xlsx", out)[3] == load_bundle(out)
