"""The author's preview (tools/preview.py): every kiosk screen of a bundle, in each of its
languages, written as screenshots before the bundle reaches a tablet."""
import importlib.util
import json
import shutil
from pathlib import Path

from PIL import Image

from app.paths import DEMO_BUNDLE_DIR
from tests.ui.conftest import set_size

ROOT = Path(__file__).resolve().parents[2]


def load_preview():
    spec = importlib.util.spec_from_file_location("piazzetta_preview",
                                                  ROOT / "tools" / "preview.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_preview_walks_every_screen_in_each_language(window, tmp_path, demo):
    preview = load_preview()
    try:
        files = preview.walk(DEMO_BUNDLE_DIR, tmp_path / "preview", ["fr", "it"])
    finally:
        set_size(1280, 800)
    colour = next(q for q in demo.questions if q.kind == "colour")
    budget = next(q for q in demo.questions if q.kind == "budget")
    for lang in ("fr", "it"):
        names = sorted(p.name for p in (tmp_path / "preview" / lang).glob("*.png"))
        assert names[0] == "01-welcome.png"
        assert [n.split("-", 1)[1] for n in names[-4:]] == [
            "thanks.png", "idea.png", "signup.png", "follow.png"]
        for question in demo.questions:
            assert any(f"-{question.kind}-{question.id}.png" in n for n in names), question.id
        # Every project of the colour question, one shot each.
        projects = demo.projects_of(colour)
        shots = [n for n in names if f"-colour-{colour.id}" in n]
        assert len(shots) == len(projects) > 1
        # The budget's rows scrolled down to the last one: more shots than its first.
        assert len([n for n in names if f"-budget-{budget.id}" in n]) >= 2
    assert len(files) == 2 * len(names)
    for path in files:
        with Image.open(path) as image:
            assert image.size == (1280, 800)
            colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
            assert colours is None or len(colours) > 20, f"{path} looks blank"


def test_a_broken_bundle_is_refused_with_its_message_and_nothing_written(tmp_path, capsys):
    preview = load_preview()
    bundle = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE_DIR, bundle)
    data = json.loads((bundle / "bundle.json").read_text(encoding="utf-8"))
    data["consultation"]["questions"][0]["kind"] = "lottery"
    (bundle / "bundle.json").write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "out"
    assert preview.main([str(bundle), "--out", str(out)]) == 1
    assert "consultation.questions[0].kind" in capsys.readouterr().err
    assert not out.exists()
