"""Named fault points, so the fault-injection tests can crash a build at an exact place.

`AUGKIT_FAULT=ACTION@POINT[#N]` makes the N-th (default first) fault point of this process whose name
starts with POINT perform ACTION:
- `kill`: SIGKILL this process (as `kill -9` or the OOM killer would);
- `enospc`, `eacces`: raise the OSError a full disk or a refused permission raises there.

Points are named `where/step label/detail`, e.g. `shard-written/02-fixture_slow/00003`,
`shard-temporary/00-read`, `global-flush/04-dedup_exact`, `publish-staged`, `publish-moved/data`.
Unset (always, outside tests) a point costs one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import signal

_ERRORS = {"enospc": errno.ENOSPC, "eacces": errno.EACCES}
_hits: dict[str, int] = {}


def fault_point(name: str, path: os.PathLike | str | None = None) -> None:
    spec = os.environ.get("AUGKIT_FAULT")
    if not spec:
        return
    action, _, target = spec.partition("@")
    point, _, count = target.partition("#")
    if not name.startswith(point):
        return
    _hits[spec] = _hits.get(spec, 0) + 1
    if _hits[spec] != int(count or 1):
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action in _ERRORS:
        code = _ERRORS[action]
        raise OSError(code, os.strerror(code), None if path is None else str(path))
    else:
        raise ValueError(f"AUGKIT_FAULT: unknown action {action!r} (kill, enospc, eacces)")
