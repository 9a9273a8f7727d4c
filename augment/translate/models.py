"""Find or build the CTranslate2 model a translation runs on.

`--model` is either a CTranslate2 model directory (a `model.bin` inside) or a Hugging Face model: a
local directory or a hub id. A Hugging Face model is converted once with CTranslate2's converter into
a content-addressed cache, `<cache>/ct2/<key>/`, where the key hashes the model's files, the
quantization and the converter version; the tokenizer is saved beside it in `tokenizer/`, and
`augkit.json` records the family and where the model came from. Converting into a temporary folder
and renaming it makes an interrupted conversion leave nothing half-written behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from augment.errors import AugkitError
from augment.hub import locate_model

QUANTIZATIONS = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "float16", "bfloat16", "float32")
FAMILIES = ("nllb", "m2m100", "marian", "t5", "llm")

# Hugging Face tokenizer classes (tokenizer_config.json) and model types (config.json) per family.
_FAMILY_BY_TOKENIZER = {"Nllb": "nllb", "M2M100": "m2m100", "Marian": "marian", "T5": "t5"}
_FAMILY_BY_MODEL_TYPE = {"m2m_100": "m2m100", "marian": "marian", "t5": "t5", "mt5": "t5", "umt5": "t5"}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                    "sentencepiece.bpe.model", "spiece.model", "source.spm", "target.spm", "target_vocab.json",
                    "merges.txt", "tokenizer.model", "added_tokens.json", "chat_template.jinja")
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.bin", "*.model", "*.spm", "*.txt", "*.jinja"]


def cache_root(override: str | os.PathLike | None = None) -> Path:
    """`--cache`, else `$AUGKIT_CACHE`, else `~/.cache/augkit`."""
    if override:
        return Path(override).expanduser()
    return Path(os.environ.get("AUGKIT_CACHE") or Path.home() / ".cache" / "augkit")


@dataclass(frozen=True)
class ModelFiles:
    """A CTranslate2 model ready to load, its tokenizer, and what identifies it."""

    ct2_dir: Path
    tokenizer_dir: Path
    family: str
    fingerprint: str  # hash of the model's content and quantization; part of every cache key


def prepare_model(model: str, *, quantization: str = "int8", cache: str | os.PathLike | None = None,
                  family: str | None = None, tokenizer: str | None = None) -> ModelFiles:
    """Resolve `model` to a CTranslate2 directory, converting (once) when it is a Hugging Face model."""
    if quantization not in QUANTIZATIONS:
        raise AugkitError(f"unknown quantization {quantization!r}; choose one of {', '.join(QUANTIZATIONS)}")
    if family is not None and family not in FAMILIES:
        raise AugkitError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")
    path = Path(model).expanduser()
    if (path / "model.bin").is_file():
        return _ct2_directory(path, quantization, family, tokenizer)
    if path.exists() and not (path / "config.json").is_file():
        raise AugkitError(f"{path}: neither a CTranslate2 model (model.bin) nor a Hugging Face model (config.json)")
    located = locate_model(model)
    source = located if isinstance(located, Path) else _download(located)
    return _converted(source, quantization, cache_root(cache) / "ct2", family, tokenizer)


def _ct2_directory(path: Path, quantization: str, family: str | None, tokenizer: str | None) -> ModelFiles:
    recorded = _read_json(path / "augkit.json")
    tokenizer_dir = Path(tokenizer) if tokenizer else path / "tokenizer" if (path / "tokenizer").is_dir() else path
    if not any((tokenizer_dir / name).is_file() for name in _TOKENIZER_FILES):
        raise AugkitError(f"{path}: no tokenizer found; save the Hugging Face tokenizer there or pass --tokenizer DIR")
    family = family or recorded.get("family") or _family_from_tokenizer(tokenizer_dir)
    fingerprint = _digest([content_hash(path), quantization])
    return ModelFiles(path, tokenizer_dir, family, fingerprint)


def _converted(source: Path, quantization: str, ct2_cache: Path, family: str | None,
               tokenizer: str | None) -> ModelFiles:
    import ctranslate2

    key = _digest([content_hash(source), quantization, ctranslate2.__version__])
    target = ct2_cache / key
    if not (target / "augkit.json").is_file():
        ct2_cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=ct2_cache))
        try:
            _convert(source, staging / "model", quantization, family, tokenizer)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging / "model", target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    recorded = _read_json(target / "augkit.json")
    return ModelFiles(target, target / "tokenizer", family or recorded["family"], key)


def _convert(source: Path, out: Path, quantization: str, family: str | None, tokenizer: str | None) -> None:
    from ctranslate2.converters import TransformersConverter
    from transformers import AutoTokenizer

    config = _read_json(source / "config.json")
    family = family or _family_from_config(config, source)
    # int8_* and float16 variants are chosen again at load time (compute_type); storing plain int8 or
    # float16 weights keeps one converted copy valid for CPU and GPU.
    stored = {"int8_float32": "int8", "int8_float16": "int8", "int8_bfloat16": "int8"}.get(quantization, quantization)
    TransformersConverter(str(source)).convert(str(out), quantization=stored)
    AutoTokenizer.from_pretrained(tokenizer or str(source)).save_pretrained(str(out / "tokenizer"))
    (out / "augkit.json").write_text(json.dumps(
        {"family": family, "source": str(source), "model_type": config.get("model_type"),
         "quantization": quantization}, indent=2) + "\n", encoding="utf-8")


def _family_from_config(config: dict, source: Path) -> str:
    model_type = config.get("model_type", "")
    if model_type == "m2m_100":
        # NLLB checkpoints share M2M-100's architecture; their tokenizers tell them apart.
        return _family_from_tokenizer(source)
    if model_type in _FAMILY_BY_MODEL_TYPE:
        return _FAMILY_BY_MODEL_TYPE[model_type]
    if config.get("is_encoder_decoder"):
        raise AugkitError(f"{source}: encoder-decoder model type {model_type!r} has no translation family here; "
                          f"pass --family ({', '.join(FAMILIES)})")
    return "llm"


def _family_from_tokenizer(tokenizer_dir: Path) -> str:
    tokenizer_class = _read_json(tokenizer_dir / "tokenizer_config.json").get("tokenizer_class") or ""
    for prefix, family in _FAMILY_BY_TOKENIZER.items():
        if tokenizer_class.startswith(prefix):
            return family
    return "llm"


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, allow_patterns=_HUB_PATTERNS))
    except Exception as error:  # the hub client raises many types; the user needs one line
        raise AugkitError(f"{repo_id}: not a local model directory and could not be fetched from the hub "
                          f"({type(error).__name__}: {error})") from error


def content_hash(directory: Path) -> str:
    """Hash of every file's name and bytes. A big file's hash is remembered per (path, size, mtime) in
    `<cache>/file-hashes.json`, so a multi-gigabyte checkpoint is read in full only once."""
    entries = []
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        entries.append(f"{file.relative_to(directory).as_posix()}:{_file_hash(file)}")
    return _digest(entries)


def _file_hash(file: Path) -> str:
    stat = file.stat()
    memo_key = f"{file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    memo = _HASH_MEMO.setdefault("entries", _load_memo())
    if memo_key not in memo:
        digest = hashlib.sha256()
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
        memo[memo_key] = digest.hexdigest()
        if stat.st_size > 1 << 24:  # only worth persisting for big weight files
            _save_memo(memo)
    return memo[memo_key]


_HASH_MEMO: dict[str, dict[str, str]] = {}


def _memo_path() -> Path:
    return cache_root() / "file-hashes.json"


def _load_memo() -> dict[str, str]:
    return _read_json(_memo_path())


def _save_memo(memo: dict[str, str]) -> None:
    path = _memo_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(memo), encoding="utf-8")
    os.replace(temporary, path)


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:24]


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise AugkitError(f"{path}: not valid JSON ({error})") from error
