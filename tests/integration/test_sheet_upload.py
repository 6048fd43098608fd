"""A consultation spreadsheet uploaded on the dashboard of a real hub process (issue 17):
problems for a broken sheet (nothing imported), a summary for a good one, "Import as version N",
then a tablet's sync worker pulls the new version and its images. Bad input: not a
spreadsheet, a zip bomb, names leaving the folder, a link, a huge body, a wrong CSRF token, no
login, an expired or another session's token, the import form sent twice at once."""
from __future__ import annotations

import io
import json
import re
import shutil
import socket
import sqlite3
import stat
import threading
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
import requests
from PIL import Image

from app.paths import DEMO_BUNDLE_DIR
from app.store import Store
from sync.content import MANIFEST
from sync.enroll import enroll
from sync.worker import SyncWorker

from .conftest import SITE
from tests.browser import submit

ID = "alpimed-2030"
NEW_TITLE_FR = "Alpes-Méditerranée 2030 : deuxième tour"


# -- files ---------------------------------------------------------------------------------

def edited_sheet(target: Path, edits: dict[str, dict[tuple[int, str], object]]) -> Path:
    """The demo's spreadsheet with cells changed: {sheet: {(row, heading): value}}."""
    book = openpyxl.load_workbook(DEMO_BUNDLE_DIR / "consultation.xlsx")
    for name, cells in edits.items():
        sheet = book[name]
        headings = {c.value: c.column for c in sheet[1]}
        for (row, heading), value in cells.items():
            sheet.cell(row=row, column=headings[heading]).value = value
    book.save(target)
    return target


