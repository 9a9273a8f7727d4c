"""A persistent translation cache: an interrupted run resumes where it stopped, a re-run is free.

One SQLite table maps a key to the hypotheses of one source segment. The key hashes the model
fingerprint, the languages, the family's prompt, the decoding signature and the segment, so any
change of setting misses the cache instead of returning a stale translation. Writes are committed
per batch (WAL journal), so a crash loses at most the batch in flight.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path


class TranslationCache:
    def __init__(self, path: str | Path, namespace: str):
        """`namespace` is everything but the source text that decides a translation (model, langs, decoding)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.namespace = namespace
        self.connection = sqlite3.connect(self.path)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("CREATE TABLE IF NOT EXISTS translations (key TEXT PRIMARY KEY, hypotheses TEXT NOT NULL)")
        self.connection.commit()

    def key(self, source: str) -> str:
        return hashlib.sha256(f"{self.namespace}\x00{source}".encode()).hexdigest()

    def get_many(self, sources: Iterable[str]) -> dict[str, list[str]]:
        """The cached hypotheses of those sources that have them."""
        by_key = {self.key(source): source for source in sources}
        found: dict[str, list[str]] = {}
        keys = list(by_key)
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = keys[start:start + 500]
            rows = self.connection.execute(
                f"SELECT key, hypotheses FROM translations WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            for key, hypotheses in rows:
                found[by_key[key]] = json.loads(hypotheses)
        return found

    def put_many(self, translations: dict[str, list[str]]) -> None:
        self.connection.executemany(
            "INSERT OR REPLACE INTO translations (key, hypotheses) VALUES (?, ?)",
            [(self.key(source), json.dumps(hypotheses, ensure_ascii=False)) for source, hypotheses in translations.items()])
        self.connection.commit()

    def __len__(self) -> int:
        return self.connection.execute("SELECT COUNT(*) FROM translations").fetchone()[0]

    def close(self) -> None:
        self.connection.close()
