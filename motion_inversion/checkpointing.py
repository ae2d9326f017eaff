"""Gradient checkpointing for the UNet blocks that need a backward pass during inversion.

diffusers 0.42 refuses `enable_gradient_checkpointing()` on UNet3DConditionModel, and its 3D blocks ignore the
flag. Only the part of the network from the first motion embedding onwards is differentiated (frozen weights and
inputs never require grad, so nothing before the first embedding keeps activations). `checkpointed_blocks` wraps
each top-level block from that point on in a module that recomputes its activations in the backward pass, and puts
the original blocks back on exit, so the UNet's module tree and state_dict are unchanged afterwards.
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


@contextmanager
def checkpointed_blocks(unet: nn.Module, first_trained_blocks: Iterable[str]):
    """Checkpoint every top-level block from the first one whose name starts a `first_trained_blocks` entry."""
    trained = list(first_trained_blocks)
    blocks = _blocks_in_forward_order(unet)
    first = next(i for i, (name, _) in enumerate(blocks) if any(t.startswith(name + ".") for t in trained))
    wrapped = blocks[first:]
    for name, block in wrapped:
        _set_block(unet, name, CheckpointedBlock(block))
    try:
        yield
    finally:
        for name, block in wrapped:
            _set_block(unet, name, block)
