"""A meeting played on a real hub process, then its data folder read as a forensic analyst would
(issue 23): residents sign up on their phones, a mail scanner opens each emailed link before
the resident, residents confirm and vote with their card minutes later, others vote with cards
printed at the door — all interleaved, each ballot pushed at once. Copies of the data folder
are taken during the meeting (a tar or rsync backup of a running hub) and after a clean stop.

On each copy: the WAL replayed commit by commit (every frame, the older generations too), the
main file's row order, the rate-limit table, the freed pages and the log. Each attack guesses
which card each confirmed resident got; a score better than chance fails the test. On the main
branch of before, the WAL paired every confirmed resident with their card (same commit), and
the sign-ups' row order and the rate-limit times paired them again.
"""
from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
import requests

from app.bundle import load_bundle
from app.paths import DEMO_BUNDLE_DIR

from .conftest import SITE, HubProcess
from .forensics import (Score, commit_order, file_order, freed_pages, pages_holding,
                        rate_limit_times, replay, same_commit)
from .test_card_privacy import (CONSULTATION, confirmation_link, printed_cards, push,
                                sign_up, tablet, typed_code, vote)

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                reason="pdftoppm (poppler-utils) renders the printed cards")
PEOPLE = 10


def open_card(link: str) -> tuple[str, bool]:
    """The resident's phone: the emailed link opened after a mail scanner did (a GET), the
    page's button pressed. (The card's typed code, whether the resident got it: a hub that
    shows the card on the first GET shows it to the scanner.)"""
    scanner = requests.get(link, timeout=30)          # Safe Links, URL Defense…
    assert scanner.status_code == 200
    page = scanner if "<svg" in scanner.text else requests.get(link, timeout=30)
    if "<svg" not in page.text:                        # one button: its POST shows the card
        hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                                 page.text))
        page = requests.post(link.split("?")[0], data={**hidden, **typed_code(link)},
                             timeout=30)
    found = re.search(r'class="code"[^>]*>([A-Z0-9-]+)<', page.text)
    assert page.status_code == 200 and found, page.text[-400:]
    return found.group(1), page is not scanner


def snapshot(hub, to: Path) -> Path:
    """What `cp -a`, tar or rsync of the running hub's data folder would hold."""
    to.mkdir(parents=True)
    for f in sorted(hub.data_dir.glob("hub.sqlite3*")):
        shutil.copyfile(f, to / f.name)
    return to / "hub.sqlite3"


def analyse(db_file: Path, truth: dict, contacts: dict, secret: str) -> list[Score]:
    from .forensics import current
    states = replay(db_file)
    conn = current(db_file)
    candidates = conn.execute("SELECT count(*) FROM issued_cards").fetchone()[0]
    conn.close()
    found = [("WAL, same commit", same_commit(states, truth)),
             ("WAL, commit order", commit_order(states, truth)),
             ("file, row order", file_order(db_file, truth)),
             ("rate-limit times", rate_limit_times(db_file, truth, contacts, secret))]
    return [Score(name, guesses, correct, candidates) for name, (guesses, correct) in found]


def closing_check(db_file: Path, text: str, truth: dict, contacts: dict,
                  consultation_id: str) -> None:
    """The closing record's used-card fingerprints (server/closing.py): one per card that
    answered, none twice; no lookup ID, sign-up or contact in the file; their order is their
    values' (sorted), so it says nothing of who signed up or voted when; a fingerprint made
    from what a guesser could know (the consultation, the question, a lookup ID: four
    characters) without the card's public key matches none; each resident finds theirs."""
    from server.closing import card_fingerprint, verify_document
    from .forensics import current
    record = verify_document(text)
    conn = current(db_file)
    keys = dict(conn.execute("SELECT lookup, public_key FROM issued_cards"))
    uses = conn.execute("SELECT count(*) FROM card_uses WHERE question_id = 'q-ticket'"
                        ).fetchone()[0]
    conn.close()
    published = record["used_cards"]["q-ticket"]
    assert len(published) == len(set(published)) == uses
    assert published == sorted(published)
    for key, contact in contacts.items():
        assert key not in text and contact not in text
    for lookup in truth.values():
        assert f'"{lookup}' not in text and f"{lookup}|" not in text
    guessable = {card_fingerprint(consultation_id, "q-ticket", lookup, "") for lookup in keys}
    assert not guessable & set(published)
    mine = {card_fingerprint(consultation_id, "q-ticket", lookup, keys[lookup])
            for lookup in truth.values()}
    assert mine <= set(published)


