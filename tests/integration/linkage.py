"""The join an operator could run on a hub's SQLite database to name who voted what: every
table, every row, every value (JSON inside cells included), and what can be computed from a
person's row with the card formulas of this project, old and new.

Rows are linked when they share a *distinctive* value: a string of 6 characters or more that
is not public content (consultations, bundles, sites, devices and their aliases, the event
vocabulary) and does not occur in two people's rows (a value two people share names neither),
or the same time to the second (times kept to the hour match only times kept to the hour).
`paths` follows links any number of hops from each person's row (`signups`) and reports the
answer-bearing rows it reaches."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import sqlite3
from collections import defaultdict
from pathlib import Path

from app.cards import Card

ANSWER_TABLES = {"ballots", "ballot_answers", "card_uses"}
ANSWER_EVENT_TYPES = {"answer", "ballot_started", "answer_withdrawn", "ballot_closed"}
PUBLIC_TABLES = {"consultations", "consultation_versions", "bundle_files", "sites", "devices",
                 "display_controls", "counters", "tally_counts"}
VOCABULARY = {"identified", "facilitated", "finished", "abandoned", "tablet", "redacted",
              "rejected", "conflict", "pending", "approved", "ballot_started", "answer_withdrawn",
              "ballot_closed", "proposal", "tally_count", "signup", "answer", "email", "phone",
              "payload.card", "payload.proof", "payload.nullifier", "consent"}
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d):(\d\d):(\d\d)")
_CODE = re.compile(r"^[A-Z0-9]{10,20}$")


def _scalars(value):
    if isinstance(value, str):
        yield value
        if value[:1] in "{[":
            try:
                inner = json.loads(value)
            except ValueError:
                return
            yield from _scalars_of(inner)
    elif isinstance(value, (bytes, memoryview)):
        return


def _scalars_of(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _scalars_of(v)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars_of(v)
    elif isinstance(value, str):
        yield value


def _tokens(values, crowd):
    out = set()
    for value in values:
        for text in _scalars(value):
            match = _TIME.match(text)
            if match:
                hour, minute, second = match.groups()
                out.add(("hour", hour) if (minute, second) == ("00", "00")
                        else ("second", f"{hour}:{minute}:{second}"))
            elif len(text) >= 6 and text not in crowd:
                out.add(("value", text))
    return out


def derived(text: str, consultations: list[str], questions: list[str]) -> set:
    """What an operator can compute from a code-like value of a person's row: the old
    nullifiers, the answer key, check and proofs of the cards of before, and the public key
    of the cards with key pairs."""
    out = set()
    if not _CODE.match(text):
        return out
    for c in consultations:
        for q in questions:
            out.add(hmac.new(text.encode(), f"{c}|{q}".encode(), hashlib.sha256).hexdigest())
        for split in (3, 4):
            lookup, secret = text[:split], text[split:]
            key = hmac.new(secret.encode(), b"piazzetta-card-key", hashlib.sha256).digest()
            out.add(key.hex())
            out.add(hashlib.pbkdf2_hmac("sha256", secret.encode(),
                                        f"piazzetta-card|{c}|{lookup}".encode(), 20_000
                                        ).hex()[:32])
            for q in questions:
                out.add(hmac.new(key, f"{c}|{q}".encode(), hashlib.sha256).hexdigest())
            # The cards with key pairs (PZC3): their public key is what the hub keeps.
            out.add(Card(c, lookup, secret).public_key())
    out.add(hashlib.sha256(b"piazzetta-card-code:" + text.encode()).hexdigest()[:32])
    return {("value", v) for v in out}


def paths(db_path: Path) -> dict:
    """{"persons": n, "answers": n, "linked": [(signup id, table, row)], "tables": [...]}"""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        rows: dict[str, list[tuple]] = {}
        columns: dict[str, list[str]] = {}
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns[table] = [d[0] for d in cursor.description]
            rows[table] = cursor.fetchall()
    finally:
        conn.close()
    crowd = set(VOCABULARY)
    for table in PUBLIC_TABLES & set(rows):
        for row in rows[table]:
            for value in row:
                crowd.update(t for t in _scalars(value))
    consultations = {r[0] for r in rows.get("consultations", [])}
    # Every version's bundle.json (the hub stores it once, in consultation_versions).
    bundle_at = columns.get("consultation_versions", []).index("bundle") \
        if "consultation_versions" in columns else None
    questions = {q.get("id") for r in rows.get("consultation_versions", [])
                 for q in json.loads(r[bundle_at]).get("questions", []) if isinstance(q, dict)}
    for table, table_rows in rows.items():        # and whatever the other tables name
        for name, found in (("consultation_id", consultations), ("question_id", questions)):
            if name in columns[table]:
                at = columns[table].index(name)
                found.update(r[at] for r in table_rows if isinstance(r[at], str))
    consultations, questions = sorted(consultations), sorted(q for q in questions if q)
    # A value two people's rows share identifies neither of them.
    person_rows = rows.get("signups", [])
    seen_in = defaultdict(int)
    for row in person_rows:
        for token in _tokens(row, crowd):
            seen_in[token] += 1
    shared = {t for t, n in seen_in.items() if n > 1}
    nodes: list[tuple[str, int, set]] = []
    for table, table_rows in rows.items():
        for i, row in enumerate(table_rows):
            tokens = _tokens(row, crowd) - shared
            if table == "signups":
                for value in row:
                    if isinstance(value, str):
                        tokens |= derived(value, consultations, questions)
            nodes.append((table, i, tokens))
    by_token = defaultdict(list)
    for n, (_t, _i, tokens) in enumerate(nodes):
        for token in tokens:
            by_token[token].append(n)

    def answer_bearing(node) -> bool:
        table, i, _ = node
        if table in ANSWER_TABLES:
            return True
        row = dict(zip(columns[table], rows[table][i]))
        if table == "events":
            return row["type"] in ANSWER_EVENT_TYPES
        if table == "event_reviews":
            try:
                return json.loads(row["envelope"]).get("type") in ANSWER_EVENT_TYPES
            except ValueError:
                return False
        return False

    linked = []
    for n, node in enumerate(nodes):
        if node[0] != "signups":
            continue
        seen, todo = {n}, [n]
        while todo:
            current = todo.pop()
            for token in nodes[current][2]:
                for other in by_token[token]:
                    if other not in seen:
                        seen.add(other)
                        todo.append(other)
        signup_id = dict(zip(columns["signups"], rows["signups"][node[1]]))["id"]
        linked += [(signup_id, nodes[m][0], nodes[m][1]) for m in seen
                   if answer_bearing(nodes[m])]
    return {"persons": len(person_rows),
            "answers": sum(1 for node in nodes if answer_bearing(node)),
            "linked": linked, "tables": tables}


def without_rowid(db_path: Path, table: str) -> bool:
    """True when the table keeps no insertion order (SQLite WITHOUT ROWID)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        conn.execute(f'SELECT rowid FROM "{table}" LIMIT 1').fetchall()
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()
