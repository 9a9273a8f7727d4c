"""Continual pre-training (CPT): causal-LM training on plain text with sequence packing.

`augkit cpt --model M --data D [--config finetune/configs/cpt_tiny.yaml]`. The recipe reads top to
bottom: data -> model -> packed blocks -> Trainer -> save + report. Writes to `output`:
the model (safetensors, tokenizer, chat template), `checkpoints/`, and `report.json` (held-out loss
before/after and at every evaluation, packing statistics, tokens/s, parameters, the config).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from finetune.recipe import TrainConfig


def run(config: TrainConfig) -> dict[str, Any]:
    from transformers import Trainer, default_data_collator

    from finetune import data, models, recipe

    models.check_sources(config.model, config.tokenizer)  # a typo fails before the data is read

    # 1. Data: training texts and held-out texts (whole documents, no text on both sides) unless an eval
    #    set is given.
    records = data.load_records(config.data, txt_unit=config.txt_unit)
    if config.eval_data:
        train_records, eval_records = records, data.load_records(config.eval_data, txt_unit=config.txt_unit)
    else:
        train_records, eval_records = data.split_heldout(records, config.heldout_fraction, config.seed,
                                                         text_fields=(config.text_field,))
    train_texts = data.texts_of(train_records, config.text_field)
    eval_texts = data.texts_of(eval_records, config.text_field)

    # 2. Model and tokenizer (a tiny model trains its tokenizer on the training texts; a resumed
    #    run reuses the tokenizer it saved, so token ids match the checkpoint).
    output = Path(config.output)
    tokenizer_source = config.tokenizer
    if config.resume and models.is_tiny(config.model):
        tokenizer_source = str(output)
    model, tokenizer = models.load_model(
        config.model, "causal-lm", texts=train_texts, tokenizer=tokenizer_source, tiny=config.tiny,
        lora=recipe.lora_settings(config), seed=config.seed, dtype=config.dtype,
    )
    output.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(output)

    # 3. Packed blocks: only the final block of each set carries padding.
    max_positions = getattr(model.config, "max_position_embeddings", None)
    if max_positions is not None and config.block_size > max_positions:
        from augment.errors import AugkitError

        raise AugkitError(f"block size {config.block_size} exceeds the model's {max_positions} positions")
    train_blocks, packing = data.pack_blocks(tokenizer, train_texts, config.block_size)
    eval_blocks = data.evenly(data.pack_blocks(tokenizer, eval_texts, config.block_size)[0], config.eval_limit)

    # 4. Train: schedule with warm-up, held-out evaluation every `eval_every` steps, checkpoints,
    #    optional early stopping and resume.
    trainer = Trainer(
        model=model,
        args=recipe.training_arguments(config, len(train_blocks)),
        train_dataset=train_blocks,
        eval_dataset=eval_blocks,
        data_collator=default_data_collator,
        processing_class=tokenizer,
        callbacks=recipe.callbacks(config),
    )
    if config.gradient_checkpointing:
        model.config.use_cache = False
    checkpoint = recipe.resume_checkpoint(config)
    train_metrics = trainer.train(resume_from_checkpoint=checkpoint).metrics
    history = recipe.eval_history(trainer)  # before the final evaluation, which would repeat the last step
    final_eval = trainer.evaluate()

    # 5. Save the (LoRA-merged) model and the report.
    tokens_per_step = config.batch_size * config.gradient_accumulation * config.block_size
    tokens_seen = trainer.state.global_step * tokens_per_step
    steps_this_run = trainer.state.global_step - recipe.checkpoint_step(checkpoint)
    report = {
        "command": "cpt",
        "model": config.model,
        "parameters": models.count_parameters(model),
        "packing": packing.to_dict(),
        "eval_blocks": len(eval_blocks),
        "steps": trainer.state.global_step,
        "tokens_trained": tokens_seen,
        "train_seconds": round(train_metrics["train_runtime"], 3),
        "tokens_per_second": round(steps_this_run * tokens_per_step / max(train_metrics["train_runtime"], 1e-9), 1),
        "eval_loss_before": history[0]["eval_loss"] if history else None,
        "eval_loss_after": final_eval["eval_loss"],
        "eval_perplexity_after": math.exp(min(final_eval["eval_loss"], 50.0)),
        "eval_history": history,
        "config": config.to_dict(),
    }
    models.save_model(trainer.model, tokenizer, output, metadata={"trained_by": "augkit cpt", **report})
    (output / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def summary(report: dict[str, Any]) -> str:
    before, after = report["eval_loss_before"], report["eval_loss_after"]
    change = f"{before:.4f} -> {after:.4f}" if before is not None else f"{after:.4f}"
    return (
        f"cpt: {report['steps']} steps, {report['tokens_trained']:,} tokens "
        f"({report['tokens_per_second']:,.0f} tokens/s), packing {report['packing']['non_padding_fraction']:.2%} "
        f"non-padding; held-out loss {change}; model and report.json in {report['config']['output']}"
    )
