"""Choose how a motion is learned and applied when a video starts from the creator's image (toy Wan), by measurement.

    python bench/toy_image_recipe.py [--model assets/toy-wan] [--per-group 2] [--placement anywhere|fits]

For held-out object-motion references of their own seed (bench/toy_recipe.py's, not the image evaluation's), one
inversion per reference and learning setting; every generation setting reuses it. Prints, per setting, the image
evaluation's figures (motion_inversion/toy/evaluate_image.py): motion fidelity of the image's subject, its colour,
the first frame against the image, and how far the subject's path is from the reference's path started at the
image's subject and at the reference's own place.
"""

import argparse
import time

import numpy as np

from motion_inversion import load_model
from motion_inversion.toy.evaluate_image import MARKED, image_cases, table

GENERATION = {  # generate() overrides with an image (None: without the motion)
    "no motion": None,
    "app default": {},
    "subject marked": {MARKED: True},  # where the image's subject stands, as a click in the app gives it
    "noise prior 0.25": dict(noise_prior=0.25),
    "noise prior 0.5": dict(noise_prior=0.5),
    "every step": dict(motion_until=1.0),
    "strength 1.5": dict(strength=1.5),
    "value diff": dict(value_mode="diff"),
    "no value embedding": dict(value_mode="none"),
    "noise prior 0.5, strength 1.5": dict(noise_prior=0.5, strength=1.5),
    "noise prior 0.75": dict(noise_prior=0.75),
    # session 17, all with the subject marked (docs/toy-wan.md, "Session 17")
    "marked, motion until 0.4": {MARKED: True, "motion_until": 0.4},
    "marked, motion until 0.6": {MARKED: True, "motion_until": 0.6},
    "marked, every step": {MARKED: True, "motion_until": 1.0},
    "marked, strength 0.35": {MARKED: True, "strength": 0.35},
    "marked, strength 0.5": {MARKED: True, "strength": 0.5},
    "marked, strength 0.65": {MARKED: True, "strength": 0.65},
    "marked, strength 0.75": {MARKED: True, "strength": 0.75},
    "marked, strength 1.25": {MARKED: True, "strength": 1.25},
    "marked, value diff": {MARKED: True, "value_mode": "diff"},
    "marked, noise prior 0.5": {MARKED: True, "noise_prior": 0.5},
    # session 20 (with strength 0.35 / 0.5 / 0.65 above): what the sampler and the embeddings do to shape
    # (docs/toy-wan.md, "Session 20"; "app default" is strength 0.5 since, 1 before)
    "marked, 50 steps": {MARKED: True, "steps": 50},
    "marked, 12 steps": {MARKED: True, "steps": 12},
    "marked, guidance 3": {MARKED: True, "guidance": 3.0},
    "marked, no value embedding": {MARKED: True, "value_mode": "none"},
    "marked, guidance 6.5": {MARKED: True, "guidance": 6.5},
    "marked, guidance 8": {MARKED: True, "guidance": 8.0},
    "marked, guidance 12": {MARKED: True, "guidance": 12.0},
    "marked, guidance 16": {MARKED: True, "guidance": 16.0},
    "marked, guidance 8, 12 steps": {MARKED: True, "guidance": 8.0, "steps": 12},
    "marked, guidance 12, 12 steps": {MARKED: True, "guidance": 12.0, "steps": 12},
}
INVERSION = {  # invert() overrides
    "the recipe's (learned without the first frame)": dict(first_frame_share=0.0),
    "first frame given in half the steps": dict(first_frame_share=0.5),
    "first frame given in every step": dict(first_frame_share=1.0),
    "blocks 0 and 3 (Wan's default on 6 blocks)": dict(target_blocks=["blocks.0", "blocks.3"]),
    "the debiased loss (METHOD.md: each frame also against an anchor frame)": dict(loss="debiased"),
}
RECIPE_SEED = 2_000_003  # bench/toy_recipe.py's references: not the image evaluation's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="assets/toy-wan")
    parser.add_argument("--per-group", type=int, default=2)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--inversion", nargs="*", default=list(INVERSION), choices=list(INVERSION))
    parser.add_argument("--generation", nargs="*", default=list(GENERATION), choices=list(GENERATION))
    parser.add_argument("--placement", choices=("anywhere", "fits"), default="anywhere",
                        help="where the image's subject stands (evaluate_image.image_place)")  # fmt: skip
    args = parser.parse_args()
    variants = {name: GENERATION[name] for name in GENERATION if name in args.generation or name == "no motion"}
    model = load_model(args.model, device="cpu")
    for inversion in args.inversion:
        started = time.time()
        cases = image_cases(model, args.per_group, args.steps, log=lambda message: None, variants=variants,
                            invert_options=INVERSION[inversion], seed=RECIPE_SEED,
                            placement=args.placement)  # fmt: skip
        print(f"\n### {inversion} ({len(cases)} cases, {time.time() - started:.0f} s)\n", flush=True)
        print(table(cases, variants), flush=True)
        for group in dict.fromkeys(case["group"] for case in cases):
            row = {label: np.mean([c[label]["fidelity"] for c in cases if c["group"] == group]) for label in variants}
            print(f"<!-- {group}: " + ", ".join(f"{label} {value:+.2f}" for label, value in row.items()) + " -->")


if __name__ == "__main__":
    main()
