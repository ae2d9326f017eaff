"""Train the toy text-to-video model on synthetic clips and save it as a diffusers pipeline folder.

    python -m motion_inversion.toy.train --out assets/toy-model --minutes 80

Two stages, both seeded: (1) an AutoencoderKL learns to compress 32x32 frames 4x to 8x8x4 latents; (2) a
UNet3DConditionModel and a small CLIPTextModel learn to denoise the latents of whole clips given their captions
(epsilon prediction, the usual DDPM objective, captions dropped 10% of the time for classifier-free guidance, an EMA
of the weights is what gets saved). The caption says only what the object looks like, so the model learns a
distribution of motions per caption; motion inversion has to pick one. The folder is rewritten (atomically, a
component at a time) every few minutes, so a run that is stopped early still leaves a usable model, and
`training.json` beside the weights records the command, machine, time and losses.
"""

import argparse
import copy
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..files import atomic_write
from ..models import REGISTRY
from ..tiny import tiny_scheduler, tiny_tokenizer
from . import clips

WORDS = ("a", *clips.COLOURS, *clips.SHAPES)
MAX_TOKENS = 16
TRAIN_SEED = 0  # training clips come from this seed; evaluation uses other seeds (see evaluate.py)
SPEC = REGISTRY["toy"]
DEFAULTS = dict(name=SPEC.name, height=SPEC.height, width=SPEC.width, num_frames=SPEC.num_frames, steps=SPEC.steps,
                guidance=SPEC.guidance, fps=SPEC.fps, lr=SPEC.lr, noise_prior=SPEC.noise_prior)  # fmt: skip


def build_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64, 64), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3, norm_num_groups=16,
        sample_size=clips.SIZE,
    )  # fmt: skip


def build_unet():
    from diffusers import UNet3DConditionModel

    # temporal attention at both resolutions (8x8 and 4x4 latents) and in the mid block, as in ZeroScope
    return UNet3DConditionModel(
        sample_size=clips.SIZE // 4, in_channels=4, out_channels=4, block_out_channels=(64, 128), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock3D",) * 2, up_block_types=("CrossAttnUpBlock3D",) * 2,
        attention_head_dim=16, norm_num_groups=16, cross_attention_dim=64,
    )  # fmt: skip


def build_text_encoder(vocab_size: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS, bos_token_id=0, eos_token_id=1, pad_token_id=1,
    )  # fmt: skip
    return CLIPTextModel(config)


