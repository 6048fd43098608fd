"""`python -m server migrate-to-postgres --from HUB.sqlite3 --to URL`: an SQLite hub's
database copied into an empty PostgreSQL database (docs/deploy.md, "Several processes on one
PostgreSQL": when and how to move).

Stop the SQLite hub first (a running one would go on writing to the file). The source is
brought to the current schema as the hub would at its start, the target gets it from
server.migrations; then every table of server/db.py is copied in one transaction, each in the
order of its primary key (never the file's order: sign-ups, cards and card uses keep no
insertion order, docs/protocol.md "Threat model"), and the row counts are compared before it
commits. Not copied: the rate-limit counters (they start again, as after a crash of
PostgreSQL). The secret key and admin token are files of the data folder: keep them (or set
them in the environment) for the hubs on PostgreSQL, or every tablet and sign-up link of
before stops working.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text

from . import db, migrations

CHUNK = 2000
NOT_COPIED = {"rate_counters"}
MADE_BY_MIGRATIONS = {"counters"}       # rows the target's schema steps made: the source's win


class MigrationRefused(Exception):
    """The copy cannot start (a message for the staff)."""


def migrate_to_postgres(source: str | Path, target_url: str, *, out=print) -> dict[str, int]:
    """Copy the SQLite hub database `source` (a path or a sqlite:/// URL) into the empty
    PostgreSQL database `target_url`; the rows copied per table."""
    source_url = str(source) if str(source).startswith("sqlite") else f"sqlite:///{source}"
    if not source_url.startswith("sqlite") or not target_url.startswith("postgresql"):
        raise MigrationRefused("from an SQLite file to a postgresql+psycopg:// URL")
    path = Path(source_url.removeprefix("sqlite:///"))
    if not path.is_file():
        raise MigrationRefused(f"{path}: no such file")
    src, dst = db.make_engine(source_url), db.make_engine(target_url)
    try:
        migrations.migrate(src)
        migrations.migrate(dst)
        with dst.connect() as conn:
            for table in ("events", "consultations", "devices", "signups"):
                if conn.execute(select(func.count()).select_from(
                        db.metadata.tables[table])).scalar():
                    raise MigrationRefused(
                        f"the target database is not empty (table {table} has rows)")
        copied: dict[str, int] = {}
        with src.connect() as read, dst.begin() as write:
            for table in db.metadata.sorted_tables:
                if table.name in NOT_COPIED:
                    continue
                if table.name in MADE_BY_MIGRATIONS:
                    names = read.execute(select(table.c[table.primary_key.columns.keys()[0]])
                                         ).scalars().all()
                    if names:
                        write.execute(table.delete().where(
                            table.primary_key.columns.values()[0].in_(names)))
                n = 0
                rows = read.execute(select(table).order_by(*table.primary_key.columns))
                while batch := rows.fetchmany(CHUNK):
                    write.execute(table.insert(), [dict(r._mapping) for r in batch])
                    n += len(batch)
                copied[table.name] = n
                for column in table.primary_key.columns:
                    if column.autoincrement is True:      # the serial goes on after the rows
                        write.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                            f"'{column.name}'), (SELECT coalesce(max({column.name}), 0) + 1 "
                            f"FROM {table.name}), false)"))
            for name, n in copied.items():
                table = db.metadata.tables[name]
                there = write.execute(select(func.count()).select_from(table)).scalar()
                expected = n if name not in MADE_BY_MIGRATIONS else there
                if there != expected:
                    raise MigrationRefused(f"{name}: {n} rows read, {there} written")
        for name, n in copied.items():
            if n:
                out(f"{name}: {n}")
        return copied
    finally:
        src.dispose()
        dst.dispose()
