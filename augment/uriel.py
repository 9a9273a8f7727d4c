"""Language distances from URIEL+ (PyPI `urielplus`; its database ships inside the wheel, offline).

    from augment.uriel import Uriel, parse_by

    uriel = Uriel()
    ranking = uriel.rank("mt", ["ar", "he", "it", "en", "zh"], parse_by("genetic"))
    [(r.code, r.distance) for r in ranking.ranked]   # [('ar', 0.2468), ('he', 0.6128), ('it', 1.0), ...]
    ranking.missing                                  # candidates with no distance, each with its reason

Distances (`DISTANCES`), each URIEL+'s `new_distance` with its defaults (angular distance, union
aggregation of the typological sources): `genetic` (Glottolog family tree), `geographic`,
`syntactic`, `phonological`, `inventory`, `featural` (all typological features together),
`morphological` and `script`. URIEL+ compares two languages on the features both have values for;
when there are none (syntactic mlt-arb; morphological for every pair in 1.3.2, whose typological
matrix has no morphological feature), the distance is missing, with that reason, never 0 or 1.
`parse_by("genetic=0.5,script=0.5")` weights several distances: the weighted mean of the
components, missing when any component is.

Distances of one target to many languages (all 7,970 URIEL+ knows, for `--top`) are computed at
once from URIEL+'s own matrices, after URIEL+'s own restrictions are applied
(`map_new_distance_to_loaded_features`), with its formula: the same values as `new_distance`
(tested on sampled pairs; at most 1e-4 apart, where URIEL+ rounds float32 sums), in milliseconds
instead of 0.1 s a pair.

Codes are whatever users type (`mt`, `mlt`, `mlt_Latn`, `__label__mt`), mapped to URIEL+'s ISO
639-3 codes by `augment.languages` (`ar` -> `arb`, `zh` -> `zho`).

URIEL+ reads and writes its working copy of the database in its own package folder, which fails
where site-packages is read-only. Here its working folder is `<augkit cache>/urielplus/<version>`
($AUGKIT_CACHE, else ~/.cache/augkit): the four matrices are copied there from the wheel's
`original_uriel` (and checked byte for byte against it on every load), and the wheel's CSV folder
is linked, so URIEL+ never writes into site-packages.
"""

from __future__ import annotations

import filecmp
import logging
import math
import os
import shutil
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from augment.errors import AugkitError

DISTANCES = ("genetic", "geographic", "syntactic", "phonological", "inventory", "featural", "morphological",
             "script")
# URIEL+'s matrices: 0 phylogeny, 1 typology, 2 geography, 3 script; typological distances keep a subset.
_MATRIX = {"genetic": 0, "geographic": 2, "script": 3}
_FEATURE_PREFIX = {"syntactic": "S_", "phonological": "P_", "inventory": "INV_", "morphological": "M_"}
_MATRIX_FILES = ("family_features.npz", "features.npz", "geocoord_features.npz", "script_features.npz")
_CHUNK = 1024  # languages per block of the vectorised distance (bounds memory to ~30 MB)
_CONSTRUCTION = threading.Lock()


@dataclass(frozen=True)
class Ranked:
    code: str  # as given (or URIEL+'s code when ranking everything it knows)
    uriel: str | None  # URIEL+'s ISO 639-3 code; None when the code maps to nothing URIEL+ knows
    distance: float | None
    components: dict[str, float | None] = field(default_factory=dict)
    reason: str | None = None  # why `distance` is None


@dataclass(frozen=True)
class Ranking:
    target: str
    uriel_target: str
    by: dict[str, float]
    ranked: list[Ranked]  # nearest first; ties in the order the candidates came
    missing: list[Ranked]
    signature: str

    def to_dict(self) -> dict:
        def row(item: Ranked) -> dict:
            return {"code": item.code, "uriel": item.uriel, "distance": item.distance,
                    "components": item.components, **({"reason": item.reason} if item.reason else {})}

        return {"target": self.target, "uriel_target": self.uriel_target, "by": self.by,
                "signature": self.signature, "ranked": [row(r) for r in self.ranked],
                "missing": [row(r) for r in self.missing]}


def parse_by(spec: str) -> dict[str, float]:
    """`genetic` -> {"genetic": 1.0}; `genetic=0.5,script=0.5` -> both, with their weights."""
    weights: dict[str, float] = {}
    for part in (spec or "").split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        if name not in DISTANCES:
            raise AugkitError(f"unknown distance {name!r} in {spec!r}; known: {', '.join(DISTANCES)}")
        if name in weights:
            raise AugkitError(f"distance {name!r} named twice in {spec!r}")
        try:
            weight = float(value) if sep else 1.0
        except ValueError as error:
            raise AugkitError(f"weight of {name!r} in {spec!r} is not a number: {value!r}") from error
        if not math.isfinite(weight) or weight <= 0:
            raise AugkitError(f"weight of {name!r} in {spec!r} must be a positive number, not {value!r}")
        weights[name] = weight
    return weights


