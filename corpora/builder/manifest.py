"""What a build publishes: the outputs, `rejected/`, `manifest.json`, `recipe.yaml` and the dataset card.

`write_results` writes them all into a staging folder (corpora.builder.publish moves them into place).
The manifest records, per step, its config, fingerprint and counters; per output its files with
their sha256; the rejected-record files; the texts shared between splits; the sources' file
fingerprints; the resolved recipe and the versions of augkit and its main dependencies. It holds
no dates or timings, so a rebuild gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from augment import __version__
from corpora.builder.accounts import Tally
from corpora.builder.cache import StepDir
from corpora.builder.plan import BuildPlan
from corpora.card import write_card
from corpora.overlap import NORMALISATION, split_overlap
from corpora.recipe import Recipe
from corpora.stage import Record
from corpora.writers import Output, file_sha256, write_lines_atomic, write_output, write_text_atomic

MANIFEST_VERSION = 2


def write_results(staging: Path, recipe: Recipe, plan: BuildPlan, tallies: list[Tally],
                  log: Callable[[str], None]) -> dict[str, Any]:
    """Write every result of a finished build into `staging`; returns the manifest as readers of
    manifest.json get it."""
    final = plan.dirs[-1]
    outputs = [_write_output(output, final, staging) for output in recipe.outputs]
    rejected = _collect_rejected(plan.dirs, staging)
    overlap = _split_overlap(recipe, plan.dirs, log)
    text = json.dumps(_manifest(recipe, plan, tallies, outputs, rejected, overlap), indent=2,
                      ensure_ascii=False) + "\n"
    manifest = json.loads(text)  # what readers of manifest.json get (lists, not tuples)
    write_text_atomic(staging / "manifest.json", text)
    write_text_atomic(staging / "recipe.yaml", recipe.text)
    write_card(staging, manifest, _records(final))
    return manifest


def package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"python": sys.version.split()[0], "augkit": __version__}
    for name in ("datasets", "pyarrow", "numpy", "fasttext", "datasketch", "ctranslate2", "regex"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _records(step_dir: StepDir) -> Iterator[Record]:
    for batch in step_dir.records():
        yield from batch


def _write_output(output: Output, step_dir: StepDir, root: Path) -> dict[str, Any]:
    files = write_output(output, _records(step_dir), root)
    for entry in files:
        entry["sha256"] = _tree_digest(root / entry["path"])
    return {"format": output.format, "path": output.path, "files": files}


def _tree_digest(path: Path) -> str:
    """sha256 of a file, or of a folder's relative paths and file digests."""
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(item.relative_to(path)).encode())
            digest.update(bytes.fromhex(file_sha256(item)))
        return digest.hexdigest()
    return file_sha256(path)


def _collect_rejected(dirs: list[StepDir], root: Path) -> list[dict[str, Any]]:
    folder = root / "rejected"
    folder.mkdir()
    written = []
    for step_dir in dirs:
        if not step_dir.tally().dropped:
            continue
        path = folder / f"{step_dir.label}.jsonl"
        count = write_lines_atomic(path, step_dir.rejected_lines())["rows"]
        written.append({"stage": step_dir.label, "path": str(path.relative_to(root)), "records": count})
    return written


def _split_overlap(recipe: Recipe, dirs: list[StepDir], log: Callable[[str], None]) -> dict[str, Any] | None:
    """Texts found in two splits: after the last step that assigns splits, else in the outputs that
    are written by split; None when the build has no splits."""
    assigning = [index for index, step in enumerate(recipe.steps, start=1) if step.stage.assigns_split]
    field_name = next((output.split_field for output in recipe.outputs if output.split_field), None)
    if assigning:
        step_dir, where, field_name = dirs[assigning[-1]], dirs[assigning[-1]].label, "split"
    elif field_name is not None:
        step_dir, where = dirs[-1], "outputs"
    else:
        return None

    def split_of(record: Record) -> str | None:
        value = record.get(field_name, (record.get("meta") or {}).get(field_name))
        return None if value is None else str(value)

    pairs = split_overlap(_records(step_dir), split_of)
    for pair in pairs:
        if pair["shared_texts"]:
            first, second = pair["splits"]
            log(f"warning: {pair['shared_texts']:,} text(s) occur in both {first} and {second} "
                f"(measured after {where}; see split_overlap in manifest.json)")
    return {"measured_after": where, "normalisation": NORMALISATION, "pairs": pairs}


def _manifest(recipe: Recipe, plan: BuildPlan, tallies: list[Tally], outputs: list, rejected: list,
              overlap: dict[str, Any] | None) -> dict[str, Any]:
    stages = []
    for step, step_dir, tally in zip((None, *recipe.steps), plan.dirs, tallies, strict=True):
        entry = {"step": 0, "stage": "read"} if step is None else step.describe()
        entry.update({"fingerprint": step_dir.fingerprint, **tally.as_dict(), "balanced": tally.balanced()})
        stages.append(entry)
    return {
        "manifest_version": MANIFEST_VERSION,
        "recipe": recipe.name,
        "seed": recipe.seed,
        "records": tallies[-1].out,
        "stages": stages,
        "outputs": outputs,
        "rejected": rejected,
        "split_overlap": overlap,
        "inputs": plan.inputs,
        "resolved_config": recipe.resolved(),
        "versions": package_versions(),
    }
