"""Install (or remove) motion-embedding processors on a video model's attentions, whatever its family.

The model's family (families/) says which attentions can carry embeddings (`MotionLayer`s, found by walking module
names, not tables keyed by block index), their channel counts, each layer's token grid relative to the latent grid,
the processor class, and how each pass's grid is reported to the processors. Each layer gets one query-key embedding
shared by its attentions; each attention gets its own value embedding, on the layer's token grid or a grid
`value_pool` times coarser (upsampled bilinearly by the processor; Wan's default, models.py).
"""

import fnmatch
from collections.abc import Sequence

import torch
from torch import nn

from .embeddings import VALUE_MODES, zero_query_key, zero_value
from .errors import MotionInversionError
from .families import MotionLayer, family_of
from .processor import MotionEmbeddingProcessor


def find_motion_layers(denoiser: nn.Module) -> list[MotionLayer]:
    """Every layer of the model that can carry motion embeddings, in module order."""
    return family_of(denoiser).find_layers(denoiser)


def select_layers(denoiser: nn.Module, target_blocks: Sequence[str] | None = None) -> list[MotionLayer]:
    """Layers whose block name matches one of the fnmatch patterns in `target_blocks`; None: the family's default
    (UNets: the widest temporal blocks outside the mid block, the method's; Wan: every 3rd of the last 13 blocks)."""
    family = family_of(denoiser)
    layers = family.find_layers(denoiser)
    if target_blocks is None:
        selected = family.default_layers(layers)
    else:
        patterns = [target_blocks] if isinstance(target_blocks, str) else list(target_blocks)
        selected = [layer for layer in layers if any(fnmatch.fnmatchcase(layer.block_name, p) for p in patterns)]
    if not selected:
        available = sorted({layer.block_name for layer in layers})
        raise MotionInversionError(f"no temporal block matches {target_blocks!r}; available blocks: {available}")
    return selected


def latent_grid(latent_size: tuple[int, int], downsampling: int) -> tuple[int, int]:
    """The (h, w) grid after `downsampling` stride-2 halvings, each rounding up (as diffusers' Downsample2D)."""
    height, width = latent_size
    for _ in range(downsampling):
        height, width = (height + 1) // 2, (width + 1) // 2
    return height, width


def value_pool_halvings(value_pool: int) -> int:
    if value_pool < 1 or value_pool & (value_pool - 1):
        raise MotionInversionError(f"value_pool must be a power of 2 (1, 2, 4, ...), got {value_pool}")
    return value_pool.bit_length() - 1


class MotionInjection:
    """Motion embeddings installed in a video model: their parameters, generation-time controls, and removal.

    Create with `inject_motion`. Embedding names (the keys of `state_dict`) are the model's own module names:
    `<layer>.query_key` and `<layer>.<attn>.value`,
    e.g. `down_blocks.2.temp_attentions.0.transformer_blocks.0.query_key` or `blocks.5.attn1.value`.
    `num_frames` is the embeddings' frame count: the latent frames (a Wan VAE packs 4 video frames in one).
    """

    def __init__(self, denoiser: nn.Module, layers: list[MotionLayer], num_frames: int,
                 latent_size: tuple[int, int], value_pool: int = 1):  # fmt: skip
        self.denoiser = denoiser
        self.family = family_of(denoiser)
        self.layers = layers
        self.num_frames = num_frames
        self.latent_size = tuple(latent_size)
        self.value_pool = value_pool
        self.processors: dict[str, MotionEmbeddingProcessor] = {}
        self._original_processors: dict[str, object] = {}
        device = next(denoiser.parameters()).device
        pooling = value_pool_halvings(value_pool)
        by_layer = {}
        for layer in layers:
            grid = latent_grid(self.latent_size, layer.downsampling + pooling)
            query_key = nn.Parameter(zero_query_key(num_frames, layer.channels).to(device))
            by_layer[layer.name] = []
            for attn_name, attn in layer.attentions.items():
                value = nn.Parameter(zero_value(grid, num_frames, layer.channels).to(device))
                processor = self.family.make_processor(query_key, value, grid)
                self._original_processors[f"{layer.name}.{attn_name}"] = attn.processor
                attn.set_processor(processor)
                self.processors[f"{layer.name}.{attn_name}"] = processor
                by_layer[layer.name].append(processor)
        self._hooks = self.family.report_grids(denoiser, layers, by_layer)

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
        """Put the original processor objects back and drop the hooks; the model is as before `inject_motion`."""
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


def inject_motion(
    denoiser: nn.Module,
    num_frames: int,
    latent_size: tuple[int, int],
    target_blocks: Sequence[str] | None = None,
    value_pool: int = 1,
) -> MotionInjection:
    """Install zero-initialised motion embeddings for `num_frames` (latent) frames at latent size (h, w)."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if any(isinstance(p, MotionEmbeddingProcessor) for p in denoiser.attn_processors.values()):
        raise MotionInversionError("this model already carries motion embeddings: remove them first")
    layers = select_layers(denoiser, target_blocks)
    return MotionInjection(denoiser, layers, num_frames, latent_size, value_pool)
