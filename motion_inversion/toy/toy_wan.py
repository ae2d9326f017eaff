"""The toy Wan: a tiny model of Wan's classes for the toy world, and what training it needs (train.py --family wan).

Components, as in Wan 2.1 (families/wan.py drives them exactly as it drives the real model):
- `AutoencoderKLWan`, causal, with 2x temporal compression (the real VAE's is 4x: a toy latent frame of 4 frames
  holds where a moving subject is but not its corners, docs/toy-wan.md "Session 17"; `build_vae(4)` builds Wan's),
  and 4x spatial (32x32 frames -> 8x8 latents; the real one is 8x);
- `WanTransformer3DModel` with 1x1 patches (8x8 tokens per latent frame; the real model's 2x2 patches would leave 4x4
  tokens, about one per toy object), 6 blocks of 128 channels;
- a small `UMT5EncoderModel` over the toy vocabulary;
- the flow-matching `UniPCMultistepScheduler` Wan's repos ship.
Clips are 9 frames (1 + 2 x 4, what the VAE takes; the UNet's toy world has 8), so 5 latent frames.

Training objective: flow matching as Wan is trained (families/wan.py): x_s = (1 - s) x0 + s eps, target eps - x0,
s on the shifted schedule. A share of the steps conditions on the first frame the way Wan 2.2 TI2V does: the first
latent frame is given clean, with timestep 0 on its tokens, and only the other frames are denoised (and counted in
the loss), so the same model can start a video from an image. The pool also holds clips whose paths are centred
anywhere in the frame (train.py --placed-clips), always trained from their first frame: a creator's subject stands
anywhere, the toy world's clips start it near the middle (docs/toy-wan.md, "Session 15").
"""

import numpy as np
import torch

from ..families.wan import shifted_sigmas
from . import clips, tracker

NUM_FRAMES = 9  # 1 + 2k (and 1 + 4k): what the causal VAE takes; 5 latent frames (3 with Wan's 4x)
FLOW_SHIFT = 2.0  # a small latent needs less shift than Wan's 480p (3.0); not measured on the toy yet
FIRST_FRAME_SHARE = 0.3  # steps trained with the first latent frame given clean (image-to-video)
LATENT_CHANNELS = 16
TEMPORAL_FACTORS = (2, 4)  # frames per latent frame the toy VAE can have (the second down block always halves time)
VAE_TEMPORAL = 2  # the shipped toy Wan's: shapes kept 94% against 85% with 4 (docs/toy-wan.md, "Session 17")


def build_vae(temporal: int = VAE_TEMPORAL):
    """`temporal`: frames per latent frame, 2 (the shipped toy Wan's) or 4 as the real Wan's VAE (train.py
    --vae-temporal): a latent frame of 4 frames holds where a moving toy subject is but not its corners."""
    from diffusers import AutoencoderKLWan

    if temporal not in TEMPORAL_FACTORS:
        raise ValueError(f"the toy Wan's VAE compresses time by one of {TEMPORAL_FACTORS}, not {temporal}")
    return AutoencoderKLWan(base_dim=16, z_dim=LATENT_CHANNELS, dim_mult=[1, 2, 2], num_res_blocks=1,
                            temperal_downsample=[temporal == 4, True], scale_factor_spatial=4,
                            scale_factor_temporal=temporal)  # fmt: skip


def build_transformer():
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        patch_size=(1, 1, 1), num_attention_heads=4, attention_head_dim=32, in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS, text_dim=64, freq_dim=64, ffn_dim=256, num_layers=6, rope_max_seq_len=64,
    )  # fmt: skip


def build_text_encoder(vocab_size: int):
    from transformers import UMT5Config, UMT5EncoderModel

    config = UMT5Config(vocab_size=vocab_size, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                        relative_attention_num_buckets=8, pad_token_id=1, dropout_rate=0.0)  # fmt: skip
    return UMT5EncoderModel(config)


def build_scheduler():
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=FLOW_SHIFT)


def clip_pool(count: int, seed: int, spread: float = clips.CENTRE_SPREAD) -> tuple[torch.Tensor, list[str]]:
    """uint8 (count, 9, h, w, 3) rendered clips and their captions (`spread`: clips.object_path's)."""
    specs = clips.sample_specs(count, seed)
    frames = np.stack([clips.render(spec, num_frames=NUM_FRAMES, spread=spread).frames for spec in specs])
    return torch.from_numpy(frames), [spec.caption for spec in specs]


