"""The Wan family: WanTransformer3DModel (Wan 2.1 T2V 1.3B / 14B, Wan 2.2 TI2V 5B); a diffusion transformer with full
3D attention over every frame's tokens, trained by flow matching.

Embeddings sit in each targeted block's self-attention (`blocks.N.attn1`, wan_processor.py); text cross-attention
(attn2) is left alone. The token grid of a pass is the transformer input's (h, w) divided by the patch size, reported
by a forward pre-hook on the transformer. The VAE (AutoencoderKLWan) is causal in time: a clip of 1 + 4k frames
becomes 1 + k latent frames (the first frame alone, then 4 per latent frame), so the embeddings' frames are latent
frames; latents are normalised by the VAE's per-channel mean and std. Text is UMT5's, zero past the prompt's tokens.

Flow matching, as Wan is trained: x_s = (1 - s) x_0 + s eps, the target is the velocity eps - x_0, the timestep is
1000 s, and s = shift u / (1 + (shift - 1) u) for u uniform in [0, 1) with the scheduler's shift. The clip is
inverted by the flow ODE run backwards (Euler, from s = 0 to s = 1 on the shifted schedule), with the empty prompt.
"""

import math
from contextlib import contextmanager, nullcontext

import torch
from torch import nn

from .base import Family, MotionLayer

# Default targets: every 3rd of the last 13 blocks (17, 20, 23, 26, 29 of Wan 2.1 1.3B's 30). Chosen by cost until
# the toy Wan measures motion fidelity per block (docs/wan.md): the backward pass runs only from the first embedded
# block on, and bench/cost.py counts 502 TFLOP per checkpointed step at 480x832x49 with a block-0 embedding (400 steps:
# 508 s at 40% of an H100's bf16 peak) against 291 TFLOP from block 17 (294 s, the issue's 5-minute target). With
# the value grid pooled 4x, five blocks of a 480x832, 81-frame motion are 34 MB in float16, 38 MB with the latent.
LAST_BLOCKS, BLOCK_STRIDE = 13, 3
MAX_TEXT_TOKENS = 512  # Wan's text context (its pipeline pads or truncates prompts to 512 UMT5 tokens)