def zipped(sheet: Path, extra: dict[str, bytes] | None = None, folder: str = "") -> bytes:
    """The spreadsheet with the demo's images and map files, as a staff member zips them."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(sheet, folder + "consultation.xlsx")
        for path in sorted(DEMO_BUNDLE_DIR.rglob("*")):
            rel = path.relative_to(DEMO_BUNDLE_DIR).as_posix()
            if path.is_file() and rel.startswith(("images/", "map/")) and rel not in (extra or {}):
                archive.write(path, folder + rel)
        for rel, content in (extra or {}).items():
            archive.writestr(folder + rel, content)
    return out.getvalue()


def png(colour: tuple[int, int, int], size=(640, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


# -- a staff member's browser ----------------------------------------------------------------

def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def token_of(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def staff(hub) -> requests.Session:
    browser = requests.Session()
    form = browser.get(hub.url + "/dashboard", timeout=30).text
    answer = browser.post(hub.url + "/dashboard/login", timeout=30,
                          data={"token": hub.admin_token, "csrf": csrf_of(form)})
    assert answer.status_code == 200 and "piazzetta_staff" in browser.cookies
    return browser


def upload(browser, hub, content: bytes, name: str = "consultation.zip", lang: str = "fr",
           csrf: str | None = None) -> requests.Response:
    if csrf is None:
        csrf = csrf_of(browser.get(f"{hub.url}/dashboard/upload?lang={lang}", timeout=30).text)
    return browser.post(f"{hub.url}/dashboard/upload?lang={lang}", data={"csrf": csrf},
                        files={"sheet": (name, content, "application/octet-stream")},
                        timeout=60)


def import_form(browser, hub, page: str, lang: str = "fr") -> requests.Response:
    return browser.post(f"{hub.url}/dashboard/upload/import?lang={lang}", timeout=60,
                        data={"csrf": csrf_of(page), "token": token_of(page)})


def stored_versions(hub) -> list[int]:
    with sqlite3.connect(hub.data_dir / "hub.sqlite3") as conn:
        return [v for (v,) in conn.execute(
            "SELECT version FROM consultation_versions WHERE consultation_id = ? "
            "ORDER BY version", (ID,))]


def kept_uploads(hub) -> list[tuple]:
    with sqlite3.connect(hub.data_dir / "hub.sqlite3") as conn:
        return conn.execute("SELECT state, version, bundle IS NULL, files IS NULL "
                            "FROM sheet_uploads").fetchall()


# -- the whole path ---------------------------------------------------------------------------

def test_broken_sheet_then_good_one_imported_and_pulled_by_a_tablet(fresh_hub, tmp_path):
    hub = fresh_hub
    tablet = Store.open(tmp_path / "tablet")
    enroll(tablet, hub.url, hub.code(SITE))
    worker = SyncWorker(tablet.path, tmp_path / "bundles", lambda status: None,
                        content_interval=0)
    worker.cycle(tablet)
    installed = tmp_path / "bundles" / ID
    assert json.loads((installed / "bundle.json").read_text())["consultation"]["version"] == 1

    browser = staff(hub)
    # A sheet with mistakes: every problem at once, at its sheet, row and column, in Italian.
    broken = edited_sheet(tmp_path / "broken.xlsx", {
        "consultation": {(2, "version"): 2},
        "questions": {(3, "label::it"): None, (4, "kind"): "slider"},
        "projects": {(2, "theme"): "turismo"}})
    answer = upload(browser, hub, zipped(broken), lang="it")
    assert answer.status_code == 422
    page = answer.text
    assert "Nothing" not in page and "Non è stato importato nulla" in page
    rows = re.findall(r"<tr><td class=\"where\"[^>]*>(.*?)</td>\s*<td class=\"where n\"[^>]*>"
                      r"(.*?)</td>", page)
    assert ("projects", "2") in rows and ("questions", "3") in rows and ("questions", "4") in rows
    assert "turismo" in page and "slider" in page
    assert 'name="token"' not in page                      # nothing to import
    assert stored_versions(hub) == [1] and kept_uploads(hub) == []

    # The good one: version 2, a new title, a new photo for a project.
    good = edited_sheet(tmp_path / "good.xlsx", {
        "consultation": {(2, "version"): 2, (2, "title::fr"): NEW_TITLE_FR}})
    new_photo = png((200, 40, 40))
    started = time.monotonic()
    answer = upload(browser, hub, zipped(good, {"images/p-bus.png": new_photo}, "alpimed/"))
    checked_in = time.monotonic() - started
    assert answer.status_code == 200, answer.text[-2000:]
    page = answer.text
    assert NEW_TITLE_FR in page and "Importer comme version 2" in page
    assert "remplace la version 1" in page
    assert "perimeter.geojson" in page          # in the .zip, named nowhere: said, not imported
    assert stored_versions(hub) == [1]          # checked, not imported
    print(f"\ncheck of the demo (zip with images and base map) through the dashboard: "
          f"{checked_in * 1000:.0f} ms")

    # Double submit: the form sent twice at once imports once; both see the outcome.
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(import_form(browser, hub, page)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 200]
    assert all("La version 2 est sur le serveur." in a.text for a in answers)
    assert stored_versions(hub) == [1, 2]
    assert kept_uploads(hub) == [("imported", 2, 1, 1)]    # its content gone
    replay = import_form(browser, hub, page)                 # a replay later: no second import
    assert replay.status_code == 200 and stored_versions(hub) == [1, 2]

    # The tablet pulls version 2 and its new photo, as after an import from the CLI.
    worker.cycle(tablet)
    bundle = json.loads((installed / "bundle.json").read_text())
    assert bundle["consultation"]["version"] == 2
    assert bundle["consultation"]["title"]["fr"] == NEW_TITLE_FR
    assert (installed / "images" / "p-bus.png").read_bytes() == new_photo
    assert (installed / "images" / "cover.png").read_bytes() == \
        (DEMO_BUNDLE_DIR / "images" / "cover.png").read_bytes()
    assert json.loads((installed / MANIFEST).read_text())["sha256"]
    tablet.close()

    # The same file again: nothing to import, no button.
    again = upload(browser, hub, zipped(good, {"images/p-bus.png": new_photo}, "alpimed/"))
    assert again.status_code == 200 and 'name="token"' not in again.text
    assert "déjà sur le serveur" in again.text


def test_an_ods_alone_is_checked_with_its_warnings_then_imported(hub, tmp_path):
    """LibreOffice's own format, uploaded alone: the warnings (a hidden row, a text in a
    language the consultation does not offer) are listed in the page's language, at their
    sheet, row and column, and the import goes on."""
    from server.ods import write_ods
    sheet = tmp_path / "valle.ods"
    write_ods(sheet, {
        "consultation": [["id", "languages", "title::fr", "title::it"],
                         ["valle-ods", "fr it", "Le val", "La valle"]],
        "themes": [["id", "title::fr", "title::it", "title::en"],
                   ["t-1", "Mobilité", "Mobilità", "Mobility"]],
        "questions": [["id", "kind", "label::fr", "label::it"],
                      ["q-1", "yes_no", "Oui ?", "Sì?"], ["q-2", "yes_no", "Non ?", "No?"]]},
        hidden_rows={"questions": {3}})
    browser = staff(hub)
    answer = upload(browser, hub, sheet.read_bytes(), name="valle.ods", lang="fr")
    assert answer.status_code == 200, answer.text[-2000:]
    page = answer.text
    assert "Avertissements\u00a0: 2" in page
    assert "Cette ligne est masquée\u00a0: elle est lue quand même." in page
    assert "La consultation n'est pas proposée en en" in page or \
        "La consultation n&#39;est pas proposée en en" in page
    warned = re.findall(r'<table class="problems warnings">.*?</table>', page, re.S)[0]
    rows = re.findall(r"<tr><td class=\"where\"[^>]*>(.*?)</td>\s*<td class=\"where n\"[^>]*>"
                      r"(.*?)</td>", warned)
    assert rows == [("themes", "—"), ("questions", "3")]
    assert "title::en" in warned
    done = import_form(browser, hub, page)
    assert done.status_code == 200 and "La version 1 est sur le serveur." in done.text


@pytest.mark.parametrize("lang, advice", [
    ("fr", "envoyez un .zip qui contient le classeur et ces fichiers"),
    ("it", "carichi uno .zip che contenga il foglio di calcolo e questi file")])
def test_a_spreadsheet_sent_alone_without_its_images_says_to_send_a_zip(hub, lang, advice):
    """Walked as an officer: the demo's .xlsx sent alone gave eight "image missing" rows and
    never what to do. What to do comes first, once; each missing file is still listed; a
    .zip missing one image gets no such advice (its sheet was not alone)."""
    browser = staff(hub)
    sheet = (DEMO_BUNDLE_DIR / "consultation.xlsx").read_bytes()
    answer = upload(browser, hub, sheet, name="consultation.xlsx", lang=lang)
    assert answer.status_code == 422
    rows = re.findall(r'<td class="msg">(.*?)</td>', answer.text.replace("&#39;", "'"), re.S)
    assert advice in rows[0] and sum(advice in row for row in rows) == 1
    assert sum("p-bus.png" in row for row in rows) == 1 and len(rows) >= 9
    with zipfile.ZipFile(io.BytesIO(zipped(DEMO_BUNDLE_DIR / "consultation.xlsx"))) as archive:
        kept = {n: archive.read(n) for n in archive.namelist() if n != "images/p-bus.png"}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in kept.items():
            archive.writestr(name, content)
    answer = upload(browser, hub, out.getvalue(), lang=lang)
    assert answer.status_code == 422 and "p-bus.png" in answer.text
    assert advice not in answer.text.replace("&#39;", "'")


def test_the_template_to_start_from_is_the_demo_and_checks_clean(hub):
    assert requests.get(hub.url + "/dashboard/upload/template.zip",
                        timeout=30).status_code == 401
    browser = staff(hub)
    template = browser.get(hub.url + "/dashboard/upload/template.zip", timeout=30)
    assert template.status_code == 200
    assert template.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(template.content)) as archive:
        names = set(archive.namelist())
    assert {"consultation.xlsx", "images/cover.png", "map/map.json"} <= names
    answer = upload(browser, hub, template.content, "piazzetta-consultation.zip")
    assert answer.status_code == 200 and "déjà sur le serveur" in answer.text   # the demo, as is


# -- bad input ----------------------------------------------------------------------------------

def bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("consultation.xlsx", b"")
        with archive.open("images/cover.png", "w", force_zip64=True) as entry:
            zeros = b"\0" * (1024 * 1024)
            for _ in range(140):             # 140 MiB of zeros: about 140 KiB zipped
                entry.write(zeros)
    return out.getvalue()


def with_entry(name: str, content: bytes = b"x", *, link: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.write(DEMO_BUNDLE_DIR / "consultation.xlsx", "consultation.xlsx")
        info = zipfile.ZipInfo(name)
        if link:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, content)
    return out.getvalue()


def with_clash() -> bytes:
    """`images/a.png` a file, and a folder of `images/a.png/b.png`: no disk holds both."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.write(DEMO_BUNDLE_DIR / "consultation.xlsx", "consultation.xlsx")
        archive.writestr("images/a.png", b"x")
        archive.writestr("images/a.png/b.png", b"x")
    return out.getvalue()


