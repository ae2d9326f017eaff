"""Motion-embedding sizes with the default targets, on the real architectures built without weights (meta device),
and the size of their motion files (embeddings + inversion latent, float16 as stored, and float32 as before).

python bench/parameter_counts.py [--configs ../shared/model-configs]
"""

import argparse
from pathlib import Path

from accelerate import init_empty_weights

from motion_inversion import inject_motion
from motion_inversion.random_models import CONFIGS, random_denoiser


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", type=Path, default=CONFIGS)
    folder = parser.parse_args().configs

    with init_empty_weights():
        zeroscope, animatediff = random_denoiser("zeroscope", folder), random_denoiser("animatediff", folder)

    rows = [
        ("ZeroScope", zeroscope, "576x320", 24, (40, 72)),
        ("AnimateDiff v1-5-2", animatediff, "512x512", 16, (64, 64)),
    ]
    print("| model | clip | blocks | layers | query-key | value | total | motion file (float16) | in float32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, unet, size, frames, latent in rows:
        injection = inject_motion(unet, frames, latent)
        counts = injection.num_parameters()
        blocks = len({layer.block_name for layer in injection.layers})
        numbers = sum(counts.values()) + 4 * frames * latent[0] * latent[1]  # + the inversion latent
        print(
            f"| {label} | {size}x{frames} | {blocks} | {len(injection.processors)} | {counts['query_key']:,} | "
            f"{counts['value']:,} | {sum(counts.values()):,} | {numbers * 2 / 1e6:.0f} MB | "
            f"{numbers * 4 / 1e6:.0f} MB |"
        )


if __name__ == "__main__":
    main()
