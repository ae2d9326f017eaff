"""What a model family provides (`Family`) and the unit the embeddings attach to (`MotionLayer`)."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import nn

# called before each step k of a clip's inversion and after the last (k = N); it raises to stop the inversion
InvertStep = Callable[[int, int], None]


@dataclass
class MotionLayer:
    """One place that carries a query-key embedding, shared by its attentions; each attention has a value embedding.

    UNets: a transformer layer of a temporal block (attn1, attn2 attend across frames at one spatial position).
    Wan: a transformer block (attn1 attends over every token of every frame)."""

    name: str  # prefix of its embeddings' names, e.g. "down_blocks.2.temp_attentions.0.transformer_blocks.0"
    block_name: str  # what `target_blocks` patterns match, e.g. "down_blocks.2.temp_attentions.0", "blocks.5"
    attentions: dict[str, nn.Module]  # {"attn1": ..., "attn2": ...}
    channels: int
    downsampling: int  # stride-2 halvings (each rounding up) from the latent grid to this layer's token grid
    block: nn.Module | None = None  # the module whose input tells the pass's grid (UNets)


class Family:
    """The adapter of one model family. Subclasses implement every method; the loops call only these."""

    name: str
    denoiser_folder: str  # the pipeline folder's subfolder with the denoiser: "unet" or "transformer"

    def matches(self, denoiser: nn.Module) -> bool:
        raise NotImplementedError

    # -- where the embeddings attach -------------------------------------------------------------------------------
    def find_layers(self, denoiser: nn.Module) -> list[MotionLayer]:
        """Every layer that can carry embeddings, in module order."""
        raise NotImplementedError

    def default_layers(self, layers: list[MotionLayer]) -> list[MotionLayer]:
        """The method's default targets among `layers` (when the recipe names none)."""
        raise NotImplementedError

    def make_processor(self, query_key: nn.Parameter, value: nn.Parameter, trained_grid: tuple[int, int]) -> nn.Module:
        raise NotImplementedError

    def report_grids(self, denoiser: nn.Module, layers: list[MotionLayer], processors: dict[str, list]) -> list:
        """Install forward pre-hooks that tell each layer's processors (`processors[layer.name]`) the token grid
        (h, w) of the current pass; return the hook handles."""
        raise NotImplementedError

    # -- frames, text and pixels ------------------------------------------------------------------------------------
    def latent_frames(self, vae: nn.Module, num_frames: int) -> int:
        """Latent frames for a clip of `num_frames` video frames."""
        raise NotImplementedError

    def frame_step(self, vae: nn.Module) -> int:
        """Clips have 1 + k * frame_step frames (a causal video VAE's temporal compression; 1 for frame VAEs)."""
        raise NotImplementedError

    def spatial_factor(self, vae: nn.Module, denoiser: nn.Module) -> int:
        """Height and width must be multiples of this (VAE downsampling times the denoiser's patch)."""
        raise NotImplementedError

    def vae_downsampling(self, vae: nn.Module) -> int:
        raise NotImplementedError

    def encode_text(self, text_encoder: nn.Module, tokenizer, prompts: list[str], device) -> torch.Tensor:
        raise NotImplementedError

    def encode_frames(self, vae: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
        """(f, 3, h, w) pixels in [-1, 1] -> (1, c, latent frames, h', w') latents as the denoiser sees them."""
        raise NotImplementedError

    def decode_latents(self, vae: nn.Module, latents: torch.Tensor) -> torch.Tensor:
        """(1, c, latent frames, h', w') -> (f, 3, h, w) pixels in about [-1, 1], float32 on the CPU."""
        raise NotImplementedError

    # -- diffusion --------------------------------------------------------------------------------------------------
    def predict(self, denoiser: nn.Module, latents: torch.Tensor, timestep, text: torch.Tensor,
                per_token_timesteps: bool = False, first_frame_given: bool = False) -> torch.Tensor:  # fmt: skip
        """The denoiser's output for (batch, c, frames, h, w) latents at `timestep` (the scheduler's units);
        `first_frame_given`: the first latent frame is clean, at timestep 0 (models trained for it only)."""
        raise NotImplementedError

    def training_example(
        self, scheduler, latents: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(noisy latents, timestep, target) for one training step: the timestep is drawn first, then the noise,
        both from `generator` (CPU), so one seed gives one sequence of steps."""
        raise NotImplementedError

    def invert(self, predict: Callable, scheduler, latents: torch.Tensor, text: torch.Tensor, steps: int,
               on_step: InvertStep) -> torch.Tensor:  # fmt: skip
        """The clip's latents carried back to the start of sampling by the sampler's ODE run in reverse, with
        `predict(latents, timestep, text)`; `on_step(k, steps)` is called before each step and after the last."""
        raise NotImplementedError

    def gradient_checkpointing(self, denoiser: nn.Module, layers: list[MotionLayer],
                               granularity: str) -> AbstractContextManager:  # fmt: skip
        raise NotImplementedError

    # -- loading ----------------------------------------------------------------------------------------------------
    def load_components(self, spec, dtype: torch.dtype) -> dict:
        """{vae, text_encoder, tokenizer, denoiser, scheduler} of the pipeline at `spec.source`; OSError or
        ValueError when weights are missing."""
        raise NotImplementedError