def to_video(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (n, f, h, w, 3) -> (n, 3, f, h, w) in [-1, 1]."""
    return frames.permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def train_vae(frames: torch.Tensor, steps: int, log, device="cpu", vae=None, lr=1e-3, batch: int = 8,
              temporal: int = VAE_TEMPORAL, object_weight: float = 0.0):  # fmt: skip
    """Train a new video autoencoder on whole clips (`batch` a step), or go on training `vae`; `object_weight`: the
    subject's pixels count 1 + this many times in the reconstruction error (subject_masks), 0 plain MSE."""
    from .train import fit_autoencoder

    subjects = subject_masks(frames) if object_weight else None

    def draw(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        pick = torch.randint(len(frames), (batch,), generator=generator)
        return to_video(frames[pick]), None if subjects is None else 1 + object_weight * subjects[pick].float()

    return fit_autoencoder(build_vae(temporal) if vae is None else vae, draw, steps, log, device, lr)


def subject_masks(frames: torch.Tensor) -> torch.Tensor:
    """bool (n, 1, f, h, w): where uint8 (n, f, h, w, 3) clips show their subject (any toy colour), grown by a pixel
    so its anti-aliased edge counts as the subject. Computed once for the pool, not at every step."""
    flat = frames.flatten(0, 1).numpy()
    subject = np.any(np.stack(list(tracker.colour_masks(flat).values())), axis=0)
    return torch.from_numpy(tracker.grow(subject, 1)).view(frames.shape[:4])[:, None]


@torch.no_grad()
def encode_pool(vae, frames: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    """(clips, c, 3, h/4, w/4) latents (the posterior's mode), unnormalised, on the CPU."""
    device = next(vae.parameters()).device
    return torch.cat([vae.encode(to_video(part).to(device)).latent_dist.mode().cpu() for part in frames.split(chunk)])


def normalised_latents(vae, frames: torch.Tensor) -> torch.Tensor:
    """The pool's latents normalised per channel; the mean and std go into the VAE's config (latents_mean,
    latents_std), which is where Wan's pipeline and families/wan.py read them."""
    latents = encode_pool(vae, frames)
    mean, std = latents.mean(dim=(0, 2, 3, 4)), latents.std(dim=(0, 2, 3, 4))
    vae.register_to_config(latents_mean=mean.tolist(), latents_std=std.tolist())
    return normalise(vae, latents)


def normalise(vae, latents: torch.Tensor) -> torch.Tensor:
    shape = (1, -1, 1, 1, 1)
    mean = torch.tensor(vae.config.latents_mean).view(shape)
    std = torch.tensor(vae.config.latents_std).view(shape)
    return (latents - mean) / std


def flow_loss(transformer, text, x0: torch.Tensor, generator: torch.Generator,
              from_first_frame: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """One flow-matching loss on clean latents `x0` (n, c, f, h, w) with text embeddings `text`; FIRST_FRAME_SHARE
    of the batch, and every clip `from_first_frame` (n,) marks, is conditioned on its clean first latent frame, as
    Wan 2.2 TI2V is."""
    n, device = len(x0), x0.device
    sigma = shifted_sigmas(torch.rand(n, generator=generator, device=device), FLOW_SHIFT).view(-1, 1, 1, 1, 1)
    noise = torch.randn(x0.shape, generator=generator, device=device)
    noisy = (1 - sigma) * x0 + sigma * noise
    first_frame = torch.rand(n, generator=generator, device=device) < FIRST_FRAME_SHARE
    if from_first_frame is not None:
        first_frame |= from_first_frame
    first_frame = first_frame.view(-1, 1, 1, 1, 1)
    given = torch.zeros_like(x0, dtype=torch.bool)
    given[:, :, :1] = True
    given &= first_frame  # (n, c, f, h, w): True where the latent is given clean
    noisy = torch.where(given, x0, noisy)
    tokens = x0.shape[2] * x0.shape[3] * x0.shape[4]  # 1x1 patches: a token per latent position
    timestep = (sigma.view(-1, 1) * 1000).expand(-1, tokens)  # one timestep per token (Wan 2.2 TI2V)
    timestep = torch.where(given[:, 0].flatten(1), torch.zeros_like(timestep), timestep)
    prediction = transformer(hidden_states=noisy, timestep=timestep, encoder_hidden_states=text, return_dict=False)[0]
    error = (prediction.float() - (noise - x0)).pow(2)
    counted = (~given).float()
    return (error * counted).sum() / counted.sum()
