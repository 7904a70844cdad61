#!/usr/bin/env bash
# One go on a lent CUDA machine: install Studio, run the CUDA tests and the benchmarks, and leave
# every log and result under $OUT (default: ./gpu_out).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_out}"; mkdir -p "$OUT"
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
python3 -m venv .venv-gpu
.venv-gpu/bin/python -m pip install --quiet -e ".[test,server]" >"$OUT/install.log" 2>&1 || { echo "install failed"; tail -50 "$OUT/install.log"; exit 1; }
.venv-gpu/bin/python -c "import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0))" | tee "$OUT/device.txt"
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || true
.venv-gpu/bin/pytest -q -p no:cacheprovider -s tests/test_cuda.py >"$OUT/test_cuda.log" 2>&1; echo "test_cuda rc=$?" | tee -a "$OUT/summary.txt"
for bench in bench/bench_fast.py; do
  if [ -f "$bench" ]; then
    .venv-gpu/bin/python "$bench" >"$OUT/$(basename "$bench" .py).log" 2>&1; echo "$bench rc=$?" | tee -a "$OUT/summary.txt"
  else
    echo "$bench missing" | tee -a "$OUT/summary.txt"
  fi
done
cp bench/results*.json "$OUT/" 2>/dev/null || true
tail -5 "$OUT/test_cuda.log"
