"""The real models' architectures with random weights, for runs where their weights cannot be downloaded.

ZeroScope's UNet (`UNet3DConditionModel`, 1.41 B parameters) and AnimateDiff's (Stable Diffusion 1.5's UNet with the
v1-5-2 motion adapter, `UNetMotionModel`) are built from their real configs in ../shared/model-configs. They come
with a small VAE that keeps the real one's 8x downsampling and 4 latent channels, and a small text encoder whose
embeddings have the real width (1024 for ZeroScope, 768 for AnimateDiff). So every shape that motion inversion
touches -- the latents, the temporal attention the embeddings live in, the motion file -- is the real one, and the
whole path (inversion, saving, loading, generation) runs on a CPU at small clip sizes. The videos are noise.
"""

import dataclasses
import json
import tempfile
from pathlib import Path

import torch

from .models import REGISTRY, VideoModel
from .tiny import tiny_scheduler, tiny_tokenizer

CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "model-configs"  # ../shared beside the checkout
ARCHITECTURES = ("zeroscope", "animatediff")


def _config(name: str, configs: Path) -> dict:
    path = Path(configs) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the real architectures are built from ../shared/model-configs")
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}


def random_unet(name: str, configs: Path = CONFIGS) -> torch.nn.Module:
    """The UNet of registry model `name` ('zeroscope' or 'animatediff') with random weights, frozen. Under
    accelerate's `init_empty_weights` it is built on the meta device (bench/cost.py counts FLOPs and memory so)."""
    from diffusers import MotionAdapter, UNet2DConditionModel, UNet3DConditionModel, UNetMotionModel

    if name == "zeroscope":
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
    """A CPU float32 `VideoModel` with the real UNet of `name` and small encoders; its defaults (size, frames) are
    the small ones given, the rest of its recipe is the registry's."""
    from diffusers import AutoencoderKL
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = random_unet(name, configs)
    vae = AutoencoderKL(
        latent_channels=4, block_out_channels=(16, 32, 32, 32), layers_per_block=1, norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    )  # fmt: skip  # four levels: 8x downsampling, as in the real VAE
    with tempfile.TemporaryDirectory(prefix="tokenizer-") as folder:  # the tokenizer reads its files at once
        tokenizer = tiny_tokenizer(folder)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=unet.config.cross_attention_dim, intermediate_size=64,
        num_hidden_layers=1, num_attention_heads=4, max_position_embeddings=16, bos_token_id=0, eos_token_id=1,
        pad_token_id=1,
    ))  # fmt: skip
    spec = dataclasses.replace(REGISTRY[name], source=f"random weights ({name} architecture)", height=height,
                               width=width, num_frames=num_frames)  # fmt: skip
    model = VideoModel(name, vae, text_encoder, tokenizer, unet, tiny_scheduler(), spec)
    for module in (model.vae, model.text_encoder):
        module.requires_grad_(False).eval()
    return model
