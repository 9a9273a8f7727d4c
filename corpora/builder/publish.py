"""The output folder: one build at a time, never a user's file replaced, outputs published all at once.

- One build per folder (`locked`: an flock that goes away with the process, even when killed).
- A build replaces only entries an earlier build recorded in its manifest (`check_entries` refuses,
  before any work, to write where a user's file is or outside the folder), and removes only
  temporaries whose names prove augkit wrote them.
- Publishing: the results are written into `OUTPUT/.augkit-publish/` (`staging`); a journal
  (`PUBLISH.json`) written last commits them (`commit`); then the old build's entries are set aside
  and the new ones renamed into place, `manifest.json` last (it is absent while the swap runs). A
  build that dies before the journal leaves the old build untouched; one that dies after it is
  finished by the next build into that folder (`finish`), before anything else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from augment.errors import AugkitError
from corpora.faults import fault_point
from corpora.writers import check_output_path, is_temporary, load_json, remove, write_text_atomic

STAGING = ".augkit-publish"
JOURNAL = "PUBLISH.json"
SET_ASIDE = ".old"  # inside STAGING: the previous build's entries while the new ones move in
BUILD_FILES = ("rejected", "plots", "README.md", "recipe.yaml")  # written by every build, manifest.json aside


class OutputFolder:
    def __init__(self, path: Path, log: Callable[[str], None]):
        self.path, self.log = Path(path), log

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One build per output folder; the lock goes away with the process, even when it is killed."""
        import fcntl

        with open(self.path / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AugkitError(f"{self.path}: another augkit build is writing to this folder") from None
            yield

    def recorded(self) -> set[str]:
        """The entries the earlier build in the folder recorded in its manifest (so they may go)."""
        manifest = load_json(self.path / "manifest.json")
        if not (isinstance(manifest, dict) and isinstance(manifest.get("manifest_version"), int)
                and isinstance(manifest.get("stages"), list) and isinstance(manifest.get("outputs"), list)):
            return set()  # no manifest of augkit build's: nothing here is ours to replace
        recorded = {"manifest.json", *BUILD_FILES}
        for output in manifest["outputs"]:
            try:
                recorded.add(check_output_path(output["path"]))
            except (AugkitError, KeyError, TypeError):
                continue  # not a path augkit would write: never removed
        return recorded

    def check_entries(self, entries: list[str]) -> None:
        """Refuse, before any work, to write where a user's file is, or outside the output folder."""
        root = self.path.resolve()
        recorded = self.recorded()
        for entry in [*entries, "manifest.json"]:
            target = self.path / entry
            resolved = target.resolve()
            if resolved == root or root not in resolved.parents:
                raise AugkitError(f"output {entry!r}: {target} resolves to {resolved}, which is not inside the "
                                  f"output folder {root}")
            covered = entry in recorded or any(str(parent) in recorded for parent in PurePosixPath(entry).parents)
            if (target.exists() or target.is_symlink()) and not covered:
                raise AugkitError(f"{target} exists and no earlier build recorded it in "
                                  f"{self.path / 'manifest.json'}; augkit build replaces only what it wrote: "
                                  "move it away or choose another --output")

    def remove_temporaries(self, outputs: Iterable[str]) -> None:
        """Remove the temporaries killed runs left beside the build's files and its outputs (names
        that prove augkit wrote them), nothing else."""
        beside: dict[Path, set[str]] = {self.path: {"manifest.json", *BUILD_FILES}}
        for output in outputs:
            path = self.path / output
            beside.setdefault(path.parent, set()).add(path.name)
        for folder, names in beside.items():
            if folder.is_dir():
                for path in folder.iterdir():
                    if is_temporary(path.name, names):
                        remove(path)

    def staging(self) -> Path:
        """A fresh staging folder for the results."""
        staging = self.path / STAGING
        remove(staging)
        staging.mkdir()
        return staging

    def commit(self, entries: list[str]) -> None:
        """Commit the staged results with the journal (`entries` replace their namesakes; entries the
        previous build recorded that this one does not write are retired) and move them in."""
        retired = sorted(self.recorded() - {*entries, "manifest.json"})
        fault_point("publish-staged")
        write_text_atomic(self.path / STAGING / JOURNAL, json.dumps({"entries": entries, "retired": retired},
                                                                     indent=2))
        self.finish(interrupted=False)

    def finish(self, interrupted: bool) -> None:
        """Move a committed staging folder into place (idempotent, so a publish cut short by a kill is
        finished by the next build); an uncommitted one is a killed run's leftover and goes."""
        staging = self.path / STAGING
        if not staging.exists():
            return
        journal = load_json(staging / JOURNAL)
        if not (isinstance(journal, dict) and isinstance(journal.get("entries"), list)
                and isinstance(journal.get("retired"), list)):
            remove(staging)
            return
        if interrupted:
            self.log(f"{self.path}: finishing the publication of an interrupted build")
        set_aside = staging / SET_ASIDE
        new_manifest = staging / "manifest.json"

        def retire(entry: str) -> None:
            target = self.path / entry
            if target.exists() or target.is_symlink():
                place = set_aside / entry
                remove(place)
                place.parent.mkdir(parents=True, exist_ok=True)
                os.replace(target, place)

        if new_manifest.exists():
            retire("manifest.json")  # first: while entries move, the folder has no manifest
        for entry in journal["retired"]:
            retire(entry)
        for entry in journal["entries"]:
            if (staging / entry).exists():
                retire(entry)
                (self.path / entry).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / entry, self.path / entry)
                fault_point(f"publish-moved/{entry}")
        if new_manifest.exists():
            os.replace(new_manifest, self.path / "manifest.json")
        remove(staging)
