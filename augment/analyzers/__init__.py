"""Morphological analyzer backends for MorphTx, chosen by name.

- `offline` (default): `mishkal` diacritisation + `qalsadi` segmentation, from PyPI, no downloads.
- `camel`: CAMeL Tools' BERT unfactored disambiguator over a CALIMA database (`pip install
  augkit[camel]` plus its data packages); `camel:egy` selects the Egyptian model.
"""

from __future__ import annotations

from augment.analyzers.base import Analysis, Analyzer, Morpheme, find_stem, parse_bw
from augment.errors import AugkitError

BACKENDS = ("offline", "camel")

__all__ = ["Analysis", "Analyzer", "Morpheme", "find_stem", "parse_bw", "get_analyzer", "clear_analyzers", "BACKENDS"]

_INSTANCES: dict[str, Analyzer] = {}


def get_analyzer(name: str) -> Analyzer:
    """The backend `name` (`offline`, `camel`, `camel:msa`, `camel:egy`), built once per process so
    that its memo and loaded models are shared by every scheme that uses it."""
    if name not in _INSTANCES:
        backend, _, variant = name.partition(":")
        if backend == "offline" and not variant:
            from augment.analyzers.offline import OfflineAnalyzer

            _INSTANCES[name] = OfflineAnalyzer()
        elif backend == "camel":
            from augment.analyzers.camel import CamelAnalyzer

            _INSTANCES[name] = CamelAnalyzer.pretrained(variant or "msa")
        else:
            raise AugkitError(f"unknown analyzer {name!r}; known: offline, camel, camel:msa, camel:egy")
    return _INSTANCES[name]


def clear_analyzers() -> None:
    """Forget the shared backends, so that the next `get_analyzer` builds a cold one."""
    _INSTANCES.clear()
