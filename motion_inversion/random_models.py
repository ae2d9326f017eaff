"""The real models' architectures with random weights, for runs where their weights cannot be downloaded.

ZeroScope's UNet (`UNet3DConditionModel`, 1.41 B parameters) and AnimateDiff's (Stable Diffusion 1.5's UNet with the
v1-5-2 motion adapter, `UNetMotionModel`) are built from their real configs in ../shared/model-configs; Wan 2.1 T2V
1.3B's and Wan 2.2 TI2V 5B's transformers (`WanTransformer3DModel`, 1.42 B and 5.0 B) from assets/model-configs.
They come with a small VAE that keeps the real one's compression and latent channels (8x and 4 channels for the
UNets; Wan 2.1: 8x spatial, 4x causal temporal, 16 channels; Wan 2.2: 16x, 4x, 48 channels), and a small text
encoder whose embeddings have the real width (1024 for ZeroScope, 768 for AnimateDiff, 4096 for Wan's UMT5). So
every shape that motion inversion touches -- the latents, the attention the embeddings live in, the motion file --
is the real one, and the whole path (inversion, saving, loading, generation) runs on a CPU at small clip sizes. The
videos are noise.
"""

import dataclasses
import json
import tempfile
from pathlib import Path

import torch

from .models import REGISTRY, VideoModel
from .tiny import tiny_scheduler, tiny_tokenizer

CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "model-configs"  # ../shared beside the checkout
WAN_CONFIGS = Path(__file__).resolve().parents[1] / "assets" / "model-configs"  # in the project
WAN_ARCHITECTURES = {"wan2.1-1.3b": "wan2.1_t2v_1.3b_transformer.json", "wan2.2-5b": "wan2.2_ti2v_5b_transformer.json"}
ARCHITECTURES = ("zeroscope", "animatediff", *WAN_ARCHITECTURES)


def _config(name: str, configs: Path) -> dict:
    path = Path(configs) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the real architectures are built from ../shared/model-configs")
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}


def random_denoiser(name: str, configs: Path = CONFIGS) -> torch.nn.Module:
    """The UNet or transformer of registry model `name` (one of ARCHITECTURES) with random weights, frozen. Under
    accelerate's `init_empty_weights` it is built on the meta device (bench/cost.py counts FLOPs and memory so)."""
    from diffusers import (
        MotionAdapter,
        UNet2DConditionModel,
        UNet3DConditionModel,
        UNetMotionModel,
        WanTransformer3DModel,
    )

    if name in WAN_ARCHITECTURES:
        unet = WanTransformer3DModel.from_config(_config(WAN_ARCHITECTURES[name], WAN_CONFIGS))
    elif name == "zeroscope":
        unet = UNet3DConditionModel.from_config(_config("zeroscope_v2_576w_unet.json", configs))
    elif name == "animatediff":
        unet2d = UNet2DConditionModel.from_config(_config("sd15_unet.json", configs))
        adapter = MotionAdapter.from_config(_config("animatediff_v1_5_2_adapter.json", configs))
        unet = UNetMotionModel.from_unet2d(unet2d, adapter, load_weights=False)  # random either way
    else:
        raise ValueError(f"no real architecture for {name!r}; known: {', '.join(ARCHITECTURES)}")
    return unet.requires_grad_(False).eval()


def random_weight_model(name: str, height: int = 64, width: int = 64, num_frames: int = 8, seed: int = 0,
                        configs: Path = CONFIGS) -> VideoModel:  # fmt: skip
    """A CPU float32 `VideoModel` with the real denoiser of `name` and small encoders; its defaults (size, frames)
    are the small ones given, the rest of its recipe is the registry's."""
    torch.manual_seed(seed)
    denoiser = random_denoiser(name, configs)
    with tempfile.TemporaryDirectory(prefix="tokenizer-") as folder:  # the tokenizer reads its files at once
        tokenizer = tiny_tokenizer(folder)
    build = _wan_encoders if name in WAN_ARCHITECTURES else _unet_encoders
    vae, text_encoder, scheduler = build(name, denoiser, len(tokenizer))
    spec = dataclasses.replace(REGISTRY[name], source=f"random weights ({name} architecture)", height=height,
                               width=width, num_frames=num_frames, offload=False)  # fmt: skip
    model = VideoModel(name, vae, text_encoder, tokenizer, denoiser, scheduler, spec)
    for module in (model.vae, model.text_encoder):
        module.requires_grad_(False).eval()
    return model


def _unet_encoders(name: str, unet, vocab_size: int):
    from diffusers import AutoencoderKL
    from transformers import CLIPTextConfig, CLIPTextModel

    vae = AutoencoderKL(
        latent_channels=4, block_out_channels=(16, 32, 32, 32), layers_per_block=1, norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    )  # fmt: skip  # four levels: 8x downsampling, as in the real VAE
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=unet.config.cross_attention_dim, intermediate_size=64,
        num_hidden_layers=1, num_attention_heads=4, max_position_embeddings=16, bos_token_id=0, eos_token_id=1,
        pad_token_id=1,
    ))  # fmt: skip
    return vae, text_encoder, tiny_scheduler()


def _wan_encoders(name: str, transformer, vocab_size: int):
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler
    from transformers import UMT5Config, UMT5EncoderModel

    layout = dict(base_dim=8, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    if transformer.config.in_channels == 48:  # Wan 2.2's VAE: 2x2 pixel patches in, 16x spatial, 48 channels
        vae = AutoencoderKLWan(z_dim=48, is_residual=True, in_channels=12, out_channels=12, patch_size=2,
                               decoder_base_dim=8, scale_factor_spatial=16, **layout)  # fmt: skip
    else:
        vae = AutoencoderKLWan(z_dim=16, **layout)
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=vocab_size, d_model=transformer.config.text_dim, d_kv=16, d_ff=64, num_layers=1, num_heads=4,
        relative_attention_num_buckets=8,
    ))  # fmt: skip
    # the shift of each model's published scheduler (diffusers' convert_wan_to_diffusers.py: T2V 3.0, TI2V 5.0)
    shift = 5.0 if name == "wan2.2-5b" else 3.0
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=shift)
    return vae, text_encoder, scheduler
