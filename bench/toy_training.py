"""How fast the toy model trains on this machine: UNet-stage steps per second for the options that may help.

    python bench/toy_training.py                 # every option, each in its own process (thread settings differ)
    python bench/toy_training.py --one bf16 --threads 2 --batch 16   # one configuration

Options: float32 or bf16 autocast, channels_last weights, torch.compile, torch threads, batch size. Each row times
`--steps` training steps of the real toy architecture (`UNetStage.train_step`: forward, backward, AdamW, EMA) after
3 warm-up steps, on random latents of the toy's shape.
"""

import argparse
import json
import subprocess
import sys
import time

import torch

from motion_inversion.toy import clips
from motion_inversion.toy.train import UNetStage, build_text_encoder, build_unet

CONFIGS = [  # (label, options)
    ("float32, 2 threads, batch 16", dict(threads=2, batch=16)),
    ("float32, 1 thread, batch 16", dict(threads=1, batch=16)),
    ("bf16 autocast, 2 threads, batch 16", dict(threads=2, batch=16, bf16=True)),
    ("float32 + channels_last, 2 threads, batch 16", dict(threads=2, batch=16, channels_last=True)),
    ("float32 + torch.compile, 2 threads, batch 16", dict(threads=2, batch=16, compile=True)),
    ("float32, 2 threads, batch 8", dict(threads=2, batch=8)),
    ("float32, 2 threads, batch 32", dict(threads=2, batch=32)),
]


def time_one(threads: int, batch: int, bf16=False, channels_last=False, compile=False, steps=10) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    latents = torch.randn(256, 4, clips.NUM_FRAMES, clips.SIZE // 4, clips.SIZE // 4)
    tokens = torch.randint(2, 40, (256, 16))
    stage = UNetStage(build_unet(), build_text_encoder(64), latents, tokens, tokens[0], batch=batch, bf16=bf16)
    if channels_last:
        stage.unet.to(memory_format=torch.channels_last)
    compile_seconds = 0.0
    if compile:
        started = time.perf_counter()
        stage.unet.compile()
        stage.train_step()
        compile_seconds = time.perf_counter() - started
    for _ in range(3):
        stage.train_step()
    started = time.perf_counter()
    for _ in range(steps):
        stage.train_step()
    seconds = (time.perf_counter() - started) / steps
    return dict(seconds_per_step=seconds, clips_per_second=batch / seconds, compile_seconds=compile_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one", help="internal: time one configuration given as JSON")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(time_one(steps=args.steps, **json.loads(args.one))))
        return
    print(f"toy UNet stage, {args.steps} steps per row, {torch.get_num_threads()} cores seen by torch")
    print("| configuration | s / step | clips / s | compile s |\n|---|---|---|---|")
    for label, options in CONFIGS:
        command = [sys.executable, __file__, "--one", json.dumps(options), "--steps", str(args.steps)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            print(f"| {label} | failed: {result.stderr.strip().splitlines()[-1]} | | |", flush=True)
            continue
        row = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"| {label} | {row['seconds_per_step']:.3f} | {row['clips_per_second']:.1f} "
              f"| {row['compile_seconds']:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