@pytest.mark.parametrize("content, expected", [
    (b"%PDF-1.7\n" + b"x" * 5000, "ni un classeur (.xlsx, .ods)"),
    (b"", "Le fichier est vide"),
    (b"PK\x03\x04" + b"\0" * 200, "ni un classeur (.xlsx, .ods)"),
    (with_entry("../../etc/cron.d/evil.png"), "../../etc/cron.d/evil.png"),
    (with_entry("/tmp/evil.png"), "/tmp/evil.png"),
    (with_entry("images\\evil.png"), "images\\evil.png"),
    (with_entry("images\\p-bus.png"), "barres obliques inversées"),
    (with_entry("images/cover.png", b"/etc/passwd", link=True), "un lien"),
    (with_entry("images/run.sh", b"#!/bin/sh"), "images/run.sh"),
    (with_entry("images/fake.png", b"<html>not a picture</html>"), "images/fake.png"),
    (with_clash(), "images/a.png à la fois comme fichier et comme dossier"),
], ids=["pdf", "empty", "corrupt-zip", "dot-dot", "absolute", "backslash", "windows-zip",
        "symlink", "script", "fake-image", "file-and-folder"])
def test_bad_uploads_get_a_clear_message_and_change_nothing(hub, content, expected):
    browser = staff(hub)
    before = stored_versions(hub)
    answer = upload(browser, hub, content)
    assert answer.status_code == 422, answer.text[-1500:]
    assert expected in answer.text and 'class="notice problem"' in answer.text
    assert 'name="token"' not in answer.text
    assert stored_versions(hub) == before


