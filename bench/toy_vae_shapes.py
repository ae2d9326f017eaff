"""How often a toy Wan's VAE alone gives a subject back in its shape: held-out clips encoded and decoded, frames after
the first, each named by tracker.shape_of (evaluate_image.kept_fraction, its "frames in colour and shape"). No video
generated from an image can keep a shape more often than its VAE does (docs/toy-wan.md, "Shape: the VAE's share").

    PYTHONPATH=. python bench/toy_vae_shapes.py --models assets/toy-wan runs/toy-wan-2x [--clips 120]

Half the clips are the trainer's usual (paths near the middle), half "placed" (subjects start anywhere); none of
them is in a training pool (their own seed). Prints a markdown table; not a pass/fail test.
"""

import argparse

import numpy as np
import torch

from motion_inversion.models import load_model
from motion_inversion.toy import clips, toy_wan
from motion_inversion.toy.evaluate_image import kept_fraction
from motion_inversion.toy.train import PLACED_SPREAD

HELD_OUT_SEED = 4242  # the trainer draws from 0 and its placed clips from PLACED_SEED
MOVING = ("line-", "orbit-", "zigzag-")  # the subject itself moves; grow/shrink and pans are "the rest"


def held_out_clips(count: int) -> list[clips.ToyClip]:
    half = count // 2
    usual = [clips.render(spec, num_frames=toy_wan.NUM_FRAMES) for spec in clips.sample_specs(half, HELD_OUT_SEED)]
    placed = [
        clips.render(spec, num_frames=toy_wan.NUM_FRAMES, spread=PLACED_SPREAD)
        for spec in clips.sample_specs(count - half, HELD_OUT_SEED + 1)
    ]
    return usual + placed


@torch.no_grad()
def shapes_kept(model_name: str, toy_clips: list[clips.ToyClip]) -> dict[str, float]:
    """The share of frames after the first in their shape: all, moving subjects (and per shape), the rest."""
    model = load_model(model_name, device="cpu")
    kept: dict[str, list[float]] = {}
    for clip in toy_clips:
        frames = model.decode_latents(model.encode_frames(torch.from_numpy(clip.frames))).numpy()
        kept_here = kept_fraction(frames, clip.spec.colour, clip.spec.shape)  # every clip has 8 frames after the first
        moving = clip.spec.kind.startswith(MOVING)
        for key in ("all", "moving" if moving else "the rest", *([f"moving {clip.spec.shape}s"] if moving else [])):
            kept.setdefault(key, []).append(kept_here)
    return {key: float(np.mean(shares)) for key, shares in kept.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["toy-wan"])
    parser.add_argument("--clips", type=int, default=120)
    args = parser.parse_args()
    toy_clips = held_out_clips(args.clips)
    columns = ("all", "moving", "moving circles", "moving squares", "moving triangles", "the rest")
    print(f"{args.clips} held-out clips (seed {HELD_OUT_SEED}, half placed), frames after the first in their shape")
    print("| model | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name in args.models:
        kept = shapes_kept(name, toy_clips)
        print(f"| {name} | " + " | ".join(f"{kept.get(key, float('nan')):.0%}" for key in columns) + " |")


if __name__ == "__main__":
    main()
