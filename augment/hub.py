"""Where a model argument points, decided at once: a local folder or a Hugging Face Hub id.

`locate_model(name)` is called by everything that loads a model or tokenizer by name (augkit
translate, and finetune's cpt, sft, evaluate, layers, tokenizer), before any library is asked to
load it, so a typo fails in one line instead of after a minute of hub retries:

- an existing path: that path (`~` expanded);
- something that can only be a path (it starts with `.`, `~` or `/`, holds a backslash or more than
  one `/`, or is not a valid hub id) and does not exist: `AugkitError` naming it, with the names
  in its folder that look closest ("did you mean out/cpt?");
- a hub id (`facebook/nllb-200-distilled-600M`, `gpt2`): returned as it is when the hub can be
  reached, for the library to load from its cache or the network. When it cannot (HF_HUB_OFFLINE
  is set, or no connection to the hub within a few seconds): the folder of the cached snapshot if
  the id was downloaded before, else `AugkitError` saying so in one line, without retries. A
  valid hub id is never refused while the hub is reachable, even when a local folder shares its
  first part.
"""

from __future__ import annotations

import difflib
import os
import socket
import threading
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from augment.errors import AugkitError

PROBE_SECONDS = 3.0
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def locate_model(name: str | os.PathLike, what: str = "model") -> Path | str:
    """A local path, or a hub id the caller can load (see the module docstring)."""
    text = str(name)
    path = Path(text).expanduser()
    if path.exists():
        return path
    if not is_hub_id(text):
        raise AugkitError(f"{text}: no such {what} directory{_suggestion(path)}")
    if hub_reachable():
        return text
    snapshot = cached_snapshot(text)
    if snapshot is not None:
        return snapshot
    if Path(text).parent != Path(".") and Path(text).parent.is_dir():
        raise AugkitError(f"{text}: no such {what} directory (nor, as a Hugging Face Hub id, in the local cache, "
                          f"and the hub cannot be reached){_suggestion(path)}")
    raise AugkitError(f"{text}: not a local {what} directory, not in the Hugging Face cache, and the hub cannot be "
                      f"reached to fetch it ({_offline_reason()})")


def is_hub_id(text: str) -> bool:
    """`name` or `namespace/name` as the hub accepts them; never a path spelled as one."""
    if text.startswith((".", "~", "/")) or "\\" in text:
        return False
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of `repo_id` in the Hugging Face cache, when its config.json is there."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return Path(found).parent if isinstance(found, str) else None


def hub_reachable() -> bool:
    """False when offline mode is set or the hub's host does not answer within PROBE_SECONDS."""
    if _offline_by_setting():
        return False
    if any(os.environ.get(variable) for variable in _PROXY_VARIABLES):
        return True  # only the proxy knows; let the hub client try
    return _probe()


def _offline_by_setting() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("TRANSFORMERS_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


@cache
def _probe() -> bool:
    """One TCP connection to the hub's endpoint per process, in a thread so that a DNS lookup
    that hangs cannot hold the command longer than PROBE_SECONDS."""
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    address = (endpoint.hostname or "huggingface.co", endpoint.port or (443 if endpoint.scheme == "https" else 80))
    result: list[bool] = []

    def connect() -> None:
        try:
            socket.create_connection(address, timeout=PROBE_SECONDS).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(PROBE_SECONDS)
    return bool(result and result[0])


def _offline_reason() -> str:
    if _offline_by_setting():
        return "offline mode is set: HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE"
    from huggingface_hub import constants

    return f"no network connection to {urlparse(constants.ENDPOINT).hostname}"


def _suggestion(path: Path) -> str:
    """`; did you mean out/cpt?` from the names in the deepest existing folder of `path`."""
    folder, missing = path.parent, path.name
    while not folder.is_dir() and folder != folder.parent:
        folder, missing = folder.parent, folder.name
    if not folder.is_dir():
        return ""
    try:
        names = [child.name for child in folder.iterdir()]
    except OSError:
        return ""
    close = difflib.get_close_matches(missing, names, n=3, cutoff=0.6)
    if not close:
        return ""
    shown = " or ".join(str(folder / name) if str(folder) != "." else name for name in close)
    return f"; did you mean {shown}?"
