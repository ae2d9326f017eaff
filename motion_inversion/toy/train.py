"""Train the toy text-to-video model on synthetic clips and save it as a diffusers pipeline folder.

    python -m motion_inversion.toy.train --out assets/toy-model --minutes 80       # from scratch
    python -m motion_inversion.toy.train --resume --minutes 60                    # go on where the last run stopped
    python -m motion_inversion.toy.train --resume --device cuda --unet-steps 40000  # on a GPU
    python -m motion_inversion.toy.train --family wan --minutes 60                 # the toy Wan (assets/toy-wan)

Two stages, both seeded: (1) an AutoencoderKL learns to compress 32x32 frames 4x to 8x8x4 latents; (2) a
UNet3DConditionModel and a small CLIPTextModel learn to denoise the latents of whole clips given their captions
(epsilon prediction, the usual DDPM objective, captions dropped 10% of the time for classifier-free guidance, an EMA
of the weights is what gets saved). The caption says only what the object looks like, so the model learns a
distribution of motions per caption; motion inversion has to pick one. `--family wan` trains the toy Wan instead
(toy_wan.py): a causal video VAE, a WanTransformer3DModel and a small UMT5, by flow matching, partly conditioned on
the first frame; everything else (resuming, EMA, exports) is the same.

Resuming: every `--save-every` minutes (and at the end, on Ctrl-C or SIGTERM) the whole training state
-- weights, EMA, optimizer, random generator, step, losses -- goes to `--checkpoint` (kept out of git), and the EMA
weights are exported to `--out` (atomically, a component at a time), with `training.json` recording the command,
machine, steps, time and losses of every run. `--resume` continues from that checkpoint with the same weights,
optimizer state and random draws as if the run had not stopped (not bit for bit: CPU kernels round differently
depending on where tensors sit in memory, so weights agree to ~1e-5); without a checkpoint it starts the UNet stage
from the weights already in `--out`, with a fresh optimizer. The learning rate follows the step count (warm-up, then
a cosine to a tenth over `--unet-steps`), so a run can stop and resume anywhere.
"""

import argparse
import contextlib
import copy
import functools
import json
import math
import os
import platform
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..families import family_named
from ..files import atomic_write
from ..models import REGISTRY
from ..tiny import tiny_scheduler, tiny_tokenizer
from . import clips, toy_wan

WORDS = ("a", "an", *clips.COLOURS, *clips.SHAPES)
MAX_TOKENS = 16
TRAIN_SEED = 0  # training clips come from this seed; evaluation uses other seeds (see evaluate.py)
PLACED_SEED = 1  # the toy Wan's placed clips (--placed-clips) come from this one
PLACED_SPREAD = 0.3  # their paths' centres: up to this far from the middle, so subjects start anywhere in the frame
SPEC = REGISTRY["toy"]
# the recipe travels with the folder (motion_inversion.json)


def spec_settings(spec) -> dict:
    """What motion_inversion.json carries for a registry spec: its sizes, sampling and recipe."""
    names = ("name", "height", "width", "num_frames", "steps", "guidance", "fps", "frame_step", "invert_steps", "lr",
             "target_blocks", "noise_prior", "strength", "motion_until", "value_modes", "value_pool",
             "per_token_timesteps", "first_frame", "family")  # fmt: skip
    return {name: getattr(spec, name) for name in names}


DEFAULTS = spec_settings(SPEC)
WAN_SPEC_DEFAULTS = spec_settings(REGISTRY["toy-wan"])
CHECKPOINT = Path(".toy-training")  # the resumable state; .gitignore'd
WARMUP_STEPS = 100
CAPTION_DROPOUT = 0.1  # captions dropped this often, for classifier-free guidance
EMA_DECAY = 0.998


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


def carry_token_embeddings(text_encoder, old_vocab: dict[str, int], new_vocab: dict[str, int]) -> None:
    """Re-index the text encoder's token embeddings for a new vocabulary (the toy world's words changed): a token
    both vocabularies share keeps its learned row, a new word starts from the mean of the old rows."""
    old_rows = text_encoder.get_input_embeddings().weight.detach().clone()
    text_encoder.resize_token_embeddings(len(new_vocab), mean_resizing=False)
    rows = text_encoder.get_input_embeddings().weight
    with torch.no_grad():
        for token, index in new_vocab.items():
            rows[index] = old_rows[old_vocab[token]] if token in old_vocab else old_rows.mean(dim=0)


