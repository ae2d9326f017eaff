"""Model families: how motion embeddings meet one kind of video diffusion model, one short adapter each.

A family says where the embeddings attach (which attentions, how each pass's latent grid is known), how the model
sees text and frames (text encoder, VAE), and how it diffuses (the training target, the sampler's inversion of a
clip). inversion.py and generation.py are one loop each that call these; they never ask which family they run on.

- `unet3d` (unet3d.py): UNet3DConditionModel -- ZeroScope, ModelScope; DDPM noise, DDIM inversion.
- `animatediff` (animatediff.py): UNetMotionModel -- Stable Diffusion 1.5 + an AnimateDiff motion adapter.
- `wan` (wan.py): WanTransformer3DModel -- Wan 2.1 / 2.2; full 3D attention over every frame's tokens, flow matching.
"""

from torch import nn

from ..errors import MotionInversionError
from .base import Family, MotionLayer

__all__ = ["FAMILIES", "Family", "MotionLayer", "family_named", "family_of"]


def _families() -> dict[str, Family]:
    from .animatediff import AnimateDiffFamily
    from .unet3d import UNet3DFamily
    from .wan import WanFamily

    # AnimateDiff before UNet3D: each family's `matches` looks at the denoiser's class only
    return {family.name: family for family in (AnimateDiffFamily(), UNet3DFamily(), WanFamily())}


FAMILIES: dict[str, Family] = _families()


def family_of(denoiser: nn.Module) -> Family:
    """The family of a loaded denoiser (UNet or transformer), from its class."""
    for family in FAMILIES.values():
        if family.matches(denoiser):
            return family
    raise MotionInversionError(
        f"{type(denoiser).__name__} is not a video model motion inversion knows: supported are "
        "UNet3DConditionModel (ZeroScope, ModelScope), UNetMotionModel (AnimateDiff) and WanTransformer3DModel (Wan)"
    )


def family_named(name: str) -> Family:
    if name not in FAMILIES:
        raise MotionInversionError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]