def format_by(weights: dict[str, float]) -> str:
    """The inverse of `parse_by`: `genetic` or `genetic=0.5,script=0.5`."""
    if len(weights) == 1 and next(iter(weights.values())) == 1.0:
        return next(iter(weights))
    return ",".join(f"{name}={weight:g}" for name, weight in weights.items())


class Uriel:
    """URIEL+ with its working folder in augkit's cache; distances of one language to many."""

    def __init__(self, cache_dir: str | os.PathLike | None = None):
        import importlib.metadata

        self.version = importlib.metadata.version("urielplus")
        self._urielplus = _construct(_working_folder(cache_dir, self.version))
        self._index = [{str(code): row for row, code in enumerate(langs)} for langs in self._urielplus.langs]
        self.languages = sorted(self._index[0])

    def code(self, code: str) -> str | None:
        """URIEL+'s code for any spelling of a language, or None when URIEL+ does not know it."""
        from augment.languages import iso639_3

        raw = code.strip().removeprefix("__label__").replace("-", "_")
        try:
            candidate = iso639_3(raw)
        except AugkitError:  # no script langcodes can infer: a bare ISO 639-3 code is still usable
            candidate = raw.split("_")[0].lower()
        return candidate if candidate in self._index[0] else None

    def signature(self, weights: dict[str, float]) -> str:
        return (f"uriel+:{self.version}|by:{format_by(weights)}|metric:{self._urielplus.distance_metric}"
                f"|agg:{self._urielplus.aggregation}")

    def distances(self, kind: str, target: str, others: list[str]) -> list[tuple[float | None, str | None]]:
        """(distance, None) or (None, reason) from URIEL+ code `target` to each URIEL+ code of `others`."""
        if kind not in DISTANCES:
            raise AugkitError(f"unknown distance {kind!r}; known: {', '.join(DISTANCES)}")
        plus = self._urielplus
        matrix = plus.map_new_distance_to_loaded_features(kind)  # applies URIEL+'s own restrictions
        features = np.array([str(name).startswith(_FEATURE_PREFIX[kind]) for name in plus.feats[matrix]]) \
            if kind in _FEATURE_PREFIX else np.ones(len(plus.feats[matrix]), dtype=bool)
        index = self._index[matrix]
        target_values, target_known = self._vectors(matrix, kind, [index[target]], features)
        if not target_known.any():
            return [(None, f"URIEL+ has no {kind} data for {target}")] * len(others)
        results: list[tuple[float | None, str | None]] = []
        for start in range(0, len(others), _CHUNK):
            chunk = others[start:start + _CHUNK]
            values, known = self._vectors(matrix, kind, [index[code] for code in chunk], features)
            shared = known & target_known
            distances = self._formula(shared, np.where(shared, target_values, 0.0), np.where(shared, values, 0.0))
            for code, row_known, n_shared, distance in zip(chunk, known.any(axis=1), shared.sum(axis=1), distances,
                                                           strict=True):
                if not row_known:
                    results.append((None, f"URIEL+ has no {kind} data for {code}"))
                elif n_shared == 0:
                    results.append((None, f"no {kind} feature is known for both {target} and {code}"))
                else:
                    results.append((float(distance), None))
        return results

    def _vectors(self, matrix: int, kind: str, rows: list[int], features: np.ndarray):
        """(values, known) per language and feature, aggregated over URIEL+'s sources as it does:
        a feature is known unless every source says -1; its value is the max (union) or mean of the
        known sources (geography: always the mean)."""
        data = self._urielplus.data[matrix][rows][:, features, :].astype(np.float64)
        known_sources = (data != -1.0) & np.isfinite(data)
        known = ~np.all(data == -1.0, axis=2)
        if data.shape[2] == 1:
            return data[:, :, 0], known
        if kind == "geographic" or self._urielplus.aggregation == "A":
            total = np.where(known_sources, data, 0.0).sum(axis=2)
            count = known_sources.sum(axis=2)
            values = np.divide(total, count, out=np.full(total.shape, -1.0), where=count > 0)
        else:
            values = np.where(known_sources, data, -np.inf).max(axis=2)
            values[~known_sources.any(axis=2)] = -1.0
        return values, known

    def _formula(self, shared: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """URIEL+'s `_angular_distance`, row by row, over each row's shared features: a zero vector
        counts as a constant one (URIEL+ replaces it by 1e-10 * ones), the cosine is clipped, and
        the result rounded to 4 decimals."""
        constant = shared / np.sqrt(np.maximum(shared.sum(axis=1, keepdims=True), 1))
        norm_u, norm_v = np.linalg.norm(u, axis=1, keepdims=True), np.linalg.norm(v, axis=1, keepdims=True)
        u_hat = np.where(norm_u > 0, u / np.where(norm_u > 0, norm_u, 1.0), constant)
        v_hat = np.where(norm_v > 0, v / np.where(norm_v > 0, norm_v, 1.0), constant)
        cos = np.clip(np.einsum("ij,ij->i", u_hat, v_hat), -1.0, 1.0)
        if self._urielplus.distance_metric == "cosine":
            return np.round(1.0 - cos, 4)
        return np.round(2.0 * np.arccos(cos) / np.pi, 4)

    def rank(self, target: str, candidates: list[str], weights: dict[str, float],
             uriel_codes: list[str | None] | None = None) -> Ranking:
        """Rank `candidates` (any spelling; `uriel_codes` gives their URIEL+ codes when known) by
        their distance to `target`, nearest first."""
        uriel_target = self.code(target)
        if uriel_target is None:
            raise AugkitError(f"URIEL+ {self.version} does not know the target language {target!r}")
        codes = uriel_codes if uriel_codes is not None else [self.code(c) for c in candidates]
        known = [code for code in dict.fromkeys(codes) if code is not None]
        per_kind = {kind: dict(zip(known, self.distances(kind, uriel_target, known), strict=True)) for kind in weights}
        total = sum(weights.values())
        ranked, missing = [], []
        for candidate, code in zip(candidates, codes, strict=True):
            if code is None:
                missing.append(Ranked(candidate, None, None, reason=f"URIEL+ {self.version} does not know {candidate!r}"))
                continue
            components = {kind: per_kind[kind][code][0] for kind in weights}
            reasons = [per_kind[kind][code][1] for kind in weights if per_kind[kind][code][1]]
            if reasons:
                missing.append(Ranked(candidate, code, None, components, "; ".join(reasons)))
                continue
            value = components[next(iter(weights))] if len(weights) == 1 else \
                round(sum(weights[kind] * components[kind] for kind in weights) / total, 4)
            ranked.append(Ranked(candidate, code, value, components))
        ranked.sort(key=lambda item: item.distance)  # stable: ties keep the candidates' order
        return Ranking(target, uriel_target, dict(weights), ranked, missing, self.signature(weights))


@cache
def load(cache_dir: str | None = None) -> Uriel:
    """One `Uriel` per process and cache folder (loading the matrices takes about a second)."""
    return Uriel(cache_dir)


def _working_folder(cache_dir: str | os.PathLike | None, version: str) -> Path:
    """`<cache>/urielplus/<version>`, whose `database/` holds checked copies of the wheel's four
    matrices and a link to its CSV folder (see the module docstring)."""
    import urielplus

    from augment.translate.models import cache_root

    package = Path(urielplus.__file__).resolve().parent / "database"
    folder = cache_root(cache_dir) / "urielplus" / version
    database = folder / "database"
    database.mkdir(parents=True, exist_ok=True)
    for name in _MATRIX_FILES:
        original, copy = package / "original_uriel" / name, database / name
        if not original.is_file():
            raise AugkitError(f"urielplus {version} is incomplete: {original} is missing (reinstall urielplus)")
        if not (copy.is_file() and filecmp.cmp(original, copy, shallow=False)):
            temporary = copy.with_name(f".{name}.tmp-{os.getpid()}")
            shutil.copyfile(original, temporary)
            os.replace(temporary, copy)
    link = database / "urielplus_csvs"
    if not (link.is_symlink() and link.resolve() == (package / "urielplus_csvs").resolve()):
        if link.is_symlink():
            link.unlink()  # a link augkit made, to an older installation
        elif link.exists():
            raise AugkitError(f"{link} exists and is not augkit's link to urielplus's CSV folder; move it away")
        link.symlink_to(package / "urielplus_csvs", target_is_directory=True)
    return folder


def _construct(folder: Path):
    """A `URIELPlus` whose working folder (`cur_dir`) is `folder` instead of its package folder.

    URIEL+ takes its folder from its modules' `__file__` when an instance is built, so they point
    into `folder` for the duration (under a lock). Its import also configures the root logger at
    INFO level (`logging.basicConfig`), which would print a line per distance; that is undone."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import urielplus.base_uriel
    import urielplus.urielplus

    for handler in root.handlers[len(handlers):]:
        root.removeHandler(handler)
    root.setLevel(level)
    modules = (urielplus.urielplus, urielplus.base_uriel)
    with _CONSTRUCTION:
        originals = [module.__file__ for module in modules]
        try:
            for module in modules:
                module.__file__ = str(folder / Path(module.__file__).name)
            return urielplus.urielplus.URIELPlus()
        except (OSError, ValueError) as error:
            raise AugkitError(f"cannot load URIEL+ from {folder}: {error}") from error
        finally:
            for module, original in zip(modules, originals, strict=True):
                module.__file__ = original
