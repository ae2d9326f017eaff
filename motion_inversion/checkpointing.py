"""Gradient checkpointing for the UNet blocks that need a backward pass during inversion.

diffusers 0.42 refuses `enable_gradient_checkpointing()` on UNet3DConditionModel, and its 3D blocks ignore the
flag. Only the part of the network from the first motion embedding onwards is differentiated (frozen weights and
inputs never require grad, so nothing before the first embedding keeps activations). `checkpointed_blocks` wraps
each top-level block from that point on in a module that recomputes its activations in the backward pass, and puts
the original blocks back on exit, so the UNet's module tree and state_dict are unchanged afterwards.

Granularity: "block" wraps whole top-level blocks (least recompute and least memory kept between them, but the
backward of one block holds all of that block's activations at once); "layer" wraps each layer inside them (every
resnet, spatial and temporal transformer, temporal convolution, up/down-sampler), so the backward holds one layer's
activations at a time. bench/cost.py counts both on ZeroScope 576x320x24 in bf16: the largest block (up_blocks.3)
keeps 10.8 GiB for its backward, so a "block" step peaks at 14.4 GiB; per layer, the largest (a temporal
transformer) keeps 1.55 GiB and the step peaks at 6.4 GiB, with slightly *less* recompute (50.7 against 52.7
TFLOP; no checkpointing: 38.0 TFLOP, 29.3 GiB). So "layer" is what `gradient_checkpointing=True` means.
"""

from collections.abc import Iterable
from contextlib import contextmanager

from torch import nn
from torch.utils.checkpoint import checkpoint


class CheckpointedBlock(nn.Module):
    """Runs `block` under torch.utils.checkpoint; other attribute reads go to the block (the UNet reads some)."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, *args, **kwargs):
        return checkpoint(self.block, *args, use_reentrant=False, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.block, name)


def _blocks_in_forward_order(unet: nn.Module) -> list[tuple[str, nn.Module]]:
    blocks = [(f"down_blocks.{i}", block) for i, block in enumerate(unet.down_blocks)]
    if unet.mid_block is not None:
        blocks.append(("mid_block", unet.mid_block))
    return blocks + [(f"up_blocks.{i}", block) for i, block in enumerate(unet.up_blocks)]


def _set_block(unet: nn.Module, name: str, block: nn.Module) -> None:
    if name == "mid_block":
        unet.mid_block = block
    else:
        container, index = name.split(".")
        getattr(unet, container)[int(index)] = block


GRANULARITIES = ("block", "layer")


def layers_of(block: nn.Module) -> list[tuple[nn.ModuleList, int]]:
    """The layers of a top-level block, as (list, index) places: every entry of its module lists."""
    return [(child, index) for child in block.children() if isinstance(child, nn.ModuleList)
            for index in range(len(child))]  # fmt: skip


@contextmanager
def checkpointed_blocks(unet: nn.Module, first_trained_blocks: Iterable[str], granularity: str = "block"):
    """Checkpoint every top-level block (or every layer of them) from the first block whose name starts a
    `first_trained_blocks` entry."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    trained = list(first_trained_blocks)
    blocks = _blocks_in_forward_order(unet)
    first = next(i for i, (name, _) in enumerate(blocks) if any(t.startswith(name + ".") for t in trained))
    wrapped = blocks[first:]
    places = [place for _, block in wrapped for place in layers_of(block)] if granularity == "layer" else []
    originals = [container[index] for container, index in places]
    if granularity == "block":
        for name, block in wrapped:
            _set_block(unet, name, CheckpointedBlock(block))
    for (container, index), layer in zip(places, originals, strict=True):
        container[index] = CheckpointedBlock(layer)
    try:
        yield
    finally:
        if granularity == "block":
            for name, block in wrapped:
                _set_block(unet, name, block)
        for (container, index), layer in zip(places, originals, strict=True):
            container[index] = layer
