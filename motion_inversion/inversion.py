"""invert(): learn the motion of one clip as motion embeddings in a frozen text-to-video model (METHOD.md).

Stages: read the clip at the model's size -> VAE latents (once) -> inversion of those latents to the start of sampling
with the embedding-free model (once, kept in the Motion for generation; DDIM for the UNets, the flow ODE for Wan) ->
train only the motion embeddings with the model's own training loss -> Motion. The model's family (families/) supplies
each of these; this loop is the same for all. Randomness comes from one seeded CPU generator, so the same seed gives
the same motion on a CPU.
"""

import dataclasses
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import MotionInversionError, MotionInversionWarning
from .inject import inject_motion
from .limits import check_all
from .models import VideoModel, first_frame_models
from .motion import Motion
from .precision import training_accelerator
from .progress import ProgressCallback, report
from .sampling import plan_sampling, usable_frames
from .scene_motion import scene_motion
from .video import Clip, probe_clip, read_clip

MIN_FRAMES = 8
LOSSES = ("base", "debiased")
# callback(step, total, loss) -> True to stop early (what was learned so far is kept).
InversionCallback = Callable[[int, int, float], bool | None]


def load_reference_clip(
    clip: str | os.PathLike | Clip, num_frames: int, height: int, width: int, model_fps: float = 8.0,
    start: float = 0.0, end: float | None = None, sampling: str = "auto", fit: str = "crop", frame_step: int = 1,
) -> Clip:  # fmt: skip
    """The reference frames at the model's size, sampled from the selection `start`-`end` seconds as sampling.py
    plans (its one-line description is kept in `Clip.description`). A clip with fewer than `num_frames` frames
    there is used at its own length, cut to a count the model takes (1 + k * `frame_step`); one with too few for
    inversion is refused."""
    num_frames = usable_frames(num_frames, frame_step)
    if not isinstance(clip, Clip):
        plan = plan_sampling(probe_clip(clip), num_frames, model_fps, start, end, sampling, fit)
        clip = read_clip(clip, num_frames, height, width, start=plan.start, fps=plan.fps, fit=plan.fit)
        read = clip.num_frames
        clip.frames = clip.frames[: usable_frames(clip.num_frames, frame_step)]
        clip.description = dataclasses.replace(plan, num_frames=max(clip.num_frames, 1)).describe()
    else:
        read = clip.num_frames
        clip = dataclasses.replace(clip, frames=clip.frames[: usable_frames(clip.num_frames, frame_step)])
    name = Path(clip.source).name or "the clip"
    if clip.num_frames < min(MIN_FRAMES, num_frames):
        usable = (
            f", {clip.num_frames} of them usable by this model (1 + {frame_step}k)" if read != clip.num_frames else ""
        )
        raise MotionInversionError(
            f"{name} has {read} frame(s){usable}; motion inversion needs at least {min(MIN_FRAMES, num_frames)} "
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
def invert_latents(
    model: VideoModel, latents: torch.Tensor, steps: int = 50, on_progress: ProgressCallback | None = None
) -> torch.Tensor:
    """The clip's latents carried back to the start of sampling (t near the end of the schedule) by the model's
    sampler run in reverse, empty prompt, no guidance. Reports stage "inverting" after each step; a stop request
    there raises (nothing has been learned yet)."""

    def on_step(index: int, total: int) -> None:
        if report(on_progress, "inverting", index, total) and index < total:
            raise MotionInversionError(f"stopped while inverting the clip ({index}/{total}): nothing was learned")

    text = model.encode_text([""])
    return model.family.invert(model.predict, model.scheduler, latents, text, steps, on_step)


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
    first_frame_share: float = 0.0,
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

    `first_frame_share` (models trained to start from an image): the share of the learning steps that give the
    clip's first latent frame clean, as generation from an image does. Kept for bench/toy_image_recipe.py: on the
    toy Wan it made a start from an image worse (0.27 at 0, 0.23 at 0.5, 0.11 at 1; docs/toy-wan.md), so no recipe
    uses it.
    """
    settings = check_all(steps=steps, lr=lr, seed=seed, num_frames=num_frames, height=height, width=width,
                         start=start, end=end, inversion_steps=inversion_steps)  # fmt: skip
    steps, lr, seed, num_frames, height, width, start, end, inversion_steps = settings.values()
    steps = model.spec.invert_steps if steps is None else steps
    lr = model.spec.lr if lr is None else lr
    target_blocks = model.spec.target_blocks if target_blocks is None else target_blocks
    if first_frame_share and not model.spec.first_frame:
        raise MotionInversionError(
            f"{model.name} cannot learn a motion with the first frame given: it was not trained to start from an "
            f"image; models that can: {first_frame_models()}"
        )
    if loss not in LOSSES:
        raise MotionInversionError(f"loss must be one of {LOSSES}, got {loss!r}")
    spec = model.spec
    num_frames = num_frames or spec.num_frames
    height, width = height or spec.height, width or spec.width
    latent_size = model.latent_size(height, width)
    if report(on_progress, "reading"):
        raise MotionInversionError("stopped before reading the clip: nothing was learned")
    frame_step = model.family.frame_step(model.vae)  # the loaded VAE's rule (the spec's is for before loading)
    reference = load_reference_clip(clip, num_frames, height, width, spec.fps, start, end, sampling, fit, frame_step)
    subject_path = None  # where its subject stands, for Motion.placed: only a model that starts from an image uses it
    if spec.first_frame and (subject := scene_motion(reference.frames).subject_positions()) is not None:
        subject_path = np.clip(subject, -1.0, 2.0).round(4).tolist()
    generator = torch.Generator().manual_seed(seed)
    device, dtype = model.device, model.dtype

    if report(on_progress, "encoding"):
        raise MotionInversionError("stopped before encoding the clip: nothing was learned")
    latents = model.encode_frames(torch.from_numpy(reference.frames)).float()  # (1, c, f, h, w)
    inversion_latent = invert_latents(model, latents, inversion_steps, on_progress).cpu() if inversion_steps else None
    text = model.encode_text([prompt])
    family, scheduler = model.family, model.scheduler

    accelerator = training_accelerator(device, dtype, mixed_precision)
    injection = inject_motion(
        model.denoiser, model.latent_frames(reference.num_frames), latent_size, target_blocks, spec.value_pool
    )
    try:
        parameters = injection.parameters()
        for parameter in parameters:
            parameter.requires_grad_(True)
        optimizer = accelerator.prepare_optimizer(torch.optim.AdamW(parameters, lr=lr))
        recent_losses: list[float] = []
        granularity = "layer" if gradient_checkpointing is True else gradient_checkpointing
        checkpointing = family.gradient_checkpointing(model.denoiser, injection.layers, granularity)

        def snapshot(done: int) -> Motion:
            return Motion.from_injection(
                injection, num_frames=reference.num_frames, base_model=model.name, height=height, width=width,
                prompt=prompt, steps=done,
                loss=sum(recent_losses) / len(recent_losses) if recent_losses else None,
                inversion_latent=inversion_latent, subject_path=subject_path,
            )  # fmt: skip

        done = 0
        with checkpointing:
            for step in range(1, steps + 1):
                noisy, timestep, target = family.training_example(scheduler, latents, generator)
                given = bool(first_frame_share) and float(torch.rand((1,), generator=generator)) < first_frame_share
                if given:  # the first latent frame clean, as from an image; the loss is on the frames after it
                    noisy = torch.cat([latents[:, :, :1], noisy[:, :, 1:]], dim=2)
                anchor = int(torch.randint(0, latents.shape[2] - given, (1,), generator=generator))
                with accelerator.autocast():
                    prediction = model.predict(noisy.to(dtype), timestep, text, first_frame_given=given)
                step_loss = motion_loss(prediction.float()[:, :, given:], target[:, :, given:], loss, anchor)
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
