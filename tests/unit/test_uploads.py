"""server.uploads' own checks on an uploaded .zip, without a hub process: names, links, litter,
the spreadsheet's folder as the images' folder, and a kept upload imported once (a real SQLite
hub in a temporary folder). The pages and the whole path: tests/integration/test_sheet_upload.py."""
from __future__ import annotations

import io
import stat
import zipfile

import pytest

from app.paths import DEMO_BUNDLE_DIR
from server import uploads
from server.errors import HubError
from server.hub import Hub
from server.settings import Settings
from server.sheets import SheetError


@pytest.mark.parametrize("name, safe", [
    ("consultation.xlsx", "consultation.xlsx"), ("demo/images/p-bus.png", "demo/images/p-bus.png"),
    ("images/", "images"), ("../x.png", None), ("a/../../x.png", None), ("/etc/x.png", None),
    ("C:/x.png", None), ("c:x.png", None), ("images\\x.png", None), ("a//x.png", None),
    ("./x.png", None), ("x\x00.png", None), ("x\n.png", None), ("a" * 201, None)])
def test_entry_names_stay_inside_the_folder(name, safe):
    assert uploads._safe_name(name) == safe


def zip_of(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in entries.items():
            info = zipfile.ZipInfo(name)
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, content)
    return out.getvalue()


def demo_files(folder: str = "") -> dict[str, bytes]:
    return {folder + p.relative_to(DEMO_BUNDLE_DIR).as_posix(): p.read_bytes()
            for p in sorted(DEMO_BUNDLE_DIR.rglob("*"))
            if p.is_file() and p.name != "bundle.json"}


def test_the_spreadsheets_folder_is_where_images_are_read_and_litter_is_skipped(tmp_path):
    files = demo_files("Consultation 2027/")
    files.update({"__MACOSX/Consultation 2027/._consultation.xlsx": b"\0",
                  "Consultation 2027/.DS_Store": b"\0", "Consultation 2027/~$consultation.xlsx":
                  b"lock", "notes/readme.json": b"{}"})
    sheet, images, others = uploads.unpack(zip_of(files), tmp_path)
    assert sheet == images / "consultation.xlsx" and (images / "images" / "cover.png").is_file()
    assert "images/p-bus.png" in others and "notes/readme.json" in others
    assert not any("DS_Store" in p.name or p.name.startswith(("~$", "._"))
                   for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("entries, links, message", [
    ({"consultation.xlsx": b"PK\x03\x04", "images/a.png": b"x"}, ("images/a.png",), "link"),
    ({"a.xlsx": b"PK\x03\x04", "b/c.xlsx": b"PK\x03\x04"}, (), "several spreadsheets"),
    ({"images/a.png": b"x"}, (), "no spreadsheet"),
    ({"consultation.xlsx": b"not a zip"}, (), "not what its name says"),
    ({"consultation.xlsx": b"PK\x03\x04", "map/m.mbtiles": b"not sqlite"}, (),
     "not what its name says"),
    ({"consultation.xlsx": b"PK\x03\x04", "Images/A.png": b"x", "images/a.png": b"x"}, (),
     "twice"),
    ({"consultation.xlsx": b"PK\x03\x04", "x.exe": b"MZ"}, (), "no place"),
    ({"consultation.xlsx": b"PK\x03\x04", "images/a.png": b"x", "images/a.png/b.png": b"x"}, (),
     "images/a.png both as a file and as a folder"),
    ({"consultation.xlsx": b"PK\x03\x04", "Images/A.png/b.png": b"x", "images/a.png": b"x"}, (),
     "both as a file and as a folder"),
])
def test_refused_zips_name_their_entry(tmp_path, entries, links, message):
    with pytest.raises(SheetError) as refused:
        uploads.unpack(zip_of(entries, links), tmp_path)
    assert message in refused.value.problems[0].describe()


def test_too_many_entries_are_refused_from_the_directory(tmp_path):
    entries = {f"images/{n}.png": b"" for n in range(uploads.MAX_ENTRIES)}
    entries["consultation.xlsx"] = b""
    with pytest.raises(SheetError) as refused:
        uploads.unpack(zip_of(entries), tmp_path)
    assert "too many files" in refused.value.problems[0].describe()


def test_a_kept_upload_is_imported_once_for_its_session_only(tmp_path):
    hub = Hub(Settings.from_env(data_dir=tmp_path / "hub").with_secrets())
    try:
        checked = uploads.check(hub, zip_of(demo_files()))
        assert checked.problems == [] and checked.summary["current_version"] is None
        token = uploads.keep(hub, "a" * 64, checked)
        with pytest.raises(HubError):
            uploads.import_kept(hub, "b" * 64, token)          # another session
        assert hub.consultation("alpimed-2030") is None
        assert uploads.import_kept(hub, "a" * 64, token) == ("alpimed-2030", 1, True)
        assert uploads.import_kept(hub, "a" * 64, token) == ("alpimed-2030", 1, False)
        assert hub.consultation("alpimed-2030").version == 1
        again = uploads.check(hub, zip_of(demo_files()))
        assert again.summary["same"] is True and again.summary["current_version"] == 1
    finally:
        hub.close()


def test_uploads_are_rate_limited_per_session_with_a_page(tmp_path):
    import re
    from fastapi.testclient import TestClient
    from server.api import create_app
    settings = Settings.from_env(data_dir=tmp_path / "hub", rate_upload="2/minute").with_secrets()
    app = create_app(settings)
    try:
        client = TestClient(app)
        form = client.get("/dashboard").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        assert client.post("/dashboard/login", data={"token": settings.admin_token,
                                                     "csrf": csrf}).status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"',
                         client.get("/dashboard/upload").text).group(1)
        answers = [client.post("/dashboard/upload?lang=it", data={"csrf": csrf},
                               files={"sheet": ("x.pdf", b"%PDF-1.7", "application/pdf")})
                   for _ in range(3)]
        assert [a.status_code for a in answers] == [422, 422, 429]
        assert "Troppe richieste" in answers[2].text and answers[2].headers["Retry-After"]
    finally:
        app.state.hub.close()


def test_each_uploaded_image_is_decoded_once_from_the_zip_to_the_import(tmp_path, monkeypatch):
    import hashlib

    import app.bundle as bundle
    decoded: list[bytes] = []
    decode = bundle._decode_image

    def counted(data, rel):
        decoded.append(hashlib.sha256(data).digest())
        decode(data, rel)

    monkeypatch.setattr(bundle, "_decode_image", counted)
    monkeypatch.setattr(bundle, "_PASSED_IMAGES", {})
    hub = Hub(Settings.from_env(data_dir=tmp_path / "hub").with_secrets())
    try:
        checked = uploads.check(hub, zip_of(demo_files()))
        images = [c for rel, c in checked.files.items() if rel.startswith("images/")]
        token = uploads.keep(hub, "a" * 64, checked)
        assert uploads.import_kept(hub, "a" * 64, token) == ("alpimed-2030", 1, True)
        assert images and sorted(decoded) == sorted(
            {hashlib.sha256(c).digest() for c in images})
    finally:
        hub.close()


def test_a_refused_image_is_refused_again():
    from app.bundle import check_image_bytes
    from app.errors import BundleError
    broken = (DEMO_BUNDLE_DIR / "images" / "p-bus.png").read_bytes()[:200]
    for _attempt in range(2):
        with pytest.raises(BundleError):
            check_image_bytes(broken, "images/p-bus.png")
