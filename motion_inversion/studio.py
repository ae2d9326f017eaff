"""What the app does, without the UI: learn a motion from an uploaded clip into the library, generate from one, and
show how well a video moves like a motion's reference clip.

`Studio` holds the state that outlives a request: the libraries (one, or one per visitor: owners.py), the one loaded
base model (loaded on first use, replaced when another is chosen), the jobs that use it (one at a time, each
stoppable by its owner: jobs.py) and the temporary files it hands out (scratch.py). Every method that touches a
library takes the `owner` whose library it is. The Gradio app (app.py) is a thin view over it; tests drive it
directly.
"""

import os
import threading
from pathlib import Path

import numpy as np

from .errors import MotionInversionError
from .files import atomic_write
from .generation import MOTION_TYPES, generate, placed_on_image
from .inversion import invert, load_reference_clip
from .jobs import Job, JobBoard
from .library import MotionEntry, MotionLibrary, name_from_file
from .limits import check_all, check_subject_at
from .models import REGISTRY, VideoModel, load_model, model_spec
from .motion import Motion
from .motion_match import MotionMatch, draw_tracks, match_files
from .owners import Libraries
from .progress import Progress, ProgressCallback, report
from .scratch import Scratch
from .subject_guess import guess_subject
from .video import Clip, check_image, probe_clip, read_image, read_whole_clip, write_mp4

MAX_CLIP_SECONDS = float(os.environ.get("MOTION_INVERSION_MAX_CLIP_SECONDS", "120"))
MAX_STEPS = 2000
# A job stopped (or left by its visitor) before this many learning steps saves nothing: on the toy model the motion
# barely differs from the plain model's after 10 steps (embeddings start at zero, lr 0.1), so it is not worth a
# library entry.
MIN_STEPS_TO_KEEP = 10
MOTION_TYPE_HELP = {
    "object": "an object moves (a car, a dog): its path is kept, the new subject's look is not taken from the clip",
    "camera": "the camera moves (pan, zoom, orbit) over a mostly still scene",
    "hybrid": "both the camera and the subject move",
}


