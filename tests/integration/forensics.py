"""What a forensic analyst reads in a hub's SQLite data folder, beyond its rows: the WAL replayed
commit by commit (every frame, every generation its restarts left behind), the freed pages,
the rate-limit table, and the order rows keep in the file. Each attack guesses, for confirmed
sign-ups, which card they got; `score` says how many guesses were right against what chance
gives. An attack that finds no evidence abstains (no guess): chance, by construction.

Used by tests/integration/test_card_forensics.py; it imports nothing of the hub, so that it reads
files written by any version of it (the test runs on the main branch of before, and fails)."""
from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

WAL_MAGIC = (0x377F0682, 0x377F0683)


@dataclass
class Frame:
    offset: int
    page: int
    commit_size: int        # database size in pages after a commit frame; 0 otherwise
    salt: tuple[int, int]
    data: bytes


@dataclass
class State:
    """What one replayed commit holds of the tables that matter."""
    signups: dict = field(default_factory=dict)      # id -> (card_issued, contact)
    cards: set = field(default_factory=set)          # (consultation, lookup)
    uses: dict = field(default_factory=dict)         # lookup -> ballot


@dataclass
class Score:
    attack: str
    guesses: int
    correct: int
    candidates: int       # cards any confirmed person could hold: chance is 1 in this

    @property
    def chance(self) -> float:
        return self.guesses / self.candidates if self.candidates else 0.0

    def better_than_chance(self) -> bool:
        # With the attacks abstaining unless they see evidence, a right guess on a design that
        # leaves none would be luck of about `chance`; one right guess is allowed only when
        # chance itself expects at least one.
        return self.correct > max(self.chance * 2, 0.999 if self.chance >= 0.5 else 0)

    def __str__(self):
        return (f"{self.attack}: {self.correct} right of {self.guesses} guesses "
                f"(chance {self.chance:.2f}, 1 in {self.candidates})")


def wal_frames(wal: Path) -> tuple[int, tuple[int, int] | None, list[Frame]]:
    """(page size, the header's salt, every frame-shaped record in the file, in file order),
    those of older generations (other salts) included: a restarted WAL overwrites from the
    start and leaves the older frames past its end."""
    if not wal.exists() or wal.stat().st_size < 32:
        return 0, None, []
    raw = wal.read_bytes()
    magic, _version, page_size, _ckpt, salt1, salt2 = struct.unpack(">6I", raw[:24])
    if magic not in WAL_MAGIC or page_size < 512:
        return 0, None, []
    frames = []
    offset = 32
    while offset + 24 + page_size <= len(raw):
        page, size, s1, s2 = struct.unpack(">4I", raw[offset:offset + 16])
        if page:
            frames.append(Frame(offset, page, size, (s1, s2),
                                raw[offset + 24:offset + 24 + page_size]))
        offset += 24 + page_size
    return page_size, (salt1, salt2), frames


def _read_state(image: bytes) -> State | None:
    with tempfile.NamedTemporaryFile(suffix=".sqlite3") as tmp:
        tmp.write(image)
        tmp.flush()
        try:
            conn = sqlite3.connect(f"file:{tmp.name}?immutable=1", uri=True)
            state = State()
            for sid, issued, contact in conn.execute(
                    "SELECT id, card_issued, contact FROM signups"):
                state.signups[sid] = (bool(issued), contact)
            state.cards = set(conn.execute("SELECT consultation_id, lookup FROM issued_cards"))
            state.uses = dict(conn.execute("SELECT card, min(ballot_id) FROM card_uses "
                                           "GROUP BY card"))
            conn.close()
            return state
        except sqlite3.DatabaseError:       # an inconsistent mix of generations
            return None


