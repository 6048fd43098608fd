"""Participation cards as anonymous bearer credentials, through a real hub process, real tablets'
stores and the real sync client (issue 14):

- cards printed at the door (`python -m server cards print`: the PDF rendered with pdftoppm,
  its QR codes read back with zxing-cpp) and cards shown once to confirmed sign-ups vote from
  two tablets, offline, by QR and by typed code;
- after sign-ups, printed cards, confirmed sign-ups' cards and identified ballots, the join an
  operator could run over every table of the hub's database (tests/integration/linkage.py)
  finds no path from a person to an answer, and neither the database nor the hub's log holds
  a card code;
- the hub refuses a card it did not issue, a forged proof, a card used on another tablet for
  the same question (once counted), and an old hub database loses its clear codes and
  nullifiers when the new hub starts on it.
"""
from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests

from app.bundle import load_bundle
from app.cards import CARD_KEYS, CARD_PUBLIC_KEY, Card, CardError, read_card
from app.kiosk import KioskSession, KioskSettings
from app.paths import DEMO_BUNDLE_DIR
from app.tablet import kiosk_signup_url
from app.store import Store
from sync import protocol as p
from sync.content import pull_bundles
from sync.enroll import client_for, enroll
from sync.worker import push_pending

from .conftest import ROOT, SITE, start_hub
from .linkage import paths, without_rowid

CONSULTATION = "alpimed-2030"
SHOTS = ROOT / "build" / "screenshots"
pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                reason="pdftoppm (poppler-utils) renders the printed cards")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    process = start_hub(tmp_path_factory.mktemp("cards-hub"))
    yield process
    process.stop()


def tablet(hub, folder: Path, bundles: Path) -> Store:
    store = Store.open(folder)
    enroll(store, hub.url, hub.code(SITE))
    pull(store, bundles)
    return store


def pull(store: Store, bundles: Path) -> None:
    client = client_for(store)
    try:
        pull_bundles(store, client, bundles)
    finally:
        client.close()


def push(store: Store) -> dict:
    client = client_for(store)
    try:
        return push_pending(store, client)
    finally:
        client.close()


def printed_cards(hub, tmp_path: Path, count: int, lang: str, shot: str | None = None):
    """The QR texts of a printed batch, read back from the PDF rendered as images."""
    import zxingcpp
    from PIL import Image
    pdf = tmp_path / f"cards-{lang}.pdf"
    made = hub.cli("cards", "print", "--consultation", CONSULTATION, "--count", str(count),
                   "--lang", lang, "-o", str(pdf))
    assert made.returncode == 0, made.stderr
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-png", "-r", "100", str(pdf), str(tmp_path / f"page-{lang}")],
                   check=True, timeout=120)
    texts = []
    for page in sorted(tmp_path.glob(f"page-{lang}*.png")):
        found = zxingcpp.read_barcodes(Image.open(page).convert("L"))
        texts += [r.text for r in found if r.format == zxingcpp.BarcodeFormat.QRCode]
    if shot:
        SHOTS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                        str(pdf), str(SHOTS / shot)], check=True, timeout=120)
    return texts


def vote(store: Store, consultation, card_text: str, answers: dict) -> str:
    """A resident at the kiosk in identified mode: shows the card, answers, leaves."""
    settings = KioskSettings(store)
    settings.ballot_mode = "identified"
    settings.site_id = SITE
    session = KioskSession(store, consultation, settings=settings)
    session.present_card(card_text)
    session.start()
    ballot = session.ballot_id
    while session.question is not None:
        if session.question.id in answers:
            session.record(answers[session.question.id])
        session.next()
    session.finish()
    return ballot


def sign_up(hub, store: Store, name: str, contact: str) -> str:
    """A resident's phone: the tablet's sign-up QR, the form, sent. Returns the form's key."""
    url = kiosk_signup_url(store, consultation_id=CONSULTATION, site_id=SITE,
                           meeting_id="m-menton-1203")
    assert url.startswith(hub.url)
    http = requests.Session()
    page = http.get(url, timeout=30, params={"lang": "fr"})
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    sent = http.post(hub.url + "/signup", timeout=30, data={
        **hidden, "name": name, "contact": contact, "consent": "1"})
    assert sent.status_code == 200 and "<svg" not in sent.text, sent.text[-500:]
    # The confirmation code the page shows (never emailed): the resident types it when the
    # email's link opens in another browser than the form's (a mail app's, here `requests`).
    found = re.search(r'class="confirm-code">([A-Z]{4})<', sent.text)
    if found:
        CODES[hidden["k"]] = found.group(1)
    return hidden["k"]