class WanFamily(Family):
    name = "wan"
    denoiser_folder = "transformer"

    def matches(self, denoiser: nn.Module) -> bool:
        from diffusers import WanTransformer3DModel

        return isinstance(denoiser, WanTransformer3DModel)

    # -- where the embeddings attach -------------------------------------------------------------------------------
    def find_layers(self, denoiser: nn.Module) -> list[MotionLayer]:
        patch_halvings = int(math.log2(denoiser.config.patch_size[1]))
        return [
            MotionLayer(
                name=f"blocks.{index}",
                block_name=f"blocks.{index}",
                attentions={"attn1": block.attn1},
                channels=block.attn1.to_q.in_features,
                downsampling=patch_halvings,
            )  # fmt: skip
            for index, block in enumerate(denoiser.blocks)
        ]

    def default_layers(self, layers: list[MotionLayer]) -> list[MotionLayer]:
        return layers[-LAST_BLOCKS::BLOCK_STRIDE]

    def make_processor(self, query_key, value, trained_grid):
        from ..wan_processor import WanMotionAttnProcessor

        return WanMotionAttnProcessor(query_key, value, trained_grid)

    def report_grids(self, denoiser, layers, processors):
        everyone = [processor for layer in layers for processor in processors[layer.name]]
        _, patch_height, patch_width = denoiser.config.patch_size

        def report_grid(module, args, kwargs):
            hidden_states = args[0] if args else kwargs["hidden_states"]  # (b, c, f, h, w)
            grid = (hidden_states.shape[-2] // patch_height, hidden_states.shape[-1] // patch_width)
            for processor in everyone:
                processor.current_grid = grid

        return [denoiser.register_forward_pre_hook(report_grid, with_kwargs=True)]

    # -- frames, text and pixels ------------------------------------------------------------------------------------
    def latent_frames(self, vae, num_frames: int) -> int:
        return (num_frames - 1) // vae.config.scale_factor_temporal + 1

    def frame_step(self, vae) -> int:
        return vae.config.scale_factor_temporal

    def vae_downsampling(self, vae) -> int:
        return vae.config.scale_factor_spatial

    def spatial_factor(self, vae, denoiser) -> int:
        return vae.config.scale_factor_spatial * denoiser.config.patch_size[1]

    def encode_text(self, text_encoder, tokenizer, prompts, device) -> torch.Tensor:
        max_length = min(tokenizer.model_max_length, MAX_TEXT_TOKENS)
        tokens = tokenizer(
            prompts, padding="max_length", max_length=max_length, truncation=True, add_special_tokens=True,
            return_attention_mask=True, return_tensors="pt",
        )  # fmt: skip
        mask = tokens.attention_mask.to(device)
        embeddings = text_encoder(tokens.input_ids.to(device), mask).last_hidden_state
        return embeddings * mask[..., None].to(embeddings.dtype)  # Wan's pipeline zeroes the padding tokens

    def _normalisation(self, vae, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, vae.config.z_dim, 1, 1, 1)
        mean = torch.tensor(vae.config.latents_mean).view(shape).to(like.device, like.dtype)
        std = torch.tensor(vae.config.latents_std).view(shape).to(like.device, like.dtype)
        return mean, std

    def encode_frames(self, vae, pixels: torch.Tensor) -> torch.Tensor:
        video = pixels.permute(1, 0, 2, 3)[None]  # (1, 3, f, h, w)
        latents = vae.encode(video).latent_dist.mode()
        mean, std = self._normalisation(vae, latents)
        return ((latents - mean) / std).contiguous()

    def decode_latents(self, vae, latents: torch.Tensor) -> torch.Tensor:
        mean, std = self._normalisation(vae, latents)
        video = vae.decode(latents * std + mean).sample  # (1, 3, f, h, w)
        return video[0].permute(1, 0, 2, 3).float().cpu()

    # -- diffusion: flow matching -----------------------------------------------------------------------------------
    def predict(self, denoiser, latents, timestep, text, per_token_timesteps=False, first_frame_given=False):
        timestep = torch.as_tensor(timestep, device=latents.device).reshape(-1).expand(latents.shape[0])
        if per_token_timesteps or first_frame_given:  # one timestep per token (Wan 2.2 TI2V's expand_timesteps)
            p_t, p_h, p_w = denoiser.config.patch_size
            frames, height, width = latents.shape[2:]
            per_frame = (height // p_h) * (width // p_w)
            timestep = timestep[:, None].expand(-1, (frames // p_t) * per_frame)
            if first_frame_given:  # the clean first latent frame's tokens are at timestep 0, as in training
                timestep = torch.cat([torch.zeros_like(timestep[:, :per_frame]), timestep[:, per_frame:]], dim=1)
        return denoiser(hidden_states=latents, timestep=timestep, encoder_hidden_states=text, return_dict=False)[0]

    def training_example(self, scheduler, latents, generator):
        sigma = shifted_sigmas(torch.rand((1,), generator=generator), flow_shift(scheduler)).to(latents.device)
        noise = torch.randn(latents.shape, generator=generator).to(latents.device)
        noisy = (1 - sigma) * latents + sigma * noise
        timestep = sigma * scheduler.config.num_train_timesteps
        return noisy, timestep, noise - latents

    @torch.no_grad()
    def invert(self, predict, scheduler, latents, text, steps, on_step) -> torch.Tensor:
        sigmas = shifted_sigmas(torch.linspace(0, 1, steps + 1, dtype=torch.float64), flow_shift(scheduler)).tolist()
        x = latents
        for index in range(steps):
            on_step(index, steps)
            timestep = torch.tensor([sigmas[index] * scheduler.config.num_train_timesteps], device=x.device)
            velocity = predict(x, timestep, text).float()
            x = x + (sigmas[index + 1] - sigmas[index]) * velocity
        on_step(steps, steps)
        return x

    def gradient_checkpointing(self, denoiser, layers, granularity):
        return _checkpointed(denoiser) if granularity else nullcontext()

    # -- loading ----------------------------------------------------------------------------------------------------
    def load_components(self, spec, dtype) -> dict:
        import diffusers
        from diffusers import AutoencoderKLWan, WanTransformer3DModel
        from transformers import AutoTokenizer, UMT5EncoderModel

        source = spec.source
        # any scheduler class reads scheduler_config.json; the class it names is the one built
        scheduler_config = diffusers.UniPCMultistepScheduler.load_config(source, subfolder="scheduler")
        scheduler_class = getattr(diffusers, scheduler_config.get("_class_name", ""), None)
        if scheduler_class is None:
            raise ValueError(f"unknown scheduler {scheduler_config.get('_class_name')!r}")
        return dict(
            vae=AutoencoderKLWan.from_pretrained(source, subfolder="vae", torch_dtype=dtype),
            text_encoder=UMT5EncoderModel.from_pretrained(source, subfolder="text_encoder", dtype=dtype),
            tokenizer=AutoTokenizer.from_pretrained(source, subfolder="tokenizer"),
            denoiser=WanTransformer3DModel.from_pretrained(source, subfolder="transformer", torch_dtype=dtype),
            scheduler=scheduler_class.from_config({**scheduler_config, **spec.scheduler_overrides}),
        )


def flow_shift(scheduler) -> float:
    """The schedule's shift (UniPC calls it flow_shift, FlowMatchEuler shift); 1 means no shift."""
    config = scheduler.config
    return float(config.get("flow_shift") or config.get("shift") or 1.0)


def shifted_sigmas(u: torch.Tensor, shift: float) -> torch.Tensor:
    """Noise levels s = shift u / (1 + (shift - 1) u): more of them at high noise for shift > 1 (Wan: 3 to 5)."""
    return shift * u / (1 + (shift - 1) * u)


@contextmanager
def _checkpointed(denoiser: nn.Module):
    """Wan's own per-block gradient checkpointing (the transformer supports it), on for the duration."""
    was_on = denoiser.gradient_checkpointing
    denoiser.enable_gradient_checkpointing()
    try:
        yield
    finally:
        if not was_on:
            denoiser.disable_gradient_checkpointing()
