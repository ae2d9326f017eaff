"""Which half precision to store motion files in: generate with each example motion as learned (float32) and cast
to fp16 / bf16, on the same seeds, and compare with what another seed changes.

    python bench/motion_precision.py [--model toy] [--seeds 3]

Prints, per storage precision, the mean absolute pixel difference (0-255) of the videos against the float32
motion's on the same seed, next to the mean difference between two seeds of the float32 motion.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from motion_inversion import Motion, load_model
from motion_inversion.generation import generate

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "example-motions"


def cast(motion: Motion, dtype: torch.dtype) -> Motion:
    """The motion as it reads back after being stored in `dtype` (computation stays float32)."""
    embeddings = {k: t.to(dtype).float() for k, t in motion.embeddings.items()}
    latent = None if motion.inversion_latent is None else motion.inversion_latent.to(dtype).float()
    return Motion(**{**motion.__dict__, "embeddings": embeddings, "inversion_latent": latent})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    model = load_model(args.model)
    started = time.time()
    differences = {"fp16": [], "bf16": [], "another seed": []}
    for path in sorted(EXAMPLES.glob("*.safetensors")):
        motion = Motion.load(path)
        motion_type = "camera" if "pan" in path.stem else "object"
        for seed in range(args.seeds):

            def video(m: Motion, s: int = seed, kind: str = motion_type) -> np.ndarray:
                return generate(model, m, "a pink triangle", motion_type=kind, seed=s).numpy().astype(float)

            full = video(motion)
            differences["another seed"].append(np.abs(full - video(motion, seed + 1000)).mean())
            for name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
                differences[name].append(np.abs(full - video(cast(motion, dtype))).mean())
    print(f"{args.model}, {len(differences['fp16'])} videos, {time.time() - started:.0f} s")
    print("| stored as | mean abs pixel difference to the float32 motion's video (0-255) | max |")
    print("|---|---|---|")
    for name, values in differences.items():
        label = "float32, another seed (the scale of a visible change)" if name == "another seed" else name
        print(f"| {label} | {np.mean(values):.3f} | {np.max(values):.3f} |")


if __name__ == "__main__":
    main()
