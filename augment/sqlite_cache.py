"""Open an SQLite cache file that several processes share, and that is checked before it is trusted.

`open_cache(path, application_id, schema, what)`:
- marks the file as augkit's with SQLite's `application_id`, and refuses (one-line `AugkitError`)
  a valid SQLite database that carries another id or already has tables: never written to;
- runs `PRAGMA quick_check` first; a file that fails it (or is not SQLite at all) is set aside,
  renamed `<name>.damaged-<UTC time>` with its `-wal`/`-shm` companions, never deleted, and a new
  cache is started, with a one-line warning on stderr;
- WAL journal (readers never wait for writers; a killed writer's transaction is rolled back on the
  next open), `synchronous=NORMAL`, and a busy timeout so concurrent writers queue instead of failing.
The check and any setting aside happen under an exclusive lock on `<name>.lock`, so two processes
opening a damaged cache at the same moment do not set aside each other's new file.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import sys
import time
from pathlib import Path

from augment.errors import AugkitError

BUSY_TIMEOUT_MS = 60_000  # a writer waits this long for another process's transaction


def open_cache(path: str | os.PathLike, application_id: int, schema: str, what: str) -> sqlite3.Connection:
    """A connection to the checked cache at `path` (created with `schema` if new); `what` names it in messages."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return _open_checked(path, application_id, schema, what)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError as error:
        raise AugkitError(f"{what} {path}: cannot open: {error.strerror or error}") from None


def _open_checked(path: Path, application_id: int, schema: str, what: str) -> sqlite3.Connection:
    if path.exists():
        problem = _damage(path)
        if problem:
            _set_aside(path, problem, what)
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        _claim(connection, path, application_id, schema, what)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise AugkitError(f"{what} {path}: cannot use it: {error}") from None
    return connection


def _damage(path: Path) -> str | None:
    """What is wrong with the file at `path` (None: a sound SQLite database, or an empty file)."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        result = connection.execute("PRAGMA quick_check").fetchone()[0]
        return None if result == "ok" else result.splitlines()[0]
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            return str(error)
        raise AugkitError(f"{path}: cannot read it: {error}") from None
    finally:
        connection.close()


def _claim(connection: sqlite3.Connection, path: Path, application_id: int, schema: str, what: str) -> None:
    """Mark an empty database as this cache and create its tables; refuse anybody else's database."""
    found = connection.execute("PRAGMA application_id").fetchone()[0]
    if found != application_id:
        tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if found or tables:
            connection.close()
            raise AugkitError(f"{what} {path}: an SQLite database that is not an augkit {what}; "
                              "refusing to write to it (choose another path)")
        connection.execute(f"PRAGMA application_id={application_id}")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(schema)


def _set_aside(path: Path, problem: str | None, what: str) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.damaged-{stamp}-{os.getpid()}")
    for suffix in ("", "-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(target.with_name(target.name + suffix))
    print(f"augkit: warning: {what} {path} is damaged ({problem}); set aside as {target.name}, "
          "starting a new one", file=sys.stderr)
