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


def test_offloaded_encoders_leave_the_gpu_to_the_unet(tiny_pipeline_dir):
    from motion_inversion import load_model

    frames = torch.randint(0, 256, (8, 32, 32, 3), dtype=torch.uint8)
    plain = load_model(tiny_pipeline_dir, device="cuda", dtype=torch.float32)
    expected = plain.decode_latents(plain.encode_frames(frames))
    plain_bytes = torch.cuda.memory_allocated()
    del plain
    torch.cuda.empty_cache()
    offloaded = load_model(tiny_pipeline_dir, device="cuda", dtype=torch.float32, offload=True)
    decoded = offloaded.decode_latents(offloaded.encode_frames(frames))
    assert torch.equal(decoded, expected)
    for module in (offloaded.text_encoder, offloaded.vae):
        assert {p.device.type for p in module.parameters()} == {"cpu"}  # back on the CPU after their calls
    assert torch.cuda.memory_allocated() < plain_bytes
