"""`flask --app app backup PATH`: a consistent copy of the SQLite database while the web and worker run.

It uses SQLite's online backup (Python's `sqlite3.Connection.backup`, the API behind `sqlite3 .backup`):
one read transaction copies every page, so the copy is the database as of one instant. The file is in WAL
mode, so webhooks keep committing during the copy; they land in the write-ahead log and are in the next
backup. The copy is written beside PATH, checked with `PRAGMA integrity_check`, made readable by its owner
only (it holds encrypted tokens and hashed customer data) and then renamed to PATH. PostgreSQL is backed
up with its own tools (`pg_dump`, or the platform's backups).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from app.models import db

BUSY_TIMEOUT_SECONDS = 30  # how long the copy may wait for a moment without a writer to begin


class BackupError(RuntimeError):
    """The backup could not be made; the message says why and what to do."""


def sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError("DATABASE_URL is PostgreSQL: back it up with pg_dump (or the platform's backups).")
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("DATABASE_URL is an in-memory SQLite database: there is no file to back up.")
    return Path(parsed.database)


def backup(source: Path, destination: Path, *, overwrite: bool = False) -> dict[str, int]:
    """Copy `source` to `destination` with SQLite's online backup; return the copy's row counts per table."""
    if destination.exists() and not overwrite:
        raise BackupError(f"{destination} exists: choose another name, or pass --force to replace it.")
    if destination.resolve() == source.resolve():
        raise BackupError("the backup would replace the database itself.")
    partial = destination.with_name(f".{destination.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        live = sqlite3.connect(source, timeout=BUSY_TIMEOUT_SECONDS)
        copy = sqlite3.connect(partial)
        try:
            live.backup(copy)  # every page in one step: the copy is one consistent instant
            copy.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise BackupError(f"the copy failed SQLite's integrity check ({verdict}).")
            tables = [row[0] for row in copy.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            counts = {table: copy.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}
        finally:
            copy.close()
            live.close()
        with open(partial, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return counts


@click.command("backup")
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace DESTINATION if it exists.")
def backup_command(destination: Path, force: bool) -> None:
    """Back the SQLite database up to DESTINATION while Pinbridge runs (SQLite's online backup)."""
    try:
        source = sqlite_path(str(db.engine.url))
        counts = backup(source, destination, overwrite=force)
    except (BackupError, sqlite3.Error) as exc:
        click.echo(f"Backup failed: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"Backed up {source} to {destination} ({destination.stat().st_size:,} bytes; "
               f"{counts.get('events', 0):,} events, {counts.get('shops', 0):,} shops; integrity ok).")
