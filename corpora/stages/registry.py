"""Every stage augkit ships, by the name recipes use, and `build_stage` for a recipe step.

Importing this module imports every stage module of corpora.stages, whose `@register` fills
`corpora.stage.STAGES`. A new stage module is added to the import list below.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from augment.errors import AugkitError
from corpora.stage import STAGES, Stage
from corpora.stages import (  # noqa: F401  (imported for their @register side effect)
    adapters,
    dedup,
    filters,
    formatters,
    normalize,
    sampling,
    segment,
)

__all__ = ["STAGES", "build_stage"]


def build_stage(spec: dict[str, Any], where: str = "recipe", seed: int | None = None) -> Stage:
    """`{"stage": "filter_length", "min_chars": 5}` -> a configured stage; unknown names or keys are errors."""
    params = dict(spec)
    name = params.pop("stage", None)
    if name not in STAGES:
        raise AugkitError(f"{where}: unknown stage {name!r}; known stages: {', '.join(sorted(STAGES))}")
    cls = STAGES[name]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise AugkitError(f"{where}: stage {name!r} has no parameter(s) {unknown}; it takes {sorted(known)}")
    if seed is not None and "seed" in known and "seed" not in params:
        params["seed"] = seed
    try:
        return cls(**params)
    except (TypeError, ValueError) as error:
        raise AugkitError(f"{where}: stage {name!r}: {error}") from error
