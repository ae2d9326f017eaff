"""The real architectures, ZeroScope's and AnimateDiff's UNets and Wan 2.1 1.3B's and Wan 2.2 5B's transformers with
random weights (random_models.py), end to end at 64x64 (8 frames; Wan 17): learning with and without gradient
checkpointing, the motion file, and generation in each motion type.

Marked slow (run with `-m slow`): each architecture holds ~6 GB (Wan 2.2 5B: ~20 GB) and takes minutes on 2 CPU
cores, which would double CI's suite; bench/architectures.py runs the same path and prints its times and memory."""

import numpy as np
import pytest
import torch

from motion_inversion import Motion
from motion_inversion.generation import generate
from motion_inversion.inversion import invert
from motion_inversion.motion import STORAGE_DTYPE
from motion_inversion.random_models import ARCHITECTURES, random_weight_model
from motion_inversion.video import Clip

pytestmark = pytest.mark.slow


# Wan 2.2 5B in float32 holds ~24 GB: past a 24 GB machine; `python bench/architectures.py --names wan2.2-5b` runs it
@pytest.mark.parametrize("name", [name for name in ARCHITECTURES if name != "wan2.2-5b"])
def test_the_real_architecture_learns_saves_and_generates(name, tmp_path):
    num_frames = 17 if name.startswith("wan") else 8
    model = random_weight_model(name, height=64, width=64, num_frames=num_frames)
    frames = np.full((num_frames, 64, 64, 3), 100, dtype=np.uint8)
    for f in range(num_frames):
        frames[f, 24:40, 3 * f : 3 * f + 16] = 255  # a square crossing the frame
    learned = [
        invert(model, Clip(frames, 8.0), prompt="a square", steps=2, inversion_steps=2, gradient_checkpointing=on)
        for on in (False, True)
    ]
    assert learned[0].embeddings.keys() == learned[1].embeddings.keys()
    for key, tensor in learned[0].embeddings.items():  # checkpointing recomputes; it must not change what is learned
        torch.testing.assert_close(learned[1].embeddings[key], tensor, rtol=1e-4, atol=1e-6)

    reloaded = Motion.load(learned[0].save(tmp_path / f"{name}.safetensors"))
    assert (reloaded.base_model, reloaded.num_frames) == (name, num_frames)
    for key, tensor in learned[0].embeddings.items():
        assert torch.equal(reloaded.embeddings[key], tensor.to(STORAGE_DTYPE).float())
    for motion_type in ("camera", "object", "hybrid"):
        video = generate(model, reloaded, "a circle", motion_type=motion_type, steps=2)
        assert video.shape == (num_frames, 64, 64, 3) and video.dtype == torch.uint8