def replay(db_file: Path) -> list[tuple[str, State]]:
    """The states after each commit the WAL holds, per generation: [(label, state)], the
    current generation's in commit order (over the main file, whose own state comes first),
    then each older one's."""
    wal = db_file.with_name(db_file.name + "-wal")
    page_size, salt, frames = wal_frames(wal)
    base = db_file.read_bytes() if db_file.exists() else b""
    out = []
    generations: dict[tuple, list[Frame]] = {}
    for frame in frames:
        generations.setdefault(frame.salt, []).append(frame)
    order = sorted(generations, key=lambda s: (s != salt, generations[s][0].offset))
    for gen, key in enumerate(order):
        image = bytearray(base)
        start = _read_state(bytes(image)) if base else None
        if start is not None:       # the main file before this generation's first commit
            out.append((f"g{gen}@base", start))
        for frame in generations[key]:
            start = (frame.page - 1) * page_size
            if len(image) < start + page_size:
                image.extend(b"\0" * (start + page_size - len(image)))
            image[start:start + page_size] = frame.data
            if frame.commit_size:
                del image[frame.commit_size * page_size:]
                state = _read_state(bytes(image))
                if state is not None:
                    out.append((f"g{gen}@{frame.offset}", state))
    return out


def freed_pages(db_file: Path) -> list[bytes]:
    """The content of the main file's free pages (trunk and leaf)."""
    raw = db_file.read_bytes()
    if len(raw) < 100:
        return []
    page_size = struct.unpack(">H", raw[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    trunk, = struct.unpack(">I", raw[32:36])
    pages, seen = [], set()
    while trunk and trunk not in seen and trunk * page_size <= len(raw):
        seen.add(trunk)
        data = raw[(trunk - 1) * page_size:trunk * page_size]
        nxt, count = struct.unpack(">2I", data[:8])
        for i in range(min(count, (page_size - 8) // 4)):
            leaf, = struct.unpack(">I", data[8 + 4 * i:12 + 4 * i])
            if leaf * page_size <= len(raw):
                pages.append(raw[(leaf - 1) * page_size:leaf * page_size])
        pages.append(data[8 + 4 * count:])
        trunk = nxt
    return pages


# -- attacks -----------------------------------------------------------------------------------

def same_commit(states: list[tuple[str, State]], truth: dict) -> tuple[int, int]:
    """A commit that marks a sign-up as given a card and adds a card: they go together."""
    guesses = correct = 0
    for (_l0, before), (_l1, after) in zip(states, states[1:]):
        confirmed = [s for s, (issued, _c) in after.signups.items()
                     if issued and not before.signups.get(s, (False,))[0]]
        new_cards = sorted(after.cards - before.cards)
        if confirmed and new_cards and len(new_cards) <= len(confirmed):
            for person, card in zip(sorted(confirmed), new_cards):
                if person in truth:
                    guesses += 1
                    correct += truth[person] == card[1]
    return guesses, correct


def commit_order(states: list[tuple[str, State]], truth: dict) -> tuple[int, int]:
    """Each sign-up's confirmation (or, failing that, its creation) in commit order, paired
    with the first card used after it that no earlier person took: residents vote minutes
    after confirming."""
    events = []       # (position, kind, who)
    seen_signups: dict[str, int] = {}
    for pos, ((_l0, before), (_l1, after)) in enumerate(zip(states, states[1:])):
        if _l0.split("@")[0] != _l1.split("@")[0]:
            continue          # another generation: no order between them
        for sid, (issued, _c) in after.signups.items():
            was = before.signups.get(sid)
            if was is None:
                seen_signups.setdefault(sid, pos)
            if issued and not (was or (False,))[0]:
                events.append((pos, 0, "confirm", sid))
        for lookup in sorted(set(after.uses) - set(before.uses)):
            events.append((pos, 1, "use", lookup))
    confirmed_seen = {who for _p, _k, kind, who in events if kind == "confirm"}
    for sid, pos in seen_signups.items():
        if sid not in confirmed_seen:
            events.append((pos, 0, "confirm", sid))
    events.sort()
    guesses = correct = 0
    taken = set()
    waiting: list[str] = []
    for _pos, _k, kind, who in events:
        if kind == "confirm":
            waiting.append(who)
        elif waiting and who not in taken:
            person = waiting.pop(0)
            taken.add(who)
            if person in truth:
                guesses += 1
                correct += truth[person] == who
    return guesses, correct


def current(db_file: Path) -> sqlite3.Connection:
    """The database as SQLite reads it (its WAL applied), from a copy: reading it must not
    change the evidence."""
    folder = Path(tempfile.mkdtemp(prefix="forensics-"))
    for f in db_file.parent.glob(db_file.name + "*"):
        (folder / f.name).write_bytes(f.read_bytes())
    return sqlite3.connect(folder / db_file.name)


def file_order(db_file: Path, truth: dict) -> tuple[int, int]:
    """The rows alone: sign-ups in the order their rows were inserted (a rowid table keeps
    it), cards in the order of their first answer's arrival (events.received_at)."""
    conn = current(db_file)
    try:
        try:
            people = [r[0] for r in conn.execute(
                "SELECT id FROM signups WHERE card_issued ORDER BY rowid")]
        except sqlite3.OperationalError:        # WITHOUT ROWID: no insertion order
            return 0, 0
        first_use = {}
        for card, ballot in conn.execute("SELECT card, ballot_id FROM card_uses"):
            for (received,) in conn.execute(
                    "SELECT min(received_at) FROM events WHERE type = 'answer' AND "
                    "payload LIKE ?", (f'%"{ballot}"%',)):
                if received and (card not in first_use or received < first_use[card]):
                    first_use[card] = received
    finally:
        conn.close()
    cards = [c for c, _t in sorted(first_use.items(), key=lambda kv: kv[1])]
    guesses = correct = 0
    for person, card in zip(people, cards):
        if person in truth:
            guesses += 1
            correct += truth[person] == card
    return guesses, correct


def rate_limit_times(db_file: Path, truth: dict, contacts: dict, secret: str) -> tuple[int, int]:
    """The rate-limit table: a row per contact (a plain SHA-256 of it, or the HMAC with the
    hub's secret, which the analyst holding the data folder has) keeps a time; the card first
    used soonest after that time is the person's. Times that two persons share say nothing."""
    conn = current(db_file)
    try:
        rows = list(conn.execute("SELECT key, expires_at FROM rate_counters"))
        uses = {}
        for card, ballot in conn.execute("SELECT card, ballot_id FROM card_uses"):
            for (received,) in conn.execute(
                    "SELECT min(received_at) FROM events WHERE type = 'answer' AND "
                    "payload LIKE ?", (f'%"{ballot}"%',)):
                if received:
                    uses[card] = min(uses.get(card, received), received)
    finally:
        conn.close()
    from datetime import datetime
    stamps = {}
    for person, contact in contacts.items():
        names = {hashlib.sha256(f"contact:{contact}".encode()).hexdigest()[:32]}
        key = hashlib.sha256(b"piazzetta-rate-limit|" + secret.encode()).digest()
        for spelling in {contact, contact.lower()}:
            names.add(hmac.new(key, f"contact:{spelling}".encode(), hashlib.sha256)
                      .hexdigest()[:32])
        for row_key, expires in rows:
            if any(n in row_key for n in names):
                stamps[person] = expires
    shared = {t for t in stamps.values() if list(stamps.values()).count(t) > 1}
    guesses = correct = 0
    for person, expires in stamps.items():
        if expires in shared or person not in truth:
            continue
        for window in (86400, 3600):
            start = expires - window
            after = sorted((datetime.fromisoformat(t).timestamp(), c) for c, t in uses.items()
                           if datetime.fromisoformat(t).timestamp() >= start)
            if after:
                guesses += 1
                correct += truth[person] == after[0][1]
                break
    return guesses, correct


def pages_holding(pages: list[bytes], needles: dict[str, bytes]) -> set[str]:
    """Which needles (a person's contact, a card's lookup…) occur in these pages."""
    return {name for name, needle in needles.items() if any(needle in p for p in pages)}


def json_dump(scores: list[Score]) -> str:
    return json.dumps([s.__dict__ for s in scores])
