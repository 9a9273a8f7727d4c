"""The pure stages, one module per kind of step; importing this package registers them in STAGES.

Extend the list below to register more stage modules (e.g. the adapters around `augment`)."""

from corpora.stages import (  # noqa: F401  (imported for their @register side effect)
    dedup,
    filters,
    formatters,
    normalize,
    sampling,
    segment,
)
