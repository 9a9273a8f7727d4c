"""Layer-wise analysis: which weights did adaptation change, and by how much?

`augkit layers --base B --adapted A --output DIR`

For every tensor present in both models: the relative change ||A-B|| / ||B|| (Frobenius), the
cosine similarity of A and B, and its share of the total change, defined on squared norms
(||A-B||^2 / sum over all tensors), so shares add up to 100% and group sums are meaningful.
Tensors are grouped by module type (embedding, attn_q/k/v/o, mlp_gate/up/down, norm, lm_head,
other) and by depth (the layer index in the name). Outputs: `layers.csv` (one row per tensor),
`layers_summary.json`, `layers_heatmap.png` (module type x depth, relative change),
`layers_depth.png` (relative change per depth, one line per module type) and `layers_summary.txt`
(where change concentrates), which the command also prints.

Memory: tensors are streamed one pair at a time from the safetensors files (sharded or not), so
models too large to hold twice still work. A LoRA adapter directory as `--adapted` is merged on
the fly: each target tensor becomes B + (alpha/r) * lora_B @ lora_A as it is read. When the
vocabulary was resized (tokenizer extension), embeddings and output head are compared on their
common rows and the resize is reported.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augment.errors import AugkitError

MODULE_TYPES = ("embedding", "attn_q", "attn_k", "attn_v", "attn_o", "mlp_gate", "mlp_up", "mlp_down", "norm",
                "lm_head", "other")

# Order matters: the first matching pattern names the module type (Qwen/Llama, BERT, GPT-2 names).
_PATTERNS = [
    ("lm_head", r"(^|\.)lm_head\.|cls\.predictions\.(decoder|bias)|output_projection"),
    ("embedding", r"embed_tokens|word_embeddings|position_embeddings|token_type_embeddings|(^|\.)wte\.|(^|\.)wpe\."),
    ("norm", r"norm|LayerNorm|(^|\.)ln_"),
    ("attn_q", r"q_proj|attention\.self\.query"),
    ("attn_k", r"k_proj|attention\.self\.key"),
    ("attn_v", r"v_proj|attention\.self\.value"),
    ("attn_o", r"o_proj|attention\.output\.dense|attn\.c_proj"),
    ("mlp_gate", r"gate_proj"),
    ("mlp_up", r"up_proj|intermediate\.dense|mlp\.c_fc"),
    ("mlp_down", r"down_proj|(layer\.\d+\.)output\.dense|mlp\.c_proj"),
]
_DEPTH = re.compile(r"\.(?:layers|layer|h|blocks)\.(\d+)\.")


def module_type(name: str) -> str:
    for kind, pattern in _PATTERNS:
        if re.search(pattern, name):
            return kind
    return "other"


def depth_of(name: str) -> int | None:
    match = _DEPTH.search(name)
    return int(match.group(1)) if match else None


class TensorSource:
    """Read-only access to a model's tensors by name, one at a time, from its safetensors files."""

    def __init__(self, location: str | Path):
        directory = _local_directory(location)
        files = sorted(directory.glob("*.safetensors"))
        if not files:
            raise AugkitError(f"{location}: no .safetensors weights (save the model with safetensors)")
        from safetensors import safe_open

        self.directory = directory
        self.lora = None
        self.key_file: dict[str, Path] = {}
        for file in files:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    self.key_file[key] = file

    def names(self) -> list[str]:
        return list(self.key_file)

    def get(self, name: str):
        from safetensors import safe_open

        with safe_open(str(self.key_file[name]), framework="pt") as handle:
            return handle.get_tensor(name)


class MergedLoraSource:
    """A base model's tensors with a LoRA adapter folded in, computed tensor by tensor."""

    def __init__(self, base: TensorSource, adapter_dir: Path):
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
        self.base = base
        self.scale = config["lora_alpha"] / config["r"]
        self.adapter = TensorSource(adapter_dir)
        self.pairs: dict[str, tuple[str, str]] = {}
        for key in self.adapter.names():
            if ".lora_A." in key:
                target = re.sub(r"^base_model\.model\.", "", key).replace(".lora_A.", ".")
                target = re.sub(r"\.lora_A\.[^.]+\.weight$", ".weight", target)
                self.pairs[target] = (key, key.replace(".lora_A.", ".lora_B."))
        missing = sorted(set(self.pairs) - set(base.names()))
        if missing:
            raise AugkitError(f"{adapter_dir}: adapter targets tensors the base does not have, e.g. {missing[0]}")

    def names(self) -> list[str]:
        return self.base.names()

    def get(self, name: str):
        tensor = self.base.get(name)
        if name not in self.pairs:
            return tensor
        key_a, key_b = self.pairs[name]
        delta = self.adapter.get(key_b).float() @ self.adapter.get(key_a).float()
        return (tensor.float() + self.scale * delta).to(tensor.dtype)


