"""The recorded analyses of every Arabic PUD token by the offline analyzer, against which
tests/test_offline_speed.py checks that the speed-ups of augment/analyzers/offline_speed.py change
no analysis.

    .venv/bin/python tests/offline_reference.py   # re-record (only after a deliberate change of analyses)

The record holds no PUD text: per token, 8 hex digits of the SHA-256 of the token and of its
analysis (`canonical`), the digest of all of them, and the outcome counts. It was made by the code
before the speed-ups (commit 1eb3115, deterministic since c212264: a sequential run gives what a
fresh analyzer gives for each token, tests/test_morphtx_determinism.py):

    git archive 1eb3115 augment schemes | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before .venv/bin/python tests/offline_reference.py
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

RECORD = Path(__file__).resolve().parent / "data" / "offline_pud_analyses.json.gz"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def pud_tokens(path: Path) -> list[str]:
    """Every distinct analysable token of the PUD file: of its `# text` lines tokenized as is and
    after `normalize=arabic` (as transliterate sees them), and its FORM column (token mode)."""
    from augment.analyzers.offline import is_analyzable
    from augment.formats import read_conllu
    from augment.normalize import get_normalizer
    from augment.text import tokenize

    normalize = get_normalizer("arabic")
    tokens: set[str] = set()
    for sentence in read_conllu(path):
        text = sentence.metadata("text") or ""
        tokens.update(tokenize(text), tokenize(normalize(text)), sentence.forms)
    return sorted(token for token in tokens if is_analyzable(token))


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def canonical(entry) -> str:
    """An analysis and its outcome as JSON, independent of how the store encodes them."""
    analysis, outcome = entry
    if analysis is None:
        return json.dumps([outcome], ensure_ascii=False)
    return json.dumps([outcome, analysis.diac, analysis.lemma, analysis.state, analysis.stem_index,
                       [[morpheme.form, morpheme.tag] for morpheme in analysis.morphemes]], ensure_ascii=False)


def analyses(tokens: list[str]) -> dict[str, str]:
    """token -> canonical analysis, each from a fresh offline analyzer's state (no persistent cache)."""
    from augment.analyzers.offline import OfflineAnalyzer

    analyzer = OfflineAnalyzer()
    return {token: canonical(analyzer._analyze_token(token)) for token in tokens}


def record(encoded: dict[str, str]) -> dict:
    per_token = {short_hash(token): short_hash(value) for token, value in encoded.items()}
    everything = "\n".join(f"{token}\t{value}" for token, value in sorted(encoded.items()))
    outcomes = Counter(json.loads(value)[0] for value in encoded.values())
    return {"tokens": len(encoded), "sha256": hashlib.sha256(everything.encode("utf-8")).hexdigest(),
            "outcomes": dict(sorted(outcomes.items())), "per_token": per_token}


if __name__ == "__main__":
    pud = Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED / "arabic" / "ar_pud-ud-test.conllu"
    result = record(analyses(pud_tokens(pud)))
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_bytes(gzip.compress(json.dumps(result, indent=0, sort_keys=True).encode(), mtime=0))
    print(f"{RECORD}: {result['tokens']} tokens, {result['outcomes']}, sha256 {result['sha256']}")