CODES: dict[str, str] = {}     # sign-up key -> the code its page showed
LINKS: dict[str, str] = {}     # confirmation link -> sign-up key


def confirmation_link(hub, signup_key: str) -> str:
    """The link the hub emails (no mail server here: made with the hub's own key, as it does)."""
    from server import signing
    secret = (hub.data_dir / "secret-key").read_text().strip()
    token = signing.sign({"purpose": "confirm-card", "signup": signup_key}, secret, 7200)
    link = f"{hub.url}/signup/confirm?t={token}"
    LINKS[link] = signup_key
    return link


def typed_code(link: str) -> dict:
    """The code the resident saw after the form, as the confirmation page asks for it."""
    code = CODES.get(LINKS.get(link, ""))
    return {"code": code} if code else {}


def show_card(link: str) -> requests.Response:
    """The emailed link's page (one button, nothing happens on a GET), then its POST."""
    page = requests.get(link, timeout=30)
    assert page.status_code == 200 and "<svg" not in page.text
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    return requests.post(link.split("?")[0], data={**hidden, **typed_code(link)}, timeout=30)


def test_no_path_from_a_person_to_an_answer(hub, tmp_path):
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    bundles = tmp_path / "bundles"
    a = tablet(hub, tmp_path / "a", bundles)
    b = tablet(hub, tmp_path / "b", bundles)

    # Sign-ups: on phones (four email addresses, two phone numbers) and on a tablet.
    people = [(f"Résidente {i}", f"resident.{i}@example.org") for i in range(4)] + \
        [("Mario Rossi", "+39 333 1234567"), ("Zoé Martin", "+33 6 12 34 56 78")]
    keys = [sign_up(hub, a, name, contact) for name, contact in people]
    for name, contact in (("Giulia Tablet", "giulia@example.it"), ("Paul Tablet", "")):
        a.record_signup({"name": name, "contact": contact or "+33 6 98 76 54 32",
                         "consent": True}, consultation_id=CONSULTATION, site_id=SITE,
                        meeting_id="m-menton-1203", lang="it")
    assert push(a)["stored"] == 2

    # Confirmed email addresses get their card, once; phone numbers get none online.
    typed = []
    for key in keys[:4]:
        page = show_card(confirmation_link(hub, key))
        assert page.status_code == 200 and "<svg" in page.text
        typed.append(re.search(r'class="code"[^>]*>([A-Z0-9-]+)<', page.text).group(1))
        again = show_card(confirmation_link(hub, key))   # a new link, even
        assert again.status_code == 200 and "<svg" not in again.text
        assert typed[-1] not in again.text
    for key in keys[4:]:       # a phone number: no link is valid for it
        link = confirmation_link(hub, key)
        assert requests.post(link.split("?")[0], data={"t": link.split("t=")[1]},
                             timeout=30).status_code == 400
    # Cards printed at the door, read back from the PDF.
    printed = printed_cards(hub, tmp_path, 6, "fr", shot="cards-sheet-fr")
    assert len(printed) == 6 and len(set(printed)) == 6
    assert all(t.startswith("PZC3.") for t in printed)

    # Identified ballots: printed cards by QR (the tablets pulled before they were printed:
    # the signature is enough), confirmed sign-ups' cards typed after a pull.
    for store in (a, b):
        pull(store, bundles)
        checks = store.get_setting(CARD_KEYS)[CONSULTATION]
        assert len(checks) >= 10                    # a pool (made ahead) and 6 printed
    cards = []
    for i, text in enumerate(printed + typed):
        store = (a, b)[i % 2]
        vote(store, consultation, text, {"q-ticket": ("yes", "no")[i % 2],
                                         "q-cooperation": 1 + i % 5})
        cards.append(read_card(text, CONSULTATION, store.get_setting(CARD_PUBLIC_KEY),
                               store.get_setting(CARD_KEYS)[CONSULTATION]))
    # The same card on the other tablet, offline: that tablet cannot know; the hub counts once.
    vote(b, consultation, printed[0], {"q-ticket": "no"})
    before = hub.results()["questions"]["q-ticket"]["counts"]
    assert push(a)["stored"] > 0 and push(b)["stored"] > 0
    assert b.get_setting(p.REFUSED, 0) == 1 and a.get_setting(p.REFUSED, 0) == 0
    counts = hub.results()["questions"]["q-ticket"]["counts"]
    assert sum(counts.values()) - sum(before.values()) == 10

    # The join: every table, every value, the card formulas applied to each person's row.
    # A clean stop writes the confirmations that wait in memory (one batch, one transaction).
    hub.stop()
    hub.start()
    database = hub.data_dir / "hub.sqlite3"
    found = paths(database)
    assert found["persons"] == 8 and found["answers"] > 40
    assert {"signups", "issued_cards", "card_uses", "events", "ballots"} <= set(found["tables"])
    assert found["linked"] == [], found["linked"][:5]
    for table in ("issued_cards", "card_uses"):
        assert without_rowid(database, table), f"{table} keeps an insertion order"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(signups)")}
        issued = conn.execute("SELECT count(*) FROM signups WHERE card_issued").fetchone()[0]
    assert issued == 4 and not {"card_code", "card_hash"} & columns
    # No card code in clear, in the database's files or in the hub's log.
    stored = b"".join(f.read_bytes() for f in hub.data_dir.glob("hub.sqlite3*"))
    log = hub.log.read_bytes()
    for card in cards:
        for text in (card.code, card.secret, card.typed):
            assert text.encode() not in stored and text.encode() not in log, text
    assert b"/signup/confirm" not in log and b"not sent" in log


