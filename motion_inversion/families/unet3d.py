"""The UNet3D family: UNet3DConditionModel (ZeroScope, ModelScope). Also the base of the AnimateDiff family.

Embeddings sit in the temporal transformers `*.temp_attentions.N`, where hidden states are (batch*h*w, frames,
channels) and attention runs across frames; each transformer layer has one query-key embedding shared by its two
self-attentions across frames (attn1, attn2), and each attention its own value embedding (METHOD.md). A block's grid
is its input's (h, w), reported by a forward pre-hook; its downsampling is read from the UNet's down/up-samplers.
Frames are encoded one by one by a 2D VAE (AutoencoderKL, latents times its scaling factor); text by CLIP. Diffusion
is DDPM: the target is the noise (or the velocity for v-prediction models), the clip is inverted by DDIM backwards.
"""

from contextlib import nullcontext

import torch
from torch import nn

from ..checkpointing import checkpointed_blocks
from .base import Family, MotionLayer


class UNet3DFamily(Family):
    name = "unet3d"
    denoiser_folder = "unet"
    temporal_container = "temp_attentions"

    def matches(self, denoiser: nn.Module) -> bool:
        from diffusers import UNet3DConditionModel

        return isinstance(denoiser, UNet3DConditionModel)

    # -- where the embeddings attach -------------------------------------------------------------------------------
    def find_layers(self, denoiser: nn.Module) -> list[MotionLayer]:
        from diffusers.models.attention_processor import Attention

        levels = _downsampling_by_block(denoiser)
        layers = []
        for block_name, block in denoiser.named_modules():
            if block_name.split(".")[-2:-1] != [self.temporal_container]:
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
                    MotionLayer(
                        name=f"{block_name}.transformer_blocks.{index}",
                        block_name=block_name,
                        attentions=attentions,
                        channels=channels,
                        downsampling=levels[_top_level_name(block_name)],
                        block=block,
                    )  # fmt: skip
                )
        return layers

    def default_layers(self, layers: list[MotionLayer]) -> list[MotionLayer]:
        """The method's: the widest (1280-channel in the real models) temporal blocks outside the mid block -- for
        ZeroScope `down_blocks.2.temp_attentions.*` and `up_blocks.1.temp_attentions.*`."""
        outside_mid = [layer for layer in layers if not layer.block_name.startswith("mid_block")]
        widest = max((layer.channels for layer in outside_mid), default=0)
        return [layer for layer in outside_mid if layer.channels == widest]

    def make_processor(self, query_key, value, trained_grid):
        from ..processor import MotionAttnProcessor

        return MotionAttnProcessor(query_key, value, trained_grid)

    def report_grids(self, denoiser, layers, processors):
        by_block: dict[int, tuple[nn.Module, list]] = {}
        for layer in layers:
            by_block.setdefault(id(layer.block), (layer.block, []))[1].extend(processors[layer.name])
        return [
            block.register_forward_pre_hook(_grid_reporter(block_processors), with_kwargs=True)
            for block, block_processors in by_block.values()
        ]

    # -- frames, text and pixels ------------------------------------------------------------------------------------
    def latent_frames(self, vae, num_frames: int) -> int:
        return num_frames

    def frame_step(self, vae) -> int:
        return 1

    def vae_downsampling(self, vae) -> int:
        return 2 ** (len(vae.config.block_out_channels) - 1)

    def spatial_factor(self, vae, denoiser) -> int:
        return self.vae_downsampling(vae)

    def encode_text(self, text_encoder, tokenizer, prompts, device) -> torch.Tensor:
        tokens = tokenizer(
            prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids
        return text_encoder(tokens.to(device))[0]

    def encode_frames(self, vae, pixels: torch.Tensor, chunk: int = 8) -> torch.Tensor:
        latents = [vae.encode(part).latent_dist.mean for part in pixels.split(chunk)]
        latents = torch.cat(latents) * vae.config.scaling_factor  # (f, c, h, w)
        return latents.permute(1, 0, 2, 3)[None].contiguous()  # contiguous: strides change conv kernels' sums

    def decode_latents(self, vae, latents: torch.Tensor, chunk: int = 8) -> torch.Tensor:
        latents = latents[0].permute(1, 0, 2, 3) / vae.config.scaling_factor  # (f, c, h, w)
        return torch.cat([vae.decode(part).sample.float().cpu() for part in latents.split(chunk)])

    # -- diffusion: DDPM ---------------------------------------------------------------------------------------------
    def predict(self, denoiser, latents, timestep, text, per_token_timesteps=False, first_frame_given=False):
        return denoiser(latents, timestep, encoder_hidden_states=text).sample

    def training_example(self, scheduler, latents, generator):
        timestep = torch.randint(0, scheduler.config.num_train_timesteps, (1,), generator=generator)
        noise = torch.randn(latents.shape, generator=generator).to(latents.device)
        timestep = timestep.to(latents.device)
        noisy = scheduler.add_noise(latents, noise, timestep)
        if scheduler.config.prediction_type == "v_prediction":
            return noisy, timestep, scheduler.get_velocity(latents, noise, timestep)
        return noisy, timestep, noise

    @torch.no_grad()
    def invert(self, predict, scheduler, latents, text, steps, on_step) -> torch.Tensor:
        """DDIM run backwards from clean latents to t near the end of the schedule, no guidance."""
        scheduler.set_timesteps(steps)
        device = latents.device
        alphas = scheduler.alphas_cumprod.to(device)
        step_size = scheduler.config.num_train_timesteps // steps
        x = latents
        for index, t in enumerate(scheduler.timesteps.flip(0)):  # ascending
            on_step(index, steps)
            alpha_from = alphas[t - step_size] if t >= step_size else scheduler.final_alpha_cumprod.to(device)
            alpha_to = alphas[t]
            output = predict(x, t.to(device), text).float()
            if scheduler.config.prediction_type == "v_prediction":
                eps = alpha_from.sqrt() * output + (1 - alpha_from).sqrt() * x
            else:
                eps = output
            x0 = (x - (1 - alpha_from).sqrt() * eps) / alpha_from.sqrt()
            x = alpha_to.sqrt() * x0 + (1 - alpha_to).sqrt() * eps
        on_step(steps, steps)
        return x

    def gradient_checkpointing(self, denoiser, layers, granularity):
        if not granularity:
            return nullcontext()
        return checkpointed_blocks(denoiser, [layer.name for layer in layers], granularity)

    # -- loading ----------------------------------------------------------------------------------------------------
    def load_components(self, spec, dtype) -> dict:
        from diffusers import AutoencoderKL, DDIMScheduler
        from transformers import CLIPTextModel, CLIPTokenizer

        source = spec.source
        components = dict(
            vae=AutoencoderKL.from_pretrained(source, subfolder="vae", torch_dtype=dtype),
            text_encoder=CLIPTextModel.from_pretrained(source, subfolder="text_encoder", dtype=dtype),
            tokenizer=CLIPTokenizer.from_pretrained(source, subfolder="tokenizer"),
            denoiser=self.load_denoiser(spec, dtype),
        )
        # DDIM both samples and inverts; the model's own noise schedule and prediction type are kept.
        scheduler_config = DDIMScheduler.load_config(source, subfolder="scheduler")
        components["scheduler"] = DDIMScheduler.from_config({**scheduler_config, **spec.scheduler_overrides})
        return components

    def load_denoiser(self, spec, dtype) -> nn.Module:
        from diffusers import UNet3DConditionModel

        return UNet3DConditionModel.from_pretrained(spec.source, subfolder="unet", torch_dtype=dtype)


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


def _grid_reporter(processors: list):
    """A forward pre-hook for a temporal transformer: tell its processors the latent grid of this pass."""

    def report_grid(module, args, kwargs):
        hidden_states = args[0] if args else kwargs["hidden_states"]  # (b*f, c, h, w)
        grid = tuple(hidden_states.shape[-2:])
        for processor in processors:
            processor.current_grid = grid

    return report_grid
