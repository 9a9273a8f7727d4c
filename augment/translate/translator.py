"""The translator: CTranslate2 underneath, segments in, hypotheses out, each segment decoded once.

`Translator.translate(segments)` deduplicates, answers what it can from the translation cache,
tokenizes the rest, sorts it by length and cuts it into batches of at most `max_batch_tokens` source
tokens, each with its own `max_decoding_length` (a multiple of its longest source). Batches are
submitted asynchronously; `submit` returns at once so the caller can read and tokenize the next
window while CTranslate2 decodes this one (see `augment.translate.stream`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from augment import languages
from augment.errors import AugkitError
from augment.translate.cache import TranslationCache
from augment.translate.decoding import Decoding
from augment.translate.families import make_family
from augment.translate.models import cache_root, prepare_model


@dataclass
class TranslationStats:
    segments: int = 0  # distinct segments asked for
    cached: int = 0  # answered by the translation cache
    decoded: int = 0  # decoded by the model in this run
    source_tokens: int = 0  # of decoded segments
    target_tokens: int = 0
    decode_seconds: float = 0.0
    by_batch: list[int] = field(default_factory=list)  # batch sizes, for the benchmark


class Pending:
    """Translations submitted to CTranslate2 and not collected yet."""

    def __init__(self, translator: Translator, known: dict[str, list[str]], batches: list):
        self.translator, self.known, self.batches = translator, known, batches

    def collect(self) -> dict[str, list[str]]:
        translator = self.translator
        for segments, async_results in self.batches:
            started = time.perf_counter()
            hypotheses = [translator._hypotheses(result.result()) for result in async_results]
            translator.stats.decode_seconds += time.perf_counter() - started
            finished = dict(zip(segments, [[translator.family.detokenize(h) for h in hyps] for hyps in hypotheses],
                                strict=True))
            translator.stats.target_tokens += sum(len(hyps[0]) for hyps in hypotheses)
            if translator.cache is not None:
                translator.cache.put_many(finished)
            self.known.update(finished)
        return self.known


class Translator:
    def __init__(self, model: str, src: str, tgt: str, *, quantization: str = "int8", device: str = "auto",
                 device_index: int | list[int] = 0, inter_threads: int = 1, intra_threads: int = 0,
                 cache: str | os.PathLike | None = None, translation_cache: str | os.PathLike | None | bool = None,
                 family: str | None = None, tokenizer: str | None = None, prompt_template: str | None = None,
                 decoding: Decoding | None = None, max_batch_tokens: int = 4096):
        import ctranslate2
        from transformers import AutoTokenizer

        self.src, self.tgt = languages.to_flores(src), languages.to_flores(tgt)
        self.decoding = decoding or Decoding()
        self.max_batch_tokens = max_batch_tokens
        self.files = prepare_model(model, quantization=quantization, cache=cache, family=family, tokenizer=tokenizer)
        self.device = _device(device, ctranslate2)
        self.family = make_family(self.files.family, AutoTokenizer.from_pretrained(str(self.files.tokenizer_dir)),
                                  self.src, self.tgt, prompt_template)
        engine = ctranslate2.Generator if self.family.generator else ctranslate2.Translator
        try:
            self.model = engine(str(self.files.ct2_dir), device=self.device, device_index=device_index,
                                compute_type=quantization, inter_threads=inter_threads, intra_threads=intra_threads)
        except (RuntimeError, ValueError) as error:
            raise AugkitError(f"{self.files.ct2_dir}: CTranslate2 cannot load it on {self.device} "
                              f"({error})") from error
        self.quantization = quantization
        self.end_tokens = self._end_tokens()
        self.stats = TranslationStats()
        if translation_cache is False:
            self.cache = None
        else:
            path = Path(translation_cache) if translation_cache else cache_root(cache) / "translations.sqlite"
            self.cache = TranslationCache(path, self.signature())
        if self.decoding.sampling:
            ctranslate2.set_random_seed(self.decoding.seed)

    def signature(self) -> str:
        """Everything that decides a translation, sacrebleu style."""
        prompt = f"|prompt:{_short_hash(self.family.prompt_template)}" if self.family.generator else ""
        return (f"model:{self.files.fingerprint[:12]}|family:{self.family.name}|{self.src}->{self.tgt}|"
                f"q:{self.quantization}{prompt}|{self.decoding.signature()}")

    def translate(self, segments: list[str]) -> dict[str, list[str]]:
        """Segment -> hypotheses (num_hypotheses strings), for every distinct segment."""
        return self.submit(segments).collect()

    def submit(self, segments: list[str]) -> Pending:
        distinct = list(dict.fromkeys(segments))
        self.stats.segments += len(distinct)
        known = self.cache.get_many(distinct) if self.cache is not None else {}
        self.stats.cached += len(known)
        missing = [segment for segment in distinct if segment not in known]
        tokens = {segment: self.family.source_tokens(segment) for segment in missing}
        missing.sort(key=lambda segment: len(tokens[segment]))
        batches = []
        for batch in self._batches(missing, tokens):
            batch_tokens = [tokens[segment] for segment in batch]
            batches.append((batch, self._submit_batch(batch_tokens)))
            self.stats.decoded += len(batch)
            self.stats.source_tokens += sum(map(len, batch_tokens))
            self.stats.by_batch.append(len(batch))
        return Pending(self, known, batches)

    def _batches(self, ordered: list[str], tokens: dict[str, list[str]]):
        batch: list[str] = []
        longest = 0
        for segment in ordered:
            length = len(tokens[segment])
            # Padded size of the batch if this segment joins it (inputs are sorted, so it is the longest).
            if batch and max(longest, length) * (len(batch) + 1) > self.max_batch_tokens:
                yield batch
                batch, longest = [], 0
            batch.append(segment)
            longest = max(longest, length)
        if batch:
            yield batch

    def _submit_batch(self, batch_tokens: list[list[str]]):
        options = self.decoding.ctranslate2_options()
        limit = self.decoding.max_decoding_length(max(map(len, batch_tokens)))
        if self.family.generator:
            return self.model.generate_batch(batch_tokens, asynchronous=True, max_length=limit,
                                             include_prompt_in_result=False, end_token=self.end_tokens, **options)
        prefix = self.family.target_prefix()
        return self.model.translate_batch(batch_tokens, target_prefix=[prefix] * len(batch_tokens) if prefix else None,
                                          asynchronous=True, max_decoding_length=limit + len(prefix or []),
                                          max_input_length=0, **options)

    def _hypotheses(self, result) -> list[list[str]]:
        prefix = len(self.family.target_prefix() or [])
        sequences = result.sequences if self.family.generator else result.hypotheses
        return [sequence[prefix:] for sequence in sequences]

    def _end_tokens(self) -> list[str] | None:
        """A decoder-only model stops at its end-of-sequence token or at a line break."""
        if not self.family.generator:
            return None
        tokenizer = self.family.tokenizer
        ends = [tokenizer.eos_token] if tokenizer.eos_token else []
        newline = tokenizer.convert_ids_to_tokens(tokenizer.encode("\n", add_special_tokens=False))
        if len(newline) == 1:
            ends.append(newline[0])
        return ends or None

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


def _device(device: str, ctranslate2) -> str:
    if device == "auto":
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise AugkitError(f"unknown device {device!r}; choose auto, cpu or cuda")
    if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
        raise AugkitError("--device cuda: CTranslate2 sees no CUDA device")
    return device


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
