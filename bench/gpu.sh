#!/usr/bin/env bash
# One GPU suite (about 9 minutes on one H100): the model tests on CUDA (bf16, fp16 with loss scaling, checkpointing
# per layer included), the exact cost model, and the speed and memory benchmarks, whose CUDA rows (ZeroScope
# architecture at 576x320x24, random weights) appear when a GPU is there. Everything goes into one markdown file,
# bench/results/gpu-<date>.md, to commit.
#
#   bash bench/gpu.sh            # on a machine with a GPU
#   bash bench/gpu.sh --dry-run  # anywhere: print what would run, and check that every piece imports
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False

TESTS="tests/test_gpu.py tests/test_inversion.py tests/test_generation.py tests/test_mechanism.py tests/test_motion_file.py"
PIECES=(
  "MOTION_INVERSION_TEST_DEVICE=cuda python -m pytest -q -p no:cacheprovider $TESTS"
  "python bench/cost.py"
  "python bench/inversion.py --repeats 5 --toy-steps 50"
  "python bench/generation.py --steps 30"
)

if [[ "${1:-}" == "--dry-run" ]]; then
  for piece in "${PIECES[@]}"; do echo "would run: $piece"; done
  python -m pytest -q --collect-only -p no:cacheprovider $TESTS | tail -1
  (cd bench && python -c "import common, cost, inversion, generation; print('bench pieces import')")
  exit 0
fi

python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU: use --dry-run'"
out="bench/results/gpu-$(date -u +%Y-%m-%d-%H%M).md"
{
  echo "# GPU suite, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Device: $(python -c 'import torch; print(torch.cuda.get_device_name(0))'), torch $(python -c 'import torch; print(torch.__version__)')"
} > "$out"
for piece in "${PIECES[@]}"; do
  started=$(date +%s)
  { echo; echo "## \`$piece\`"; echo; } >> "$out"
  if ! bash -c "$piece" >> "$out" 2>&1; then echo "**failed**" >> "$out"; fi
  echo "($(( $(date +%s) - started )) s)" >> "$out"
done
echo "wrote $out"