def _local_directory(location: str | Path) -> Path:
    from augment.hub import locate_model

    path = locate_model(location)
    if isinstance(path, Path):
        if not path.is_dir():
            raise AugkitError(f"{location}: not a model directory")
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(location), allow_patterns=["*.safetensors", "*.json"]))
    except Exception as error:  # hub errors come in many types; all mean "cannot get this model"
        raise AugkitError(f"cannot fetch {location!r} from the Hugging Face Hub: {error}") from error


def open_model(location: str | Path, base: TensorSource | None = None):
    directory = _local_directory(location)
    if (directory / "adapter_config.json").is_file():
        if base is None:
            raise AugkitError(f"{location} is a LoRA adapter; give its base model as --base")
        return MergedLoraSource(base, directory)
    return TensorSource(directory)


@dataclass
class TensorChange:
    name: str
    module: str
    depth: int | None
    shape: tuple[int, ...]
    base_norm: float
    diff_norm: float
    cosine: float
    note: str = ""
    share: float = 0.0

    @property
    def relative_change(self) -> float:
        return self.diff_norm / self.base_norm if self.base_norm > 0 else math.inf if self.diff_norm else 0.0


def compare(base_location: str | Path, adapted_location: str | Path) -> tuple[list[TensorChange], dict[str, Any]]:
    """Per-tensor changes, streamed; plus the names found in only one model."""
    import torch

    base = open_model(base_location)
    adapted = open_model(adapted_location, base)
    base_names, adapted_names = set(base.names()), set(adapted.names())
    changes = []
    for name in base.names():
        if name not in adapted_names:
            continue
        b, a = base.get(name).float(), adapted.get(name).float()
        note = ""
        if b.shape != a.shape:
            if b.dim() == a.dim() and b.shape[1:] == a.shape[1:]:
                rows = min(b.shape[0], a.shape[0])
                note = f"resized {b.shape[0]} -> {a.shape[0]} rows; compared the first {rows}"
                b, a = b[:rows], a[:rows]
            else:
                note = f"shape {tuple(b.shape)} -> {tuple(a.shape)}; not comparable"
                changes.append(TensorChange(name, module_type(name), depth_of(name), tuple(b.shape),
                                            float("nan"), float("nan"), float("nan"), note))
                continue
        base_norm, adapted_norm = torch.linalg.vector_norm(b).item(), torch.linalg.vector_norm(a).item()
        diff_norm = torch.linalg.vector_norm(a - b).item()
        dot = torch.dot(a.reshape(-1), b.reshape(-1)).item()
        cosine = dot / (base_norm * adapted_norm) if base_norm > 0 and adapted_norm > 0 else float("nan")
        changes.append(TensorChange(name, module_type(name), depth_of(name), tuple(b.shape), base_norm, diff_norm,
                                    cosine, note))
    total = sum(c.diff_norm ** 2 for c in changes if not math.isnan(c.diff_norm))
    for change in changes:
        change.share = change.diff_norm ** 2 / total if total > 0 and not math.isnan(change.diff_norm) else 0.0
    unmatched = {"only_in_base": sorted(base_names - adapted_names),
                 "only_in_adapted": sorted(adapted_names - base_names)}
    return changes, unmatched


def group(changes: list[TensorChange]) -> dict[str, Any]:
    """Share of the total change and mean relative change, per module type and per depth."""
    by_module: dict[str, list[TensorChange]] = defaultdict(list)
    by_depth: dict[int, list[TensorChange]] = defaultdict(list)
    cells: dict[tuple[str, int], list[TensorChange]] = defaultdict(list)
    for change in changes:
        if math.isnan(change.diff_norm):
            continue
        by_module[change.module].append(change)
        if change.depth is not None:
            by_depth[change.depth].append(change)
            cells[(change.module, change.depth)].append(change)

    def summary(items):
        # Group relative change: ||A-B|| / ||B|| over the group's tensors taken together.
        base = math.sqrt(sum(c.base_norm ** 2 for c in items))
        diff = math.sqrt(sum(c.diff_norm ** 2 for c in items))
        return {"tensors": len(items), "share": sum(c.share for c in items),
                "relative_change": diff / base if base else 0.0}

    return {
        "by_module": {m: summary(by_module[m]) for m in MODULE_TYPES if m in by_module},
        "by_depth": {d: summary(by_depth[d]) for d in sorted(by_depth)},
        "by_module_and_depth": {f"{m}@{d}": summary(items) for (m, d), items in sorted(cells.items())},
    }


