"""The toy models' speed on this machine, as the app runs them: a learning (the model's default steps: 200) and one
generation (its default sampling steps, 25), median of `--repeats`, torch's default threads.

    python bench/toy_speed.py [--models toy toy-wan] [--repeats 3]

The issue "Proof on a diffusion transformer" asks for a 200-step inversion <= 60 s and a generation <= 5 s per clip
on a 2-core CPU. Prints a markdown table; not a pass/fail test.
"""

import argparse
import os
import platform
import time

import numpy as np
import torch

from motion_inversion import generate, invert, load_model
from motion_inversion.toy import clips
from motion_inversion.toy.examples import sample_clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=["toy", "toy-wan"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {threads} threads")
    print("| model | learning (s, median) | generation (s, median) |")
    print("|---|---|---|")
    for name in args.models:
        model = load_model(name, device="cpu")
        clip = sample_clip(model.spec, "red-circle-orbit")
        caption = clips.SAMPLES["red-circle-orbit"].caption
        learning, generation = [], []
        for repeat in range(args.repeats):
            started = time.perf_counter()
            motion = invert(model, clip, prompt=caption, seed=repeat)
            learning.append(time.perf_counter() - started)
            started = time.perf_counter()
            generate(model, motion, "a pink triangle", motion_type="object", seed=repeat)
            generation.append(time.perf_counter() - started)
        print(f"| {name} | {np.median(learning):.1f} | {np.median(generation):.2f} |", flush=True)


if __name__ == "__main__":
    main()
