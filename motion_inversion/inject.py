"""Find the temporal attentions of a video UNet and install (or remove) motion-embedding processors on them.

Works on both UNet families by walking module names, not tables keyed by block index:
- `unet3d` (UNet3DConditionModel: ZeroScope, ModelScope): temporal transformers under `*.temp_attentions.N`;
- `animatediff` (UNetMotionModel): temporal transformers under `*.motion_modules.N`; their attention input already
  carries AnimateDiff's sinusoidal positional embedding, which is kept.
A temporal transformer ("block", named e.g. `down_blocks.2.temp_attentions.0`) holds transformer layers, each with
self-attentions across frames (attn1, attn2). Each layer gets one query-key embedding shared by its attentions; each
attention gets its own value embedding. Channel counts are read from the attention modules, and each block's latent
grid from the UNet's down/up-samplers.
"""

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from diffusers.models.attention_processor import Attention
from torch import nn

from .embeddings import VALUE_MODES, zero_query_key, zero_value
from .errors import MotionInversionError
from .processor import MotionAttnProcessor

TEMPORAL_CONTAINERS = {"unet3d": "temp_attentions", "animatediff": "motion_modules"}


def unet_family(unet: nn.Module) -> str:
    """'unet3d' or 'animatediff', from the UNet's class (cheap: called on every UNet pass)."""
    from diffusers import UNet3DConditionModel, UNetMotionModel

    if isinstance(unet, UNetMotionModel):
        return "animatediff"
    if isinstance(unet, UNet3DConditionModel):
        return "unet3d"
    raise MotionInversionError(
        f"{type(unet).__name__} has no temporal attention (temp_attentions or motion_modules): "
        "motion inversion needs a video UNet such as ZeroScope's or AnimateDiff's"
    )


@dataclass
class TemporalLayer:
    """One transformer layer of a temporal block: the unit that shares a query-key embedding."""

    name: str  # e.g. "down_blocks.2.temp_attentions.0.transformer_blocks.0"
    block_name: str  # e.g. "down_blocks.2.temp_attentions.0"
    block: nn.Module  # the temporal transformer, whose input (b*f, c, h, w) tells the latent grid
    attentions: dict[str, Attention]  # {"attn1": ..., "attn2": ...}: the self-attentions across frames
    channels: int
    downsampling: int  # how many times the latent was halved before this block


def _downsampling_by_block(unet: nn.Module) -> dict[str, int]:
    """How many 2x downsamplings precede each top-level block, read from its down/up-samplers."""
    levels, level = {}, 0
    for index, block in enumerate(unet.down_blocks):
        levels[f"down_blocks.{index}"] = level
        if getattr(block, "downsamplers", None):
            level += 1
    levels["mid_block"] = level
    for index, block in enumerate(unet.up_blocks):
        levels[f"up_blocks.{index}"] = level
        if getattr(block, "upsamplers", None):
            level -= 1
    return levels


def _top_level_name(block_name: str) -> str:
    parts = block_name.split(".")
    return parts[0] if parts[0] == "mid_block" else ".".join(parts[:2])


def find_temporal_layers(unet: nn.Module) -> list[TemporalLayer]:
    """Every temporal self-attention layer of the UNet, in module order."""
    container = TEMPORAL_CONTAINERS[unet_family(unet)]
    levels = _downsampling_by_block(unet)
    layers = []
    for block_name, block in unet.named_modules():
        if block_name.split(".")[-2:-1] != [container]:
            continue
        for index, transformer_layer in enumerate(block.transformer_blocks):
            attentions = {
                name: module
                for name, module in transformer_layer.named_children()
                if isinstance(module, Attention) and not module.is_cross_attention
            }
            if not attentions:
                continue
            channels = next(iter(attentions.values())).to_q.in_features
            layers.append(
                TemporalLayer(
                    name=f"{block_name}.transformer_blocks.{index}",
                    block_name=block_name,
                    block=block,
                    attentions=attentions,
                    channels=channels,
                    downsampling=levels[_top_level_name(block_name)],
                )
            )
    return layers


def select_layers(layers: list[TemporalLayer], target_blocks: Sequence[str] | None = None) -> list[TemporalLayer]:
    """Layers whose block name matches one of the fnmatch patterns in `target_blocks`.

    The default (None) is the method's: the widest (1280-channel in the real models) temporal blocks outside the
    mid block -- for ZeroScope `down_blocks.2.temp_attentions.*` and `up_blocks.1.temp_attentions.*`, for
    AnimateDiff `down_blocks.{2,3}.motion_modules.*` and `up_blocks.{0,1}.motion_modules.*`.
    """
    if target_blocks is None:
        outside_mid = [layer for layer in layers if not layer.block_name.startswith("mid_block")]
        widest = max((layer.channels for layer in outside_mid), default=0)
        selected = [layer for layer in outside_mid if layer.channels == widest]
    else:
        patterns = [target_blocks] if isinstance(target_blocks, str) else list(target_blocks)
        selected = [layer for layer in layers if any(fnmatch.fnmatchcase(layer.block_name, p) for p in patterns)]
    if not selected:
        available = sorted({layer.block_name for layer in layers})
        raise MotionInversionError(f"no temporal block matches {target_blocks!r}; available blocks: {available}")
    return selected


def latent_grid(latent_size: tuple[int, int], downsampling: int) -> tuple[int, int]:
    """The (h, w) grid after `downsampling` stride-2 convolutions (each rounds up, as diffusers' Downsample2D)."""
    height, width = latent_size
    for _ in range(downsampling):
        height, width = (height + 1) // 2, (width + 1) // 2
    return height, width


