"""Bundles: the demo loads; every kind of bad bundle is refused naming the file and field."""
import copy
import json
import shutil

import pytest

from app.bundle import (MAX_IMAGE_BYTES, check_image_bytes, load_bundle, parse_bundle,
                        read_bundle_image)
from app.errors import BundleError
from app.paths import DEMO_BUNDLE_DIR
from app.store import Store

DEMO = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text(encoding="utf-8"))


def test_demo_bundle(demo):
    assert demo.id == "alpimed-2030"
    assert demo.languages == ("fr", "it", "en")
    assert [t.id for t in demo.themes] == ["infrastructure", "economy", "health", "services"]
    assert len(demo.projects) == 6 and all(p.image for p in demo.projects)
    assert demo.title["it"].startswith("Alpi")


@pytest.fixture
def bundle_dir(tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE_DIR, folder)
    return folder


def write(folder, data):
    (folder / "bundle.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def refused(folder, data, field_start):
    write(folder, data)
    with pytest.raises(BundleError) as info:
        load_bundle(folder)
    error = info.value
    assert error.file.endswith("bundle.json")
    assert error.field is not None and error.field.startswith(field_start), error.field
    assert str(folder) in str(error)
    return error


def mutate(fn):
    data = copy.deepcopy(DEMO)
    fn(data)
    return data


def test_unknown_question_kind(bundle_dir):
    error = refused(bundle_dir, mutate(lambda d: d["consultation"]["questions"][1].update(
        kind="lottery")), "consultation.questions[1].kind")
    assert error.params["kind"] == "lottery"


def test_missing_translation_for_an_offered_language(bundle_dir):
    data = mutate(lambda d: d["consultation"]["projects"][2]["title"].pop("it"))
    error = refused(bundle_dir, data, "consultation.projects[2].title.it")
    assert error.params["lang"] == "it"


def test_duplicate_ids(bundle_dir):
    def dup(d):
        d["consultation"]["projects"][1]["id"] = d["consultation"]["projects"][0]["id"]
    refused(bundle_dir, mutate(dup), "consultation.projects[1].id")

    def dup_question(d):
        d["consultation"]["questions"][2]["id"] = "q-colour"
    refused(bundle_dir, mutate(dup_question), "consultation.questions[2].id")


def test_missing_image(bundle_dir):
    (bundle_dir / "images" / "p-market.png").unlink()
    error = refused(bundle_dir, DEMO, "consultation.projects[2].image")
    assert error.params["path"] == "images/p-market.png"


def test_broken_image(bundle_dir):
    (bundle_dir / "images" / "p-bike.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    refused(bundle_dir, DEMO, "consultation.projects[1].image")


def test_image_outside_the_bundle(bundle_dir):
    refused(bundle_dir, mutate(lambda d: d["consultation"]["projects"][0].update(
        image="../../etc/passwd.png")), "consultation.projects[0].image")


def test_budget_question_without_costs(bundle_dir):
    refused(bundle_dir, mutate(lambda d: d["consultation"]["projects"][3].pop("cost")),
            "consultation.questions[5].projects")


def test_not_json_and_not_a_bundle(bundle_dir):
    (bundle_dir / "bundle.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(BundleError) as info:
        load_bundle(bundle_dir)
    assert "line 1" in str(info.value)
    refused(bundle_dir, {"format": "other"}, "format")
    refused(bundle_dir, mutate(lambda d: d.update(format_version=99)), "format_version")
    with pytest.raises(BundleError):
        load_bundle(bundle_dir / "nowhere")


@pytest.mark.parametrize("fn,field", [
    (lambda d: d["consultation"].update(languages=["fr", "de"]), "consultation.languages"),
    (lambda d: d["consultation"]["questions"][3].update(max_choices=9),
     "consultation.questions[3].max_choices"),
    (lambda d: d["consultation"]["questions"][4]["options"].pop() and
     d["consultation"]["questions"][4]["options"].__delitem__(slice(1, None)),
     "consultation.questions[4].options"),
    (lambda d: d["consultation"]["questions"][0]["projects"].append("p-ghost"),
     "consultation.questions[0].projects"),
    (lambda d: d["consultation"]["questions"][0]["projects"].append(["p-bus"]),
     "consultation.questions[0].projects"),
    (lambda d: d["consultation"]["projects"][0].update(theme=["infrastructure"]),
     "consultation.projects[0].theme"),
    (lambda d: d["consultation"]["questions"][1].update(theme={"id": "x"}),
     "consultation.questions[1].theme"),
    (lambda d: d["meetings"][0].update(site=["menton-mediatheque"]), "meetings[0].site"),
    (lambda d: d["consultation"].update(version=10 ** 30), "consultation.version"),
    (lambda d: d["consultation"]["projects"][0].update(theme="sport"),
     "consultation.projects[0].theme"),
    (lambda d: d["consultation"]["questions"][2].update(labels=[{"fr": "a"}]),
     "consultation.questions[2].labels"),
    (lambda d: d["meetings"][0].update(site="nowhere"), "meetings[0].site"),
    (lambda d: d["consultation"].update(id="bad id; DROP"), "consultation.id"),
    (lambda d: d["consultation"].update(questions=[]), "consultation.questions"),
])
def test_other_invalid_fields(bundle_dir, fn, field):
    refused(bundle_dir, mutate(fn), field)


def test_refused_bundle_leaves_the_store_untouched(bundle_dir, tmp_path):
    store = Store.open(tmp_path / "store")
    before = store.outbox_counts(), store.db.table_names()
    write(bundle_dir, mutate(lambda d: d["consultation"]["questions"][0].update(kind="x")))
    with pytest.raises(BundleError):
        load_bundle(bundle_dir)
    assert (store.outbox_counts(), store.db.table_names()) == before
    store.close()


def test_parse_without_images(demo):
    consultation = parse_bundle(DEMO)
    assert consultation == demo


def test_installed_bundles_pulled_first_broken_left_out(tmp_path):
    from app.bundle import installed_bundles
    assert [c.id for c, _f in installed_bundles(tmp_path)] == ["alpimed-2030"]
    other = tmp_path / "bundles" / "roya-2027"
    shutil.copytree(DEMO_BUNDLE_DIR, other)
    data = copy.deepcopy(DEMO)
    data["consultation"]["id"] = "roya-2027"
    write(other, data)
    broken = tmp_path / "bundles" / "broken"
    broken.mkdir()
    (broken / "bundle.json").write_text("{", encoding="utf-8")
    found = installed_bundles(tmp_path)
    assert [(c.id, f.name) for c, f in found] == [("roya-2027", "roya-2027"),
                                                  ("alpimed-2030", "demo")]


# -- images: what the hub imports and serves publicly, and what a tablet installs ----------------

def test_an_image_that_is_a_symlink_is_refused(bundle_dir, tmp_path):
    """An "image" that was a symlink to the hub's secret-key file was imported, then served
    publicly: a link is refused wherever it points, even to a real image."""
    secret = tmp_path / "secret-key"
    secret.write_text("hub secret")
    target = bundle_dir / "images" / "p-bike.png"
    target.unlink()
    target.symlink_to(secret)
    error = refused(bundle_dir, DEMO, "consultation.projects[1].image")
    assert error.params["path"] == "images/p-bike.png"
    with pytest.raises(BundleError, match="link"):
        read_bundle_image(bundle_dir, "images/p-bike.png")
    target.unlink()
    target.symlink_to(bundle_dir / "images" / "p-bus.png")   # a link to a genuine image
    with pytest.raises(BundleError, match="link"):
        read_bundle_image(bundle_dir, "images/p-bike.png")


def test_a_folder_link_on_the_way_is_refused(bundle_dir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(bundle_dir / "images" / "p-bus.png", outside / "p-bus.png")
    shutil.rmtree(bundle_dir / "images")
    (bundle_dir / "images").symlink_to(outside, target_is_directory=True)
    with pytest.raises(BundleError, match="link"):
        read_bundle_image(bundle_dir, "images/p-bus.png")


@pytest.mark.parametrize("rel", ["/etc/passwd.png", "../x.png", "images/../../x.png", ""])
def test_paths_outside_the_bundle_are_refused_before_any_read(bundle_dir, rel):
    with pytest.raises(BundleError):
        read_bundle_image(bundle_dir, rel)


def test_an_image_that_decodes_to_too_many_pixels_is_refused(bundle_dir):
    """A few kilobytes of PNG can decode to gigabytes: the pixel count is checked first."""
    import io
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buffer, "PNG")       # 48 MP, a small file
    assert len(buffer.getvalue()) < MAX_IMAGE_BYTES
    (bundle_dir / "images" / "p-bike.png").write_bytes(buffer.getvalue())
    error = refused(bundle_dir, DEMO, "consultation.projects[1].image")
    assert "pixels" in error.message
    with pytest.raises(BundleError, match="pixels"):
        check_image_bytes(buffer.getvalue(), "images/p-bike.png")


def test_a_truncated_image_or_another_format_is_refused(bundle_dir):
    import io
    from PIL import Image
    good = (bundle_dir / "images" / "p-bus.png").read_bytes()
    with pytest.raises(BundleError, match="broken"):
        check_image_bytes(good[: len(good) // 2], "images/p-bus.png")
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    with pytest.raises(BundleError, match="not a PNG, JPEG or WebP"):
        check_image_bytes(gif.getvalue(), "images/x.png")
    assert read_bundle_image(bundle_dir, "images/p-bus.png") == good
