"""Tiny, randomly initialised text-to-video components built from config: for tests and CPU benchmarks.

Same component types as the real models (AutoencoderKL, CLIPTextModel + CLIPTokenizer, a video UNet, DDIM), small
enough to run a forward pass in milliseconds on a CPU. Every builder seeds torch first, so models are reproducible.
"""

import json
from pathlib import Path

import torch

TINY_VOCAB_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def tiny_unet(family: str = "unet3d", seed: int = 0):
    """A two-level video UNet: 32 then 64 channels, with temporal attention at both levels and in the mid block."""
    from diffusers import UNet3DConditionModel, UNetMotionModel

    torch.manual_seed(seed)
    common = dict(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
        norm_num_groups=4, cross_attention_dim=32,
    )  # fmt: skip
    if family == "unet3d":
        return UNet3DConditionModel(
            down_block_types=("CrossAttnDownBlock3D", "CrossAttnDownBlock3D"),
            up_block_types=("CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
            attention_head_dim=4,
            **common,
        )
    if family == "animatediff":
        return UNetMotionModel(
            down_block_types=("CrossAttnDownBlockMotion", "CrossAttnDownBlockMotion"),
            up_block_types=("CrossAttnUpBlockMotion", "CrossAttnUpBlockMotion"),
            num_attention_heads=4,
            motion_num_attention_heads=4,
            motion_max_seq_length=32,
            use_motion_mid_block=True,
            **common,
        )
    raise ValueError(f"family must be 'unet3d' or 'animatediff', got {family!r}")


def tiny_vae(seed: int = 0):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=8, sample_size=32,
    )  # fmt: skip


def write_tiny_tokenizer(folder: str | Path, words: tuple[str, ...] = ()) -> Path:
    """A small CLIP BPE tokenizer written as vocab.json + merges.txt: single characters, plus one token for each of
    `words` (built by merging left to right), so those words are one token and any other text still tokenizes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<|startoftext|>", "<|endoftext|>", "!"]
    for char in TINY_VOCAB_CHARS:
        tokens += [char, char + "</w>"]
    merges = []
    for word in sorted(words, key=len, reverse=True):  # longer words' merges first, so shorter ones cannot split them
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        merged = symbols[0]
        for symbol in symbols[1:]:
            if f"{merged} {symbol}" not in merges:
                merges.append(f"{merged} {symbol}")
                tokens.append(merged + symbol)
            merged += symbol
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(dict.fromkeys(tokens))}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(m + "\n" for m in merges))
    return folder


def tiny_tokenizer(folder: str | Path, words: tuple[str, ...] = (), max_length: int = 16):
    from transformers import CLIPTokenizer

    folder = write_tiny_tokenizer(folder, words)
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=max_length)


def tiny_text_encoder(vocab_size: int, seed: int = 0):
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    config = CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=16, bos_token_id=0, eos_token_id=1, pad_token_id=1,
    )  # fmt: skip
    return CLIPTextModel(config)


def tiny_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False)


def save_tiny_pipeline(folder: str | Path, family: str = "unet3d", height: int = 32, width: int = 32,
                       num_frames: int = 8, seed: int = 0) -> Path:  # fmt: skip
    """Write a complete tiny pipeline folder that `load_model(folder)` reads like a real one."""
    folder = Path(folder)
    tokenizer = tiny_tokenizer(folder / "tokenizer")
    tokenizer.save_pretrained(folder / "tokenizer")
    tiny_text_encoder(len(tokenizer), seed).save_pretrained(folder / "text_encoder")
    tiny_vae(seed).save_pretrained(folder / "vae")
    tiny_unet(family, seed).save_pretrained(folder / "unet")
    tiny_scheduler().save_pretrained(folder / "scheduler")
    settings = dict(name=f"tiny-{family}", height=height, width=width, num_frames=num_frames, steps=2, guidance=7.5)
    (folder / "motion_inversion.json").write_text(json.dumps(settings, indent=2))
    return folder


# -- a tiny Wan (families/wan.py): the same classes as Wan 2.1, a few thousand parameters ---------------------------
def tiny_wan_transformer(seed: int = 0, num_layers: int = 2):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=32, ffn_dim=32, num_layers=num_layers, rope_max_seq_len=32,
    )  # fmt: skip


def tiny_wan_vae(seed: int = 0):
    """Wan 2.1's VAE layout (8x spatial, 4x causal temporal compression, 16 latent channels) at 8 base channels."""
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    return AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True])  # fmt: skip


def tiny_umt5(vocab_size: int, seed: int = 0):
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    config = UMT5Config(vocab_size=vocab_size, d_model=32, d_kv=8, d_ff=32, num_layers=1, num_heads=4,
                        relative_attention_num_buckets=8)  # fmt: skip
    return UMT5EncoderModel(config)


def tiny_flow_scheduler():
    """The scheduler Wan's Diffusers repos ship: UniPC on flow-matching sigmas with a shift of 3."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)


def save_tiny_wan_pipeline(folder: str | Path, height: int = 64, width: int = 64, num_frames: int = 17,
                           seed: int = 0) -> Path:  # fmt: skip
    """A complete tiny Wan pipeline folder (transformer/, vae/, text_encoder/, tokenizer/, scheduler/)."""
    folder = Path(folder)
    tokenizer = tiny_tokenizer(folder / "tokenizer")
    tokenizer.save_pretrained(folder / "tokenizer")
    tiny_umt5(len(tokenizer), seed).save_pretrained(folder / "text_encoder")
    tiny_wan_vae(seed).save_pretrained(folder / "vae")
    tiny_wan_transformer(seed).save_pretrained(folder / "transformer")
    tiny_flow_scheduler().save_pretrained(folder / "scheduler")
    settings = dict(name="tiny-wan", height=height, width=width, num_frames=num_frames, steps=2, guidance=5.0, fps=16,
                    value_pool=2)  # fmt: skip
    (folder / "motion_inversion.json").write_text(json.dumps(settings, indent=2))
    return folder
