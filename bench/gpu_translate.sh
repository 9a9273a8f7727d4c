#!/usr/bin/env bash
# GPU check of machine translation (issue 4): augkit translate (CTranslate2) against Hugging Face
# `generate` on one CUDA GPU, same random-weight ~55M-parameter Marian model and inputs, in one run;
# plus int8 vs float32 chrF on a model trained here and memory while streaming. Under 5 minutes.
# Needs no downloads: the corpus is generated (seeded), the tokenizer and models are built here.
#
#   bash bench/gpu_translate.sh                       # results in $OUT (if set) or out/gpu_translate
#   PYTHON=/path/to/python bash bench/gpu_translate.sh
#
# Python packages the interpreter needs (no pip on the GPU machine): torch with CUDA, ctranslate2>=4.4
# (its PyPI wheel bundles CUDA 12 / cuDNN support), transformers>=4.45, sentencepiece>=0.2,
# sacrebleu>=2.4, regex, langcodes, language_data, tqdm, numpy (and this repository on the path; the
# script runs from the repository root). ctranslate2 4.x wheels need CUDA 12's cuBLAS
# (libcublas.so.12, e.g. the nvidia-cublas-cu12 wheel) even where torch uses CUDA 13.
#
# Writes: results.json, results.md, log.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
RESULTS=${OUT:-out/gpu_translate}
mkdir -p "$RESULTS"

# CTranslate2's PyPI wheel is built against CUDA 12 and loads libcublas.so.12 at its first CUDA call;
# pip-installed NVIDIA libraries (nvidia-cublas-cu12, ...) live in site-packages, so put them on the path.
NVIDIA_LIBS=$("$PY" -c "import glob, os, site; print(':'.join(sorted({os.path.dirname(p) for d in site.getsitepackages() for p in glob.glob(os.path.join(d, 'nvidia', '*', 'lib', '*.so*'))})))" 2>/dev/null || true)
export LD_LIBRARY_PATH="${NVIDIA_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

"$PY" - <<'EOF'
import ctypes, sys
import ctranslate2, torch
if not torch.cuda.is_available() or ctranslate2.get_cuda_device_count() == 0:
    sys.exit(f"gpu_translate.sh: torch {torch.__version__} CUDA={torch.cuda.is_available()}, "
             f"ctranslate2 {ctranslate2.__version__} GPUs={ctranslate2.get_cuda_device_count()}: need both on CUDA")
print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, ctranslate2 {ctranslate2.__version__}, "
      f"compute types: {sorted(ctranslate2.get_supported_compute_types('cuda'))}")
try:
    ctypes.CDLL("libcublas.so.12")
except OSError:
    print("WARNING: libcublas.so.12 not found: CTranslate2 will fail on CUDA (the HF half still runs). "
          "Install nvidia-cublas-cu12 beside ctranslate2, or put CUDA 12's lib64 on LD_LIBRARY_PATH.")
EOF

# 3000 sentences keep the GPU busy long enough to measure; HF gets large batches too (64) so the
# comparison is with a well-used `generate`, in float32 and float16.
timeout 280 "$PY" bench/bench_translate.py --device cuda --sentences 3000 --hf-batch 64 --max-batch-tokens 8192 \
    --quantizations float32,float16,int8_float16 --hf-dtypes float32,float16 --memory-records 20000 \
    --out "$RESULTS" 2>&1 | tee "$RESULTS/log.txt"
