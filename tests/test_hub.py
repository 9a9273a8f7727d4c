"""augment.hub.locate_model: a model argument is a local folder or a hub id, decided at once."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from huggingface_hub import constants

from augment import hub
from augment.errors import AugkitError
from augment.hub import is_hub_id, locate_model


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """A Hugging Face cache folder holding one snapshot of `org/cached-model`, laid out as the hub client does."""
    cache = tmp_path / "hf-cache"
    repo = cache / "models--org--cached-model"
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}", encoding="utf-8")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123", encoding="utf-8")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return snapshot


def test_hub_ids_and_paths():
    assert is_hub_id("facebook/nllb-200-distilled-600M") and is_hub_id("gpt2") and is_hub_id("out/cptt")
    for path in ("./out/cpt", "~/models/x", "/abs/model", "a/b/c", "out\\cpt", "bad--name", "x.git", ""):
        assert not is_hub_id(path), path


def test_an_existing_path_is_local(tmp_path, monkeypatch):
    (tmp_path / "model").mkdir()
    monkeypatch.chdir(tmp_path)
    assert locate_model("model") == Path("model")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert locate_model("~/model") == tmp_path / "model"


def test_a_missing_path_fails_at_once_with_close_names(tmp_path, monkeypatch):
    (tmp_path / "out" / "cpt").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AugkitError, match=r"^\./out/cptt: no such model directory; did you mean out/cpt\?$"):
        locate_model("./out/cptt")
    with pytest.raises(AugkitError, match=r"^out/cpt/x/y: no such tokenizer directory$"):
        locate_model("out/cpt/x/y", "tokenizer")


def test_offline_a_hub_id_fails_in_one_line_or_uses_the_cache(offline, hf_cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AugkitError, match="org/missing: not a local model directory, not in the Hugging Face cache, "
                                          "and the hub cannot be reached to fetch it .offline mode is set"):
        locate_model("org/missing")
    assert locate_model("org/cached-model") == hf_cache
    # `out/cptt` is a valid hub id too; with `out/` here it is named as the folder it probably is.
    (tmp_path / "out" / "cpt").mkdir(parents=True)
    with pytest.raises(AugkitError, match=r"out/cptt: no such model directory \(nor, as a Hugging Face Hub id, in "
                                          r"the local cache, and the hub cannot be reached\); did you mean out/cpt\?"):
        locate_model("out/cptt")


def test_a_reachable_hub_gets_the_id_even_when_a_local_folder_shares_its_first_part(tmp_path, monkeypatch):
    # A real listening socket stands for the hub's endpoint.
    server = socket.create_server(("127.0.0.1", 0))
    accepting = threading.Thread(target=lambda: server.accept()[0].close(), daemon=True)
    accepting.start()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    for variable in hub._PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    hub._probe.cache_clear()
    try:
        (tmp_path / "facebook").mkdir()
        monkeypatch.chdir(tmp_path)
        assert locate_model("facebook/nllb-200-distilled-600M") == "facebook/nllb-200-distilled-600M"
    finally:
        hub._probe.cache_clear()
        server.close()
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:1")  # nothing listens on port 1
    try:
        assert not hub.hub_reachable()
        with pytest.raises(AugkitError, match=r"no network connection to 127\.0\.0\.1"):
            locate_model("org/never-downloaded")
    finally:
        hub._probe.cache_clear()
