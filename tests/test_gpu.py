"""The CUDA paths of learning a motion: bf16 autocast, fp16 with loss scaling, checkpointing per layer. Skipped
without a GPU; bench/gpu.sh runs them (with the model tests on CUDA) whenever one is there."""

import os
import subprocess
import sys

import pytest
import torch

from motion_inversion import Motion

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("checkpointing", [False, True])
def test_learning_on_cuda_in_half_precision(tiny_pipeline_dir, clip_path, tmp_path, precision, checkpointing):
    out = tmp_path / "motion.safetensors"
    command = [sys.executable, "-m", "motion_inversion", "invert", str(clip_path), "--model", str(tiny_pipeline_dir),
               "--steps", "20", "--device", "cuda", "--mixed-precision", precision, "--out", str(out)]  # fmt: skip
    if checkpointing:
        command.append("--gradient-checkpointing")
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    motion = Motion.load(out)
    assert motion.steps == 20 and motion.loss is not None and motion.loss == motion.loss  # finite, not NaN
    assert all(torch.isfinite(t).all() and t.abs().sum() > 0 for t in motion.embeddings.values())  # it learned
