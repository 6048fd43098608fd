"""The hub's storage: SQLAlchemy Core tables, one code path for SQLite (WAL, synchronous=FULL)
and PostgreSQL. Event IDs are primary keys, so a resend can never be stored twice."""
from __future__ import annotations

import hashlib
from typing import Iterable

from sqlalchemy import (BigInteger, Boolean, Column, Float, Integer, LargeBinary, MetaData,
                        String, Table, Text, create_engine, event, Index)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from app.clock import to_hour

metadata = MetaData()

IN_CHUNK = 400  # IN (...) lists stay under every driver's parameter limit
ID = 64  # identifiers: event, device, ballot, proposal, consultation…

sites = Table(
    "sites", metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", Text, nullable=False),            # JSON multilingual map
    Column("town", String(200), nullable=False, default=""),
    Column("created_at", String(40), nullable=False),
)

consultations = Table(
    "consultations", metadata,
    Column("id", String(ID), primary_key=True),
    # The current version; its bundle.json is stored once, in consultation_versions.
    Column("version", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("site_ids", Text, nullable=False),         # JSON list; empty = every site
    Column("imported_at", String(40), nullable=False),
)

consultation_versions = Table(
    "consultation_versions", metadata,
    Column("consultation_id", String(ID), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("bundle", Text, nullable=False),           # bundle.json (canonical JSON)
    Column("sha256", String(64), nullable=False),
    Column("imported_at", String(40), nullable=False),
)

bundle_files = Table(
    "bundle_files", metadata,
    Column("consultation_id", String(ID), primary_key=True),
    Column("path", String(300), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

# A draft version (issue 30): a bundle staff try on chosen tablets before publishing it. At
# most one per consultation; only the devices it names get it, and only while they run in
# rehearsal (server/content.py, bundle_index). The published version is untouched.
drafts = Table(
    "drafts", metadata,
    Column("consultation_id", String(ID), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("bundle", Text, nullable=False),           # bundle.json (canonical JSON)
    Column("sha256", String(64), nullable=False),
    Column("device_ids", Text, nullable=False),       # JSON list of device IDs
    Column("uploaded_at", String(40), nullable=False),
)

draft_files = Table(
    "draft_files", metadata,
    Column("consultation_id", String(ID), primary_key=True),
    Column("path", String(300), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

devices = Table(
    "devices", metadata,
    Column("id", String(ID), primary_key=True),
    Column("site_id", String(ID), nullable=True),
    Column("name", String(200), nullable=False, default=""),
    Column("platform", String(100), nullable=False, default=""),
    Column("secret_hash", String(64), nullable=False),   # SHA-256 of the device's credential
    Column("enrolled_at", String(40), nullable=False),
    Column("revoked_at", String(40), nullable=True),
    Column("last_seen_at", String(40), nullable=True),
    # What residents see instead of the ID (sign-up links, receipts); replaced by a staff code.
    Column("alias", String(32), nullable=True),
    Column("enrolled_by", String(64), nullable=True),    # hash of the code that last enrolled it
    Column("kind", String(20), nullable=True),           # NULL: a tablet; "relay": a room hub
)
Index("devices_alias", devices.c.alias, unique=True)

enrollment_codes = Table(
    "enrollment_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("site_id", String(ID), nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("used_at", String(40), nullable=True),
    Column("device_id", String(ID), nullable=True),        # the device that used it
    Column("for_device", String(ID), nullable=True),       # a staff code made for one device
    Column("credential_hash", String(64), nullable=True),  # the credential it bound
    Column("kind", String(20), nullable=True),             # "relay": enrolls a room hub only
)

events = Table(
    "events", metadata,
    Column("id", String(ID), primary_key=True),
    Column("device_id", String(ID), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("type", String(40), nullable=False),
    Column("recorded_at", String(64), nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("payload", Text, nullable=False),
)
Index("events_device_seq", events.c.device_id, events.c.seq)

# Events kept for review: the same ID with other content (conflict), or refused (rejected).
event_reviews = Table(
    "event_reviews", metadata,
    Column("event_id", String(200), primary_key=True),
    Column("content_hash", String(64), primary_key=True),
    Column("device_id", String(ID), nullable=False),
    Column("kind", String(20), nullable=False),       # conflict | rejected
    Column("reason", Text, nullable=False),
    Column("envelope", Text, nullable=False),
    Column("received_at", String(40), nullable=False),
)

ballots = Table(
    "ballots", metadata,
    Column("id", String(ID), primary_key=True),
    Column("consultation_id", String(ID), nullable=False),
    Column("consultation_version", Integer, nullable=False),
    Column("device_id", String(ID), nullable=False),
    Column("site_id", String(ID), nullable=True),
    Column("meeting_id", String(ID), nullable=True),
    Column("mode", String(20), nullable=False),
    Column("closed_reason", String(40), nullable=True),
)
Index("ballots_consultation", ballots.c.consultation_id)

# The current answer of each ballot to each question: the one with the highest device seq.
# A withdrawal leaves a tombstone (value NULL) so that an older answer arriving late stays out.
ballot_answers = Table(
    "ballot_answers", metadata,
    Column("ballot_id", String(ID), primary_key=True),
    Column("question_id", String(ID), primary_key=True),
    Column("consultation_id", String(ID), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("value", Text, nullable=True),             # JSON normal form; NULL = withdrawn
)
Index("ballot_answers_consultation", ballot_answers.c.consultation_id)

# Rehearsal (server/rehearsal.py): a tablet's rehearsal before its session opens, and its
# answers, kept apart from `events`, `ballots` and `ballot_answers`: nothing that tallies,
# exports, closes or forwards reads these two tables. A rehearsal ended (its session opened)
# keeps its row, without answers, so that a late copy of one of its events is refused.
rehearsals = Table(
    "rehearsals", metadata,
    Column("id", String(ID), primary_key=True),
    Column("device_id", String(ID), nullable=False),
    Column("site_id", String(ID), nullable=True),     # the device's, as for its ballots
    Column("started_at", String(40), nullable=False),
    Column("ended_at", String(40), nullable=True),
)

rehearsal_answers = Table(
    "rehearsal_answers", metadata,
    Column("rehearsal_id", String(ID), primary_key=True),
    Column("ballot_id", String(ID), primary_key=True),
    Column("question_id", String(ID), primary_key=True),
    Column("consultation_id", String(ID), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("value", Text, nullable=True),             # JSON normal form; NULL = withdrawn
)
Index("rehearsal_answers_consultation", rehearsal_answers.c.consultation_id)

proposals = Table(
    "proposals", metadata,
    Column("id", String(ID), primary_key=True),
    Column("short_code", String(20), nullable=False),
    Column("consultation_id", String(ID), nullable=False),
    Column("device_id", String(ID), nullable=False),
    Column("site_id", String(ID), nullable=True),
    Column("meeting_id", String(ID), nullable=True),
    Column("theme", String(ID), nullable=True),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("contact", Text, nullable=True),           # personal data: never exported/shown
    Column("contact_consent", Boolean, nullable=False, default=False),
    Column("status", String(20), nullable=False, default="pending"),
    Column("reason", Text, nullable=True),
    Column("corrected_title", Text, nullable=True),
    Column("corrected_text", Text, nullable=True),
    Column("moderation_seq", BigInteger, nullable=False, default=0),
    Column("answer_status", String(20), nullable=True),
    Column("answer_text", Text, nullable=True),
    Column("answer_cursor", BigInteger, nullable=False, default=0),
    Column("answered_at", String(40), nullable=True),
    Column("created_at", String(64), nullable=False),
    Column("place", Text, nullable=True),       # canonical JSON of a point or an area, if said
    Column("lang", String(8), nullable=True),   # the language it was written in, if said
)
Index("proposals_consultation", proposals.c.consultation_id)
Index("proposals_device_cursor", proposals.c.device_id, proposals.c.answer_cursor)

# Paper, show-of-hands and online counts (app/counts.py). A correction is a new row that names
# the one it `supersedes`; the old row stays, marked `superseded_by`. Online counts imported by
# staff have no event (event_id NULL) and device_id "staff".
tally_counts = Table(
    "tally_counts", metadata,
    Column("id", String(ID), primary_key=True),
    Column("consultation_id", String(ID), nullable=False),
    Column("question_id", String(ID), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("counts", Text, nullable=False),           # JSON normal form
    Column("ballots", Integer, nullable=False),
    Column("supersedes", String(ID), nullable=True),
    Column("superseded_by", String(ID), nullable=True),
    Column("device_id", String(ID), nullable=False),
    Column("site_id", String(ID), nullable=True),
    Column("meeting_id", String(ID), nullable=True),
    Column("event_id", String(ID), nullable=True),
    Column("received_at", String(40), nullable=False),
)
Index("tally_counts_consultation", tally_counts.c.consultation_id)
Index("tally_counts_supersedes", tally_counts.c.supersedes)

# What the projector of each consultation should show, as set by facilitators (DisplayControl,
# app/display.py): the merged state, and the revision at which each key was last set.
display_controls = Table(
    "display_controls", metadata,
    Column("consultation_id", String(ID), primary_key=True),
    Column("control", Text, nullable=False),          # JSON: merged DisplayControl
    Column("set_at", Text, nullable=False),           # JSON: {key: revision}
    Column("revision", BigInteger, nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("updated_by", String(80), nullable=False),
)

counters = Table(
    "counters", metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Residents who signed up (server/register.py): personal data, never exported or logged.
# `id` is the form's idempotency key (or the tablet's sign-up ID): a form posted twice is one row.
signups = Table(
    "signups", metadata,
    Column("id", String(ID), primary_key=True),
    Column("consultation_id", String(ID), nullable=True),
    Column("site_id", String(ID), nullable=True),      # attribution: NULL without a valid link
    Column("meeting_id", String(ID), nullable=True),
    Column("device_id", String(ID), nullable=True),
    Column("channel", String(20), nullable=False),     # phone | tablet
    Column("name", Text, nullable=True),
    Column("contact", Text, nullable=True),
    Column("contact_kind", String(10), nullable=True),
    Column("age_bracket", String(20), nullable=True),
    Column("neighbourhood", String(ID), nullable=True),
    Column("lang", String(5), nullable=False, default="fr"),
    # The hour only (a person's row must not share a second with an answer's).
    Column("created_at", String(40), nullable=False),
    Column("confirmed_at", String(40), nullable=True),
    # A card was shown to this confirmed contact, once: yes or no, never which card.
    Column("card_issued", Boolean, nullable=False, default=False),
    # No insertion order (WITHOUT ROWID on SQLite: rows sit in the order of their random IDs):
    # the order people signed up in must not line up with the order cards were first used in.
    sqlite_with_rowid=False,
)
Index("signups_attribution", signups.c.consultation_id, signups.c.site_id, signups.c.meeting_id)

# PostgreSQL only (server/stage.py): sign-ups and confirmations of the hour not yet written to
# `signups` — an UNLOGGED table, never in the WAL (emptied by crash recovery), the same columns;
# flushed into `signups` in one transaction per published hour and when the hub stops.
stage_metadata = MetaData()
signups_stage = Table(
    "signups_stage", stage_metadata,
    *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
      for c in signups.columns],
    prefixes=["UNLOGGED"],
)

# PostgreSQL only (server/unit_of_work.py): what each unit of work changed in the tallies, under
# a revision taken from `counters` ("results") in the same transaction, so that every hub
# process on the database applies every commit once and in commit order. UNLOGGED: a crash
# empties it and the processes rebuild their tallies from the rows. No ballot, device, card or
# time: answer values and counts only, as the results show them.
shared_metadata = MetaData()
results_log = Table(
    "results_log", shared_metadata,
    Column("revision", BigInteger, primary_key=True, autoincrement=False),
    Column("changes", Text, nullable=False),          # JSON: {"deltas": […], "versions": {…}}
    prefixes=["UNLOGGED"],
)
# The revision of the last unit of work that changed each consultation's results: what a
# process rebuilding them calls their revision, as the processes following the log do.
results_revisions = Table(
    "results_revisions", shared_metadata,
    Column("consultation_id", String(ID), primary_key=True),
    Column("revision", BigInteger, nullable=False),
)
RESULTS_CHANNEL = "piazzetta_results"   # LISTEN/NOTIFY: a revision committed

# Participation cards issued (app/cards.py), printed or shown to a confirmed sign-up: per
# consultation and lookup ID, the card's public key (app.cards.issued_row). Nothing else: no
# sign-up, no time, and no insertion order (WITHOUT ROWID on SQLite: rows are kept in key
# order), so nothing here leads from a person to a card. Never the card's secret, nor anything
# that makes a proof for it.
issued_cards = Table(
    "issued_cards", metadata,
    Column("consultation_id", String(ID), primary_key=True),
    Column("lookup", String(8), primary_key=True),
    # Ed25519 (hex): checks the card and its answers. NULL: a card of before (PZC2), kept so
    # that its lookup ID is not issued again; it no longer votes
    # (server.migrations.remove_card_keys).
    Column("public_key", String(64), nullable=True),
    # At a central hub: the site whose room hub made the card (counted against the quota of
    # card_quotas); NULL: made here.
    Column("room_site", String(ID), nullable=True),
    sqlite_with_rowid=False,
)

# How many cards a site's room hub may make for a consultation (set by central staff; without
# a row, the hub's PIAZZETTA_HUB_ROOM_CARD_QUOTA).
card_quotas = Table(
    "card_quotas", metadata,
    Column("consultation_id", String(ID), primary_key=True),
    Column("site_id", String(ID), primary_key=True),
    Column("quota", Integer, nullable=False),
)

# Cards made in one batch (printed at the door, or the pool confirmed sign-ups draw from:
# server/issued_cards.py), counted so that unused ones are accounted for: how many, of what
# kind, the hour. Never which cards, nor who got one.
card_batches = Table(
    "card_batches", metadata,
    Column("id", String(32), primary_key=True),            # random
    Column("consultation_id", String(ID), nullable=False),
    Column("kind", String(10), nullable=False),            # printed | pool
    Column("count", Integer, nullable=False),
    Column("made_at", String(40), nullable=False),         # to the hour
    sqlite_with_rowid=False,
)

# The identified mode: one answer per card and question, across all tablets. `card` is the
# card's public lookup ID (never linked to a person: see issued_cards).
card_uses = Table(
    "card_uses", metadata,
    Column("consultation_id", String(ID), primary_key=True),
    Column("question_id", String(ID), primary_key=True),
    Column("card", String(8), primary_key=True),
    Column("ballot_id", String(ID), nullable=False),
    sqlite_with_rowid=False,
)

# Hub to hub (server/relay.py, the central side): the devices a room hub (a `relay` device)
# enrolled and registered here. The central hub takes events on behalf of such a device only
# from that relay, for the relay's site.
relay_devices = Table(
    "relay_devices", metadata,
    Column("device_id", String(ID), primary_key=True),
    Column("relay_id", String(ID), nullable=False),
    Column("site_id", String(ID), nullable=True),
    Column("name", String(200), nullable=False, default=""),
    Column("platform", String(100), nullable=False, default=""),
    Column("registered_at", String(40), nullable=False),
)
Index("relay_devices_relay", relay_devices.c.relay_id)

# What each relay's batches brought, and when (the dashboard's "Room hubs" section): one row a
# batch, `statuses` and `types` JSON counts ({"stored": n…}, {"answer": n…} of stored events).
relay_batches = Table(
    "relay_batches", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("relay_id", String(ID), nullable=False),
    Column("site_id", String(ID), nullable=True),
    Column("received_at", String(40), nullable=False),
    Column("events", Integer, nullable=False),
    Column("statuses", Text, nullable=False),
    Column("types", Text, nullable=False),
)
Index("relay_batches_relay", relay_batches.c.relay_id)

# Hub to hub (server/upstream.py, the room side). `upstream_state`: the central hub's URL, this
# room hub's relay ID there and its secret (made here; the central hub keeps its SHA-256 only),
# last contact, cursors. `upstream_acks`: every event the central hub acknowledged, with its
# status. `upstream_records`: what the room itself made (sign-ups on phones, staff's counts),
# each given an event ID and a sequence number once, so that a resend is the same envelope.
# `upstream_devices`: the room's devices the central hub accepted (or refused, with why).
upstream_state = Table(
    "upstream_state", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=True),
)

upstream_acks = Table(
    "upstream_acks", metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("acked_at", String(40), nullable=False),
)

upstream_records = Table(
    "upstream_records", metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("source", String(20), nullable=False),      # signup | count
    Column("source_id", String(ID), nullable=False),
)

upstream_devices = Table(
    "upstream_devices", metadata,
    Column("device_id", String(ID), primary_key=True),
    Column("status", String(20), nullable=False),      # registered | refused
    Column("reason", Text, nullable=True),
    Column("at", String(40), nullable=False),
)

# The cards the central hub holds, as the room hub knows it (pulled from it, or sent and
# acknowledged): only the others go up, and an answer made with one of those waits for it.
# No time, no insertion order (like issued_cards).
upstream_cards = Table(
    "upstream_cards", metadata,
    Column("consultation_id", String(ID), primary_key=True),
    Column("lookup", String(16), primary_key=True),
    sqlite_with_rowid=False,
)

# Closing records (server/closing.py): one row per closing a hub made, numbered in the order
# they were made; `document` is the signed record exactly as published (canonical JSON), its
# `digest` what the next closing commits to (`previous`). Never changed once written.
closings = Table(
    "closings", metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("id", String(ID), nullable=False, unique=True),
    Column("scope", String(300), nullable=False),     # "meeting:<consultation>:<meeting>"…
    Column("made_at", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("document", Text, nullable=False),
)
Index("closings_scope", closings.c.scope)

# At a central hub: the closings room hubs sent up (server/closing.py, receive_closings), as
# signed by each room hub's own key — the first one a room hub sent pins it.
relay_closings = Table(
    "relay_closings", metadata,
    Column("id", String(ID), primary_key=True),
    Column("relay_id", String(ID), nullable=False),
    Column("number", Integer, nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("document", Text, nullable=False),
    Column("received_at", String(40), nullable=False),
)
Index("relay_closings_relay", relay_closings.c.relay_id, relay_closings.c.number, unique=True)

# Rate-limit counters (server/limits.py), one row per limit and client or device, shared by
# every hub process on the same database. `key` holds hashes, never an address or a contact.
rate_counters = Table(
    "rate_counters", metadata,
    Column("key", String(200), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Dashboard sessions (server/routes/dashboard.py): the SHA-256 of the random ID in the staff's cookie,
# the form token (CSRF) that goes with it, and when it ends.
staff_sessions = Table(
    "staff_sessions", metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("csrf", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
)

# A spreadsheet staff uploaded on the dashboard, checked, waiting for "Import as version N"
# (server/uploads.py): the built bundle and its files, under the SHA-256 of a random token,
# for the session that uploaded it only, until it expires. Imported, it keeps only its state
# and version (a second submit of the same form shows the import, does not repeat it).
sheet_uploads = Table(
    "sheet_uploads", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("session_hash", String(64), nullable=False, index=True),
    Column("expires_at", Float, nullable=False),
    Column("state", String(16), nullable=False),     # ready, importing, imported
    Column("consultation_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("bundle", Text),                          # canonical JSON; None once imported
    Column("files", LargeBinary),                    # a stored (uncompressed) zip; likewise
)


# The Decidim connector's outbox (server/connectors/): one row per approved idea of a
# consultation that has a Decidim instance. `revision` is the idea's moderation_seq when last
# queued, `sent_revision` the one Decidim holds; `decidim_id` once Decidim made the proposal;
# `uncertain` while a creation may have been made without its answer reaching the hub (a cut
# response): the next attempt looks the proposal up before creating it again. The city's
# answer comes back into `answer_state` and `answer` (JSON: locale → text).
decidim_outbox = Table(
    "decidim_outbox", metadata,
    Column("proposal_id", String(ID), primary_key=True),
    Column("consultation_id", String(ID), nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("sent_revision", BigInteger, nullable=False, default=-1),
    Column("state", String(16), nullable=False),          # waiting, sent, refused
    Column("decidim_id", String(ID), nullable=True),
    Column("uncertain", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", Float, nullable=False, default=0.0),
    Column("lease_until", Float, nullable=False, default=0.0),   # a hub process sending it
    Column("message", Text, nullable=True),               # Decidim's own, when it refused
    Column("queued_at", String(40), nullable=False),
    Column("sent_at", String(40), nullable=True),
    Column("answer_state", String(20), nullable=True),
    Column("answer", Text, nullable=True),
)
Index("decidim_outbox_due", decidim_outbox.c.state, decidim_outbox.c.next_attempt)
Index("decidim_outbox_consultation", decidim_outbox.c.consultation_id)

def make_engine(url: str) -> Engine:
    """An engine for `url`: SQLite in WAL mode with full fsync, or PostgreSQL."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60},
                               pool_size=20, max_overflow=40)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            # Let SQLAlchemy issue BEGIN itself so that transactions are real.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA busy_timeout = 60000")
            # What a page held is gone from the file when it is freed (a deleted row, an
            # updated one), and the WAL stays small: its frames keep commits in order.
            cur.execute("PRAGMA secure_delete = ON")
            cur.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}")
            cur.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # Writers take the lock at once (no deadlock upgrading a read lock); readers don't.
            immediate = conn.get_execution_options().get("immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        return engine
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


WAL_AUTOCHECKPOINT = 200                 # pages (800 KB): the WAL restarts that often
WAL_SIZE_LIMIT = 1024 * 1024             # bytes the WAL file keeps after a restart


def forget_order(engine: Engine, attempts: int = 5) -> bool:
    """SQLite: copy every WAL frame into the database file and truncate the WAL to nothing,
    so that the order of the commits it held (who signed up or confirmed, just before which
    ballot) is gone from the files. True when the checkpoint completed; a reader still on an
    older snapshot makes it busy, and it is tried again a few times. PostgreSQL: nothing to
    do here (docs/deploy.md says what its WAL keeps)."""
    if engine.dialect.name != "sqlite":
        return True
    import logging
    import time as _time
    raw = engine.raw_connection()
    try:
        # A reader on an older snapshot makes the checkpoint wait on the busy handler: a short
        # one here (the connection's own is a minute), and a few tries.
        raw.execute("PRAGMA busy_timeout = 100")
        for attempt in range(attempts):
            busy, logged, copied = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy and logged == copied:
                return True
            _time.sleep(0.005 * (attempt + 1))
        logging.getLogger("piazzetta.hub").warning(
            "the WAL could not be checkpointed (a long read held it): the next try is at the "
            "next sign-up, or when the hub stops")
        return False
    finally:
        raw.execute("PRAGMA busy_timeout = 60000")
        raw.close()


def writer(engine: Engine) -> Engine:
    """The engine for transactions that write (BEGIN IMMEDIATE on SQLite)."""
    return engine.execution_options(immediate=True)


def dialect_insert(engine_or_conn, table: Table):
    """INSERT with ON CONFLICT support for the engine's dialect (SQLite or PostgreSQL)."""
    name = engine_or_conn.dialect.name
    return (postgresql.insert(table) if name == "postgresql" else sqlite.insert(table))


def sha256(data: str | bytes) -> str:
    """The hex SHA-256 of text (UTF-8) or bytes: what the hub stores for codes, secrets, events
    and files instead of the thing itself, and the ETags it serves."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def in_chunks(items: list, size: int = IN_CHUNK) -> Iterable[list]:
    """`items` in lists short enough for one `IN (...)`."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def hour(iso: str | None) -> str | None:
    """An ISO time kept to the hour (app.clock.to_hour, the one rule)."""
    return to_hour(iso)
