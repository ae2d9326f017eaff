"""Inversion speed and memory: seconds per training step, steps per second, peak memory.

    python bench/inversion.py [--repeats N]

(a) the tiny config and the shipped toy model on CPU, through the real `invert()` (clip decoding, VAE, DDIM
    inversion and training);
(b) the ZeroScope and AnimateDiff UNet and Wan 2.1 1.3B transformer architectures (random weights) at 576x320x24,
    512x512x16 and 480x832x49, bf16, on CUDA when available: one training step without and with gradient
    checkpointing (UNets: per block, per layer; Wan: per transformer block), the share of the H100's dense bf16 peak
    it reaches (FLOPs counted exactly by bench/cost.py), and the embedding-free forward.
Prints a markdown table; not a pass/fail test.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from common import ARCHITECTURES, peak_memory_mib, real_unet, report, reset_peak, timed

from motion_inversion import inject_motion, load_model
from motion_inversion.inversion import invert, motion_loss
from motion_inversion.models import REGISTRY, denoiser_forward
from motion_inversion.tiny import save_tiny_pipeline
from motion_inversion.video import ffmpeg_exe


def tiny_cpu_rows(steps: int) -> list[tuple]:
    import subprocess

    folder = Path(tempfile.mkdtemp())
    clip = folder / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=8", "-t", "2",
                    "-pix_fmt", "yuv420p", str(clip)], check=True)  # fmt: skip
    model = load_model(save_tiny_pipeline(folder / "tiny", "unet3d", 64, 64, 16), device="cpu")
    start = time.perf_counter()
    invert(model, clip, steps=1, inversion_steps=50)
    setup = time.perf_counter() - start  # clip, VAE, 50 DDIM inversion steps, one training step
    start = time.perf_counter()
    invert(model, clip, steps=steps + 1, inversion_steps=50)
    per_step = (time.perf_counter() - start - setup) / steps
    label = "tiny (32/64 ch), 64x64x16, CPU fp32, invert()"
    return [(label, per_step, peak_memory_mib("cpu"), f"setup {setup:.1f} s (decode, VAE, 50 DDIM steps)")]


def toy_rows(steps: int) -> list[tuple]:
    """The shipped toy model, as the app runs it by default: a sample clip, `steps` training steps, end to end."""
    model = load_model("toy", device="cpu")
    clip = Path(__file__).resolve().parent.parent / "assets" / "samples" / "pink-square-right.mp4"
    start = time.perf_counter()
    invert(model, clip, steps=steps)
    total = time.perf_counter() - start
    label = f"toy model, 32x32x8, CPU fp32, invert() {steps} steps end to end"
    return [(label, total / steps, peak_memory_mib("cpu"), f"total {total:.0f} s (incl. decode, VAE, DDIM inversion)")]


def architecture_rows(name: str, device: str, repeats: int) -> list[tuple]:
    import cost  # the exact FLOPs of the same step, counted on the meta device

    label, frames, latent, text_shape = ARCHITECTURES[name]
    dtype = torch.bfloat16
    unet = real_unet(name, dtype, device)
    counted = cost.build(cost.CONFIGS, name)
    latents = torch.randn(1, unet.config.in_channels, frames, *latent, device=device, dtype=dtype)
    text = torch.randn(1, *text_shape, device=device, dtype=dtype)
    timestep = torch.tensor([500], device=device)
    rows = []

    def forward_only():
        with torch.no_grad():
            denoiser_forward(unet, latents, timestep, text)

    reset_peak(device)
    rows.append((f"{label}, bf16: forward, no embeddings", timed(forward_only, repeats, device),
                 peak_memory_mib(device), "reference"))  # fmt: skip

    value_pool = REGISTRY[name].value_pool
    injection = inject_motion(unet, frames, latent, value_pool=value_pool)
    optimizer = torch.optim.AdamW(injection.parameters(), lr=0.02)
    for parameter in injection.parameters():
        parameter.requires_grad_(True)

    def train_step():
        prediction = denoiser_forward(unet, latents, timestep, text)
        loss = motion_loss(prediction.float(), latents.float(), "base", 0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    modes = (None, "block") if injection.family.name == "wan" else (None, "block", "layer")
    for checkpointing in modes:  # bench/cost.py predicts the peak memory of each
        with injection.family.gradient_checkpointing(unet, injection.layers, checkpointing):
            reset_peak(device)
            seconds = timed(train_step, repeats, device)
        flops = cost.step_cost(counted, frames, latent, text_shape, checkpointing, value_pool)["total"]
        share = flops / seconds / cost.H100_BF16_FLOPS
        what = f"{label}, bf16: inversion step" + (f" + checkpointing per {checkpointing}" if checkpointing else "")
        note = f"400 steps: {400 * seconds:.0f} s; {flops / 1e12:.1f} TFLOP, {share:.0%} of 989 TFLOP/s"
        rows.append((what, seconds, peak_memory_mib(device), note))
    injection.remove()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tiny-steps", type=int, default=10)
    parser.add_argument("--toy-steps", type=int, default=200)
    args = parser.parse_args()
    rows = tiny_cpu_rows(args.tiny_steps) + toy_rows(args.toy_steps)
    if torch.cuda.is_available():
        for name in ARCHITECTURES:
            rows += architecture_rows(name, "cuda", args.repeats)
    table = [(label, seconds, 1 / seconds, round(memory), note) for label, seconds, memory, note in rows]
    report(table, ["what", "s/step", "steps/s", "peak memory MiB", "note"])


if __name__ == "__main__":
    main()