class ForgedProof(Card):
    """A tablet that bypasses its own checks: a real card's lookup ID with a proof of its own."""
    def proof(self, question_id, ballot_id, value):
        return "0" * 128


def test_a_card_printed_after_a_sync_reaches_the_tablet_without_the_bundle_index(hub, tmp_path):
    """The card index has its own ETag (GET /api/v1/cards): a card printed after the tablet's
    sync leaves the bundle index unchanged (its ETag kept, no bundle read again) and changes
    the card index, which the next sync brings; the tablet then checks the card's typed code
    offline (a typed code carries no signature: only the index makes it known)."""
    store = tablet(hub, tmp_path / "t", tmp_path / "bundles")
    bundle_etag, cards_etag = store.get_setting(p.CONTENT_ETAG), store.get_setting(p.CARDS_ETAG)
    assert bundle_etag and cards_etag
    qr = printed_cards(hub, tmp_path, 1, "fr")[0]
    text = read_card(qr, CONSULTATION, store.get_setting(CARD_PUBLIC_KEY)).typed
    consultation = load_bundle(tmp_path / "bundles" / CONSULTATION)
    settings = KioskSettings(store)
    settings.ballot_mode = "identified"
    settings.site_id = SITE
    with pytest.raises(CardError):           # not known to the tablet yet
        KioskSession(store, consultation, settings=settings).present_card(text)
    client = client_for(store)
    try:
        assert pull_bundles(store, client, tmp_path / "bundles") == []
    finally:
        client.close()
    assert store.get_setting(p.CONTENT_ETAG) == bundle_etag
    assert store.get_setting(p.CARDS_ETAG) not in (None, cards_etag)
    session = KioskSession(store, consultation, settings=settings)
    session.present_card(text)              # offline: the tablet holds the new card's check
    assert session.card is not None


@pytest.mark.parametrize("case", ["never issued", "forged proof", "another consultation"])
def test_a_card_the_hub_did_not_issue_is_refused_with_its_reason(hub, tmp_path, case):
    """An enrolled tablet that invents participation (bypassing its own checks)."""
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    store = tablet(hub, tmp_path / "t", tmp_path / "bundles")
    real = read_card(printed_cards(hub, tmp_path, 1, "it")[0], CONSULTATION,
                     store.get_setting(CARD_PUBLIC_KEY))
    invented = Card(CONSULTATION, "HJKL" if real.lookup != "HJKL" else "KLMN", "M" * 13)
    card = {"never issued": invented,
            "forged proof": ForgedProof(CONSULTATION, real.lookup, real.secret),
            # The store signs for the consultation the card names: "other".
            "another consultation": Card("other", real.lookup, real.secret)
            }[case]
    ballot = store.start_ballot(consultation, mode="identified", site_id=SITE)
    store.record_answer(consultation, ballot, "q-ticket", "yes", card=card)
    before = hub.results()["questions"]["q-ticket"]["counts"]
    counts = push(store)
    assert counts["rejected"] == 1 and store.get_setting(p.REFUSED, 0) == 1
    assert hub.results()["questions"]["q-ticket"]["counts"] == before
    reviews = hub.admin("GET", "/conflicts").json()
    reasons = [r["reason"] for r in reviews["events"] if r["kind"] == "rejected"]
    expected = {"never issued": "This participation card was not issued for this consultation.",
                "forged proof": "This participation card's proof does not match.",
                "another consultation": "This participation card's proof does not match."}[case]
    assert expected in reasons


