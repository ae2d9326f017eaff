"""Motion-embedding sizes with the default targets, on the real architectures built without weights (meta device),
and the size of their motion files (embeddings + inversion latent, float16 as stored, and float32 as before).

python bench/parameter_counts.py [--configs ../shared/model-configs]
"""

import argparse
from pathlib import Path

from accelerate import init_empty_weights

from motion_inversion import inject_motion
from motion_inversion.models import REGISTRY
from motion_inversion.random_models import CONFIGS, random_denoiser


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", type=Path, default=CONFIGS)
    folder = parser.parse_args().configs

    with init_empty_weights():
        zeroscope, animatediff = random_denoiser("zeroscope", folder), random_denoiser("animatediff", folder)
        wan, wan22 = random_denoiser("wan2.1-1.3b"), random_denoiser("wan2.2-5b")

    # label, registry name, denoiser, clip, frames, latent frames, latent (h, w)
    rows = [
        ("ZeroScope", "zeroscope", zeroscope, "576x320", 24, 24, (40, 72)),
        ("AnimateDiff v1-5-2", "animatediff", animatediff, "512x512", 16, 16, (64, 64)),
        ("Wan 2.1 T2V 1.3B", "wan2.1-1.3b", wan, "832x480", 49, 13, (60, 104)),
        ("Wan 2.1 T2V 1.3B", "wan2.1-1.3b", wan, "832x480", 81, 21, (60, 104)),
        ("Wan 2.2 TI2V 5B", "wan2.2-5b", wan22, "1280x704", 121, 31, (44, 80)),
    ]
    print("| model | clip | blocks | layers | query-key | value | total | motion file (float16) | in float32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, name, denoiser, size, frames, latent_frames, latent in rows:
        spec = REGISTRY[name]
        with init_empty_weights():
            injection = inject_motion(denoiser, latent_frames, latent, spec.target_blocks, spec.value_pool)
        counts = injection.num_parameters()
        blocks = len({layer.block_name for layer in injection.layers})
        channels = denoiser.config.in_channels
        numbers = sum(counts.values()) + channels * latent_frames * latent[0] * latent[1]  # + the inversion latent
        print(
            f"| {label} | {size}x{frames} | {blocks} | {len(injection.processors)} | {counts['query_key']:,} | "
            f"{counts['value']:,} | {sum(counts.values()):,} | {numbers * 2 / 1e6:.1f} MB | "
            f"{numbers * 4 / 1e6:.1f} MB |"
        )
        injection.remove()


if __name__ == "__main__":
    main()