class MotionInjection:
    """Motion embeddings installed in a UNet: their parameters, generation-time controls, and removal.

    Create with `inject_motion`. Embedding names (the keys of `state_dict`) are the UNet's own module names:
    `<layer>.query_key` and `<layer>.<attn>.value`,
    e.g. `down_blocks.2.temp_attentions.0.transformer_blocks.0.query_key`.
    """

    def __init__(self, unet: nn.Module, layers: list[TemporalLayer], num_frames: int, latent_size: tuple[int, int]):
        self.unet = unet
        self.layers = layers
        self.num_frames = num_frames
        self.latent_size = tuple(latent_size)
        self.processors: dict[str, MotionAttnProcessor] = {}
        self._original_processors: dict[str, object] = {}
        self._hooks = []
        device = next(unet.parameters()).device
        for layer in layers:
            grid = latent_grid(self.latent_size, layer.downsampling)
            query_key = nn.Parameter(zero_query_key(num_frames, layer.channels).to(device))
            block_processors = []
            for attn_name, attn in layer.attentions.items():
                value = nn.Parameter(zero_value(grid, num_frames, layer.channels).to(device))
                processor = MotionAttnProcessor(query_key, value, grid)
                self._original_processors[f"{layer.name}.{attn_name}"] = attn.processor
                attn.set_processor(processor)
                self.processors[f"{layer.name}.{attn_name}"] = processor
                block_processors.append(processor)
            self._hooks.append(
                layer.block.register_forward_pre_hook(_grid_reporter(block_processors), with_kwargs=True)
            )

    # -- the embeddings -------------------------------------------------------------------------------------------
    def named_embeddings(self) -> dict[str, nn.Parameter]:
        named = {}
        for layer in self.layers:
            first_attn = next(iter(layer.attentions))
            named[f"{layer.name}.query_key"] = self.processors[f"{layer.name}.{first_attn}"].query_key
            for attn_name in layer.attentions:
                named[f"{layer.name}.{attn_name}.value"] = self.processors[f"{layer.name}.{attn_name}"].value
        return named

    def parameters(self) -> list[nn.Parameter]:
        return list(self.named_embeddings().values())

    def num_parameters(self) -> dict[str, int]:
        counts = {"query_key": 0, "value": 0}
        for name, tensor in self.named_embeddings().items():
            counts[name.rsplit(".", 1)[1]] += tensor.numel()
        return counts

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Detached float32 CPU copies, keyed by embedding name."""
        return {name: p.detach().to("cpu", torch.float32).clone() for name, p in self.named_embeddings().items()}

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Copy tensors in; names and shapes must match exactly (MotionInversionError naming the mismatch)."""
        expected = self.named_embeddings()
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        if missing or unexpected:
            raise MotionInversionError(
                f"motion embedding names do not match this model: missing {missing[:3]}, unexpected {unexpected[:3]}"
            )
        for name, parameter in expected.items():
            if tuple(tensors[name].shape) != tuple(parameter.shape):
                raise MotionInversionError(
                    f"motion embedding {name} has shape {tuple(tensors[name].shape)}, "
                    f"this model needs {tuple(parameter.shape)}"
                )
        with torch.no_grad():
            for name, parameter in expected.items():
                parameter.copy_(tensors[name])

    # -- generation-time controls ---------------------------------------------------------------------------------
    @property
    def value_mode(self) -> str:
        return next(iter(self.processors.values())).value_mode

    @value_mode.setter
    def value_mode(self, mode: str) -> None:
        if mode not in VALUE_MODES:
            raise ValueError(f"value_mode must be one of {VALUE_MODES}, got {mode!r}")
        for processor in self.processors.values():
            processor.value_mode = mode

    @property
    def strength(self) -> float:
        return next(iter(self.processors.values())).strength

    @strength.setter
    def strength(self, strength: float) -> None:
        for processor in self.processors.values():
            processor.strength = float(strength)

    # -- removal --------------------------------------------------------------------------------------------------
    def remove(self) -> None:
        """Put the original processor objects back and drop the hooks; the UNet is as before `inject_motion`."""
        for layer in self.layers:
            for attn_name, attn in layer.attentions.items():
                attn.set_processor(self._original_processors[f"{layer.name}.{attn_name}"])
                # set_processor only unregisters an nn.Module processor when the new one is not a Module.
                if not isinstance(attn.processor, nn.Module):
                    attn._modules.pop("processor", None)
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        self.processors.clear()

    def __enter__(self) -> "MotionInjection":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _grid_reporter(processors: Iterable[MotionAttnProcessor]):
    """A forward pre-hook for a temporal transformer: tell its processors the latent grid of this pass."""
    processors = list(processors)

    def report_grid(module, args, kwargs):
        hidden_states = args[0] if args else kwargs["hidden_states"]  # (b*f, c, h, w)
        grid = tuple(hidden_states.shape[-2:])
        for processor in processors:
            processor.current_grid = grid

    return report_grid


def inject_motion(
    unet: nn.Module,
    num_frames: int,
    latent_size: tuple[int, int],
    target_blocks: Sequence[str] | None = None,
) -> MotionInjection:
    """Install zero-initialised motion embeddings for clips of `num_frames` frames and latent size (h, w)."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if any(isinstance(p, MotionAttnProcessor) for p in unet.attn_processors.values()):
        raise MotionInversionError("this UNet already carries motion embeddings: remove them first")
    layers = select_layers(find_temporal_layers(unet), target_blocks)
    return MotionInjection(unet, layers, num_frames, latent_size)