def test_a_zip_bomb_is_refused_from_its_directory(hub):
    browser = staff(hub)
    content = bomb()
    assert len(content) < 1024 * 1024
    answer = upload(browser, hub, content)
    assert answer.status_code == 422
    assert "Une fois décompressé" in answer.text and "128" in answer.text
    assert hub.proc.poll() is None


def raw_post(hub, head: bytes, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", hub.port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for start in range(0, len(body), 65536):
                sock.sendall(body[start:start + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass         # the hub answered and closed while the body was still coming
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return answer


def test_a_huge_upload_is_refused_before_it_is_read(hub):
    browser = staff(hub)
    cookie = browser.cookies["piazzetta_staff"]
    size = 50 * 1024 * 1024
    head = (f"POST /dashboard/upload?lang=it HTTP/1.1\r\nHost: x\r\n"
            f"Cookie: piazzetta_staff={cookie}\r\n"
            f"Content-Type: multipart/form-data; boundary=xyz\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    answer = raw_post(hub, head, b"\0" * (1024 * 1024))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert "Il file è troppo grande".encode() in answer and b"32 MB" in answer
    # Without a session, not a byte of it is read either: the login page.
    head = head.replace(f"Cookie: piazzetta_staff={cookie}\r\n".encode(), b"")
    answer = raw_post(hub, head, b"\0" * (1024 * 1024))
    assert answer.startswith(b"HTTP/1.1 401"), answer[:300]
    assert b'action="/dashboard/login' in answer


def test_no_login_and_a_wrong_csrf_token_are_refused(hub, tmp_path):
    content = zipped(edited_sheet(tmp_path / "v3.xlsx", {"consultation": {(2, "version"): 9}}))
    stranger = requests.post(hub.url + "/dashboard/upload", timeout=30, data={"csrf": "x"},
                             files={"sheet": ("c.zip", content, "application/zip")})
    assert stranger.status_code == 401 and 'action="/dashboard/login' in stranger.text
    assert requests.get(hub.url + "/dashboard/upload", timeout=30).status_code == 401
    browser = staff(hub)
    forged = upload(browser, hub, content, csrf="x" * 32)
    assert forged.status_code == 403 and "Le formulaire a expiré" in forged.text
    assert 'name="token"' not in forged.text
    page = upload(browser, hub, content).text
    wrong = browser.post(hub.url + "/dashboard/upload/import", timeout=30,
                         data={"csrf": "x" * 32, "token": token_of(page)})
    assert wrong.status_code == 403
    assert requests.post(hub.url + "/dashboard/upload/import", timeout=30, data={
        "csrf": csrf_of(page), "token": token_of(page)}).status_code == 401
    assert 9 not in stored_versions(hub)


def test_an_expired_or_foreign_token_imports_nothing(hub, tmp_path):
    content = zipped(edited_sheet(tmp_path / "v7.xlsx", {"consultation": {(2, "version"): 7}}))
    mine, other = staff(hub), staff(hub)
    page = upload(mine, hub, content).text
    foreign = import_form(other, hub, page.replace(csrf_of(page), csrf_of(
        other.get(hub.url + "/dashboard/upload", timeout=30).text)))
    assert foreign.status_code == 410 and "a expiré ou appartient à une autre session" \
        in foreign.text
    forged = mine.post(hub.url + "/dashboard/upload/import", timeout=30,
                       data={"csrf": csrf_of(page), "token": "A" * 43})
    assert forged.status_code == 410
    with sqlite3.connect(hub.data_dir / "hub.sqlite3") as conn:
        conn.execute("UPDATE sheet_uploads SET expires_at = 0")
    expired = import_form(mine, hub, page)
    assert expired.status_code == 410
    assert 7 not in stored_versions(hub)
    # The next visit of the page sweeps the expired ones away, content and all.
    mine.get(hub.url + "/dashboard/upload", timeout=30)
    assert kept_uploads(hub) == []


# -- screenshots --------------------------------------------------------------------------------

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "upload"
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_screenshots_of_the_upload_pages_in_french_and_italian(fresh_hub, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    hub = fresh_hub
    SHOTS.mkdir(parents=True, exist_ok=True)
    broken = zipped(edited_sheet(tmp_path / "broken.xlsx", {
        "questions": {(3, "label::it"): None, (4, "kind"): "slider", (9, "total"): 5000},
        "projects": {(2, "theme"): "turismo", (5, "cost"): "dodicimila"},
        "meetings": {(2, "starts_at"): "3 dicembre"}}))
    (tmp_path / "broken.zip").write_bytes(broken)
    good = tmp_path / "good.zip"
    good.write_bytes(zipped(edited_sheet(tmp_path / "good.xlsx", {
        "consultation": {(2, "version"): 2}})))
    with playwright_api.sync_playwright() as p:
        for lang in ("fr", "it"):
            # A browser in the staff's language: its own file button says so too.
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-background-networking",
                "--disable-component-update", "--disable-gpu", f"--lang={lang}"])
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900},
                                              locale={"fr": "fr-FR", "it": "it-IT"}[lang])
                page = context.new_page()
                page.goto(f"{hub.url}/dashboard?lang={lang}")
                page.fill("#token", hub.admin_token)
                submit(page, "button[type=submit]")
                submit(page, "a[href^='/dashboard/upload']")
                assert page.locator("input[type=file]").is_visible()
                page.screenshot(path=str(SHOTS / f"form-{lang}.png"), full_page=True)
                page.set_input_files("input[type=file]", str(tmp_path / "broken.zip"))
                submit(page, "form[enctype] button[type=submit]")
                page.locator("table.problems").wait_for(timeout=30_000)
                assert page.locator("table.problems tbody tr").count() >= 6
                page.screenshot(path=str(SHOTS / f"problems-{lang}.png"), full_page=True)
                page.set_input_files("input[type=file]", str(good))
                submit(page, "form[enctype] button[type=submit]")
                button = page.locator("form[action*='/import'] button")
                button.wait_for(state="visible", timeout=30_000)
                assert "2" in button.inner_text()
                page.screenshot(path=str(SHOTS / f"summary-{lang}.png"), full_page=True)
                if lang == "fr":     # a file over the limit: the page says so, the form stays
                    huge = tmp_path / "huge.zip"
                    huge.write_bytes(b"PK\x03\x04" + bytes(40 * 1024 * 1024))
                    page.set_input_files("input[type=file]", str(huge))
                    submit(page, "form[enctype] button[type=submit]")
                    page.locator(".notice.problem").wait_for(timeout=30_000)
                    assert "32" in page.inner_text(".notice.problem")
                    assert page.locator("input[type=file]").is_visible()
                    page.screenshot(path=str(SHOTS / "too-large-fr.png"), full_page=True)
                if lang == "it":
                    button.click()
                    page.wait_for_url("**/dashboard/upload/done*")
                    page.screenshot(path=str(SHOTS / f"done-{lang}.png"), full_page=True)
                    phone = browser.new_context(viewport={"width": 390, "height": 844},
                                                storage_state=context.storage_state())
                    small = phone.new_page()
                    small.goto(f"{hub.url}/dashboard/upload?lang=it")
                    small.set_input_files("input[type=file]", str(tmp_path / "broken.zip"))
                    submit(small, "form[enctype] button[type=submit]")
                    small.screenshot(path=str(SHOTS / "problems-it-phone.png"), full_page=True)
                    phone.close()
                context.close()
            finally:
                browser.close()
    assert stored_versions(hub) == [1, 2]
    for name in ("form", "problems", "summary"):
        for lang in ("fr", "it"):
            assert (SHOTS / f"{name}-{lang}.png").stat().st_size > 10_000
    shutil.rmtree(tmp_path, ignore_errors=True)
