"""The real architectures end to end on a CPU: ZeroScope's and AnimateDiff's UNets and Wan 2.1 1.3B's and Wan 2.2
5B's transformers with random weights (motion_inversion/random_models.py), at a small clip size, through invert ->
Motion.save -> Motion.load -> generate.

    python bench/architectures.py [--size 64 --frames 8 --wan-frames 17 --steps 2 --inversion-steps 50] [--names ...]

Per architecture, in its own process (so each peak memory is its own): building the model, learning a motion
(`--steps` training steps after `--inversion-steps` DDIM inversion steps) without and with gradient checkpointing,
the motion file's size and a bit-exact reload, and a `--steps`-step generation in each motion type. Prints a
markdown table of seconds and peak memory (the process's maximum resident set so far); not a pass/fail test.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import report

from motion_inversion import Motion
from motion_inversion.generation import generate
from motion_inversion.inversion import invert
from motion_inversion.motion import STORAGE_DTYPE
from motion_inversion.random_models import ARCHITECTURES, random_weight_model
from motion_inversion.video import Clip


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def moving_square(frames: int, size: int) -> Clip:
    """A white square crossing a grey frame: any clip serves, the weights are random."""
    video = np.full((frames, size, size, 3), 100, dtype=np.uint8)
    side = size // 4
    for f in range(frames):
        x = f * (size - side) // max(1, frames - 1)
        video[f, size // 2 - side // 2 : size // 2 + side // 2, x : x + side] = 255
    return Clip(video, fps=8.0)


def run(name: str, size: int, frames: int, steps: int, inversion_steps: int) -> list[tuple]:
    rows = []

    def row(what: str, started: float, note: str = "") -> None:
        rows.append((name, what, round(time.perf_counter() - started, 1), round(peak_gib(), 2), note))

    started = time.perf_counter()
    model = random_weight_model(name, height=size, width=size, num_frames=frames)
    parameters = sum(p.numel() for p in model.denoiser.parameters()) / 1e9
    kind = "transformer" if model.family.name == "wan" else "UNet"
    row("build (random weights)", started, f"{kind} {parameters:.2f} B parameters, fp32")
    clip = moving_square(frames, size)
    for checkpointing in (False, True):
        started = time.perf_counter()
        motion = invert(model, clip, prompt="a white square", steps=steps, inversion_steps=inversion_steps,
                        gradient_checkpointing=checkpointing)  # fmt: skip
        inverted_by = "flow-ODE" if model.family.name == "wan" else "DDIM"
        row(f"invert, {steps} steps" + (" + checkpointing" if checkpointing else ""), started,
            f"after {inversion_steps} {inverted_by} inversion steps; loss {motion.loss:.4f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        path = motion.save(Path(folder) / f"{name}.safetensors")
        reloaded = Motion.load(path)
        stored = {k: t.to(STORAGE_DTYPE).float() for k, t in motion.embeddings.items()}
        same = all(torch.equal(reloaded.embeddings[k], t) for k, t in stored.items())
        row("save + load", started, f"{path.stat().st_size / 2**20:.1f} MiB, reloads as stored (float16): {same}")
    for motion_type in ("camera", "object", "hybrid"):
        started = time.perf_counter()
        video = generate(model, reloaded, "a red circle", motion_type=motion_type, steps=steps)
        row(f"generate {motion_type}, {steps} steps", started, f"{tuple(video.shape)} uint8")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--wan-frames", type=int, default=17, help="frames for Wan (its VAE takes 1 + 4k)")
    parser.add_argument(
        "--names",
        nargs="+",
        choices=ARCHITECTURES,
        default=list(ARCHITECTURES),
        help="the architectures to run (Wan 2.2 5B in float32 needs ~24 GB of memory)",
    )
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--inversion-steps", type=int, default=50)
    parser.add_argument("--only", choices=ARCHITECTURES, help="(internal) run one architecture, print JSON rows")
    args = parser.parse_args()
    settings = [str(v) for v in ("--size", args.size, "--steps", args.steps, "--inversion-steps",
                                 args.inversion_steps)]  # fmt: skip
    if args.only:
        print(json.dumps(run(args.only, args.size, args.frames, args.steps, args.inversion_steps)))
        return
    rows = []
    for name in args.names:
        frames = args.wan_frames if name.startswith("wan") else args.frames
        result = subprocess.run([sys.executable, __file__, "--only", name, "--frames", str(frames), *settings],
                                capture_output=True, text=True, check=True)  # fmt: skip
        rows += [tuple(r) for r in json.loads(result.stdout.strip().splitlines()[-1])]
    title = (f"; {args.size}x{args.size}, {args.frames} frames (Wan: {args.wan_frames}), float32, "
             f"torch {torch.__version__}")  # fmt: skip
    report(rows, ["architecture", "what", "seconds", "peak memory GiB", "note"], title, gpu_rows=False)


if __name__ == "__main__":
    main()