def test_printed_sheets_in_french_and_italian(hub, tmp_path):
    """The sheets staff print, as images to look at (build/screenshots/cards-sheet-*.png)."""
    for lang, words in (("fr", b"Carte de participation"), ("it", b"Tessera di partecipazione")):
        texts = printed_cards(hub, tmp_path / lang, 9, lang, shot=f"cards-sheet-{lang}")
        assert len(texts) == 9 and len(set(texts)) == 9
        assert (SHOTS / f"cards-sheet-{lang}.png").stat().st_size > 10_000


# -- an old hub's database --------------------------------------------------------------------

OLD_SCHEMA = """
CREATE TABLE signups (id VARCHAR(64) PRIMARY KEY, consultation_id VARCHAR(64),
  site_id VARCHAR(64), meeting_id VARCHAR(64), device_id VARCHAR(64), channel VARCHAR(20) NOT NULL,
  name TEXT, contact TEXT, contact_kind VARCHAR(10), age_bracket VARCHAR(20),
  neighbourhood VARCHAR(64), lang VARCHAR(5) NOT NULL, card_code VARCHAR(20) NOT NULL,
  card_hash VARCHAR(64) NOT NULL UNIQUE, created_at VARCHAR(40) NOT NULL,
  confirmed_at VARCHAR(40));
CREATE INDEX signups_attribution ON signups (consultation_id, site_id, meeting_id);
CREATE TABLE card_uses (consultation_id VARCHAR(64) NOT NULL, question_id VARCHAR(64) NOT NULL,
  nullifier VARCHAR(64) NOT NULL, ballot_id VARCHAR(64) NOT NULL,
  PRIMARY KEY (consultation_id, question_id, nullifier));
"""


def test_an_old_hub_database_loses_its_card_codes_and_nullifiers(tmp_path):
    """A database in the shape of before (clear card codes beside sign-ups, nullifiers beside
    ballots, and in the stored answer events): the join names every voter; once the new hub has
    started on it, none, and the old codes are gone from the file."""
    import hashlib
    import hmac
    import json
    data = tmp_path / "hub"
    data.mkdir()
    db_path = data / "hub.sqlite3"
    conn = sqlite3.connect(db_path)
    conn.executescript(OLD_SCHEMA)
    conn.executescript("""
        CREATE TABLE events (id VARCHAR(64) PRIMARY KEY, device_id VARCHAR(64) NOT NULL,
          seq BIGINT NOT NULL, type VARCHAR(40) NOT NULL, recorded_at VARCHAR(64) NOT NULL,
          received_at VARCHAR(40) NOT NULL, content_hash VARCHAR(64) NOT NULL,
          payload TEXT NOT NULL);
        CREATE TABLE ballots (id VARCHAR(64) PRIMARY KEY, consultation_id VARCHAR(64) NOT NULL,
          consultation_version INTEGER NOT NULL, device_id VARCHAR(64) NOT NULL,
          site_id VARCHAR(64), meeting_id VARCHAR(64), mode VARCHAR(20) NOT NULL,
          closed_reason VARCHAR(40));
    """)
    codes = [f"ACDEFGHJ{d}{e}" for d, e in zip("2345", "6789")]
    for i, code in enumerate(codes):
        conn.execute("INSERT INTO signups VALUES (?, ?, ?, NULL, NULL, 'phone', ?, ?, 'email',"
                     " NULL, NULL, 'fr', ?, ?, ?, ?)",
                     (f"signup-key-{i:04d}", CONSULTATION, SITE, f"Personne {i}",
                      f"p{i}@example.org", code, hashlib.sha256(code.encode()).hexdigest(),
                      f"2026-11-2{i}T10:1{i}:3{i}.123+00:00", None))
        nullifier = hmac.new(code.encode(), f"{CONSULTATION}|q-ticket".encode(),
                             hashlib.sha256).hexdigest()
        conn.execute("INSERT INTO card_uses VALUES (?, 'q-ticket', ?, ?)",
                     (CONSULTATION, nullifier, f"ballot-{i:04d}"))
        conn.execute("INSERT INTO ballots VALUES (?, ?, 1, 'tab-1', ?, NULL, 'identified', NULL)",
                     (f"ballot-{i:04d}", CONSULTATION, SITE))
        conn.execute("INSERT INTO events VALUES (?, 'tab-1', ?, 'answer', 'x', ?, ?, ?)",
                     (f"event-{i:04d}", i + 1, f"2026-11-2{i}T11:00:0{i}.5+00:00", "h" * 64,
                      json.dumps({"ballot_id": f"ballot-{i:04d}", "question_id": "q-ticket",
                                  "consultation_id": CONSULTATION, "value": "yes",
                                  "nullifier": nullifier})))
    conn.commit()
    conn.close()
    before = paths(db_path)
    assert before["persons"] == 4
    assert {s for s, _t, _i in before["linked"]} == {f"signup-key-{i:04d}" for i in range(4)}

    process = start_hub(data)          # imports the demo (the CLI), then serves: both migrate
    try:
        assert process.results()["consultation_id"] == CONSULTATION
    finally:
        process.stop()
    after = paths(db_path)
    assert after["persons"] == 4 and after["linked"] == []
    with sqlite3.connect(db_path) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(signups)")}
        assert not {"card_code", "card_hash"} & columns
        assert conn.execute("SELECT count(*) FROM card_uses").fetchone()[0] == 0
        names = conn.execute("SELECT name, created_at, card_issued FROM signups "
                             "ORDER BY id").fetchall()
        payloads = conn.execute("SELECT payload FROM events").fetchall()
    assert [n for n, _c, _i in names] == [f"Personne {i}" for i in range(4)]   # kept
    assert all(c.endswith(":00:00+00:00") and not issued for _n, c, issued in names)
    assert all("nullifier" not in p for (p,) in payloads)
    raw = b"".join(f.read_bytes() for f in data.glob("hub.sqlite3*"))
    for code in codes:
        assert code.encode() not in raw, code