def test_no_byte_of_the_data_folder_pairs_a_resident_with_their_card(tmp_path):
    rng = random.Random(23)
    process = HubProcess(tmp_path / "hub")
    process.env["PIAZZETTA_HUB_CARD_POOL"] = "40"
    # The meeting falls within one batch of confirmations (written at the stop).
    process.env["PIAZZETTA_HUB_CONFIRM_BATCH_SECONDS"] = "3600"
    assert process.import_bundle(DEMO_BUNDLE_DIR) == 0
    process.start()
    consultation = load_bundle(DEMO_BUNDLE_DIR)
    bundles = tmp_path / "bundles"
    stores = [tablet(process, tmp_path / f"t{i}", bundles) for i in range(2)]
    printed = printed_cards(process, tmp_path / "print", 6, "fr")
    truth, contacts, snapshots, lost = {}, {}, [], []
    try:
        for i in range(PEOPLE):
            store = stores[i % 2]
            contact = f"resident.{i}@example.org"
            key = sign_up(process, store, f"Résidente {i}", contact)
            contacts[key] = contact
            if i % 3 == 0 and printed:          # someone with a printed card votes meanwhile
                vote(stores[(i + 1) % 2], consultation, printed.pop(),
                     {"q-ticket": rng.choice(("yes", "no"))})
                push(stores[(i + 1) % 2])
            code, got_it = open_card(confirmation_link(process, key))
            if not got_it:
                lost.append(key)
            truth[key] = code.replace("-", "")[:4]
            from sync.content import pull_bundles
            from sync.enroll import client_for
            client = client_for(store)
            try:
                pull_bundles(store, client, bundles)
            finally:
                client.close()
            vote(store, consultation, code, {"q-ticket": rng.choice(("yes", "no")),
                                             "q-cooperation": rng.randint(1, 5)})
            assert push(store)["stored"] > 0
            snapshots.append(snapshot(process, tmp_path / f"backup-{i}"))
        # Staff close the site's day (issue 30): its record publishes the used cards'
        # fingerprints, and is written to the data folder the copies below are read from.
        from datetime import datetime, timezone
        made = process.admin("POST", "/closings", json={
            "site_id": SITE, "day": datetime.now(timezone.utc).date().isoformat()})
        assert made.status_code == 200, made.text
        closing_text = made.json()["document"]
    finally:
        process.stop()
    closing_check(process.data_dir / "hub.sqlite3", closing_text, truth, contacts,
                  consultation.id)
    assert len(set(truth.values())) == PEOPLE
    secret = (process.data_dir / "secret-key").read_text().strip()
    copies = snapshots + [process.data_dir / "hub.sqlite3"]
    report, failures = [], []
    # The replay reads something: the copies taken during the meeting hold commits in their
    # WAL (the ballots pushed after the last sign-up), so the attacks had material.
    assert any(len(replay(copy)) > 1 for copy in snapshots)
    for copy in copies:
        for score in analyse(copy, truth, contacts, secret):
            report.append(f"{copy.parent.name}: {score}")
            if score.better_than_chance():
                failures.append(report[-1])
    # Two copies compared (a backup every few minutes): who confirmed in between, paired with
    # the cards first used in between. Confirmations are written in batches (every
    # PIAZZETTA_HUB_CONFIRM_BATCH_SECONDS), so copies within one batch show no one confirmed.
    guesses = correct = 0
    for before, after in zip(copies, copies[1:]):
        from .forensics import current
        seen = []
        for copy in (before, after):
            conn = current(copy)
            seen.append((set(r[0] for r in conn.execute(
                "SELECT id FROM signups WHERE card_issued")),
                set(r[0] for r in conn.execute("SELECT DISTINCT card FROM card_uses"))))
            conn.close()
        people = sorted(seen[1][0] - seen[0][0])
        cards = sorted(seen[1][1] - seen[0][1])
        for person, card in zip(people, cards):
            guesses += 1
            correct += truth.get(person, "").lower() == card[:4].lower()
        report.append(f"{before.parent.name} → {after.parent.name}: "
                      f"{len(people)} confirmed, {len(cards)} cards first used in between")
    conn = current(copies[-1])     # the clean stop wrote the last batch: every one confirmed
    assert conn.execute("SELECT count(*) FROM signups WHERE card_issued").fetchone()[0] == PEOPLE
    conn.close()
    two_copies = Score("two copies, confirmed ↔ first used in between", guesses, correct, PEOPLE)
    report.append(str(two_copies))
    if two_copies.better_than_chance():
        failures.append(str(two_copies))
    print("\n".join(report))
    assert not failures, "\n".join(failures)
    assert not lost, f"{len(lost)} residents' cards shown to a mail scanner, not to them"
    # The hub stopped cleanly: its WAL checkpointed and truncated (or gone).
    wal = process.data_dir / "hub.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    # Freed pages hold nothing (secure_delete): no contact, no name, not a byte.
    for copy in copies:
        free = freed_pages(copy)
        needles = {c: c.encode() for c in contacts.values()}
        assert not pages_holding(free, needles), copy
        assert all(not any(page) for page in free), f"{copy}: freed pages keep content"
    # The log names no one and holds no card, no confirmation link.
    log = process.log.read_bytes()
    for key, contact in contacts.items():
        assert contact.encode() not in log and key.encode() not in log
    for lookup in truth.values():
        assert f"{lookup}-".encode() not in log
    assert b"/signup/confirm" not in log