def text_summary(changes: list[TensorChange], groups: dict[str, Any], unmatched: dict[str, list[str]]) -> str:
    ranked = sorted(groups["by_module"].items(), key=lambda item: -item[1]["share"])
    lines = [f"{len(changes)} tensors compared."]
    lines.append("Share of total change by module type: " + ", ".join(
        f"{name} {info['share']:.1%}" for name, info in ranked if info["share"] >= 0.005))
    outer = sum(groups["by_module"].get(m, {}).get("share", 0.0) for m in ("embedding", "lm_head"))
    lines.append(f"Embeddings and output head together: {outer:.1%} of the total change.")
    if groups["by_depth"]:
        depth, info = max(groups["by_depth"].items(), key=lambda item: item[1]["relative_change"])
        lines.append(f"Largest relative change among layers at depth {depth} ({info['relative_change']:.3g}).")
        inner = {k: v for k, v in groups["by_module_and_depth"].items() if not k.startswith(("norm", "other"))}
        if inner:
            cell, cell_info = max(inner.items(), key=lambda item: item[1]["relative_change"])
            module, _, cell_depth = cell.partition("@")
            lines.append(f"Most changed projection: {module} at depth {cell_depth} "
                         f"(relative change {cell_info['relative_change']:.3g}).")
    # Matrices only: biases and norm vectors have small norms, so their relative change says little.
    matrices = [c for c in changes if len(c.shape) >= 2 and not math.isnan(c.diff_norm)]
    top = sorted(matrices, key=lambda c: -c.relative_change)[:5]
    lines.append("Largest relative changes (matrices): " + ", ".join(f"{c.name} ({c.relative_change:.3g})" for c in top))
    resized = [c for c in changes if c.note]
    lines.extend(f"Note: {c.name}: {c.note}" for c in resized)
    for key, names in unmatched.items():
        if names:
            lines.append(f"{len(names)} tensor(s) {key.replace('_', ' ')}, e.g. {names[0]}")
    return "\n".join(lines) + "\n"


def write_outputs(changes, groups, unmatched, summary: str, output: str | Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in
             ("layers.csv", "layers_summary.json", "layers_summary.txt", "layers_heatmap.png", "layers_depth.png")}
    with open(paths["layers.csv"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tensor", "module", "depth", "shape", "base_norm", "diff_norm", "relative_change",
                         "cosine", "share", "note"])
        for c in changes:
            writer.writerow([c.name, c.module, "" if c.depth is None else c.depth, "x".join(map(str, c.shape)),
                             f"{c.base_norm:.6g}", f"{c.diff_norm:.6g}", f"{c.relative_change:.6g}",
                             f"{c.cosine:.6g}", f"{c.share:.6g}", c.note])
    paths["layers_summary.json"].write_text(json.dumps({**groups, **unmatched}, indent=2) + "\n")
    paths["layers_summary.txt"].write_text(summary, encoding="utf-8")

    depths = sorted(groups["by_depth"])
    modules = [m for m in MODULE_TYPES if any(f"{m}@{d}" in groups["by_module_and_depth"] for d in depths)]
    grid = np.full((len(modules), len(depths)), np.nan)
    for i, module in enumerate(modules):
        for j, depth in enumerate(depths):
            cell = groups["by_module_and_depth"].get(f"{module}@{depth}")
            if cell:
                grid[i, j] = cell["relative_change"]
    figure, axis = plt.subplots(figsize=(max(4, 0.4 * len(depths) + 2), 0.45 * max(len(modules), 1) + 1.5))
    image = axis.imshow(grid, aspect="auto", cmap="viridis")
    axis.set_xticks(range(len(depths)), [str(d) for d in depths])
    axis.set_yticks(range(len(modules)), modules)
    axis.set_xlabel("depth (layer)")
    axis.set_title("relative change ||A-B|| / ||B||")
    figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(paths["layers_heatmap.png"], dpi=120)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(6, 4))
    for i, module in enumerate(modules):
        axis.plot(depths, grid[i], marker="o", label=module)
    axis.plot(depths, [groups["by_depth"][d]["relative_change"] for d in depths], "k--", label="all")
    axis.set_xlabel("depth (layer)")
    axis.set_ylabel("relative change")
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(paths["layers_depth.png"], dpi=120)
    plt.close(figure)
    return paths


def run(base: str | Path, adapted: str | Path, output: str | Path) -> tuple[str, dict[str, Path]]:
    changes, unmatched = compare(base, adapted)
    if not changes:
        raise AugkitError(f"{base} and {adapted} share no tensor names; are they the same architecture?")
    groups = group(changes)
    summary = text_summary(changes, groups, unmatched)
    return summary, write_outputs(changes, groups, unmatched, summary, output)
