"""generate(): sample a new video from a prompt, moving like a learned motion (METHOD.md, "Generation recipe").

Without a motion it is the plain base model, the baseline to compare against. With one, the embeddings are installed
for the call's first sampling steps (the recipe's `motion_until` share; the paper's: all) and removed afterwards,
with the value mode chosen by the motion type (paper: camera no value embedding, object and hybrid its frame
difference; each model's recipe may differ, models.py), and the initial latent blends the motion's inversion latent
(DDIM, or the flow ODE for Wan) with fresh noise, z = sqrt(p) z_inv + sqrt(1 - p) eps. When the requested frames or
size differ from the motion's, the embeddings are resampled (see embeddings.py) and the initial latent is plain noise
(the inversion latent describes another shape), with a warning.
"""

import math
import os
import warnings
from collections.abc import Callable
from contextlib import ExitStack

import numpy as np
import torch

from .errors import MotionInversionError, MotionInversionWarning
from .limits import check_all, check_subject_at
from .models import VideoModel, first_frame_models
from .motion import Motion
from .progress import ProgressCallback, report
from .video import read_image

MOTION_TYPES = ("camera", "object", "hybrid")  # each model's recipe maps them to value modes (ModelSpec.value_modes)
# callback(step, total) -> True to stop: generation then raises MotionInversionError (there is no partial video).
GenerationCallback = Callable[[int, int], bool | None]


# A video at most this many times the model's default frames, height and width: a model makes nothing useful far
# outside its trained size, and one shared motion file claiming 512x512 on the toy model held the app's only job
# queue for more than 12 minutes (the issue "Broken and hostile input").
MAX_SIZE_FACTOR = 2


def check_size(model: VideoModel, num_frames: int, height: int, width: int) -> None:
    """Refuse a video far outside the model's trained size (MAX_SIZE_FACTOR), before any work."""
    spec, factor = model.spec, MAX_SIZE_FACTOR
    if num_frames > factor * spec.num_frames or max(height, width) > factor * max(spec.height, spec.width):
        raise MotionInversionError(
            f"{width}x{height}, {num_frames} frames is too large for {model.name} (made at "
            f"{spec.width}x{spec.height}, {spec.num_frames} frames): at most {factor}x its frames and size"
        )


def initial_latent(
    shape: tuple[int, ...], generator: torch.Generator, inversion_latent: torch.Tensor | None, noise_prior: float
) -> torch.Tensor:
    noise = torch.randn(shape, generator=generator)
    if inversion_latent is None or noise_prior == 0:
        return noise
    if tuple(inversion_latent.shape) != tuple(shape):
        warnings.warn(
            f"the motion's inversion latent has shape {tuple(inversion_latent.shape)}, this video needs "
            f"{tuple(shape)}: starting from plain noise",
            MotionInversionWarning,
            stacklevel=3,
        )
        return noise
    return math.sqrt(noise_prior) * inversion_latent.float() + math.sqrt(1 - noise_prior) * noise


def placed_on_image(motion: Motion | None, motion_type: str, image, subject_at) -> Motion | None:
    """The motion to generate with from `image` when `subject_at` ((x, y) fractions or a text "x, y"; None: not
    marked) says where its subject stands: an object (or hybrid) motion moved to start there (`Motion.placed`); a
    camera motion moves the frame, not a subject, and stays as it is."""
    subject_at = check_subject_at(subject_at)
    if subject_at is None:
        return motion
    if image is None:
        raise MotionInversionError("the subject's place marks the subject of a start image: give the image too")
    return motion.placed(subject_at) if motion is not None and motion_type != "camera" else motion


