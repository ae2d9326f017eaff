"""Shared by the benchmarks: the models they time and how they read time and peak memory."""

import json
import resource
import time
from pathlib import Path

import torch

CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "model-configs"


def zeroscope_unet(dtype: torch.dtype, device: str):
    """The ZeroScope UNet architecture with random weights (real weights cannot be downloaded here)."""
    from diffusers import UNet3DConditionModel

    config = json.loads((CONFIGS / "zeroscope_v2_576w_unet.json").read_text())
    torch.manual_seed(0)
    unet = UNet3DConditionModel.from_config({k: v for k, v in config.items() if not k.startswith("_")})
    return unet.to(device, dtype).requires_grad_(False).eval()


def peak_memory_mib(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (KiB on Linux)


def reset_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def timed(fn, repeats: int, device: str) -> float:
    """Seconds per call after one warm-up call."""
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def report(rows: list[tuple], headers: list[str], title: str = "") -> None:
    """Print the device and a markdown table (floats with 3 decimals); says why GPU rows are missing on a CPU."""
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name()
    else:
        device = f"CPU, {torch.get_num_threads()} threads (no CUDA device: ZeroScope-architecture rows skipped)"
    print(f"device: {device}{title}")
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(f"{cell:.3f}" if isinstance(cell, float) else str(cell) for cell in row) + " |")
