"""Inversion speed and memory: seconds per training step, steps per second, peak memory.

    python bench/inversion.py [--repeats N]

(a) the tiny config and the shipped toy model on CPU, through the real `invert()` (clip decoding, VAE, DDIM
    inversion and training);
(b) the ZeroScope UNet architecture (random weights) at 576x320x24, bf16, on CUDA when available: one training step
    with and without gradient checkpointing, and the embedding-free forward as a reference.
Prints a markdown table; not a pass/fail test.
"""

import argparse
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from common import peak_memory_mib, report, reset_peak, timed, zeroscope_unet

from motion_inversion import inject_motion, load_model
from motion_inversion.checkpointing import checkpointed_blocks
from motion_inversion.inversion import invert, motion_loss
from motion_inversion.models import unet_forward
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
    clip = Path(__file__).resolve().parent.parent / "assets" / "samples" / "blue-square-right.mp4"
    start = time.perf_counter()
    invert(model, clip, steps=steps)
    total = time.perf_counter() - start
    label = f"toy model, 32x32x8, CPU fp32, invert() {steps} steps end to end"
    return [(label, total / steps, peak_memory_mib("cpu"), f"total {total:.0f} s (incl. decode, VAE, DDIM inversion)")]


def zeroscope_rows(device: str, repeats: int) -> list[tuple]:
    dtype = torch.bfloat16
    unet = zeroscope_unet(dtype, device)
    latents = torch.randn(1, 4, 24, 40, 72, device=device, dtype=dtype)
    text = torch.randn(1, 77, 1024, device=device, dtype=dtype)
    timestep = torch.tensor([500], device=device)
    rows = []

    def forward_only():
        with torch.no_grad():
            unet_forward(unet, latents, timestep, text)

    reset_peak(device)
    rows.append(("ZeroScope arch, 576x320x24, bf16: forward, no embeddings", timed(forward_only, repeats, device),
                 peak_memory_mib(device), "reference"))  # fmt: skip

    injection = inject_motion(unet, 24, (40, 72))
    optimizer = torch.optim.AdamW(injection.parameters(), lr=0.02)
    for parameter in injection.parameters():
        parameter.requires_grad_(True)

    def train_step():
        prediction = unet_forward(unet, latents, timestep, text)
        loss = motion_loss(prediction.float(), latents.float(), "base", 0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for checkpointing in (None, "block", "layer"):  # bench/cost.py predicts 29.3, 14.4 and 6.4 GiB
        trained = [layer.name for layer in injection.layers]
        context = checkpointed_blocks(unet, trained, checkpointing) if checkpointing else nullcontext()
        with context:
            reset_peak(device)
            seconds = timed(train_step, repeats, device)
        label = "ZeroScope arch, 576x320x24, bf16: inversion step" + (f" + checkpointing per {checkpointing}"
                                                                       if checkpointing else "")  # fmt: skip
        rows.append((label, seconds, peak_memory_mib(device), f"400 steps: {400 * seconds / 60:.1f} min"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tiny-steps", type=int, default=10)
    parser.add_argument("--toy-steps", type=int, default=200)
    args = parser.parse_args()
    rows = tiny_cpu_rows(args.tiny_steps) + toy_rows(args.toy_steps)
    if torch.cuda.is_available():
        rows += zeroscope_rows("cuda", args.repeats)
    table = [(label, seconds, 1 / seconds, round(memory), note) for label, seconds, memory, note in rows]
    report(table, ["what", "s/step", "steps/s", "peak memory MiB", "note"])


if __name__ == "__main__":
    main()
