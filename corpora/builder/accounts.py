"""Accounts: every record a stage receives comes back kept, dropped with a reason, or used to make
new records, and the counts balance: `in - consumed + derived = out + dropped`.

`account` checks one stage's output against its input ids (a shard, a group, or a whole global
step) and returns its `Tally`; tallies of shards or groups add up to the step's. The build checks
besides that each step's `in` is the previous step's `out`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from augment.errors import AugkitError
from corpora.records import check_record
from corpora.stage import Record, StageOutput


@dataclass
class Tally:
    """One step's (or one shard's, or one group's) counters."""

    records_in: int = 0
    out: int = 0
    dropped: Counter = field(default_factory=Counter)
    derived: int = 0
    consumed: int = 0
    passed_through: int = 0

    def add(self, other: Tally) -> None:
        self.records_in += other.records_in
        self.out += other.out
        self.dropped.update(other.dropped)
        self.derived += other.derived
        self.consumed += other.consumed
        self.passed_through += other.passed_through

    def as_dict(self) -> dict[str, Any]:
        return {"in": self.records_in, "out": self.out, "dropped": sum(self.dropped.values()),
                "dropped_by_reason": dict(sorted(self.dropped.items())), "derived": self.derived,
                "consumed": self.consumed, "passed_through": self.passed_through}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        return cls(data["in"], data["out"], Counter(data["dropped_by_reason"]), data["derived"],
                   data["consumed"], data["passed_through"])

    def balanced(self) -> bool:
        return self.records_in - self.consumed + self.derived == self.out + sum(self.dropped.values())

    def check_balanced(self, label: str) -> None:
        if not self.balanced():
            raise AugkitError(f"stage {label}: counts do not balance: {self.as_dict()}")


def account(label: str, inputs: Iterable[str], output: StageOutput, passed_through: int = 0) -> Tally:
    """Check that `output` accounts for every input id exactly once; return the counters."""
    input_ids = set(inputs)
    returned: set[str] = set()
    parents_used: set[str] = set()
    derived = 0
    for record in [*output.kept, *(record for record, _ in output.dropped)]:
        record_id = record.get("id")
        if record_id in returned:
            raise AugkitError(f"stage {label}: record {record_id!r} came back twice")
        returned.add(record_id)
        if record_id not in input_ids:
            parents = (record.get("meta") or {}).get("parents")
            if not parents:
                raise AugkitError(f"stage {label}: record {record_id!r} is not one of its inputs and names no "
                                  "parents in meta['parents']")
            unknown = [parent for parent in parents if parent not in input_ids]
            if unknown:
                raise AugkitError(f"stage {label}: record {record_id!r} names parents that were not its "
                                  f"inputs: {unknown[:3]}")
            parents_used.update(parents)
            derived += 1
    missing = input_ids - returned - parents_used
    if missing:
        raise AugkitError(f"stage {label}: {len(missing)} record(s) neither kept, dropped nor used, "
                          f"e.g. {sorted(missing)[:3]}")
    for record, reason in output.dropped:
        if not isinstance(reason, str) or not reason:
            raise AugkitError(f"stage {label}: record {record.get('id')!r} dropped without a reason code")
    tally = Tally(len(input_ids), len(output.kept), Counter(reason for _, reason in output.dropped), derived,
                  len(parents_used - returned), passed_through)
    tally.check_balanced(label)
    return tally


def check_output(label: str, output: StageOutput) -> None:
    """Every record a stage returns keeps the record contract (corpora.records.check_record)."""
    if not isinstance(output, StageOutput):
        raise AugkitError(f"stage {label}: process returned {type(output).__name__}, not StageOutput")
    for record in output.kept:
        check_record(record, f"stage {label}")
    for record, _ in output.dropped:
        check_record(record, f"stage {label} (dropped)")


def skeleton(record: Record) -> Record:
    """What `account` needs of a record (its id and parents), so a global step's account holds
    ids, not records."""
    parents = (record.get("meta") or {}).get("parents")
    return {"id": record["id"], "meta": {"parents": parents} if parents else {}}
