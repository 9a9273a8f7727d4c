"""Models and tokenizers: built-in tiny configurations, real checkpoints, LoRA, seeds, precision.

Every finetune command gets its model from here, so a tiny laptop run and a 3B GPU run differ
only in the `--model` argument.

    from finetune.models import load_model, save_model, LoraSettings

    # A built-in tiny model: random weights, tokenizer trained on `texts` (required for tiny-*).
    model, tokenizer = load_model("tiny-qwen2", "causal-lm", texts=corpus_texts, seed=0)
    model, tokenizer = load_model("tiny-bert", "token-classification", texts=corpus_texts,
                                  labels=["NOUN", "VERB", ...], seed=0)
    # A real checkpoint: Hugging Face id or local directory (a PEFT adapter directory is merged).
    model, tokenizer = load_model("Qwen/Qwen2.5-3B", "causal-lm", lora=LoraSettings(r=16))
    save_model(model, tokenizer, "out/model")  # merges LoRA adapters, writes safetensors

Tasks (`TASKS`): "causal-lm", "sequence-classification", "token-classification", "masked-lm".
`tiny-qwen2` supports "causal-lm" only (Qwen2ForCausalLM); `tiny-bert` supports the three encoder
tasks (BertForSequenceClassification / BertForTokenClassification / BertForMaskedLM).

Tiny tokenizers:
- tiny-qwen2: byte-level BPE like Qwen's (never an unknown token, any script decodes losslessly),
  special tokens `<|endoftext|>` (eos and pad), `<|im_start|>`, `<|im_end|>`, and Qwen's ChatML
  chat template. Embeddings and output head are untied, so the layer analysis can tell them apart.
- tiny-bert: WordPiece with BERT's pre-tokenizer (whitespace and punctuation; the Tibetan tsheg
  is punctuation, so syllables are words), `[PAD] [UNK] [CLS] [SEP] [MASK]`. The vocabulary is
  learned by `wordpiece_vocabulary` (ties in a fixed order), not by `tokenizers`' WordPieceTrainer,
  whose result varies between processes.
Both are the same bytes for the same corpus in every process, and `save_model` writes them as an
ordinary Hugging Face tokenizer directory (tokenizer.json), so everything downstream loads them with
`AutoTokenizer`.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from itertools import pairwise
from pathlib import Path
from typing import Any

from augment.errors import AugkitError

TASKS = ("causal-lm", "sequence-classification", "token-classification", "masked-lm")

QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinyQwen2:
    """Architecture of `tiny-qwen2`; override any field with `tiny={"hidden_size": 128, ...}`."""

    vocab_size: int = 1000
    hidden_size: int = 64
    intermediate_size: int = 192
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False


@dataclass(frozen=True)
class TinyBert:
    """Architecture of `tiny-bert`; override any field with `tiny={"num_hidden_layers": 4, ...}`."""

    vocab_size: int = 1000
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    max_position_embeddings: int = 512


TINY_MODELS: dict[str, type] = {"tiny-qwen2": TinyQwen2, "tiny-bert": TinyBert}
_TINY_TASKS = {"tiny-qwen2": ("causal-lm",), "tiny-bert": ("sequence-classification", "token-classification", "masked-lm")}


@dataclass(frozen=True)
class LoraSettings:
    """LoRA via peft. `target_modules`: "all-linear" or module-name suffixes such as ["q_proj", "v_proj"]."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: str | tuple[str, ...] = "all-linear"

    def to_dict(self) -> dict[str, Any]:
        return {"r": self.r, "alpha": self.alpha, "dropout": self.dropout, "target_modules": self.target_modules}


def is_tiny(name: str) -> bool:
    return str(name) in TINY_MODELS


def check_sources(model: str, tokenizer: str | None = None) -> None:
    """Fail at once, before any data is read, when the model or tokenizer argument names nothing loadable."""
    from augment.hub import locate_model

    if not is_tiny(model):
        locate_model(model)
    if tokenizer is not None:
        locate_model(tokenizer, "tokenizer")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    import transformers

    transformers.set_seed(seed)


def precision_arguments() -> dict[str, bool]:
    """`TrainingArguments` flags: bf16 where CUDA supports it, fp16 on other CUDA GPUs, fp32 on CPU."""
    import torch

    if not torch.cuda.is_available():
        return {}
    return {"bf16": True} if torch.cuda.is_bf16_supported() else {"fp16": True}


