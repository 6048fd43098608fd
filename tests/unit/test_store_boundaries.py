"""One way to write to the tablet's store and one way to reach the hub (CONVENTIONS.md, habit
13): transactions and SQL on the store's tables stay in the app/store/ package (and the
schema's migrations), the write transaction in app/store/core.py and an outbox row's INSERT in
app/store/outbox.py; HTTP to the hub goes through sync.client.HubClient's public methods."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORE_FILES = {p.relative_to(ROOT).as_posix() for p in (ROOT / "app/store").glob("*.py")} \
    | {"app/migrations.py"}
UNIT_OF_WORK = {"app/store/core.py", "app/migrations.py"}   # Store.transaction()
# app/bundle.py opens a bundle's base map (an MBTiles file: SQLite, read-only, immutable), a
# database of its own that is not the store.
MAP_READER = {"app/bundle.py"}
STORE_TABLES = ("outbox", "meta", "ballots", "answers", "proposals", "tally_counts", "card_uses")


def sources(*folders: str) -> list[tuple[str, str]]:
    """(path relative to the root, text) of every Python file of `folders` (and main.py)."""
    found = []
    for folder in folders:
        paths = [ROOT / folder] if folder.endswith(".py") else sorted((ROOT / folder).rglob("*.py"))
        found += [(p.relative_to(ROOT).as_posix(), p.read_text(encoding="utf-8")) for p in paths]
    return found


def offenders(pattern: str, files: list[tuple[str, str]], allowed=frozenset()) -> list[str]:
    regex = re.compile(pattern)
    return [f"{path}:{n}: {line.strip()}" for path, text in files if path not in allowed
            for n, line in enumerate(text.splitlines(), start=1) if regex.search(line)]


TABLET_CODE = sources("app", "sync", "screens", "main.py")
ALL_CODE = TABLET_CODE + sources("server")


def test_only_the_store_opens_transactions():
    # server/db.py opens the hub's own transactions on its own database (SQLAlchemy engine's
    # "begin" hook): one place there too, and nothing to do with the tablet's store.
    assert offenders(r"BEGIN\s+IMMEDIATE", ALL_CODE, UNIT_OF_WORK | {"server/db.py"}) == []


def test_one_writer_of_the_outbox():
    # app.store.outbox.append_event: every event the tablet records goes through it (the
    # migrations create the table and its triggers, and write no event).
    assert "app/store/outbox.py" in STORE_FILES
    assert offenders(r"(?i)\binsert\b.*\binto\s+outbox\b", TABLET_CODE,
                     {"app/store/outbox.py"}) == []


def test_only_the_store_touches_its_connection():
    assert offenders(r"store\.(conn|db)\b", ALL_CODE, STORE_FILES) == []
    # The hub's modules run SQLAlchemy's conn.execute on the hub's database: left out here.
    assert offenders(r"\.conn\.execute\(|\bconn\.execute\(", TABLET_CODE,
                     STORE_FILES | MAP_READER) == []


@pytest.mark.parametrize("table", STORE_TABLES)
def test_no_sql_on_the_store_tables_outside_the_store(table):
    sql = rf"(?i)\b(from|into|update|join|table)\s+{table}\b"
    assert offenders(sql, TABLET_CODE, STORE_FILES) == []


def test_no_pragma_outside_the_store():
    assert offenders(r"PRAGMA", TABLET_CODE, STORE_FILES | MAP_READER) == []


def test_one_http_client_to_the_hub():
    # The room hub's calls to the central hub (server/upstream.py) too. The Decidim connector
    # (server/connectors/decidim.py) is a client of the city's Decidim, not of a hub: its own.
    sync_code = sources("sync", "screens", "main.py", "server")
    assert offenders(r"\._(checked|request|json)\(", sync_code, {"sync/client.py"}) == []
    assert offenders(r"\brequests\.(Session|get|post|put|request)\b|^\s*import requests",
                     sync_code, {"sync/client.py", "server/connectors/decidim.py"}) == []