def clip_pool(count: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    """uint8 (count, frames, h, w, 3) rendered clips and their captions."""
    specs = clips.sample_specs(count, seed)
    frames = np.stack([clips.render(spec).frames for spec in specs])
    return torch.from_numpy(frames), [spec.caption for spec in specs]


def to_pixels(frames: torch.Tensor) -> torch.Tensor:
    return frames.permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (n, 3, h, w) in [-1, 1]


def train_vae(frames: torch.Tensor, steps: int, log) -> "torch.nn.Module":
    vae = build_vae()
    optimizer = torch.optim.AdamW(vae.parameters(), lr=1e-3)
    images = frames.flatten(0, 1)  # (clips*frames, h, w, 3)
    generator = torch.Generator().manual_seed(1)
    for step in range(steps):
        batch = to_pixels(images[torch.randint(len(images), (64,), generator=generator)])
        posterior = vae.encode(batch).latent_dist
        reconstruction = vae.decode(posterior.sample(generator)).sample
        kl = posterior.kl().mean() / batch[0].numel()
        loss = F.mse_loss(reconstruction, batch) + 1e-4 * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        for group in optimizer.param_groups:
            group["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * (step + 1) / steps))
        if step % 100 == 0 or step == steps - 1:
            log(f"vae step {step}/{steps} loss {loss.item():.5f}")
    return vae.eval().requires_grad_(False)


@torch.no_grad()
def encode_pool(vae, frames: torch.Tensor) -> torch.Tensor:
    """(clips, 4, frames, h/4, w/4) unscaled latent means."""
    latents = []
    for clip in frames:
        latents.append(vae.encode(to_pixels(clip)).latent_dist.mean.permute(1, 0, 2, 3))  # (c, f, h, w)
    return torch.stack(latents)


def save_component(module, folder: Path) -> None:
    """save_pretrained in half precision (the folder must stay small) to a temp folder, then swap it in."""
    temp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    copy.deepcopy(module).half().save_pretrained(temp)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(temp, folder)


def write_json(path: Path, data: dict) -> None:
    with atomic_write(path) as temp_name:
        Path(temp_name).write_text(json.dumps(data, indent=2) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("assets/toy-model"))
    parser.add_argument("--clips", type=int, default=12000, help="training clips rendered (and encoded) once")
    parser.add_argument("--vae-steps", type=int, default=1500)
    parser.add_argument("--minutes", type=float, default=80.0, help="time budget for the UNet stage")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--save-every", type=float, default=5.0, help="minutes between saves of the folder")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)

    torch.manual_seed(TRAIN_SEED)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()

    def log(message: str) -> None:
        print(f"[{(time.time() - started) / 60:6.1f} min] {message}", flush=True)

    record = dict(
        command="python -m motion_inversion.toy.train " + " ".join(argv if argv is not None else sys.argv[1:]),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device.startswith("cuda") else ""),
        train_seed=TRAIN_SEED,
        clips=args.clips,
    )
    frames, captions = clip_pool(args.clips, TRAIN_SEED)
    log(f"rendered {len(frames)} clips")

    # -- stage 1: the autoencoder ------------------------------------------------------------------------------
    vae = train_vae(frames, args.vae_steps, log)
    latents = encode_pool(vae, frames)
    scaling_factor = 1.0 / latents.std().item()
    vae.register_to_config(scaling_factor=scaling_factor)
    latents = (latents * scaling_factor).to(args.device)
    log(f"encoded latents {tuple(latents.shape)}, scaling factor {scaling_factor:.4f}")
    save_component(vae, out / "vae")
    tokenizer = tiny_tokenizer(out / "tokenizer", WORDS, MAX_TOKENS)
    tokenizer.save_pretrained(out / "tokenizer")
    tiny_scheduler().save_pretrained(out / "scheduler")
    write_json(out / "motion_inversion.json", DEFAULTS)

    # -- stage 2: text encoder + video UNet, together -----------------------------------------------------------
    unet = build_unet().to(args.device)
    text_encoder = build_text_encoder(len(tokenizer)).to(args.device)
    ema = [copy.deepcopy(unet).requires_grad_(False), copy.deepcopy(text_encoder).requires_grad_(False)]
    scheduler = tiny_scheduler()
    alphas = scheduler.alphas_cumprod.to(args.device)
    tokens = tokenizer(captions + [""], padding="max_length", max_length=MAX_TOKENS, return_tensors="pt").input_ids
    tokens, empty = tokens[:-1].to(args.device), tokens[-1].to(args.device)
    parameters = list(unet.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.01)
    generator = torch.Generator(device=args.device).manual_seed(2)
    budget, last_save, step, losses = args.minutes * 60, time.time(), 0, []
    unet_started = time.time()

    def save(final: bool) -> None:
        save_component(ema[0], out / "unet")
        save_component(ema[1], out / "text_encoder")
        elapsed = time.time() - started
        write_json(out / "training.json", {
            **record, "finished": final, "unet_steps": step, "batch": args.batch,
            "minutes": round(elapsed / 60, 1), "final_loss": round(float(np.mean(losses[-200:])), 5),
            "loss_every_100_steps": [round(float(np.mean(losses[i:i + 100])), 5) for i in range(0, len(losses), 100)],
        })  # fmt: skip
        log(f"saved {out} after {step} steps")

    while time.time() - unet_started < budget:
        progress = (time.time() - unet_started) / budget
        lr = args.lr * min(1.0, (step + 1) / 200) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        index = torch.randint(len(latents), (args.batch,), generator=generator, device=args.device)
        x0 = latents[index]
        batch_tokens = tokens[index].clone()
        dropped = torch.rand(args.batch, generator=generator, device=args.device) < 0.1
        batch_tokens[dropped] = empty
        t = torch.randint(scheduler.config.num_train_timesteps, (args.batch,), generator=generator, device=args.device)
        noise = torch.randn(x0.shape, generator=generator, device=args.device)
        a = alphas[t].view(-1, 1, 1, 1, 1)
        noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
        prediction = unet(noisy, t, encoder_hidden_states=text_encoder(batch_tokens)[0]).sample
        loss = F.mse_loss(prediction, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        decay = min(0.998, (1 + step) / (10 + step))
        with torch.no_grad():
            for average, live in zip(ema, (unet, text_encoder), strict=True):
                for p_avg, p in zip(average.parameters(), live.parameters(), strict=True):
                    p_avg.lerp_(p, 1 - decay)
        losses.append(loss.item())
        step += 1
        if step % 100 == 0:
            log(f"unet step {step} loss {np.mean(losses[-100:]):.4f} lr {lr:.2e}")
        if time.time() - last_save > args.save_every * 60:
            save(final=False)
            last_save = time.time()
    save(final=True)


if __name__ == "__main__":
    main()
