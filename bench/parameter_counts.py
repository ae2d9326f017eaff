"""Motion-embedding sizes with the default targets, on the real architectures built without weights (meta device),
and the size of their motion files (embeddings + inversion latent, float16 as stored, and float32 as before).

python bench/parameter_counts.py [--configs ../shared/model-configs]
"""

import argparse
import json
from pathlib import Path

from accelerate import init_empty_weights
from diffusers import MotionAdapter, UNet2DConditionModel, UNet3DConditionModel, UNetMotionModel

from motion_inversion import inject_motion


def read_config(folder: Path, name: str) -> dict:
    config = json.loads((folder / name).read_text())
    return {key: value for key, value in config.items() if not key.startswith("_")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", type=Path, default=Path(__file__).resolve().parents[2] / "shared/model-configs")
    folder = parser.parse_args().configs

    with init_empty_weights():
        zeroscope = UNet3DConditionModel.from_config(read_config(folder, "zeroscope_v2_576w_unet.json"))
        sd15 = UNet2DConditionModel.from_config(read_config(folder, "sd15_unet.json"))
        adapter = MotionAdapter.from_config(read_config(folder, "animatediff_v1_5_2_adapter.json"))
        animatediff = UNetMotionModel.from_unet2d(sd15, adapter, load_weights=False)

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
