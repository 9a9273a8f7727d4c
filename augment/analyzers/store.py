"""The persistent analysis cache: token -> analysis, on disk, shared by processes and by later runs.

One SQLite file (default `<augkit cache>/analyses.sqlite`, i.e. `$AUGKIT_CACHE` or
`~/.cache/augkit`) holds the analyses of every context-free backend, each under its key: the
backend's name and version (augkit's code version for it and the versions of the packages it runs,
`augment.analyzers.backend_version`), so an upgrade never reads an analysis made by other code.
The file is opened with `augment.sqlite_cache.open_cache` (integrity check, a damaged file set
aside, WAL journal, busy timeout). Each value read is validated (shape, that its morphemes spell
its diacritised form and that this has the token's letters); a value that fails is recomputed
and rewritten, and counted in `invalid`. New analyses are written in small batches (`flush`), so a
killed process loses at most the last fraction of a second of work, and never a written value.
A database error in the middle of a run (disk full, a file damaged underneath) disables the cache
for the rest of the run with a one-line warning; the analyses themselves are unaffected.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import sys
import time
from pathlib import Path

from augment.analyzers.base import MARKS, Analysis, Entry, Morpheme, letters
from augment.errors import AugkitError
from augment.sqlite_cache import open_cache

APPLICATION_ID = 0x41756B41  # "AukA": marks an augkit analysis cache
SCHEMA = """
CREATE TABLE IF NOT EXISTS backends (id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS analyses (backend INTEGER NOT NULL, token TEXT NOT NULL, value TEXT NOT NULL,
                                     PRIMARY KEY (backend, token)) WITHOUT ROWID;
"""
FLUSH_ROWS = 256  # pending analyses written at once...
FLUSH_SECONDS = 0.5  # ...or once the oldest has waited this long
LOOKUP_CHUNK = 500  # SQLite caps the number of bound parameters of one statement
OFF = "none"  # `--analysis-cache none`: no persistent cache

_ABANDONED: list[sqlite3.Connection] = []  # connections inherited through fork: never used, never closed


def default_path() -> Path:
    from augment.translate.models import cache_root

    return cache_root() / "analyses.sqlite"


def resolve(setting: str | os.PathLike | None) -> Path | None:
    """`None`: the default file; `"none"`: no persistent cache; else that path."""
    if setting is None:
        return default_path()
    if str(setting) == OFF:
        return None
    return Path(setting).expanduser().resolve()


class AnalysisStore:
    """The analyses of one backend (`backend_key`) in the cache file at `path`."""

    def __init__(self, path: str | os.PathLike, backend_key: str, required: bool = True):
        """`required`: an unusable file is an error (a path the user chose); else a warning and no cache."""
        self.path = Path(path)
        self.backend_key = backend_key
        self.required = required
        self.invalid = 0  # values that failed validation (recomputed)
        self._pending: dict[str, str] = {}
        self._pending_since = 0.0
        self._connection: sqlite3.Connection | None = None
        self._pid = -1
        self._backend_id = -1
        self.disabled = False
        atexit.register(self.flush)

    def open(self) -> None:
        """Open (and check) the file now rather than on first use."""
        self._connect()

    # --- reading and writing -------------------------------------------------------------------

    def get_many(self, tokens: list[str]) -> dict[str, Entry]:
        """The valid cached entries of those tokens that have one."""
        connection = self._connect()
        found: dict[str, Entry] = {}
        if connection is None:
            return found
        try:
            for start in range(0, len(tokens), LOOKUP_CHUNK):
                chunk = tokens[start:start + LOOKUP_CHUNK]
                rows = connection.execute(
                    f"SELECT token, value FROM analyses WHERE backend = ? AND token IN ({','.join('?' * len(chunk))})",
                    (self._backend_id, *chunk))
                for token, value in rows:
                    entry = decode(token, value)
                    if entry is None:
                        self.invalid += 1
                    else:
                        found[token] = entry
        except sqlite3.DatabaseError as error:
            self._disable(error)
        return found

    def put(self, token: str, entry: Entry) -> None:
        """Queue a new analysis; written with the next `flush` (soon, see FLUSH_ROWS/FLUSH_SECONDS)."""
        if self.disabled:
            return
        try:
            value = encode(entry)
        except ValueError:
            return
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending[token] = value
        if len(self._pending) >= FLUSH_ROWS or time.monotonic() - self._pending_since >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the queued analyses in one transaction."""
        if not self._pending or self.disabled:
            return
        pending, self._pending = self._pending, {}
        connection = self._connect()
        if connection is None:
            return
        try:
            with connection:  # one transaction, committed (or rolled back) as a whole
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany("INSERT OR REPLACE INTO analyses (backend, token, value) VALUES (?, ?, ?)",
                                       [(self._backend_id, token, value) for token, value in pending.items()])
        except sqlite3.DatabaseError as error:
            self._disable(error)

    def __len__(self) -> int:
        connection = self._connect()
        if connection is None:
            return 0
        return connection.execute("SELECT count(*) FROM analyses WHERE backend = ?", (self._backend_id,)).fetchone()[0]

    def close(self) -> None:
        self.flush()
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None

    # --- the connection ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection | None:
        """This process's connection, opened (and the file checked) on first use and after a fork."""
        if self.disabled:
            return None
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        if self._connection is not None:
            # Inherited through fork: SQLite forbids using (or closing) it in the child.
            _ABANDONED.append(self._connection)
            self._connection = None
        try:
            connection = open_cache(self.path, APPLICATION_ID, SCHEMA, "analysis cache")
            connection.execute("INSERT OR IGNORE INTO backends (key) VALUES (?)", (self.backend_key,))
            self._backend_id = connection.execute("SELECT id FROM backends WHERE key = ?",
                                                  (self.backend_key,)).fetchone()[0]
        except AugkitError as error:
            if self.required:
                raise
            self._disable(error)
            return None
        except sqlite3.DatabaseError as error:
            self._disable(error)
            return None
        self._connection, self._pid = connection, os.getpid()
        return connection

    def _disable(self, error: Exception) -> None:
        if not self.disabled:
            print(f"augkit: warning: analysis cache {self.path}: {error}; continuing without it",
                  file=sys.stderr)
        self.disabled = True
        self._pending = {}


# --- values: fields joined by the unit separator, which no Arabic token, tag or lemma holds: ---
# `outcome` alone, or `outcome diac lemma state stem_index form tag form tag ...`.

SEPARATOR = "\x1f"
_MARK_CHARACTERS = "".join(MARKS)
OUTCOMES_WITHOUT_ANALYSIS = frozenset({"fallback_letters_changed"})
OUTCOMES_WITH_ANALYSIS = frozenset({"analyzed", "fallback_no_matching_segmentation"})


def encode(entry: Entry) -> str:
    """The stored form of an entry; ValueError if a field holds the separator (then it is not stored)."""
    analysis, outcome = entry
    fields = [outcome]
    if analysis is not None:
        fields += [analysis.diac, analysis.lemma, analysis.state, str(analysis.stem_index)]
        fields += [piece for morpheme in analysis.morphemes for piece in morpheme]
    if any(SEPARATOR in field for field in fields):
        raise ValueError(f"an analysis field holds the separator U+001F: {fields!r}")
    return SEPARATOR.join(fields)


def decode(token: str, value) -> Entry | None:
    """The entry stored for `token`, or None when the value is not a valid analysis of this token:
    a known outcome, the right number of fields, a stem index in range, tags, morphemes that spell
    the diacritised form (but for marks before its first letter, as in mishkal's `َا`, which belong
    to no morpheme), and the token's letters."""
    if not isinstance(value, str):
        return None
    fields = value.split(SEPARATOR)
    outcome = fields[0]
    if len(fields) == 1:
        return (None, outcome) if outcome in OUTCOMES_WITHOUT_ANALYSIS else None
    if outcome not in OUTCOMES_WITH_ANALYSIS or len(fields) < 7 or len(fields) % 2 == 0:
        return None
    diac, lemma, state, index = fields[1:5]
    forms, tags = fields[5::2], fields[6::2]
    if not (index.isascii() and index.isdigit()) or int(index) >= len(forms) or not all(tags):
        return None
    spelled = "".join(forms)
    if (spelled != diac and spelled != diac.lstrip(_MARK_CHARACTERS)) or letters(token) != letters(diac):
        return None
    return Analysis(diac, tuple(map(Morpheme, forms, tags)), lemma, state, int(index)), outcome
