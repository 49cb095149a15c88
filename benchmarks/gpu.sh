#!/usr/bin/env bash
# The prepared accelerator check (issue 15): one JSON object on stdout, logs on stderr; see benchmarks/gpu.py
# for what each section measures and benchmarks/RESULTS.md for the figures.
#
#   benchmarks/gpu.sh [--gue DIR]     # one CUDA GPU, finishes within 8 minutes; DIR: GUE tf0 (train/dev.csv.gz)
#   benchmarks/gpu.sh --cpu           # CPU smoke mode (also GENOLM_GPU_SMOKE=1): tiny sizes, seconds
#
# Python: $PYTHON, else the checkout's .venv, else python3. Exit status 1 when a section failed (its JSON
# entry says why) or, outside the smoke mode, when torch sees no GPU.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$repo/.venv/bin/python" ]]; then python="$repo/.venv/bin/python"; else python=python3; fi
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "$python" "$repo/benchmarks/gpu.py" "$@"
