"""Morphological analyzer backends for MorphTx, chosen by name.

- `offline` (default): `mishkal` diacritisation + `qalsadi` segmentation, from PyPI, no downloads.
  Context-free: memoised per token, and kept in the persistent analysis cache
  (augment.analyzers.store) shared by processes and later runs.
- `camel`: CAMeL Tools' BERT unfactored disambiguator over a CALIMA database (`pip install
  augkit[camel]` plus its data packages); `camel:egy` selects the Egyptian model.
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import cache
from importlib import metadata
from pathlib import Path

from augment.analyzers.base import Analysis, Analyzer, Morpheme, find_stem, parse_bw
from augment.errors import AugkitError

BACKENDS = ("offline", "camel")
# augkit's own version of each backend's code: raise it whenever a change can change an analysis,
# so that no cache (analysis store, build stage cache) serves an analysis made by older code.
CODE_VERSIONS = {"offline": 2, "camel": 1}
# The distributions whose code and data make a backend's analyses (their dependencies count too).
PACKAGES = {"offline": ("mishkal", "qalsadi"), "camel": ("camel-tools",)}

__all__ = ["Analysis", "Analyzer", "Morpheme", "find_stem", "parse_bw", "get_analyzer", "clear_analyzers",
           "backend_version", "BACKENDS"]

_INSTANCES: dict[tuple[str, Path | None], Analyzer] = {}


@cache
def backend_version(name: str) -> str:
    """`<augkit code version>-<digest>` of the backend `name`, e.g. `2-5d0c2a91`: the digest hashes
    the installed versions of PACKAGES[backend] and of everything they require."""
    backend = name.partition(":")[0]
    if backend not in CODE_VERSIONS:
        raise AugkitError(f"unknown analyzer {name!r}; known: offline, camel, camel:msa, camel:egy")
    versions = _versions_with_dependencies(PACKAGES[backend])
    digest = hashlib.sha256("\n".join(f"{package}=={version}" for package, version in sorted(versions.items()))
                            .encode()).hexdigest()[:8]
    return f"{CODE_VERSIONS[backend]}-{digest}"


def _versions_with_dependencies(roots: tuple[str, ...]) -> dict[str, str]:
    versions: dict[str, str] = {}
    todo = list(roots)
    while todo:
        package = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if package in versions:
            continue
        try:
            versions[package] = metadata.version(package)
            requirements = metadata.requires(package) or []
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
            continue
        for requirement in requirements:
            if "extra ==" not in requirement.replace('"', "").replace("'", ""):
                todo.append(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))
    return versions


def get_analyzer(name: str, analysis_cache: str | os.PathLike | None = None) -> Analyzer:
    """The backend `name` (`offline`, `camel`, `camel:msa`, `camel:egy`), built once per process and
    cache setting, so that its memo and loaded models are shared by every scheme that uses it.

    `analysis_cache` (context-free backends): None, the default file in augkit's cache folder;
    `"none"`, no persistent cache; or the path of the SQLite file (an unusable default file only
    warns, an unusable chosen one is an error).
    """
    from augment.analyzers import store

    backend, _, variant = name.partition(":")
    path = store.resolve(analysis_cache) if backend == "offline" else None
    key = (name, path)
    if key not in _INSTANCES:
        if backend == "offline" and not variant:
            from augment.analyzers.offline import OfflineAnalyzer

            analysis_store = None
            if path is not None:
                analysis_store = store.AnalysisStore(path, f"{name}@{backend_version(name)}",
                                                     required=analysis_cache is not None)
                if analysis_store.required:
                    analysis_store.open()  # a chosen file that cannot be used fails now, not mid-run
            _INSTANCES[key] = OfflineAnalyzer(analysis_store)
        elif backend == "camel":
            from augment.analyzers.camel import CamelAnalyzer

            _INSTANCES[key] = CamelAnalyzer.pretrained(variant or "msa")
        else:
            raise AugkitError(f"unknown analyzer {name!r}; known: offline, camel, camel:msa, camel:egy")
    return _INSTANCES[key]


def clear_analyzers() -> None:
    """Forget the shared backends (writing what their caches still queue), so that the next
    `get_analyzer` builds a cold one."""
    for analyzer in _INSTANCES.values():
        analyzer.close()
    _INSTANCES.clear()
