"""invert(): learn the motion of one clip as motion embeddings in a frozen text-to-video model (METHOD.md).

Stages: read the clip at the model's size -> VAE latents (once) -> DDIM inversion of those latents with the
embedding-free UNet (once, kept in the Motion for generation) -> train only the motion embeddings with the denoising
loss -> Motion. Randomness comes from one seeded CPU generator, so the same seed gives the same motion on a CPU.
"""

import dataclasses
import math
import os
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from .checkpointing import checkpointed_blocks
from .errors import MotionInversionError, MotionInversionWarning
from .inject import inject_motion
from .models import VideoModel, unet_forward
from .motion import Motion
from .precision import training_accelerator
from .progress import ProgressCallback, report
from .sampling import plan_sampling
from .video import Clip, probe_clip, read_clip

MIN_FRAMES = 8
LOSSES = ("base", "debiased")
# callback(step, total, loss) -> True to stop early (what was learned so far is kept).
InversionCallback = Callable[[int, int, float], bool | None]


def load_reference_clip(
    clip: str | os.PathLike | Clip, num_frames: int, height: int, width: int, model_fps: float = 8.0,
    start: float = 0.0, end: float | None = None, sampling: str = "auto", fit: str = "crop",
) -> Clip:  # fmt: skip
    """The reference frames at the model's size, sampled from the selection `start`-`end` seconds as sampling.py
    plans (its one-line description is kept in `Clip.description`). A clip with fewer than `num_frames` frames
    there is used at its own length; one with too few for inversion is refused."""
    if not isinstance(clip, Clip):
        plan = plan_sampling(probe_clip(clip), num_frames, model_fps, start, end, sampling, fit)
        clip = read_clip(clip, num_frames, height, width, start=plan.start, fps=plan.fps, fit=plan.fit)
        clip.description = dataclasses.replace(plan, num_frames=max(clip.num_frames, 1)).describe()
    name = Path(clip.source).name or "the clip"
    if clip.num_frames < min(MIN_FRAMES, num_frames):
        raise MotionInversionError(
            f"{name} has {clip.num_frames} frame(s); motion inversion needs at least {min(MIN_FRAMES, num_frames)} "
            f"(the model uses {num_frames}): use a longer clip or an earlier start time"
        )
    if clip.num_frames < num_frames:
        warnings.warn(
            f"{name} has {clip.num_frames} frames, fewer than {num_frames}: learning at {clip.num_frames}",
            MotionInversionWarning,
            stacklevel=3,
        )
    return clip


@torch.no_grad()
def ddim_invert(
    model: VideoModel, latents: torch.Tensor, steps: int = 50, on_progress: ProgressCallback | None = None
) -> torch.Tensor:
    """Run DDIM backwards from clean latents to t near the end of the schedule, empty prompt, no guidance.
    Reports stage "inverting" after each step; a stop request there raises (nothing has been learned yet)."""
    scheduler = model.scheduler
    scheduler.set_timesteps(steps)
    text = model.encode_text([""])
    alphas = scheduler.alphas_cumprod.to(model.device)
    step_size = scheduler.config.num_train_timesteps // steps
    x = latents
    for index, t in enumerate(scheduler.timesteps.flip(0)):  # ascending
        if report(on_progress, "inverting", index, steps):
            raise MotionInversionError(f"stopped while inverting the clip ({index}/{steps}): nothing was learned")
        alpha_from = alphas[t - step_size] if t >= step_size else scheduler.final_alpha_cumprod.to(model.device)
        alpha_to = alphas[t]
        output = unet_forward(model.unet, x.to(model.dtype), t.to(model.device), text).float()
        if scheduler.config.prediction_type == "v_prediction":
            eps = alpha_from.sqrt() * output + (1 - alpha_from).sqrt() * x
        else:
            eps = output
        x0 = (x - (1 - alpha_from).sqrt() * eps) / alpha_from.sqrt()
        x = alpha_to.sqrt() * x0 + (1 - alpha_to).sqrt() * eps
    report(on_progress, "inverting", steps, steps)
    return x


def motion_loss(prediction: torch.Tensor, target: torch.Tensor, kind: str, anchor: int) -> torch.Tensor:
    """`base`: MSE. `debiased`: base + MSE of each frame against an anchor frame r, a*x - b*x[r], b=1, a=sqrt(2)."""
    loss = F.mse_loss(prediction, target)
    if kind == "debiased":
        b = 1.0
        a = math.sqrt(b * b + 1)
        anchor_prediction = prediction[:, :, anchor : anchor + 1]  # (b, c, 1, h, w)
        anchor_target = target[:, :, anchor : anchor + 1]
        loss = loss + F.mse_loss(a * prediction - b * anchor_prediction, a * target - b * anchor_target)
    return loss