def clip_pool(count: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    """uint8 (count, frames, h, w, 3) rendered clips and their captions."""
    specs = clips.sample_specs(count, seed)
    frames = np.stack([clips.render(spec).frames for spec in specs])
    return torch.from_numpy(frames), [spec.caption for spec in specs]


def placed_clip_pool(count: int) -> tuple[torch.Tensor, list[str]]:
    """The toy Wan's placed clips (--placed-clips): uint8 (count, 9, h, w, 3) clips whose subjects start anywhere."""
    return toy_wan.clip_pool(count, PLACED_SEED, spread=PLACED_SPREAD)


def to_pixels(frames: torch.Tensor) -> torch.Tensor:
    return frames.permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (n, 3, h, w) in [-1, 1]


def train_vae(frames: torch.Tensor, steps: int, log, device="cpu", vae=None, lr=1e-3) -> "torch.nn.Module":
    """Train a new autoencoder, or go on training `vae` (a refit to a changed toy world): 64 frames a step."""
    images = frames.flatten(0, 1)  # (clips*frames, h, w, 3)

    def draw(generator: torch.Generator) -> tuple[torch.Tensor, None]:
        return to_pixels(images[torch.randint(len(images), (64,), generator=generator)]), None

    return fit_autoencoder(build_vae() if vae is None else vae, draw, steps, log, device, lr)


def fit_autoencoder(vae, draw, steps: int, log, device="cpu", lr=1e-3) -> "torch.nn.Module":
    """Reconstruction + a little KL on batches from `draw(generator)` -> (batch, per-pixel weights of the error or
    None), the learning rate on a cosine to zero; the toy UNet's frame VAE and the toy Wan's video VAE alike."""
    vae = vae.to(device).train().requires_grad_(True)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(1)
    for step in range(steps):
        batch, weights = draw(generator)
        batch = batch.to(device)
        posterior = vae.encode(batch).latent_dist
        reconstruction = vae.decode(posterior.sample()).sample
        kl = posterior.kl().mean() / batch[0].numel()
        error = (reconstruction - batch).pow(2)
        error = error.mean() if weights is None else (error * weights.to(device)).mean() / weights.mean()
        loss = error + 1e-4 * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (step + 1) / steps))
        if step % 100 == 0 or step == steps - 1:
            log(f"vae step {step}/{steps} loss {loss.item():.5f}")
    return vae.eval().requires_grad_(False)


def scaled_latents(vae, frames: torch.Tensor) -> torch.Tensor:
    """The pool's latents scaled to unit variance; the scale goes into the VAE's config, as diffusers expects."""
    latents = encode_pool(vae, frames)
    vae.register_to_config(scaling_factor=1.0 / latents.std().item())
    return latents * vae.config.scaling_factor


