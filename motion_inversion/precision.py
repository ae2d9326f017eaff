"""Mixed precision for learning a motion, through accelerate: an `Accelerator` prepares the embeddings' optimizer,
gives the autocast context of the forward pass and scales the loss when it must (fp16).

Defaults: on a CPU, float32 (`"no"`), so the same seed learns the same motion bit for bit; on CUDA, bf16 where the GPU
supports it, else fp16 with loss scaling; a model loaded in float16 always gets fp16. accelerate keeps one precision
per process (its `AcceleratorState`): the first inversion of a process, or `accelerate launch --mixed_precision`,
sets it, and later inversions use it. Asking for another one in the same process is refused with a clear error.
"""

from .errors import MotionInversionError

MIXED_PRECISIONS = ("no", "bf16", "fp16")


def default_mixed_precision(device, dtype) -> str:
    import torch

    if device.type != "cuda":
        return "no"
    if dtype == torch.float16:
        return "fp16"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def training_accelerator(device, dtype, mixed_precision: str | None = None):
    """The process's Accelerator for learning with a model on `device` in `dtype`; `mixed_precision` (one of
    MIXED_PRECISIONS) overrides the default."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, is_initialized

    if mixed_precision is not None and mixed_precision not in MIXED_PRECISIONS:
        raise MotionInversionError(f"mixed precision must be one of {MIXED_PRECISIONS}, got {mixed_precision!r}")
    if is_initialized():
        current = AcceleratorState().mixed_precision
        if mixed_precision is not None and mixed_precision != current:
            raise MotionInversionError(
                f"this process already learns with mixed precision '{current}' (accelerate keeps one per process): "
                f"run '{mixed_precision}' in a new process"
            )
        return Accelerator()
    return Accelerator(mixed_precision=mixed_precision or default_mixed_precision(device, dtype),
                       cpu=device.type != "cuda")  # fmt: skip
