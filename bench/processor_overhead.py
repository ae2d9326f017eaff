"""Forward-pass time of the tiny UNet with diffusers' stock attention vs with motion processors installed.

python bench/processor_overhead.py [--frames 16] [--latent 32 32] [--repeats 20]
"""

import argparse
import time

import torch

from motion_inversion import inject_motion
from motion_inversion.models import denoiser_forward
from motion_inversion.tiny import tiny_unet


def seconds_per_forward(unet, inputs, repeats: int) -> float:
    with torch.no_grad():
        denoiser_forward(unet, *inputs)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            denoiser_forward(unet, *inputs)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--latent", type=int, nargs=2, default=(32, 32))
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"tiny UNet, batch 2, {args.frames} frames, latent {args.latent[0]}x{args.latent[1]}, "
          f"{torch.get_num_threads()} CPU threads")  # fmt: skip
    print("| family | stock ms | motion ms (value full) | motion ms (value diff) | overhead |")
    print("|---|---|---|---|---|")
    for family in ("unet3d", "animatediff"):
        unet = tiny_unet(family).eval()
        inputs = (torch.randn(2, 4, args.frames, *args.latent), torch.tensor(500), torch.randn(2, 7, 32))
        stock = seconds_per_forward(unet, inputs, args.repeats)
        injection = inject_motion(unet, args.frames, tuple(args.latent))
        full = seconds_per_forward(unet, inputs, args.repeats)
        injection.value_mode = "diff"
        diff = seconds_per_forward(unet, inputs, args.repeats)
        injection.remove()
        print(f"| {family} | {stock * 1e3:.1f} | {full * 1e3:.1f} | {diff * 1e3:.1f} | {full / stock - 1:+.1%} |")


if __name__ == "__main__":
    main()