def mark(frame: np.ndarray, at: tuple[float, float]) -> np.ndarray:
    """A copy of `frame` with a cross at `at` ((x, y) fractions): white arms a tenth of the shorter side long,
    outlined in black, to be seen on any picture."""
    height, width = frame.shape[:2]
    x, y = min(int(at[0] * width), width - 1), min(int(at[1] * height), height - 1)
    arm = max(2, min(height, width) // 10)
    marked = frame.copy()
    for colour, thickness in (((0, 0, 0), 1), ((255, 255, 255), 0)):
        rows = slice(max(y - thickness, 0), y + thickness + 1)
        columns = slice(max(x - thickness, 0), x + thickness + 1)
        marked[rows, max(x - arm - thickness, 0) : x + arm + thickness + 1] = colour
        marked[max(y - arm - thickness, 0) : y + arm + thickness + 1, columns] = colour
    return marked


class Studio:
    def __init__(self, libraries: Libraries | MotionLibrary | None = None, device=None, dtype=None,
                 max_clip_seconds: float = MAX_CLIP_SECONDS, scratch: Scratch | None = None,
                 offload: bool = False):  # fmt: skip
        if isinstance(libraries, MotionLibrary) or libraries is None:
            libraries = Libraries((libraries or MotionLibrary()).folder)
        self.libraries = libraries
        self.max_clip_seconds = max_clip_seconds
        self.device, self.dtype = device, dtype
        self.offload = offload  # the text encoder and VAE wait in CPU memory (models.VideoModel.offload_encoders)
        self.jobs = JobBoard()
        self.scratch = scratch or Scratch()
        self._model: VideoModel | None = None
        self._model_key = ""
        self._model_lock = threading.Lock()

    def library(self, owner: str = "") -> MotionLibrary:
        return self.libraries.library(owner)

    # -- the base model ------------------------------------------------------------------------------------------
    def model(self, name: str) -> VideoModel:
        """The loaded model called `name`, loading it (and dropping the previous one) on first use."""
        with self._model_lock:
            if self._model is None or name not in (self._model.name, self._model_key):
                self._model = None  # free the old one before loading the next
                self._model = load_model(name, device=self.device, dtype=self.dtype, offload=self.offload)
                self._model_key = name  # what it was asked for by: a registry name, Hub id or folder
            return self._model

    @staticmethod
    def _progress_until_stopped(job: Job, on_progress: ProgressCallback | None) -> ProgressCallback:
        """Pass progress on, and ask the job to stop at this point when its owner asked for it."""

        def progress(update: Progress) -> bool:
            if on_progress is not None:
                on_progress(update)
            return job.should_stop()

        return progress

    def model_for(self, motion: Motion | None, default: str) -> VideoModel:
        """The model a motion was learned on; `default` without one. A motion's base model is a label from a
        file anyone can share: only a registry name is loaded for it, or the app's own `default` when the label
        names that model (a local folder model is named by its settings, not by its folder). A path or Hub id in
        a motion file is never loaded."""
        if motion is None:
            return self.model(default)
        if motion.base_model in REGISTRY:
            return self.model(motion.base_model)
        if self.model(default).name == motion.base_model:
            return self.model(default)
        raise MotionInversionError(
            f"this motion was learned on {motion.base_model!r}, which this app does not offer: use it where that "
            f"model is loaded (the models here: {', '.join(REGISTRY)})"
        )

    # -- stopping --------------------------------------------------------------------------------------------------
    def request_stop(self, owner: str = "") -> int:
        """Stop every job of `owner` at its next step (from any of their tabs); returns how many."""
        return self.jobs.stop(owner=owner)

    # -- learning --------------------------------------------------------------------------------------------------
    def check_clip(self, clip_path: str | os.PathLike | None) -> Path:
        """Refuse a missing, unreadable or over-long clip before any model is loaded."""
        if not clip_path:
            raise MotionInversionError("no clip: upload a short video first")
        path = Path(clip_path)
        info = probe_clip(path)  # raises a clear error for non-videos and damaged files
        if info.duration > self.max_clip_seconds:
            raise MotionInversionError(
                f"{path.name} lasts {info.duration:.0f} s; clips of at most {self.max_clip_seconds:.0f} s are "
                "accepted: trim it to the part whose motion you want"
            )
        return path

    def learn(
        self, clip_path: str | os.PathLike, name: str = "", caption: str = "", model_name: str = "toy",
        steps: int | None = None, loss: str = "base", seed: int = 0, owner: str = "", job: Job | None = None,
        on_progress: ProgressCallback | None = None, start: float = 0.0, end: float | None = None,
        sampling: str = "auto", fit: str = "crop",
    ) -> MotionEntry:  # fmt: skip
        """Learn the clip's motion and save it in `owner`'s library (with its preview).

        The job waits for the model, then runs; a stop request ends it at its next step and what was learned so
        far is saved, unless that is fewer than MIN_STEPS_TO_KEEP steps (then it raises, saving nothing)."""
        job = job or self.jobs.open("learn", owner, session="")
        with self.jobs.admitting(job):
            path = self.check_clip(clip_path)
            library = self.library(owner)  # refuses a missing owner before any work
            library.check_writable()  # and a read-only library, before minutes of learning
            # a typed name is kept as typed, and refused now (not after minutes of learning) when taken or unsafe
            name = library.check_new_name(name) if name.strip() else name_from_file(path.stem)
            check_all(seed=seed, start=start, end=end)  # the library's ranges, before the model loads
            if steps is not None and not 1 <= steps <= MAX_STEPS:
                raise MotionInversionError(f"steps must be between 1 and {MAX_STEPS}, got {steps}")
        progress = self._progress_until_stopped(job, on_progress)
        with self.jobs.run(job):
            if report(progress, "loading"):
                raise MotionInversionError("stopped before the model was loaded: nothing was learned")
            model = self.model(model_name)
            spec = model.spec
            if report(progress, "reading"):
                raise MotionInversionError("stopped before reading the clip: nothing was learned")
            clip = load_reference_clip(
                path, spec.num_frames, spec.height, spec.width, spec.fps, start, end, sampling, fit, spec.frame_step
            )
            motion = invert(
                model, clip, prompt=caption.strip(), steps=steps, loss=loss, seed=seed, on_progress=progress,
                num_frames=clip.num_frames,
            )  # fmt: skip
            if job.should_stop() and motion.steps < min(MIN_STEPS_TO_KEEP, steps or MIN_STEPS_TO_KEEP):
                raise MotionInversionError(
                    f"stopped after {motion.steps} learning step(s): too little to be worth keeping, nothing was saved"
                )
            report(on_progress, "saving")
            # if_taken: a name taken while it learned (another tab) gets a number rather than losing the work
            return library.add(motion, name, preview_frames=clip.frames, fps=spec.fps, if_taken="number")

    def plan(self, clip_path: str | os.PathLike | None, model_name: str, start: float = 0.0, end: float | None = None,
             sampling: str = "auto", fit: str = "crop") -> Clip:  # fmt: skip
        """The frames `learn` would learn from this clip with these settings, and its one-line description (for
        a preview before learning); reads only the frames it needs, loads no model weights."""
        spec = model_spec(model_name)
        return load_reference_clip(
            self.check_clip(clip_path), spec.num_frames, spec.height, spec.width, spec.fps, start, end, sampling, fit,
            spec.frame_step,
        )  # fmt: skip

    # -- generating -------------------------------------------------------------------------------------------------
    def video_size(self, motion_name: str | None, model_name: str, owner: str = "") -> tuple[int, int]:
        """(height, width) of the video a generation makes: the motion's size, else the model's."""
        entry = self.libraries.entry(owner, motion_name) if motion_name else None
        size = entry.metadata if entry else vars(model_spec(model_name))
        return int(size["height"]), int(size["width"])

    def fitted_image(self, image: str | os.PathLike, motion_name: str | None, model_name: str, owner: str = "",
                     fit: str = "crop", subject_at=None) -> Path:  # fmt: skip
        """The start image as the video will begin with it: fitted to the size of the motion (else the model), as a
        PNG in a fresh scratch folder, with a cross where `subject_at` ((x, y) fractions) marks the subject; loads
        no model weights."""
        from PIL import Image

        height, width = self.video_size(motion_name, model_name, owner)
        frame = read_image(image, height, width, fit)[0]  # refuses what is not an image
        subject_at = check_subject_at(subject_at)
        if subject_at is not None:
            frame = mark(frame, subject_at)
        path = self.scratch.new_folder() / "start-frame.png"
        Image.fromarray(frame).save(path)
        return path

    def guessed_subject(self, image: str | os.PathLike, motion_name: str | None, model_name: str, owner: str = "",
                        fit: str = "crop") -> tuple[float, float] | None:  # fmt: skip
        """Where the subject of the start image, fitted as the video will begin with it, most likely stands ((x, y)
        fractions; subject_guess.py), or None; loads no model weights."""
        height, width = self.video_size(motion_name, model_name, owner)
        return guess_subject(read_image(image, height, width, fit)[0])

    def generate(
        self, motion_name: str | None, prompt: str, negative_prompt: str = "", motion_type: str = "object",
        strength: float | None = None, seed: int = 0, steps: int | None = None, guidance: float | None = None,
        model_name: str | None = None, on_progress: ProgressCallback | None = None, owner: str = "",
        job: Job | None = None, image: str | os.PathLike | None = None, subject_at=None,
    ) -> Path:  # fmt: skip
        """Generate a video (an mp4 in a fresh scratch folder). With a motion (of `owner`'s library or the
        examples), its own base model is used; `image` starts it (models trained for it), and `subject_at` ((x, y)
        fractions, or a text "x, y") says where its subject stands, for an object motion to start there. A stop
        request ends it at its next step, with an error."""
        job = job or self.jobs.open("generate", owner, session="")
        with self.jobs.admitting(job):
            if not prompt or not prompt.strip():
                raise MotionInversionError("the prompt is empty: describe what the new video should show")
            if motion_type not in MOTION_TYPES:
                raise MotionInversionError(
                    f"motion type must be one of {', '.join(MOTION_TYPES)}, got {motion_type!r}"
                )
            checked = check_all(strength=strength, seed=seed, sampling_steps=steps or None, guidance=guidance)
            if image is not None:
                check_image(image)  # before the queue and the model
            strength, seed, steps, guidance = checked.values()
            motion = Motion.load(self.libraries.entry(owner, motion_name).path) if motion_name else None
            placed_on_image(motion, motion_type, image, subject_at)  # its refusals before the queue and the model
        progress = self._progress_until_stopped(job, on_progress)
        with self.jobs.run(job):
            if report(progress, "loading"):
                raise MotionInversionError("generation stopped before the model was loaded")
            model = self.model_for(motion, model_name or "toy")
            frames = generate(
                model, motion, prompt.strip(), negative_prompt=negative_prompt, motion_type=motion_type,
                strength=strength, seed=int(seed), steps=steps or None, guidance=guidance, on_progress=progress,
                image=image, subject_at=subject_at,
            )  # fmt: skip
            report(on_progress, "saving")
            stem = "without-motion" if motion is None else f"{Path(motion_name).name}-{motion_type}"
            return write_mp4(
                frames.numpy(), self.scratch.new_folder() / f"{stem}-seed{int(seed)}.mp4", fps=model.spec.fps
            )

    # -- seeing motion ----------------------------------------------------------------------------------------------
    def reference_clip(self, owner: str, motion_name: str) -> Path | None:
        """The frames a motion was learned from, as saved beside it (an imported motion may have none)."""
        return self.libraries.entry(owner, motion_name).preview

    def motion_match(self, owner: str, motion_name: str, video: str | os.PathLike) -> MotionMatch | None:
        """How well `video` moves like the motion's reference clip; None when the motion has no reference clip."""
        reference = self.reference_clip(owner, motion_name)
        return None if reference is None else match_files(reference, video)

    def motion_picture(self, owner: str, motion_name: str) -> Path | None:
        """A PNG of what the motion will transfer: the point tracks of its reference clip over the first frame
        (drawn once per reference clip)."""
        reference = self.reference_clip(owner, motion_name)
        if reference is None:
            return None
        from PIL import Image

        path = self.scratch.derived_path(reference, f"{reference.stem}-tracks.png")
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as temp_name:
                Image.fromarray(draw_tracks(read_whole_clip(reference).frames)).save(temp_name, format="PNG")
        return path

    def comparison(self, owner: str, motion_name: str, with_motion: str | os.PathLike,
                   without_motion: str | os.PathLike | None = None) -> tuple[Path, Path]:  # fmt: skip
        """A side-by-side mp4 and GIF of the motion's reference clip and the generated videos (comparison.py)."""
        from .comparison import comparison_panels, write_comparison

        reference = self.reference_clip(owner, motion_name)
        if reference is None:
            raise MotionInversionError(f"'{motion_name}' has no reference clip (imported without one): nothing to "
                                       "compare with")  # fmt: skip
        if not with_motion:
            raise MotionInversionError("no generated video yet: generate one with the motion first")
        panels = comparison_panels(reference, with_motion, without_motion or None)
        return write_comparison(panels, self.scratch.new_folder() / f"{Path(motion_name).name}-comparison.mp4")
