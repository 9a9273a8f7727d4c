"""Supervised fine-tuning (SFT) on prompt/response or chat `messages` records; loss on the response only.

`augkit sft --model M --data D [--config finetune/configs/sft_tiny.yaml]`. The recipe reads top to
bottom: data -> model -> encoded conversations -> Trainer -> save + report.

Formatting: the model's own chat template when its tokenizer has one (tiny-qwen2 and Qwen use
ChatML); otherwise `DEFAULT_TEMPLATE`:

    <|user|>
    {prompt}
    <|assistant|>
    {response}<eos>

(`<|user|>` / `<|assistant|>` are plain text there, one marker per role, `<|system|>` too).
Everything up to and including the assistant header is the prompt: its labels are -100, so only
the final assistant turn (and the end-of-turn marker) is trained. In multi-turn records earlier
assistant turns are context, not targets.

Packing (`packing: true`, the default): padding-free batches. The examples of a batch are
concatenated into one row whose position ids restart at 0 for each example, with a block-diagonal
causal mask (sdpa/eager) or the sequence bounds of variable-length kernels (flash attention), so no
example attends to another whatever the model's config says about its cache
(tests/test_finetune_lm.py runs a packed batch through the saved model and checks the logits).
Examples longer than `block_size` are not truncated silently: they are dropped, counted in the
report and written with their reason to `<output>/sft_dropped.jsonl`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from finetune.recipe import TrainConfig

DEFAULT_TEMPLATE = "<|{role}|>\n{content}\n"


def render(tokenizer, messages: list[dict[str, str]]) -> tuple[str, str]:
    """(prompt text, completion text) of a conversation whose last message is the assistant's."""
    context, answer = messages[:-1], messages[-1]
    if tokenizer.chat_template:
        prompt = tokenizer.apply_chat_template(context, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        if not full.startswith(prompt):
            from augment.errors import AugkitError

            raise AugkitError("the chat template renders the prompt differently inside the full conversation; "
                              "cannot separate prompt from response")
        return prompt, full[len(prompt):]
    prompt = "".join(DEFAULT_TEMPLATE.format(**m) for m in context) + "<|assistant|>\n"
    return prompt, answer["content"] + (tokenizer.eos_token or "")


def generation_prompt(tokenizer, prompt: str) -> str:
    """The text a model is given to answer `prompt` (used by `augkit evaluate` for translation)."""
    return render(tokenizer, [{"role": "user", "content": prompt}, {"role": "assistant", "content": ""}])[0]


def stop_token_ids(tokenizer) -> list[int]:
    """End-of-sequence ids for generation: eos plus the chat template's end-of-turn marker."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in tokenizer.get_vocab() else None
    return ids + ([end_of_turn] if end_of_turn is not None and end_of_turn not in ids else [])


def encode(tokenizer, messages: list[dict[str, str]]) -> dict[str, list[int]]:
    """input_ids and labels of one conversation; prompt positions are labelled -100."""
    from finetune.data import IGNORE_INDEX

    prompt, completion = render(tokenizer, messages)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    return {"input_ids": prompt_ids + completion_ids, "labels": [IGNORE_INDEX] * len(prompt_ids) + completion_ids}


PACKABLE_ATTENTION = ("sdpa", "eager")  # given a block-diagonal 4D mask; flash attention takes sequence bounds


def collator(tokenizer, packing: bool, model):
    """Padding-free packing (`PackedCollator` for `model`), or right padding."""
    from finetune.data import pad_batch

    if packing:
        return PackedCollator(model)
    return lambda examples: pad_batch(
        [{**e, "attention_mask": [1] * len(e["input_ids"])} for e in examples], tokenizer.pad_token_id)


class PackedCollator:
    """The examples of a batch in one row, each with its own positions and attention kept to itself.

    Position ids restart at 0 for every example. They alone separate the examples only while the
    model runs without a cache (transformers ignores them for masking once a cache exists, and a
    saved model has `use_cache=True`), so the batch also carries the separation explicitly:
    sequence bounds (`cu_seq_lens_*`) for flash attention, a block-diagonal causal 4D mask for
    sdpa (boolean) and eager (additive, in the model's dtype) attention.
    """

    def __init__(self, model):
        from transformers import DataCollatorWithFlattening

        from augment.errors import AugkitError

        self.implementation = getattr(model.config, "_attn_implementation", None) or "eager"
        self.flash = "flash" in self.implementation
        if not self.flash and self.implementation not in PACKABLE_ATTENTION:
            raise AugkitError(f"packing needs sdpa, eager or flash attention, not {self.implementation!r}; "
                              "use --no-packing")
        self.additive_dtype = model.dtype if self.implementation == "eager" else None
        self.flatten = DataCollatorWithFlattening(return_position_ids=True, return_flash_attn_kwargs=self.flash)

    def __call__(self, examples):
        batch = self.flatten(examples)
        if not self.flash:
            batch["attention_mask"] = block_causal_mask(batch["position_ids"], self.additive_dtype)
        return batch


def block_causal_mask(position_ids, additive_dtype=None):
    """(1, 1, L, L) mask of a packed row: a token sees the earlier tokens of its own example only.

    Examples start where the position ids restart at 0. Boolean (True = attend), or with
    `additive_dtype` 0 / the dtype's minimum, as eager attention adds it to the scores.
    """
    import torch

    example = (position_ids[0] == 0).cumsum(0)
    causal = torch.ones(len(example), len(example), dtype=torch.bool).tril()
    allowed = (causal & (example[:, None] == example[None, :]))[None, None]
    if additive_dtype is None:
        return allowed
    return torch.zeros(allowed.shape, dtype=additive_dtype).masked_fill(~allowed, torch.finfo(additive_dtype).min)


def run(config: TrainConfig) -> dict[str, Any]:
    from transformers import Trainer

    from finetune import data, models, recipe

    models.check_sources(config.model, config.tokenizer)  # a typo fails before the data is read

    # 1. Data: conversations; unless an eval set is given, whole documents are held out and no prompt or
    #    response text is on both sides (in either field: the two directions of a pair count).
    records = data.load_records(config.data, txt_unit=config.txt_unit)
    if config.eval_data:
        train_records, eval_records = records, data.load_records(config.eval_data, txt_unit=config.txt_unit)
    else:
        train_records, eval_records = data.split_heldout(
            records, config.heldout_fraction, config.seed,
            text_fields=(config.prompt_field, config.response_field, "messages"))
    fields = {"prompt_field": config.prompt_field, "response_field": config.response_field,
              "prompt_template": config.prompt_template}
    train_conversations = data.conversations_of(train_records, **fields)
    eval_conversations = data.conversations_of(eval_records, **fields)

    # 2. Model and tokenizer (a tiny model trains its tokenizer on every message of the training set).
    output = Path(config.output)
    tokenizer_source = str(output) if config.resume and models.is_tiny(config.model) else config.tokenizer
    model, tokenizer = models.load_model(
        config.model, "causal-lm", texts=(m["content"] for c in train_conversations for m in c),
        tokenizer=tokenizer_source, tiny=config.tiny, lora=recipe.lora_settings(config), seed=config.seed,
        dtype=config.dtype,
    )
    output.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(output)

    # 3. Encode; over-long examples are dropped with a reason, never truncated silently.
    dropped = []
    train_examples, eval_examples = [], []
    for conversations, examples, split in ((train_conversations, train_examples, "train"),
                                           (eval_conversations, eval_examples, "eval")):
        for messages in conversations:
            example = encode(tokenizer, messages)
            if len(example["input_ids"]) > config.block_size:
                dropped.append({"split": split, "reason": "longer_than_block_size",
                                "tokens": len(example["input_ids"]), "messages": messages})
            else:
                examples.append(example)
    dropped_path = output / "sft_dropped.jsonl"
    dropped_path.unlink(missing_ok=True)  # a file from an earlier run would misreport this one
    if dropped:
        with open(dropped_path, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in dropped)
    eval_examples = data.evenly(eval_examples, config.eval_limit)
    if not train_examples or not eval_examples:
        from augment.errors import AugkitError

        raise AugkitError(f"no SFT examples fit block_size {config.block_size} ({len(dropped)} dropped)")

    # 4. Train (no cache: nothing is generated, and a cache costs memory).
    model.config.use_cache = False
    trainer = Trainer(
        model=model,
        args=recipe.training_arguments(config, len(train_examples)),
        train_dataset=train_examples,
        eval_dataset=eval_examples,
        data_collator=collator(tokenizer, config.packing, model),
        processing_class=tokenizer,
        callbacks=recipe.callbacks(config),
    )
    train_metrics = trainer.train(resume_from_checkpoint=recipe.resume_checkpoint(config)).metrics
    history = recipe.eval_history(trainer)  # before the final evaluation, which would repeat the last step
    final_eval = trainer.evaluate()
    trainer.model.config.use_cache = True

    # 5. Save and report.
    response_tokens = sum(sum(1 for label in e["labels"] if label != data.IGNORE_INDEX) for e in train_examples)
    report = {
        "command": "sft",
        "model": config.model,
        "parameters": models.count_parameters(model),
        "template": "chat_template" if tokenizer.chat_template else "augkit default",
        "train_examples": len(train_examples),
        "eval_examples": len(eval_examples),
        "dropped": len(dropped),
        "response_tokens_per_epoch": response_tokens,
        "steps": trainer.state.global_step,
        "train_seconds": round(train_metrics["train_runtime"], 3),
        "eval_loss_before": history[0]["eval_loss"] if history else None,
        "eval_loss_after": final_eval["eval_loss"],
        "eval_perplexity_after": math.exp(min(final_eval["eval_loss"], 50.0)),
        "eval_history": history,
        "config": config.to_dict(),
    }
    models.save_model(trainer.model, tokenizer, output, metadata={"trained_by": "augkit sft", **report})
    (output / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def summary(report: dict[str, Any]) -> str:
    before, after = report["eval_loss_before"], report["eval_loss_after"]
    change = f"{before:.4f} -> {after:.4f}" if before is not None else f"{after:.4f}"
    return (f"sft: {report['train_examples']} examples ({report['dropped']} dropped, too long), "
            f"{report['steps']} steps, template: {report['template']}; held-out response loss {change}; "
            f"model and report.json in {report['config']['output']}")