def invert(
    model: VideoModel,
    clip: str | os.PathLike | Clip,
    prompt: str = "",
    steps: int | None = None,
    lr: float | None = None,
    loss: str = "base",
    seed: int = 0,
    callback: InversionCallback | None = None,
    on_progress: ProgressCallback | None = None,
    checkpoint_every: int = 50,
    checkpoint_dir: str | os.PathLike | None = None,
    num_frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
    start: float = 0.0,
    end: float | None = None,
    sampling: str = "auto",
    fit: str = "crop",
    inversion_steps: int = 50,
    target_blocks: list[str] | None = None,
    gradient_checkpointing: bool | str = False,
    mixed_precision: str | None = None,
) -> Motion:
    """Learn the motion of `clip` (a path or a Clip). Defaults (frames, size, and the recipe: steps, lr, target
    blocks) come from the model's registry entry. From a path, the frames are the selection `start`-`end` seconds
    sampled by `sampling` (sampling.py: by default the whole selection when it is up to 4x the model's span) and
    fitted to the model's size by `fit` (crop, pad or stretch).

    The callback gets (step, total, loss) after each step and may return True to stop: the motion learned so far is
    returned, with `steps` set to the steps done. `on_progress` gets every stage from the first second (progress.py:
    reading, encoding, inverting k/50, learning k/N) and may stop too; before learning, a stop raises. With
    `checkpoint_dir`, a motion file is written every `checkpoint_every` steps. The saved loss is the mean of the last
    10 steps' losses (single steps are noisy). Precision (precision.py, through accelerate): float32 on a CPU, bf16
    (else fp16 with loss scaling) on CUDA, unless `mixed_precision` ("no", "bf16", "fp16") says otherwise.
    """
    steps = model.spec.invert_steps if steps is None else steps
    if steps < 1:
        raise MotionInversionError(f"steps must be >= 1, got {steps}")
    lr = model.spec.lr if lr is None else lr
    target_blocks = model.spec.target_blocks if target_blocks is None else target_blocks
    if not lr > 0:
        raise MotionInversionError(f"lr must be > 0, got {lr}")
    if loss not in LOSSES:
        raise MotionInversionError(f"loss must be one of {LOSSES}, got {loss!r}")
    spec = model.spec
    num_frames = num_frames or spec.num_frames
    height, width = height or spec.height, width or spec.width
    latent_size = model.latent_size(height, width)
    if report(on_progress, "reading"):
        raise MotionInversionError("stopped before reading the clip: nothing was learned")
    reference = load_reference_clip(clip, num_frames, height, width, spec.fps, start, end, sampling, fit)
    generator = torch.Generator().manual_seed(seed)
    device, dtype = model.device, model.dtype

    if report(on_progress, "encoding"):
        raise MotionInversionError("stopped before encoding the clip: nothing was learned")
    latents = model.encode_frames(torch.from_numpy(reference.frames)).float()  # (1, c, f, h, w)
    inversion_latent = ddim_invert(model, latents, inversion_steps, on_progress).cpu() if inversion_steps else None
    text = model.encode_text([prompt])
    scheduler = model.scheduler
    train_timesteps = scheduler.config.num_train_timesteps
    use_velocity = scheduler.config.prediction_type == "v_prediction"

    accelerator = training_accelerator(device, dtype, mixed_precision)
    injection = inject_motion(model.unet, reference.num_frames, latent_size, target_blocks)
    try:
        parameters = injection.parameters()
        for parameter in parameters:
            parameter.requires_grad_(True)
        optimizer = accelerator.prepare_optimizer(torch.optim.AdamW(parameters, lr=lr))
        recent_losses: list[float] = []
        checkpointing = (
            checkpointed_blocks(
                model.unet,
                [layer.name for layer in injection.layers],
                "layer" if gradient_checkpointing is True else gradient_checkpointing,
            )  # fmt: skip
            if gradient_checkpointing
            else nullcontext()
        )

        def snapshot(done: int) -> Motion:
            return Motion.from_injection(
                injection, base_model=model.name, height=height, width=width, prompt=prompt, steps=done,
                loss=sum(recent_losses) / len(recent_losses) if recent_losses else None,
                inversion_latent=inversion_latent,
            )  # fmt: skip

        done = 0
        with checkpointing:
            for step in range(1, steps + 1):
                timestep = torch.randint(0, train_timesteps, (1,), generator=generator)
                noise = torch.randn(latents.shape, generator=generator).to(device)
                anchor = int(torch.randint(0, reference.num_frames, (1,), generator=generator))
                timestep = timestep.to(device)
                noisy = scheduler.add_noise(latents, noise, timestep)
                target = scheduler.get_velocity(latents, noise, timestep) if use_velocity else noise
                with accelerator.autocast():
                    prediction = unet_forward(model.unet, noisy.to(dtype), timestep, text)
                step_loss = motion_loss(prediction.float(), target, loss, anchor)
                optimizer.zero_grad(set_to_none=True)
                accelerator.backward(step_loss)  # scales the loss for fp16; the optimizer unscales and steps
                optimizer.step()

                done = step
                recent_losses = (recent_losses + [step_loss.item()])[-10:]
                if checkpoint_dir is not None and step % checkpoint_every == 0:
                    snapshot(step).save(Path(checkpoint_dir) / f"step-{step:06d}.safetensors")
                stop = report(on_progress, "learning", step, steps, recent_losses[-1])
                if (callback is not None and callback(step, steps, recent_losses[-1])) or stop:
                    break
        return snapshot(done)
    finally:
        injection.remove()
