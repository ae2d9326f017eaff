"""Train the toy Wan VAE's decoder alone, weighting the subject's pixels, so subjects come back in their shape.

    python -m motion_inversion.toy.sharpen_decoder --model assets/toy-wan --steps 3000 --threads 2  # 28 min on 2 cores

The toy Wan's VAE was fitted by plain MSE, where a square's corners are a few pixels of a 32x32 frame: it drew
squares round (docs/toy-wan.md, "Session 16"). The encoder stays frozen, so every latent (the transformer's training
data, the learned motions, the normalisation in the VAE's config) stays what it was: only what the latents look like
decoded changes, and the transformer needs no retraining. Resumable like train.py: the decoder, its optimizer and
the step go to `--checkpoint` every `--save-every` minutes (and on Ctrl-C or SIGTERM); the VAE is exported to
`--model`/vae (atomically) with the run recorded in `training.json`.
"""

import argparse
import json
import math
import os
import platform
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import toy_wan
from .toy_wan import subject_masks
from .train import TRAIN_SEED, load_checkpoint, placed_clip_pool, save_checkpoint, save_component, write_json

# the subject and a pixel around it count this many times more than the background: 10 took the held-out round trip's
# shape from 65% to 81% of frames in 1500 steps; 30 kept no more shape and drew worse (docs/toy-wan.md, "Session 16")
OBJECT_WEIGHT = 10.0
BATCH = 8  # clips a step, as the VAE's own fit (toy_wan.train_vae)


def decoder_loss(vae, latents: torch.Tensor, frames: torch.Tensor, subjects: torch.Tensor,
                 weight: float = OBJECT_WEIGHT) -> torch.Tensor:  # fmt: skip
    """MSE of the decoded `latents` (n, c, 3, h/4, w/4; unnormalised) against their clips' `frames`, the pixels
    `subjects` marks (subject_masks) weighted 1 + `weight`, the rest 1."""
    decoded = vae.decode(latents).sample
    weights = 1 + weight * subjects.to(decoded.device).float()
    return ((decoded - toy_wan.to_video(frames).to(decoded.device)).pow(2) * weights).mean() / weights.mean()


def decoder_parameters(vae) -> list[torch.nn.Parameter]:
    return [*vae.post_quant_conv.parameters(), *vae.decoder.parameters()]


def main(argv=None) -> None:
    from diffusers import AutoencoderKLWan

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("assets/toy-wan"), help="the toy Wan pipeline folder")
    parser.add_argument("--checkpoint", type=Path, default=Path(".toy-training-decoder"))
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    parser.add_argument("--clips", type=int, default=1500, help="clips rendered once, half of them placed anywhere")
    parser.add_argument("--steps", type=int, default=3000, help="length of the learning-rate schedule")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--object-weight", type=float, default=OBJECT_WEIGHT)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--save-every", type=float, default=5.0, help="minutes between checkpoints and exports")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads on the CPU (0: torch's default)")
    args = parser.parse_args(argv)
    if args.clips < 2 or args.steps < 1:
        parser.error("--clips must be at least 2 (half of them placed) and --steps at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.time()

    def log(message: str) -> None:
        print(f"[{(time.time() - started) / 60:6.1f} min] {message}", flush=True)

    command = "python -m motion_inversion.toy.sharpen_decoder " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.device}"
    state_file = args.checkpoint / "decoder.pt"
    if args.resume and not state_file.is_file():
        raise SystemExit(f"--resume: no checkpoint in {args.checkpoint}; run without --resume")
    vae = AutoencoderKLWan.from_pretrained(args.model / "vae").float().eval().requires_grad_(False).to(args.device)
    # the transformer's own training clips: subjects near the middle and, half of them, anywhere (placed)
    frames = torch.cat([toy_wan.clip_pool(args.clips - args.clips // 2, TRAIN_SEED)[0],
                        placed_clip_pool(args.clips // 2)[0]])  # fmt: skip
    latents = toy_wan.encode_pool(vae, frames)  # the frozen encoder's: the same with every decoder
    subjects = subject_masks(frames)
    log(f"rendered and encoded {len(frames)} clips")
    parameters = decoder_parameters(vae)
    optimizer = torch.optim.AdamW(parameters, lr=args.lr)
    training_file = args.model / "training.json"
    # the runs that made the model: kept as they were when this refit started, this refit's runs added after them
    record = json.loads(training_file.read_text()) if training_file.is_file() else {}
    generator, step, history = torch.Generator().manual_seed(1), 0, []
    if args.resume:
        saved = load_checkpoint(state_file)
        vae.load_state_dict(saved["vae"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        step, history, record = int(saved["step"]), json.loads(saved["history"]), json.loads(saved["record"])
        log(f"resuming from {state_file} at step {step}")
    first_step = step

    def save() -> None:
        this_run = {"command": command, "machine": machine, "decoder_steps": [first_step, step],
                    "minutes": round((time.time() - started) / 60, 1),
                    "note": "the VAE's decoder alone (encoder frozen: latents unchanged)"}  # fmt: skip
        args.checkpoint.mkdir(parents=True, exist_ok=True)
        save_checkpoint({"vae": vae.state_dict(), "optimizer": optimizer.state_dict(),
                         "generator": generator.get_state(), "step": step,
                         "history": json.dumps(history + [this_run]), "record": json.dumps(record)},
                        state_file)  # fmt: skip
        save_component(vae, args.model / "vae")
        write_json(training_file, {**record, "runs": record.get("runs", []) + history + [this_run]})
        log(f"saved {args.model / 'vae'} and {state_file} after {step} steps")

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    vae.decoder.train()
    for parameter in parameters:
        parameter.requires_grad_(True)
    last_save, losses = time.time(), []
    try:
        while step < args.steps and time.time() - started < args.minutes * 60:
            pick = torch.randint(len(frames), (BATCH,), generator=generator)
            loss = decoder_loss(vae, latents[pick].to(args.device), frames[pick], subjects[pick], args.object_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            for group in optimizer.param_groups:  # a cosine to zero over --steps, following the step count
                group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))
            losses.append(loss.item())
            if step % 100 == 0:
                log(f"decoder step {step}/{args.steps} loss {np.mean(losses[-100:]):.5f}")
            if time.time() - last_save > args.save_every * 60:
                save()
                last_save = time.time()
    except KeyboardInterrupt:
        log("interrupted: saving")
    vae.eval().requires_grad_(False)
    save()


if __name__ == "__main__":
    main()