def tiny_config(name: str, overrides: dict[str, Any] | None = None):
    """The dataclass of a tiny model with overrides applied; unknown keys are an error."""
    cls = TINY_MODELS[name]
    overrides = dict(overrides or {})
    known = {f.name: f.type for f in fields(cls)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise AugkitError(f"{name}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    defaults = cls()
    typed = {}
    for key, value in overrides.items():
        kind = type(getattr(defaults, key))
        typed[key] = value.lower() in ("1", "true", "yes") if kind is bool and isinstance(value, str) else kind(value)
    return cls(**typed)


def parse_overrides(pairs: Sequence[str] | None) -> dict[str, str]:
    """CLI `--tiny hidden_size=128 --tiny num_hidden_layers=4` -> {"hidden_size": "128", ...}."""
    result = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AugkitError(f"--tiny expects KEY=VALUE, got {pair!r}")
        result[key.strip()] = value.strip()
    return result


def train_tiny_tokenizer(name: str, texts: Iterable[str], vocab_size: int = 1000):
    """A fast Hugging Face tokenizer for a tiny model, trained on `texts` (see the module docstring)."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    if name == "tiny-qwen2":
        from transformers import Qwen2Tokenizer
        from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        tokenizer = Tokenizer(models.BPE())
        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([  # Qwen2's own splitting, so reloading changes nothing
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        # Deterministic as configured: every symbol is in the sorted byte alphabet and ties go to the
        # older tokens. A continuing-subword prefix or limit_alphabet would bring hash order back.
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            min_frequency=2, show_progress=False,
        )
        tokenizer.train_from_iterator(_non_empty(texts, name), trainer=trainer)
        trained = json.loads(tokenizer.to_str())["model"]
        wrapped = Qwen2Tokenizer(
            vocab=trained["vocab"], merges=[tuple(m) if isinstance(m, list) else tuple(m.split(" "))
                                            for m in trained["merges"]],
            eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token=None,
            additional_special_tokens=["<|im_start|>", "<|im_end|>"], model_max_length=32768,
        )
        wrapped.chat_template = QWEN_CHAT_TEMPLATE
        return wrapped
    if name == "tiny-bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
        # Not trainers.WordPieceTrainer: it breaks frequency ties in hash-map order, which differs per
        # process (huggingface/tokenizers#1794), so the same corpus gave different vocabularies.
        word_counts = Counter(
            word for text in _non_empty(texts, name)
            for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(tokenizer.normalizer.normalize_str(text))
        )
        tokenizer.model = models.WordPiece(wordpiece_vocabulary(word_counts, vocab_size, specials), unk_token="[UNK]")
        cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
            sep_token="[SEP]", mask_token="[MASK]", model_max_length=512,
        )
    raise AugkitError(f"unknown tiny model {name!r}; known: {', '.join(TINY_MODELS)}")


def wordpiece_vocabulary(word_counts: dict[str, int], vocab_size: int, specials: Sequence[str] = (),
                         prefix: str = "##") -> dict[str, int]:
    """WordPiece vocabulary (token -> id) learned like `tokenizers`' trainer, with a total order on ties.

    Words are spelled as characters (`prefix` on non-initial ones); the most frequent adjacent pair
    is merged until the vocabulary has `vocab_size` tokens or no pair is left. Ties go to the pair
    whose tokens entered the vocabulary first (as in `tokenizers`), where the alphabet enters in
    sorted order, so the result depends on the counts only.
    """
    vocabulary = {token: i for i, token in enumerate(dict.fromkeys(specials))}
    spellings = [[word[0], *(prefix + c for c in word[1:])] for word in word_counts]
    frequencies = list(word_counts.values())
    for token in sorted({symbol for spelling in spellings for symbol in spelling}):
        vocabulary.setdefault(token, len(vocabulary))
    pair_counts: Counter[tuple[str, str]] = Counter()
    pair_words: dict[tuple[str, str], set[int]] = {}
    for index, (spelling, frequency) in enumerate(zip(spellings, frequencies, strict=True)):
        for pair in pairwise(spelling):
            pair_counts[pair] += frequency
            pair_words.setdefault(pair, set()).add(index)

    def entry(pair: tuple[str, str], count: int) -> tuple[int, int, int, tuple[str, str]]:
        return -count, vocabulary[pair[0]], vocabulary[pair[1]], pair

    # Min-heap of `entry`: highest count first, then the older tokens; stale entries are skipped.
    heap = [entry(pair, count) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    while len(vocabulary) < vocab_size and heap:
        negative_count, _, _, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negative_count:
            continue
        left, right = pair
        merged = left + right.removeprefix(prefix)
        vocabulary.setdefault(merged, len(vocabulary))
        changed: set[tuple[str, str]] = set()
        for index in sorted(pair_words.pop(pair)):
            spelling, frequency = spellings[index], frequencies[index]
            for old in pairwise(spelling):
                pair_counts[old] -= frequency
                changed.add(old)
            merged_spelling, position = [], 0
            while position < len(spelling):
                if position + 1 < len(spelling) and spelling[position] == left and spelling[position + 1] == right:
                    merged_spelling.append(merged)
                    position += 2
                else:
                    merged_spelling.append(spelling[position])
                    position += 1
            spellings[index] = merged_spelling
            for new in pairwise(merged_spelling):
                pair_counts[new] += frequency
                pair_words.setdefault(new, set()).add(index)
                changed.add(new)
        for changed_pair in changed:
            count = pair_counts[changed_pair]
            if count > 0:
                heapq.heappush(heap, entry(changed_pair, count))
            else:
                del pair_counts[changed_pair]
    return vocabulary


def load_model(
    name: str | Path,
    task: str = "causal-lm",
    *,
    texts: Iterable[str] | None = None,
    tokenizer=None,
    labels: Sequence[str] | None = None,
    tiny: dict[str, Any] | None = None,
    lora: LoraSettings | None = None,
    seed: int = 0,
    dtype: str = "auto",
):
    """(model, tokenizer) for `name`: a tiny configuration, a Hugging Face id or a local directory.

    - `texts`: corpus the tiny tokenizer is trained on (tiny-* only; ignored when `tokenizer` is given).
    - `tokenizer`: reuse an existing tokenizer (object or path) for a tiny model instead of training one.
    - `labels`: label names for the classification tasks (sets num_labels, id2label, label2id).
    - `tiny`: overrides of the tiny architecture (`TinyQwen2` / `TinyBert` fields).
    - `lora`: wrap the model with LoRA adapters (peft); `save_model` merges them.
    - `dtype` of loaded checkpoints: "auto" (bf16 on CUDA with bf16, else fp32), "float32", "bfloat16"
      or "float16". Full fine-tuning should load float32 and train with `precision_arguments()`
      (mixed precision keeps fp32 master weights); evaluation and LoRA can use "auto".
    The seed is applied before any weight is initialised, so tiny models are reproducible.
    """
    if task not in TASKS:
        raise AugkitError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    set_seed(seed)
    name = str(name)
    if is_tiny(name):
        model, tokenizer = _build_tiny(name, task, texts, tokenizer, labels, tiny)
    else:
        if tiny:
            raise AugkitError(f"tiny-model settings were given but {name!r} is not a tiny model")
        model, tokenizer = _load_pretrained(name, task, labels, dtype)
    if tokenizer.pad_token is None:
        # Decoder-only checkpoints often ship without a pad token; padding positions are masked anyway.
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if lora is not None:
        model = apply_lora(model, task, lora)
    return model, tokenizer


def apply_lora(model, task: str, settings: LoraSettings):
    from peft import LoraConfig, TaskType, get_peft_model

    task_type = {
        "causal-lm": TaskType.CAUSAL_LM, "sequence-classification": TaskType.SEQ_CLS,
        "token-classification": TaskType.TOKEN_CLS, "masked-lm": None,
    }[task]
    target = settings.target_modules if isinstance(settings.target_modules, str) else list(settings.target_modules)
    config = LoraConfig(
        r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout, target_modules=target,
        task_type=task_type,
    )
    try:
        return get_peft_model(model, config)
    except ValueError as error:  # peft names the modules it could not find
        raise AugkitError(f"LoRA: {error}") from error


def merge_lora(model):
    """The plain model with LoRA weights folded in (a no-op for a model without adapters)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def save_model(model, tokenizer, output_dir: str | Path, *, merge: bool = True, metadata: dict | None = None) -> Path:
    """Write a loadable Hugging Face directory: safetensors weights, config, tokenizer (with chat template).

    With `merge` (default) LoRA adapters are merged so the result is a full model; without it a peft
    model is saved as an adapter directory (which `load_model` merges on load). `metadata` is written
    to `augkit.json` beside the weights (what trained it, on what, with which settings).
    """
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    if merge:
        model = merge_lora(model)
    model.save_pretrained(output, safe_serialization=True)
    tokenizer.save_pretrained(output)
    if metadata is not None:
        (output / "augkit.json").write_text(json.dumps(metadata, indent=2, ensure_ascii=False, default=str) + "\n")
    return output


def auto_class(task: str):
    import transformers

    return {
        "causal-lm": transformers.AutoModelForCausalLM,
        "sequence-classification": transformers.AutoModelForSequenceClassification,
        "token-classification": transformers.AutoModelForTokenClassification,
        "masked-lm": transformers.AutoModelForMaskedLM,
    }[task]


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass
class _Labels:
    names: list[str] = field(default_factory=list)

    def config_kwargs(self) -> dict[str, Any]:
        if not self.names:
            return {}
        return {
            "id2label": dict(enumerate(self.names)),
            "label2id": {name: i for i, name in enumerate(self.names)},
        }


def _non_empty(texts: Iterable[str] | None, name: str):
    if texts is None:
        raise AugkitError(f"{name} trains its tokenizer on the training data; no texts were given")
    count = 0
    for text in texts:
        if text:
            count += 1
            yield text
    if count == 0:
        raise AugkitError(f"{name}: the tokenizer corpus is empty")


def _build_tiny(name, task, texts, tokenizer, labels, overrides):
    from transformers import AutoTokenizer, BertConfig, Qwen2Config

    if task not in _TINY_TASKS[name]:
        raise AugkitError(f"{name} does not support task {task!r}; it supports {', '.join(_TINY_TASKS[name])}")
    architecture = tiny_config(name, overrides)
    if tokenizer is None:
        tokenizer = train_tiny_tokenizer(name, texts, architecture.vocab_size)
    elif isinstance(tokenizer, (str, Path)):
        from augment.hub import locate_model

        tokenizer = AutoTokenizer.from_pretrained(str(locate_model(tokenizer, "tokenizer")))
    settings = {f.name: getattr(architecture, f.name) for f in fields(architecture)}
    settings["vocab_size"] = len(tokenizer)  # the trained vocabulary may be smaller than asked for
    label_kwargs = _Labels(list(labels or [])).config_kwargs()
    if name == "tiny-qwen2":
        eos = tokenizer.eos_token_id  # <|endoftext|> for the trained tokenizer; </s> for a sentencepiece one
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        config = Qwen2Config(**settings, bos_token_id=eos, eos_token_id=eos, pad_token_id=pad)
    else:
        config = BertConfig(**settings, pad_token_id=tokenizer.pad_token_id, **label_kwargs)
    model = auto_class(task).from_config(config)
    return model, tokenizer


def _load_pretrained(name: str, task: str, labels, dtype: str):
    from transformers import AutoTokenizer

    from augment.hub import locate_model

    name = str(locate_model(name))  # a missing path or an unreachable hub fails here, in one line
    path = Path(name)
    torch_dtype = _resolve_dtype(dtype)
    label_kwargs = _Labels(list(labels or [])).config_kwargs()
    if label_kwargs:
        # A classifier head trained on other labels (a previous cascade stage) is replaced, not reused.
        label_kwargs["ignore_mismatched_sizes"] = True
    try:
        if (path / "adapter_config.json").is_file():
            from peft import PeftConfig, PeftModel

            base_name = str(locate_model(PeftConfig.from_pretrained(name).base_model_name_or_path))
            base = auto_class(task).from_pretrained(base_name, dtype=torch_dtype, **label_kwargs)
            model = PeftModel.from_pretrained(base, name).merge_and_unload()
            tokenizer_source = name if (path / "tokenizer_config.json").is_file() else base_name
        else:
            model = auto_class(task).from_pretrained(name, dtype=torch_dtype, **label_kwargs)
            tokenizer_source = name
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    except OSError as error:
        raise AugkitError(f"cannot load model {name!r}: {str(error).splitlines()[0]}") from error
    return model, tokenizer


def _resolve_dtype(dtype: str):
    import torch

    if dtype == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError as error:
        raise AugkitError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16") from error
