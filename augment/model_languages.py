"""Which languages a model family covers: the candidates `augkit languages rank --available` ranks.

    covered("nllb")    # ['ace_Arab', 'ace_Latn', ...]: NLLB-200's 202 FLORES-200 codes
    covered("m2m")     # ['af', 'am', 'ar', ...]: M2M-100's 100 codes (no Maltese)
    covered("madlad")  # ['en', 'ru', ...]: the 416 codes of MADLAD-400's model card
    covered("lid176")  # ['afr_Latn', ...]: the labels of fastText's lid.176 (augment.langid), as FLORES codes

The lists are data (`augment/data/model_languages/*.txt`, one code per line, `#` comments naming
their source), written as each model spells its languages; `augment.languages` maps them.
"""

from __future__ import annotations

from pathlib import Path

from augment.errors import AugkitError

FAMILIES = ("nllb", "m2m", "madlad", "lid176")
_DATA = Path(__file__).resolve().parent / "data" / "model_languages"


def covered(family: str) -> list[str]:
    """The codes of every language `family` covers, in the order of its list."""
    if family not in FAMILIES:
        raise AugkitError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    if family == "lid176":
        from augment.langid import load_identifier

        return list(dict.fromkeys(load_identifier().labels))
    lines = (_DATA / f"{family}.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
