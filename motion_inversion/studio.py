"""What the app does, without the UI: learn a motion from an uploaded clip into the library, generate from one.

`Studio` holds the state that outlives a request: the library, the one loaded base model (loaded on first use,
replaced when another is chosen) and the stop requests of running inversions, keyed by the requester's session.
The Gradio app (app.py) is a thin view over it; tests drive it directly.
"""

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from .errors import MotionInversionError
from .generation import MOTION_TYPES, generate
from .inversion import invert, load_reference_clip
from .library import MotionEntry, MotionLibrary
from .models import VideoModel, load_model
from .video import probe_clip, write_mp4

MAX_CLIP_SECONDS = float(os.environ.get("MOTION_INVERSION_MAX_CLIP_SECONDS", "120"))
MAX_STEPS = 2000
MOTION_TYPE_HELP = {
    "object": "an object moves (a car, a dog): its path is kept, the new subject's look is not taken from the clip",
    "camera": "the camera moves (pan, zoom, orbit) over a mostly still scene",
    "hybrid": "both the camera and the subject move",
}


class Studio:
    def __init__(self, library: MotionLibrary | None = None, device=None, dtype=None,
                 max_clip_seconds: float = MAX_CLIP_SECONDS):  # fmt: skip
        self.library = library or MotionLibrary()
        self.max_clip_seconds = max_clip_seconds
        self.device, self.dtype = device, dtype
        self._model: VideoModel | None = None
        self._model_key = ""
        self._model_lock = threading.Lock()
        self._stop_requests: set[str] = set()

    # -- the base model ------------------------------------------------------------------------------------------
    def model(self, name: str) -> VideoModel:
        """The loaded model called `name`, loading it (and dropping the previous one) on first use."""
        with self._model_lock:
            if self._model is None or name not in (self._model.name, self._model_key):
                self._model = None  # free the old one before loading the next
                self._model = load_model(name, device=self.device, dtype=self.dtype)
                self._model_key = name  # what it was asked for by: a registry name, Hub id or folder
            return self._model

    # -- stopping a running inversion ----------------------------------------------------------------------------
    def request_stop(self, session: str) -> None:
        self._stop_requests.add(session)

    def _take_stop_request(self, session: str) -> bool:
        if session in self._stop_requests:
            self._stop_requests.discard(session)
            return True
        return False

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
        steps: int | None = None, loss: str = "base", seed: int = 0, session: str = "",
        on_step: Callable[[int, int, float], None] | None = None,
    ) -> MotionEntry:  # fmt: skip
        """Learn the clip's motion and save it in the library (with its preview). A stop request for `session`
        ends training early; what was learned so far is saved."""
        path = self.check_clip(clip_path)
        if steps is not None and not 1 <= steps <= MAX_STEPS:
            raise MotionInversionError(f"steps must be between 1 and {MAX_STEPS}, got {steps}")
        self._stop_requests.discard(session)  # a stop pressed before this job started does not count
        model = self.model(model_name)
        spec = model.spec
        clip = load_reference_clip(path, spec.num_frames, spec.height, spec.width)

        def callback(step: int, total: int, value: float) -> bool:
            if on_step is not None:
                on_step(step, total, value)
            return self._take_stop_request(session)

        motion = invert(
            model, clip, prompt=caption.strip(), steps=steps, loss=loss, seed=seed, callback=callback,
            num_frames=clip.num_frames,
        )  # fmt: skip
        return self.library.add(motion, name.strip() or path.stem, preview_frames=clip.frames, fps=spec.fps)

    # -- generating -------------------------------------------------------------------------------------------------
    def generate(
        self, motion_name: str | None, prompt: str, negative_prompt: str = "", motion_type: str = "object",
        strength: float | None = None, seed: int = 0, steps: int | None = None, guidance: float | None = None,
        model_name: str | None = None, on_step: Callable[[int, int], None] | None = None,
    ) -> Path:  # fmt: skip
        """Generate a video (mp4 in a fresh temporary folder). With a motion, its own base model is used."""
        if not prompt or not prompt.strip():
            raise MotionInversionError("the prompt is empty: describe what the new video should show")
        if motion_type not in MOTION_TYPES:
            raise MotionInversionError(f"motion type must be one of {', '.join(MOTION_TYPES)}, got {motion_type!r}")
        motion = self.library.load(motion_name) if motion_name else None
        model = self.model(motion.base_model if motion else (model_name or "toy"))
        frames = generate(
            model, motion, prompt.strip(), negative_prompt=negative_prompt, motion_type=motion_type,
            strength=strength, seed=int(seed), steps=steps or None, guidance=guidance,
            callback=on_step,
        )  # fmt: skip
        folder = Path(tempfile.mkdtemp(prefix="motion-inversion-"))
        stem = "without-motion" if motion is None else f"{motion_name}-{motion_type}"
        return write_mp4(frames.numpy(), folder / f"{stem}-seed{int(seed)}.mp4", fps=model.spec.fps)
