"""Issue 27: emoji are empty boxes on the kiosk (its labels draw in Kivy's Roboto, one font a
label). The spreadsheet build warns, naming the field and the characters; the build succeeds."""
from app.glyphs import drawable, undrawable, undrawable_texts
from server.admin import main
from tests.unit.test_sheets import make_workbook, minimal


def test_the_kiosks_font_draws_latin_text_not_emoji():
    assert undrawable("Vélo à Sospel, Ventimiglia – «l’été» 50 € ñ ß œ") == ""
    assert undrawable("Vélo 🚲, soleil ☀ ☀, → là") == "🚲☀→"
    assert drawable("\u200d") and drawable(" ") and not drawable("🌳")


def test_a_bundles_texts_with_emoji_are_named():
    bundle = {"consultation": {"id": "x🌳", "title": {"fr": "Parc 🌳", "it": "Parco"},
                               "questions": [{"id": "q", "prompt": {"it": "Sì 👍"}}]}}
    assert undrawable_texts(bundle) == [("consultation.title.fr", "🌳"),
                                        ("consultation.questions[0].prompt.it", "👍")]


def test_bundle_build_warns_of_emoji_and_still_writes(tmp_path, capsys):
    rows = minimal()
    rows["questions"][1][2] = "Oui ? 👍🏽"
    sheet = make_workbook(tmp_path / "s.xlsx", rows)
    code = main(["bundle", "build", str(sheet), "--out", str(tmp_path / "b"), "--lang", "en"])
    out = capsys.readouterr().err          # warnings go to stderr, as the sheet's own
    assert code == 0 and (tmp_path / "b" / "bundle.json").is_file()
    # At its cell, like every other warning (and so on the dashboard's upload too).
    assert ("Warning: Sheet 'questions', row 2, column label::fr (C): The tablets cannot draw "
            "👍 🏽 (their font has no emoji nor symbols: an empty box shows). Write it in "
            "words.") in out.splitlines()



def test_the_dashboard_upload_shows_the_emoji_warning_at_its_cell(tmp_path):
    """The same warning on the upload's page as in the command line (issue 27)."""
    from server import uploads
    from server.hub import Hub
    from server.settings import Settings
    rows = minimal()
    rows["questions"][1][2] = "Oui ? 👍🏽"
    sheet = make_workbook(tmp_path / "s.xlsx", rows)
    hub = Hub(Settings.from_env(data_dir=tmp_path / "hub").with_secrets())
    try:
        checked = uploads.check(hub, sheet.read_bytes())
    finally:
        hub.close()
    assert not checked.problems
    [warning] = [w for w in checked.warnings if "cannot draw" in w.message]
    assert (warning.sheet, warning.row, warning.column, warning.warning) == \
        ("questions", 2, "label::fr", True)
    assert warning.params == {"chars": "👍 🏽"}