@torch.no_grad()
def encode_pool(vae, frames: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """(clips, 4, frames, h/4, w/4) unscaled latent means, on the CPU; `chunk` clips at a time on the VAE's device."""
    device = next(vae.parameters()).device
    latents = []
    for part in frames.split(chunk):
        pixels = to_pixels(part.flatten(0, 1)).to(device)  # (clips*frames, 3, h, w)
        mean = vae.encode(pixels).latent_dist.mean.cpu()
        latents.append(mean.unflatten(0, part.shape[:2]).permute(0, 2, 1, 3, 4))  # (clips, c, f, h, w)
    return torch.cat(latents)


def save_component(module, folder: Path) -> None:
    """save_pretrained in half precision (the folder must stay small) to a temp folder, then swap it in."""
    temp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(temp, ignore_errors=True)
    copy.deepcopy(module).half().save_pretrained(temp)
    config = temp / "config.json"  # a component loaded from a folder records its path: not for a shipped folder
    settings = json.loads(config.read_text())
    if settings.pop("_name_or_path", None) is not None:
        config.write_text(json.dumps(settings, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(temp, folder)


def write_json(path: Path, data: dict) -> None:
    with atomic_write(path) as temp_name:
        Path(temp_name).write_text(json.dumps(data, indent=2) + "\n")


def learning_rate(step: int, peak: float, total_steps: int) -> float:
    """Warm-up, then a cosine from `peak` down to a tenth of it at `total_steps` (and flat after)."""
    progress = min(1.0, step / max(1, total_steps))
    return peak * min(1.0, (step + 1) / WARMUP_STEPS) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


class UNetStage:
    """The second stage's state: UNet and text encoder (trained together), their EMA, the optimizer, the random
    generator that draws batches, timesteps and noise, the step count and the losses. `state_dict` holds all of it,
    so a run restored from one continues exactly as the uninterrupted run would have."""

    def __init__(self, unet, text_encoder, latents, tokens, empty_tokens, *, batch=16, lr=1e-3, total_steps=20000,
                 device="cpu", bf16=False, seed=2, masks=None, from_first_frame=None):  # fmt: skip
        self.unet, self.text_encoder = unet.to(device).train(), text_encoder.to(device).train()
        self.masks = None if masks is None else masks.to(device)  # the toy Wan's attention masks (UMT5)
        # the toy Wan's clips always trained from their first frame (--placed-clips), one flag per clip
        self.from_first_frame = None if from_first_frame is None else from_first_frame.to(device)
        self.ema = [copy.deepcopy(m).requires_grad_(False) for m in (self.unet, self.text_encoder)]
        self.latents, self.tokens, self.empty_tokens = latents.to(device), tokens.to(device), empty_tokens.to(device)
        self.batch, self.peak_lr, self.total_steps, self.device = batch, lr, total_steps, torch.device(device)
        self.parameters = list(self.unet.parameters()) + list(self.text_encoder.parameters())
        self.optimizer = torch.optim.AdamW(self.parameters, lr=lr, weight_decay=0.01)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.alphas = tiny_scheduler().alphas_cumprod.to(device)
        self.num_train_timesteps = len(self.alphas)
        # bf16 autocast: on a CPU with AVX-512 BF16 (and on CUDA) the matmuls run in bfloat16, weights stay float32
        self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        self.step, self.losses = 0, []

    def train_step(self) -> float:
        lr = learning_rate(self.step, self.peak_lr, self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        g, n, device = self.generator, self.batch, self.device
        index = torch.randint(len(self.latents), (n,), generator=g, device=device)
        x0 = self.latents[index]
        batch_tokens = self.tokens[index].clone()
        dropped = torch.rand(n, generator=g, device=device) < CAPTION_DROPOUT
        batch_tokens[dropped] = self.empty_tokens
        with self.autocast:
            loss = self.loss(index, x0, batch_tokens, None if self.masks is None else self.masks[index], dropped, g)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
        self.optimizer.step()
        decay = min(EMA_DECAY, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for average, live in zip(self.ema, (self.unet, self.text_encoder), strict=True):
                for p_avg, p in zip(average.parameters(), live.parameters(), strict=True):
                    p_avg.lerp_(p, 1 - decay)
        self.losses.append(loss.item())
        self.step += 1
        return self.losses[-1]

    def loss(self, index, x0, batch_tokens, masks, dropped, g) -> torch.Tensor:
        """The toy UNet's: epsilon prediction at a uniform DDPM timestep."""
        n, device = len(x0), self.device
        t = torch.randint(self.num_train_timesteps, (n,), generator=g, device=device)
        noise = torch.randn(x0.shape, generator=g, device=device)
        a = self.alphas[t].view(-1, 1, 1, 1, 1)
        noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
        prediction = self.unet(noisy, t, encoder_hidden_states=self.text_encoder(batch_tokens)[0]).sample
        return F.mse_loss(prediction.float(), noise)

    def state_dict(self) -> dict:
        return {
            "unet": self.unet.state_dict(), "text_encoder": self.text_encoder.state_dict(),
            "ema_unet": self.ema[0].state_dict(), "ema_text_encoder": self.ema[1].state_dict(),
            "optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state(),
            "step": self.step, "losses": self.losses,
        }  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.unet.load_state_dict(state["unet"])
        self.text_encoder.load_state_dict(state["text_encoder"])
        self.ema[0].load_state_dict(state["ema_unet"])
        self.ema[1].load_state_dict(state["ema_text_encoder"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.step, self.losses = int(state["step"]), list(state["losses"])


class WanStage(UNetStage):
    """The toy Wan's second stage: the same state and steps, with Wan's objective (toy_wan.flow_loss) and UMT5 text
    embeddings zeroed past each caption's tokens, as families/wan.py encodes them."""

    def loss(self, index, x0, batch_tokens, masks, dropped, g) -> torch.Tensor:
        from .toy_wan import flow_loss

        masks = masks.clone()
        masks[dropped] = self.masks[-1]  # the empty caption's mask (the last row)
        text = self.text_encoder(batch_tokens, masks).last_hidden_state * masks[..., None]
        first = None if self.from_first_frame is None else self.from_first_frame[index]
        return flow_loss(self.unet, text, x0, g, first)


def save_checkpoint(state: dict, path: Path) -> None:
    with atomic_write(path, "the training checkpoint") as temp_name:
        torch.save(state, temp_name)


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)  # plain tensors and numbers: no pickled code


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--family",
        choices=("unet3d", "wan"),
        default="unet3d",
        help="the toy UNet (default; assets/toy-model) or the toy Wan (assets/toy-wan)",
    )
    parser.add_argument("--out", type=Path, help="pipeline folder (default: assets/toy-model, or assets/toy-wan)")
    parser.add_argument("--checkpoint", type=Path, help="folder of the resumable state (default: .toy-training, "
                        "or .toy-training-wan)")  # fmt: skip
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint, else from --out's weights")
    parser.add_argument("--clips", type=int, default=12000, help="training clips rendered (and encoded) once")
    parser.add_argument("--placed-clips", type=int, default=0, help="--family wan: this many more clips whose "
                        f"paths are centred up to {PLACED_SPREAD} from the middle (subjects start anywhere), always "
                        "trained from their first frame (image-to-video from a subject anywhere)")  # fmt: skip
    parser.add_argument("--vae-steps", type=int, default=1500)
    parser.add_argument("--refit-vae", type=int, default=0, metavar="STEPS", help="with --resume from --out's "
                        "weights: first train its VAE this many more steps on the current toy world (after a change "
                        "to clips.py), then go on with the UNet")  # fmt: skip
    parser.add_argument("--new-vae", action="store_true", help="--family wan, with --resume from --out's weights: "
                        "train a new VAE (--vae-steps, --vae-temporal, --vae-object-weight) in place of --out's, "
                        "re-encode the pool with it, and start the transformer from --out's weights")  # fmt: skip
    parser.add_argument("--vae-temporal", type=int, choices=toy_wan.TEMPORAL_FACTORS, help="--family wan: frames "
                        "per latent frame of a new VAE (default 2, the shipped toy Wan's: it keeps moving shapes; "
                        "4 as Wan's)")  # fmt: skip
    parser.add_argument("--vae-object-weight", type=float, default=0.0, help="--family wan: a new VAE's error "
                        "counts the subject's pixels 1 + this many times (0: plain MSE)")  # fmt: skip
    parser.add_argument("--unet-steps", type=int, default=20000, help="length of the learning-rate schedule")
    parser.add_argument("--minutes", type=float, default=80.0, help="time budget of this run's UNet stage")
    parser.add_argument("--stop-at", type=int, default=0, help="stop when the UNet stage reaches this step (0: never)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--save-every", type=float, default=5.0, help="minutes between checkpoints and exports")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CPU with AVX-512 BF16, or CUDA)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads on the CPU (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(TRAIN_SEED)
    wan = args.family == "wan"
    if args.placed_clips and not wan:
        raise SystemExit("--placed-clips: only the toy Wan starts from an image; add --family wan")
    if not wan and (args.new_vae or args.vae_temporal or args.vae_object_weight):
        raise SystemExit("--new-vae, --vae-temporal, --vae-object-weight: the toy Wan's VAE; add --family wan")
    if args.new_vae and (not args.resume or args.refit_vae):
        raise SystemExit("--new-vae replaces the VAE of a model in --out: add --resume (and no --refit-vae)")
    out = args.out or Path("assets/toy-wan" if wan else "assets/toy-model")
    checkpoint = args.checkpoint or Path(f"{CHECKPOINT}-wan" if wan else CHECKPOINT)
    denoiser_folder = family_named(args.family).denoiser_folder
    out.mkdir(parents=True, exist_ok=True)
    checkpoint.mkdir(parents=True, exist_ok=True)
    started = time.time()

    def log(message: str) -> None:
        print(f"[{(time.time() - started) / 60:6.1f} min] {message}", flush=True)

    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    run = dict(
        command="python -m motion_inversion.toy.train " + " ".join(argv if argv is not None else sys.argv[1:]),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {device_name}",
        started=time.strftime("%Y-%m-%d %H:%M"),
    )
    state_file, latents_file = checkpoint / "state.pt", checkpoint / "latents.pt"
    has_state = args.resume and state_file.is_file() and latents_file.is_file()
    from_shipped = args.resume and not has_state and (out / denoiser_folder).is_dir()
    if args.resume and not (has_state or from_shipped):
        raise SystemExit(f"--resume: no checkpoint in {checkpoint} and no model in {out}; run without --resume")

    # -- stage 1: the autoencoder and the latents of the clip pool ------------------------------------------------
    captions = [spec.caption for spec in clips.sample_specs(args.clips, TRAIN_SEED)]
    captions += [spec.caption for spec in clips.sample_specs(args.placed_clips, PLACED_SEED)]
    from_first_frame = torch.arange(len(captions)) >= args.clips
    if has_state:
        pool = load_checkpoint(latents_file)
        latents, from_first_frame = pool["latents"], pool.get("from_first_frame", from_first_frame)
        if len(latents) != len(captions):
            raise SystemExit(
                f"--resume: the checkpoint in {checkpoint} holds {len(latents)} clips, this command asks "
                f"for {len(captions)} (--clips + --placed-clips): use those of the run that made it"
            )
        log(f"resuming from {state_file}")
    else:
        frames, _ = (toy_wan.clip_pool if wan else clip_pool)(args.clips, TRAIN_SEED)
        if args.placed_clips:
            placed, _ = placed_clip_pool(args.placed_clips)
            frames = torch.cat([frames, placed])
        log(f"rendered {len(frames)} clips")
        vae_train = train_vae
        if wan:
            vae_train = functools.partial(toy_wan.train_vae, temporal=args.vae_temporal or toy_wan.VAE_TEMPORAL,
                                          object_weight=args.vae_object_weight)  # fmt: skip
        vae_latents = toy_wan.normalised_latents if wan else scaled_latents
        if from_shipped:
            from diffusers import AutoencoderKL, AutoencoderKLWan

            vae_class = AutoencoderKLWan if wan else AutoencoderKL
            vae = vae_class.from_pretrained(out / "vae").float().eval().requires_grad_(False).to(args.device)
            if args.new_vae:
                vae = vae_train(frames, args.vae_steps, log, args.device)
                latents = vae_latents(vae, frames)
                save_component(vae, out / "vae")
            elif args.refit_vae:
                vae = vae_train(frames, args.refit_vae, log, args.device, vae=vae, lr=3e-4)
                latents = vae_latents(vae, frames)
                save_component(vae, out / "vae")
            elif wan:
                latents = toy_wan.normalise(vae, toy_wan.encode_pool(vae, frames))
            else:
                latents = encode_pool(vae, frames) * vae.config.scaling_factor
            log(f"starting the {denoiser_folder} stage from the weights in {out}")
        else:
            vae = vae_train(frames, args.vae_steps, log, args.device)
            latents = vae_latents(vae, frames)
            save_component(vae, out / "vae")
        save_checkpoint({"latents": latents, "from_first_frame": from_first_frame}, latents_file)
        log(f"encoded latents {tuple(latents.shape)}")
    old_vocab_file = out / "tokenizer" / "vocab.json"
    old_vocab = json.loads(old_vocab_file.read_text()) if from_shipped and old_vocab_file.is_file() else None
    # built beside the checkpoint and exported with the weights (save), so --out's tokenizer always matches its text
    # encoder, even when a run stops before its first save
    tokenizer = tiny_tokenizer(checkpoint / "tokenizer", WORDS, MAX_TOKENS)
    (toy_wan.build_scheduler() if wan else tiny_scheduler()).save_pretrained(out / "scheduler")
    if wan:  # clips are cut to 1 + k frames per latent frame of the VAE this model has
        if not (out / "vae" / "config.json").is_file():  # a checkpoint holds the latents, not the VAE that made them
            raise SystemExit(f"{out} has no vae/: resume into the folder this checkpoint's run wrote (or a copy)")
        frames_per_latent = json.loads((out / "vae" / "config.json").read_text())["scale_factor_temporal"]
        write_json(out / "motion_inversion.json", {**WAN_SPEC_DEFAULTS, "frame_step": frames_per_latent})
    else:
        write_json(out / "motion_inversion.json", DEFAULTS)

    # -- stage 2: text encoder + video UNet, together -----------------------------------------------------------
    if from_shipped:
        from diffusers import UNet3DConditionModel, WanTransformer3DModel
        from transformers import CLIPTextModel, UMT5EncoderModel

        denoiser_class, text_class = (WanTransformer3DModel, UMT5EncoderModel) if wan else (
            UNet3DConditionModel, CLIPTextModel)  # fmt: skip
        unet = denoiser_class.from_pretrained(out / denoiser_folder).float()
        text_encoder = text_class.from_pretrained(out / "text_encoder").float()
        if old_vocab is not None:
            carry_token_embeddings(text_encoder, old_vocab, tokenizer.get_vocab())
    elif wan:
        unet, text_encoder = toy_wan.build_transformer(), toy_wan.build_text_encoder(len(tokenizer))
    else:
        unet, text_encoder = build_unet(), build_text_encoder(len(tokenizer))
    encoded = tokenizer(captions + [""], padding="max_length", max_length=MAX_TOKENS, return_tensors="pt")
    tokens = encoded.input_ids
    stage_class = WanStage if wan else UNetStage
    stage = stage_class(
        unet, text_encoder, latents, tokens[:-1], tokens[-1], batch=args.batch, lr=args.lr,
        total_steps=args.unet_steps, device=args.device, bf16=args.bf16,
        masks=encoded.attention_mask if wan else None, from_first_frame=from_first_frame if wan else None,
    )  # fmt: skip
    history = []
    if has_state:
        saved = load_checkpoint(state_file)
        stage.load_state_dict(saved)
        history = json.loads(saved.get("history", "[]"))
    elif from_shipped and (out / "training.json").is_file():
        previous = json.loads((out / "training.json").read_text())
        history = previous.get("runs", [previous])  # the runs that made the weights this one starts from
    first_step = stage.step

    def save(final: bool) -> None:
        this_run = {**run, "finished": final, "steps": [first_step, stage.step],
                    "minutes": round((time.time() - started) / 60, 1)}  # fmt: skip
        save_checkpoint({**stage.state_dict(), "history": json.dumps(history + [this_run])}, state_file)
        save_component(stage.ema[0], out / denoiser_folder)
        save_component(stage.ema[1], out / "text_encoder")
        tokenizer.save_pretrained(out / "tokenizer")
        losses = stage.losses
        write_json(out / "training.json", {
            "runs": history + [this_run], "unet_steps": stage.step, "batch": args.batch, "train_seed": TRAIN_SEED,
            "clips": args.clips, "placed_clips": args.placed_clips,
            "final_loss": round(float(np.mean(losses[-200:])), 5),
            "loss_every_500_steps": [round(float(np.mean(losses[i:i + 500])), 5) for i in range(0, len(losses), 500)],
        })  # fmt: skip
        log(f"saved {out} and {state_file} after {stage.step} steps")

    def stop(signum, frame):
        raise KeyboardInterrupt  # a background run is ended with SIGTERM (SIGINT is ignored there): save first

    signal.signal(signal.SIGTERM, stop)
    unet_started, last_save = time.time(), time.time()
    try:
        while time.time() - unet_started < args.minutes * 60 and not (args.stop_at and stage.step >= args.stop_at):
            stage.train_step()
            if stage.step % 100 == 0:
                lr = learning_rate(stage.step, args.lr, args.unet_steps)
                rate = (stage.step - first_step) / (time.time() - unet_started)
                log(f"unet step {stage.step} loss {np.mean(stage.losses[-100:]):.4f} lr {lr:.2e} ({rate:.2f} steps/s)")
            if time.time() - last_save > args.save_every * 60:
                save(final=False)
                last_save = time.time()
    except KeyboardInterrupt:
        log("interrupted: saving")
        save(final=False)
        return
    save(final=True)


if __name__ == "__main__":
    main()