# -- the confirmation email, through a real SMTP exchange -------------------------------------

class MailCatcher:
    """A minimal SMTP server on 127.0.0.1 (one thread): keeps each message's text."""

    def __init__(self):
        import socketserver
        import threading
        messages = self.messages = []

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 localhost ESMTP test\r\n")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        self.wfile.write(b"354 go on\r\n")
                        data = b""
                        while not data.endswith(b"\r\n.\r\n"):
                            chunk = self.rfile.readline()
                            if not chunk:
                                return
                            data += chunk
                        messages.append(data[:-5].decode("utf-8", "replace"))
                        self.wfile.write(b"250 kept\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    elif verb == b"EHLO":
                        self.wfile.write(b"250 localhost\r\n")
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_emailed_link_shows_the_card_once_and_never_reaches_the_log(tmp_path):
    import email
    import time
    from .conftest import HubProcess
    mail = MailCatcher()
    process = HubProcess(tmp_path / "hub")
    process.env["PIAZZETTA_HUB_SMTP_URL"] = f"smtp://127.0.0.1:{mail.port}"
    assert process.import_bundle(DEMO_BUNDLE_DIR) == 0
    process.start()
    try:
        store = tablet(process, tmp_path / "t", tmp_path / "bundles")
        key = sign_up(process, store, "Léa Courriel", "lea.courriel@example.org")
        deadline = time.monotonic() + 30
        while not mail.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(mail.messages) == 1
        message = email.message_from_string(mail.messages[0])
        assert message["To"] == "lea.courriel@example.org"
        body = message.get_payload(decode=True).decode()
        assert "2\u00a0h" in body and "une fois" in body          # FR: the sign-up's language
        link = re.search(r"(http://127\.0\.0\.1:\d+/signup/confirm\?t=\S+)", body).group(1)
        # The confirmation code is shown after the form, never emailed.
        assert re.search(rf"\b{CODES[key]}\b", body) is None
        LINKS[link] = key
        page = show_card(link)
        assert page.status_code == 200 and "<svg" in page.text
        code = re.search(r'class="code"[^>]*>([A-Z0-9-]+)<', page.text).group(1)
        again = show_card(link)
        assert again.status_code == 200 and "<svg" not in again.text and code not in again.text
    finally:
        process.stop()
        mail.close()
    log = process.log.read_text(errors="replace")
    assert "/signup/confirm" not in log and "lea.courriel" not in log
    assert code not in log and code.replace("-", "") not in log
