"""Generation speed and memory: seconds per sampling step and per video, peak memory.

    python bench/generation.py [--steps 30]

(a) the tiny config and the shipped toy model on CPU through the real `generate()` (with a motion,
    classifier-free guidance, VAE decode);
(b) the ZeroScope and AnimateDiff UNet architectures (random weights) at 576x320x24 and 512x512x16, bf16, on CUDA
    when available: the guided UNet passes of a 30-step sampling loop, with motion embeddings installed (value mode
    diff) and without.
"""

import argparse
import tempfile
import time

import torch
from common import ARCHITECTURES, peak_memory_mib, real_unet, report, reset_peak, timed

from motion_inversion import inject_motion, load_model
from motion_inversion.generation import generate
from motion_inversion.inversion import invert
from motion_inversion.models import denoiser_forward
from motion_inversion.tiny import save_tiny_pipeline
from motion_inversion.video import Clip


def tiny_cpu_rows(steps: int) -> list[tuple]:
    from pathlib import Path

    import numpy as np

    folder = Path(tempfile.mkdtemp())
    model = load_model(save_tiny_pipeline(folder / "tiny", "unet3d", 64, 64, 16), device="cpu")
    frames = np.random.default_rng(0).integers(0, 255, (16, 64, 64, 3), dtype=np.uint8)
    motion = invert(model, Clip(frames, 8.0, "random.mp4"), steps=2, inversion_steps=2)
    rows = []
    for label, chosen in (("no motion", None), ("with motion", motion)):
        start = time.perf_counter()
        generate(model, chosen, "a red circle", steps=steps)
        seconds = time.perf_counter() - start
        rows.append((f"tiny, 64x64x16, CPU fp32, generate() {label}", seconds / steps, seconds,
                     peak_memory_mib("cpu")))  # fmt: skip
    return rows


def toy_rows() -> list[tuple]:
    """The shipped toy model at its defaults (25 steps, guidance): one whole video, as the app makes it."""
    model = load_model("toy", device="cpu")
    steps = model.spec.steps
    start = time.perf_counter()
    generate(model, None, "a red circle")
    seconds = time.perf_counter() - start
    return [(f"toy model, 32x32x8, CPU fp32, generate() ({steps} steps)", seconds / steps, seconds,
             peak_memory_mib("cpu"))]  # fmt: skip


def architecture_rows(name: str, device: str, steps: int) -> list[tuple]:
    label, frames, latent, text_dim = ARCHITECTURES[name]
    dtype = torch.bfloat16
    unet = real_unet(name, dtype, device)
    latents = torch.randn(2, 4, frames, *latent, device=device, dtype=dtype)  # guided: negative + prompt
    text = torch.randn(2, 77, text_dim, device=device, dtype=dtype)
    timestep = torch.tensor(500, device=device)

    def guided_pass():
        with torch.no_grad():
            denoiser_forward(unet, latents, timestep, text)

    rows = []
    reset_peak(device)
    seconds = timed(guided_pass, 3, device)
    rows.append((f"{label}, bf16, no motion", seconds, seconds * steps, peak_memory_mib(device)))
    injection = inject_motion(unet, frames, latent)
    injection.value_mode = "diff"
    reset_peak(device)
    seconds = timed(guided_pass, 3, device)
    rows.append((f"{label}, bf16, with motion", seconds, seconds * steps, peak_memory_mib(device)))
    injection.remove()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    rows = tiny_cpu_rows(args.steps) + toy_rows()
    if torch.cuda.is_available():
        for name in ARCHITECTURES:
            rows += architecture_rows(name, "cuda", args.steps)
    table = [(label, per_step, per_video, round(memory)) for label, per_step, per_video, memory in rows]
    report(table, ["what", "s/step", "s/video (UNet)", "peak memory MiB"], f"; {args.steps} sampling steps")


if __name__ == "__main__":
    main()
