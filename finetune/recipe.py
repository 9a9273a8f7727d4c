"""What the training recipes (cpt, sft, adapt) share: the config, its YAML loading, Trainer settings.

A config is a YAML file (see finetune/configs/) whose keys are the fields of `TrainConfig`; command
line options override it. Every key is used visibly in finetune/cpt.py or finetune/sft.py.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment.errors import AugkitError


@dataclass
class TrainConfig:
    # What to train, on what, where to write it.
    model: str = "tiny-qwen2"
    data: str = ""
    eval_data: str | None = None  # None: hold out `heldout_fraction` of `data` (data.split_heldout)
    output: str = "out/model"
    heldout_fraction: float = 0.05
    text_field: str = "text"  # CPT
    txt_unit: str = "line"  # .txt inputs: one text per line, or "paragraph" (blank-line separated)
    prompt_field: str = "prompt"  # SFT
    response_field: str = "response"  # SFT
    prompt_template: str = "{prompt}"  # SFT: wording around prompt/response prompts, e.g. "Translate: {prompt}"
    # Model options.
    tokenizer: str | None = None  # tiny models: reuse this tokenizer directory instead of training one
    tiny: dict[str, Any] = field(default_factory=dict)  # tiny architecture overrides (finetune.models)
    lora: dict[str, Any] | None = None  # {r, alpha, dropout, target_modules}; None: full fine-tuning
    dtype: str = "float32"  # weights; mixed precision (bf16/fp16) is switched on automatically on CUDA
    seed: int = 0
    # Data shape.
    block_size: int = 256  # CPT: packed block length; SFT: maximum example length
    packing: bool = True  # SFT: padding-free batches with per-example positions (no cross-example attention)
    # Optimisation.
    batch_size: int = 8
    gradient_accumulation: int = 1
    learning_rate: float = 1e-3
    schedule: str = "cosine"  # cosine | linear | constant
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_steps: int = 200  # -1: train for `epochs`
    epochs: float = 1.0
    gradient_checkpointing: bool = False
    # Evaluation, early stopping, checkpoints.
    eval_every: int = 50
    eval_batch_size: int = 8
    eval_limit: int | None = None  # at most this many held-out blocks (CPT) / examples (SFT), spread evenly
    early_stopping_patience: int | None = None  # evaluations without improvement before stopping
    save_total_limit: int = 2
    resume: bool = False  # continue from the last checkpoint in <output>/checkpoints
    logging_steps: int = 10

    @classmethod
    def load(cls, path: str | Path | None, overrides: dict[str, Any] | None = None, section: str | None = None):
        """Config from YAML (optionally one `section` of it, over its top-level keys) plus overrides."""
        values: dict[str, Any] = {}
        if path is not None:
            values = read_yaml(path)
            if section is not None:
                shared = {k: v for k, v in values.items() if not isinstance(v, dict) or k in ("tiny", "lora")}
                values = {**shared, **(values.get(section) or {})}
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        if "tiny" in overrides:  # --tiny KEY=VALUE adjusts the config's architecture, key by key
            overrides["tiny"] = {**(values.get("tiny") or {}), **overrides["tiny"]}
        values.update(overrides)
        values.setdefault("output", f"out/{section or 'model'}")  # cpt and sft never share a default folder
        known = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known) - {"cpt", "sft"})
        if unknown:
            raise AugkitError(f"{path or 'config'}: unknown key(s) {', '.join(unknown)}")
        for key, value in values.items():
            # YAML reads 2e-4 (no dot) as a string; numbers are numbers whatever their spelling.
            if known.get(key) in ("float", "int") and isinstance(value, str):
                try:
                    values[key] = float(value) if known[key] == "float" else int(value)
                except ValueError:
                    raise AugkitError(f"{path or 'config'}: {key} must be a number, got {value!r}") from None
        config = cls(**{k: v for k, v in values.items() if k in known})
        if not config.data:
            raise AugkitError(f"{path or 'config'}: no training data (`data` / --data)")
        if config.schedule not in ("cosine", "linear", "constant"):
            raise AugkitError(f"unknown schedule {config.schedule!r}; use cosine, linear or constant")
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise AugkitError(f"{path}: config file not found") from None
    except yaml.YAMLError as error:
        raise AugkitError(f"{path}: invalid YAML: {error}") from None
    if not isinstance(values, dict):
        raise AugkitError(f"{path}: expected a mapping of config keys")
    return values


def lora_settings(config: TrainConfig):
    from finetune.models import LoraSettings

    if config.lora is None:
        return None
    settings = dict(config.lora)
    if isinstance(settings.get("target_modules"), list):
        settings["target_modules"] = tuple(settings["target_modules"])
    try:
        return LoraSettings(**settings)
    except TypeError as error:
        raise AugkitError(f"lora: {error}") from None


def training_arguments(config: TrainConfig, train_examples: int):
    """`TrainingArguments` from the config: schedule, warm-up, evaluation, checkpoints, precision."""
    import torch
    from transformers import TrainingArguments

    from finetune.models import precision_arguments

    steps_per_epoch = max(1, math.ceil(train_examples / (config.batch_size * config.gradient_accumulation)))
    total_steps = config.max_steps if config.max_steps > 0 else math.ceil(steps_per_epoch * config.epochs)
    eval_every = max(1, min(config.eval_every, total_steps))
    # transformers 5.20 renamed gradient_checkpointing; pass whichever the installed release takes.
    names = {field.name for field in dataclasses.fields(TrainingArguments)}
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return TrainingArguments(
        output_dir=str(Path(config.output) / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.schedule if config.schedule != "constant" else "constant_with_warmup",
        warmup_steps=int(config.warmup_ratio * total_steps),
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        max_steps=total_steps,
        **{checkpointing: config.gradient_checkpointing},
        eval_strategy="steps",
        eval_steps=eval_every,
        eval_on_start=True,  # the held-out loss before training is the baseline of the report
        save_strategy="steps",
        save_steps=eval_every,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=config.early_stopping_patience is not None,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=config.logging_steps,
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        **precision_arguments(),
    )


def callbacks(config: TrainConfig) -> list:
    from transformers import EarlyStoppingCallback

    if config.early_stopping_patience is None:
        return []
    return [EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)]


def resume_checkpoint(config: TrainConfig) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not config.resume:
        return None
    directory = Path(config.output) / "checkpoints"
    last = get_last_checkpoint(str(directory)) if directory.is_dir() else None
    if last is None:
        raise AugkitError(f"--resume: no checkpoint in {directory}")
    return last


def checkpoint_step(checkpoint: str | None) -> int:
    """The global step a run resumed from (0 for a fresh run): `.../checkpoint-600` -> 600."""
    return int(checkpoint.rsplit("-", 1)[1]) if checkpoint else 0


def eval_history(trainer) -> list[dict[str, float]]:
    return [{"step": entry["step"], "eval_loss": entry["eval_loss"]}
            for entry in trainer.state.log_history if "eval_loss" in entry]

