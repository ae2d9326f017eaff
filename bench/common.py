"""Shared by the benchmarks: the models they time and how they read time and peak memory."""

import resource
import time

import torch

from motion_inversion.random_models import random_denoiser

# The real architectures at their full sizes: label, latent frames, latent (h, w), text embeddings (tokens, width).
ARCHITECTURES = {
    "zeroscope": ("ZeroScope arch, 576x320x24", 24, (40, 72), (77, 1024)),
    "animatediff": ("AnimateDiff v1-5-2 arch, 512x512x16", 16, (64, 64), (77, 768)),
    "wan2.1-1.3b": ("Wan 2.1 T2V 1.3B arch, 480x832x49", 13, (60, 104), (512, 4096)),  # 49 frames: 13 latent
}


def real_unet(name: str, dtype: torch.dtype, device: str):
    """The UNet or transformer architecture of `name` with random weights (real weights cannot be downloaded)."""
    torch.manual_seed(0)
    return random_denoiser(name).to(device, dtype)


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


def report(rows: list[tuple], headers: list[str], title: str = "", gpu_rows: bool = True) -> None:
    """Print the device and a markdown table (floats with 3 decimals); says why GPU rows are missing on a CPU."""
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name()
    else:
        device = f"CPU, {torch.get_num_threads()} threads"
        if gpu_rows:
            device += " (no CUDA device: the real-architecture rows are skipped)"
    print(f"device: {device}{title}")
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(f"{cell:.3f}" if isinstance(cell, float) else str(cell) for cell in row) + " |")
