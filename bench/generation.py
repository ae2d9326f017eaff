"""Generation speed and memory: seconds per sampling step and per video, peak memory.

    python bench/generation.py [--steps 30]

(a) the tiny config and the shipped toy model on CPU through the real `generate()` (with a motion,
    classifier-free guidance, VAE decode);
(b) the Wan 2.1 1.3B transformer architecture (random weights) on CPU at a small size (`--wan-size`, 17 frames)
    through the real `generate()`, with a motion and without, alternating: the ratio of their times per step;
(c) the ZeroScope and AnimateDiff UNet and Wan 2.1 1.3B architectures (random weights) at 576x320x24, 512x512x16 and
    480x832x49, bf16, on CUDA when available: the guided denoiser passes of a sampling loop, with motion embeddings
    installed (value mode diff) and without.
"""

import argparse
import tempfile
import time

import torch
from common import ARCHITECTURES, peak_memory_mib, real_unet, report, reset_peak, timed

from motion_inversion import inject_motion, load_model
from motion_inversion.generation import generate
from motion_inversion.inversion import invert
from motion_inversion.models import REGISTRY, denoiser_forward
from motion_inversion.random_models import random_weight_model
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
                     peak_memory_mib("cpu"), ""))  # fmt: skip
    return rows


def toy_rows() -> list[tuple]:
    """The shipped toy model at its defaults (25 steps, guidance): one whole video, as the app makes it."""
    model = load_model("toy", device="cpu")
    steps = model.spec.steps
    start = time.perf_counter()
    generate(model, None, "a red circle")
    seconds = time.perf_counter() - start
    return [(f"toy model, 32x32x8, CPU fp32, generate() ({steps} steps)", seconds / steps, seconds,
             peak_memory_mib("cpu"), "")]  # fmt: skip


def wan_cpu_rows(steps: int, size: int, repeats: int) -> list[tuple]:
    """generate() on the Wan 2.1 1.3B architecture on CPU, with and without a motion learned (2 steps) from noise,
    `repeats` times each, alternating so that both see the same machine; the median time per step of each."""
    import numpy as np

    model = random_weight_model("wan2.1-1.3b", height=size, width=size, num_frames=17)
    frames = np.random.default_rng(0).integers(0, 255, (17, size, size, 3), dtype=np.uint8)
    motion = invert(model, Clip(frames, 16.0, "random.mp4"), steps=2, inversion_steps=2)
    times = {"no motion": [], "with motion": []}
    for _ in range(repeats):
        for label, chosen in (("no motion", None), ("with motion", motion)):
            start = time.perf_counter()
            generate(model, chosen, "a red circle", steps=steps, motion_type="object")
            times[label].append((time.perf_counter() - start) / steps)
    medians = {label: float(np.median(values)) for label, values in times.items()}
    ratio = medians["with motion"] / medians["no motion"]
    return [(f"Wan 2.1 1.3B arch, {size}x{size}x17, CPU fp32, generate() {label}", per_step, per_step * 50,
             peak_memory_mib("cpu"), f"median of {repeats}" + (f"; ratio {ratio:.3f}" if label != "no motion" else ""))
            for label, per_step in medians.items()]  # fmt: skip


def architecture_rows(name: str, device: str, steps: int) -> list[tuple]:
    label, frames, latent, text_shape = ARCHITECTURES[name]
    dtype = torch.bfloat16
    unet = real_unet(name, dtype, device)
    latents = torch.randn(2, unet.config.in_channels, frames, *latent, device=device, dtype=dtype)  # guided
    text = torch.randn(2, *text_shape, device=device, dtype=dtype)
    timestep = torch.tensor(500, device=device)

    def guided_pass():
        with torch.no_grad():
            denoiser_forward(unet, latents, timestep, text)

    rows = []
    reset_peak(device)
    seconds = timed(guided_pass, 3, device)
    rows.append((f"{label}, bf16, no motion", seconds, seconds * steps, peak_memory_mib(device), ""))
    injection = inject_motion(unet, frames, latent, value_pool=REGISTRY[name].value_pool)
    injection.value_mode = "diff"
    reset_peak(device)
    with_motion = timed(guided_pass, 3, device)
    rows.append((f"{label}, bf16, with motion", with_motion, with_motion * steps, peak_memory_mib(device),
                 f"ratio {with_motion / seconds:.3f}"))  # fmt: skip
    injection.remove()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--wan-size", type=int, default=128, help="height and width of the CPU Wan rows")
    parser.add_argument("--wan-steps", type=int, default=3, help="sampling steps of each CPU Wan video")
    parser.add_argument("--wan-repeats", type=int, default=3)
    parser.add_argument("--only-wan", action="store_true", help="only the Wan rows")
    args = parser.parse_args()
    rows = [] if args.only_wan else tiny_cpu_rows(args.steps) + toy_rows()
    if not torch.cuda.is_available():  # on a GPU machine the CUDA rows below give Wan's ratio at full size
        rows += wan_cpu_rows(args.wan_steps, args.wan_size, args.wan_repeats)
    if torch.cuda.is_available():
        for name in ARCHITECTURES:
            if name.startswith("wan") or not args.only_wan:
                rows += architecture_rows(name, "cuda", args.steps)
    table = [(label, per_step, per_video, round(memory), note) for label, per_step, per_video, memory, note in rows]
    report(table, ["what", "s/step", "s/video (denoiser; CPU Wan: 50 steps)", "peak memory MiB", "note"],
           f"; {args.steps} sampling steps")  # fmt: skip


if __name__ == "__main__":
    main()