@torch.no_grad()
def generate(
    model: VideoModel,
    motion: Motion | None = None,
    prompt: str = "",
    negative_prompt: str = "",
    motion_type: str = "object",
    strength: float | None = None,
    seed: int = 0,
    steps: int | None = None,
    guidance: float | None = None,
    num_frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
    noise_prior: float | None = None,
    callback: GenerationCallback | None = None,
    value_mode: str | None = None,
    on_progress: ProgressCallback | None = None,
    motion_until: float | None = None,
    image: str | os.PathLike | np.ndarray | None = None,
    fit: str = "crop",
    subject_at: tuple[float, float] | None = None,
) -> torch.Tensor:
    """A video as uint8 frames (frames, height, width, 3). Unset sizes come from the motion, else the model.

    `image` (a file or a uint8 (h, w, 3) array) starts the video, on a model trained for it (`ModelSpec.first_frame`:
    Wan 2.2 TI2V; others refuse with one line): fitted to the video's size as clips are (`fit`), encoded, and given
    as the clean first latent frame at every step (timestep 0 on its tokens), as the model was trained. The motion's
    inversion latent belongs to another scene, so with an image the start is plain noise unless `noise_prior` is
    given (toy Wan: noise prior 0.25-0.75 within 0.05 of it, docs/toy-wan.md). `subject_at` ((x, y), fractions of
    the fitted image) says where the image's subject stands: an object or hybrid motion's path then starts there
    (`Motion.placed`) rather than where the reference's subject stood.

    `on_progress` gets stages "sampling" (step k of N) and "decoding" (progress.py); it or `callback` may stop it.
    Unset `strength` and `noise_prior` come from the model's recipe (ModelSpec), and so do the value mode and
    `motion_until` that the motion type picks; `value_mode` ("full", "none", "diff") and `motion_until` override
    them, for experiments such as the toy evaluation, which compares them. The embeddings act on the first
    `motion_until` share of the sampling steps (1: all of them); the steps after it run the plain model, which
    refines appearance without them.
    """
    if not prompt or not prompt.strip():
        raise MotionInversionError("the prompt is empty: describe what the new video should show")
    if motion_type not in MOTION_TYPES:
        raise MotionInversionError(f"motion_type must be one of {tuple(MOTION_TYPES)}, got {motion_type!r}")
    settings = check_all(strength=strength, seed=seed, sampling_steps=steps, guidance=guidance, num_frames=num_frames,
                         height=height, width=width, noise_prior=noise_prior, motion_until=motion_until)  # fmt: skip
    strength, seed, steps, guidance, num_frames, height, width, noise_prior, motion_until = settings.values()
    noise_given = noise_prior
    noise_prior = model.spec.noise_prior if noise_prior is None else noise_prior
    strength = model.spec.strength if strength is None else strength
    motion_until = model.spec.motion_until[motion_type] if motion_until is None else motion_until
    spec = model.spec
    if motion is not None and motion.base_model != model.name:
        raise MotionInversionError(
            f"this motion was learned on '{motion.base_model}', not on '{model.name}': load that base model"
        )
    if motion is not None and motion.embedding_frames != model.latent_frames(motion.num_frames):
        # another VAE under the same name (the toy Wan's went from 3 to 5 latent frames in session 19): resampled,
        # such a motion moved nothing (object fidelity 0.11 against 0.88 relearned; docs/toy-wan.md, "Session 19")
        raise MotionInversionError(
            f"this motion was learned on an earlier version of {model.name} ({motion.embedding_frames} latent "
            f"frames for its {motion.num_frames} frames, this one makes {model.latent_frames(motion.num_frames)}): "
            "learn it again from its clip"
        )
    if image is not None and not spec.first_frame:
        raise MotionInversionError(
            f"{model.name} cannot start a video from an image: models that can: {first_frame_models()}"
        )
    motion = placed_on_image(motion, motion_type, image, subject_at)
    size_source = motion if motion is not None else spec
    num_frames = num_frames or size_source.num_frames
    if model.usable_frames(num_frames) != num_frames:
        warnings.warn(
            f"{num_frames} frames is not a count {model.name}'s VAE takes: making {model.usable_frames(num_frames)}",
            MotionInversionWarning,
            stacklevel=2,
        )
        num_frames = model.usable_frames(num_frames)
    height, width = height or size_source.height, width or size_source.width
    check_size(model, num_frames, height, width)
    steps = steps or spec.steps
    guidance = spec.guidance if guidance is None else guidance
    latent_height, latent_width = model.latent_size(height, width)

    first_frame = None
    if image is not None:
        noise_prior = 0.0 if noise_given is None else noise_prior
        pixels = torch.from_numpy(read_image(image, height, width, fit))  # (1, h, w, 3)
        first_frame = model.encode_frames(pixels)  # (1, c, 1, h', w'): one latent frame
    generator = torch.Generator().manual_seed(seed)
    channels = model.denoiser.config.in_channels
    shape = (1, channels, model.latent_frames(num_frames), latent_height, latent_width)
    latents = initial_latent(shape, generator, motion.inversion_latent if motion else None, noise_prior)
    latents = latents.to(model.device) * getattr(model.scheduler, "init_noise_sigma", 1.0)
    if first_frame is not None:
        latents[:, :, :1] = first_frame

    use_guidance = guidance > 1.0
    text = model.encode_text([negative_prompt, prompt] if use_guidance else [prompt])
    value_mode = value_mode or spec.value_modes[motion_type]
    motion_steps = math.ceil(motion_until * steps) if motion is not None else 0
    scheduler = model.scheduler
    scheduler.set_timesteps(steps)
    with ExitStack() as embeddings:
        if motion_steps > 0:
            embeddings.enter_context(motion.apply(model.denoiser, value_mode, strength))
        for index, t in enumerate(scheduler.timesteps):
            if index == motion_steps:
                embeddings.close()  # the plain model from here on
            model_input = torch.cat([latents] * 2) if use_guidance else latents
            output = model.predict(model_input.to(model.dtype), t, text, first_frame is not None).float()
            if use_guidance:
                unconditional, conditional = output.chunk(2)
                output = unconditional + guidance * (conditional - unconditional)
            latents = scheduler.step(output, t, latents).prev_sample
            if first_frame is not None:
                latents[:, :, :1] = first_frame  # the image stays what it is
            stop = report(on_progress, "sampling", index + 1, steps)
            if (callback is not None and callback(index + 1, steps)) or stop:
                raise MotionInversionError(f"generation stopped at step {index + 1} of {steps}")
    report(on_progress, "decoding")
    return model.decode_latents(latents)
