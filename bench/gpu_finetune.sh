#!/usr/bin/env bash
# GPU check of the finetune chain (issue 6): a ~100M-parameter Qwen2-architecture model, random
# init, bf16 mixed precision, CPT -> SFT -> evaluate (generate and CTranslate2) -> layers, in under
# 5 minutes on one CUDA GPU. Needs no downloads: the corpus is generated here (seeded) and the
# tokenizer is trained on it.
#
#   bash bench/gpu_finetune.sh            # results in $OUT (if set) or out/gpu_finetune
#   PYTHON=/path/to/python bash bench/gpu_finetune.sh   # an interpreter with CUDA torch
#
# Writes: cpt_report.json, sft_report.json, evaluation_{hf,ct2}.{json,md}, layers_summary.txt,
# layers_*.png, timings.txt, summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
RESULTS=${OUT:-out/gpu_finetune}
WORK=$(mktemp -d)
mkdir -p "$RESULTS"
trap 'rm -rf "$WORK"' EXIT

"$PY" - <<'EOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"gpu_finetune.sh: torch {torch.__version__} sees no CUDA GPU; set PYTHON to an interpreter with CUDA torch")
print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, bf16: {torch.cuda.is_bf16_supported()}")
EOF

# 1. A seeded synthetic corpus: 40k lines over a 30k-word lexicon, and 4k translation-like pairs.
"$PY" - "$WORK" <<'EOF'
import json, random, sys
from pathlib import Path
work = Path(sys.argv[1]); rng = random.Random(0)
syllables = [a + b for a in "bcdfgħjklmnpqrstvxżz" for b in ["a", "e", "i", "o", "u", "ie", "għa"]]
lexicon = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(30000)]
weights = [1 / (rank + 1) for rank in range(len(lexicon))]  # Zipfian, like real text
with open(work / "text.jsonl", "w") as handle:
    for index in range(40000):
        words = rng.choices(lexicon, weights, k=rng.randint(5, 80))
        handle.write(json.dumps({"doc": f"d{index // 20}", "text": " ".join(words) + "."}) + "\n")
glossary = dict(zip(lexicon[:2000], lexicon[2000:4000]))
with open(work / "pairs.jsonl", "w") as handle:
    for index in range(4000):
        source = rng.choices(list(glossary), k=rng.randint(3, 12))
        handle.write(json.dumps({"doc": f"p{index // 10}", "source": " ".join(source),
                                 "target": " ".join(glossary[w] for w in source)}) + "\n")
EOF

SECONDS=0
augkit() { "$PY" -m augment.cli "$@"; }
TINY=(--tiny vocab_size=16000 --tiny hidden_size=768 --tiny intermediate_size=2048 --tiny num_hidden_layers=12
      --tiny num_attention_heads=12 --tiny num_key_value_heads=4 --tiny max_position_embeddings=1024)

augkit cpt --model tiny-qwen2 "${TINY[@]}" --data "$WORK/text.jsonl" --output "$WORK/cpt" \
  --block-size 1024 --batch-size 16 --max-steps 300 --eval-every 100 --lr 6e-4 --warmup-ratio 0.05 \
  --heldout-fraction 0.02 --seed 0 | tail -n 1
echo "elapsed after cpt: ${SECONDS}s" > "$RESULTS/timings.txt"

augkit sft --model "$WORK/cpt" --data "$WORK/pairs.jsonl" --output "$WORK/sft" --prompt-field source \
  --response-field target --prompt-template "Translate: {prompt}" --block-size 256 --batch-size 32 \
  --max-steps 150 --eval-every 50 --lr 3e-4 --heldout-fraction 0.05 --seed 0 | tail -n 1
echo "elapsed after sft: ${SECONDS}s" >> "$RESULTS/timings.txt"

for backend in hf ct2; do
  augkit evaluate --model "$WORK/sft" --base "$WORK/cpt" --data "$WORK/pairs.jsonl" --limit 256 \
    --metrics ppl,bpc,bleu,chrf,chrf++ --text-field target --source-field source --target-field target \
    --prompt-template "Translate: {prompt}" --max-new-tokens 48 --batch-size 64 --backend "$backend" \
    --output "$WORK/eval_$backend" || echo "evaluate --backend $backend failed" >> "$RESULTS/timings.txt"
  echo "elapsed after evaluate $backend: ${SECONDS}s" >> "$RESULTS/timings.txt"
done

augkit layers --base "$WORK/cpt" --adapted "$WORK/sft" --output "$WORK/layers" | tail -n 8
echo "elapsed after layers: ${SECONDS}s" >> "$RESULTS/timings.txt"

cp "$WORK/cpt/report.json" "$RESULTS/cpt_report.json"
cp "$WORK/sft/report.json" "$RESULTS/sft_report.json"
for backend in hf ct2; do
  [ -f "$WORK/eval_$backend/evaluation.json" ] || continue
  cp "$WORK/eval_$backend/evaluation.json" "$RESULTS/evaluation_$backend.json"
  cp "$WORK/eval_$backend/evaluation.md" "$RESULTS/evaluation_$backend.md"
done
cp "$WORK/layers/layers_summary.txt" "$WORK/layers/layers_heatmap.png" "$WORK/layers/layers_depth.png" "$RESULTS/"

"$PY" - "$RESULTS" <<'EOF' | tee "$RESULTS/summary.md"
import json, sys
from pathlib import Path
results = Path(sys.argv[1])
cpt = json.loads((results / "cpt_report.json").read_text())
sft = json.loads((results / "sft_report.json").read_text())
print(f"## gpu_finetune.sh\n\nmodel: tiny-qwen2, {cpt['parameters']:,} parameters, bf16 mixed precision\n")
print(f"- CPT: {cpt['steps']} steps, {cpt['tokens_trained']:,} tokens in {cpt['train_seconds']:.0f} s "
      f"= {cpt['tokens_per_second']:,.0f} tokens/s; packing {cpt['packing']['non_padding_fraction']:.2%} non-padding; "
      f"held-out loss {cpt['eval_loss_before']:.3f} -> {cpt['eval_loss_after']:.3f}")
print(f"- SFT: {sft['steps']} steps in {sft['train_seconds']:.0f} s; held-out response loss "
      f"{sft['eval_loss_before']:.3f} -> {sft['eval_loss_after']:.3f}")
seconds = {}
for backend in ("hf", "ct2"):
    path = results / f"evaluation_{backend}.json"
    if path.is_file():
        report = json.loads(path.read_text())
        adapted = report["models"]["adapted"]
        print(f"- evaluate ({backend}): adapted chrF {adapted['translation']['chrf']['score']:.1f}, "
              f"BLEU {adapted['translation']['bleu']['score']:.1f}, bpc {adapted['language_model']['bpc']:.3f}")
print("\n" + (results / "timings.txt").read_text())
EOF
echo "gpu_finetune.sh: done in ${SECONDS}s; results in $RESULTS"
