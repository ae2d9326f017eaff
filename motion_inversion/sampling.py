"""Which frames of an uploaded clip the model learns: the creator's selection, sampled into the model's frame count.

A model sees `num_frames` frames at its own frame rate (toy: 8 at 8 fps, 1 s; ZeroScope: 24 at 8 fps, 3 s). Taking
the clip's first frames at the clip's own rate, as a naive reader does, keeps only a sliver of a phone clip (8 frames
of a 24 fps clip: 0.33 s, where a ball crossing the frame moves a few pixels). So by default ("auto") a selection up
to MAX_SPAN_FACTOR times the model's span is covered whole, at an even stride; a longer one is sampled at the model's
frame rate from its start, and the creator is told to trim it. The creator can override: "whole" (always the whole
selection), "model-fps" (the model's frame rate from the start), "every-frame" (consecutive frames of the clip).
The same plan serves the library, the CLI and the app, and `describe()` is the one line they all show.
"""

from dataclasses import dataclass

from .errors import MotionInversionError
from .video import FIT_MODES, ClipInfo

SAMPLING_MODES = ("auto", "whole", "model-fps", "every-frame")
# A selection up to 4x the model's span is covered whole: its motion is then at most 4x faster than the clip's,
# which the model can still follow (a toy line crosses ~14 px in 8 frames); longer selections alias into jumps.
MAX_SPAN_FACTOR = 4.0
FIT_WORDS = {"crop": "centre crop", "pad": "padded", "stretch": "stretched"}


def usable_frames(num_frames: int, frame_step: int) -> int:
    """The largest count <= num_frames of the form 1 + k * frame_step (Wan's VAE: 1 + 4k; the UNets' step is 1)."""
    return 1 + (num_frames - 1) // frame_step * frame_step if num_frames > 0 else 0


@dataclass(frozen=True)
class Sampling:
    num_frames: int
    start: float  # seconds into the clip
    fps: float  # rate at which frames are taken (the clip's own for "every-frame")
    clip_duration: float
    fit: str
    mode: str  # what was applied: "whole", "model-fps" or "every-frame"
    too_long: bool = False  # auto mode on a selection too long to cover whole

    @property
    def end(self) -> float:
        return self.start + self.num_frames / self.fps

    def describe(self) -> str:
        """One line: 'learning 8 frames, 0.0-1.0 s of 2.0 s, 8 fps, centre crop'."""
        line = (
            f"learning {self.num_frames} frames, {self.start:.1f}-{self.end:.1f} s of {self.clip_duration:.1f} s, "
            f"{self.fps:g} fps, {FIT_WORDS[self.fit]}"
        )
        if self.too_long:
            line += " (the selection is much longer than the model's span: trim the clip to the motion you want)"
        return line


def plan_sampling(
    info: ClipInfo, num_frames: int, model_fps: float, start: float = 0.0, end: float | None = None,
    mode: str = "auto", fit: str = "crop",
) -> Sampling:  # fmt: skip
    """The frames to learn from a clip described by `info`, for a model of `num_frames` frames at `model_fps`."""
    if mode not in SAMPLING_MODES:
        raise MotionInversionError(f"sampling must be one of {', '.join(SAMPLING_MODES)}, got {mode!r}")
    if fit not in FIT_MODES:
        raise MotionInversionError(f"fit must be one of {', '.join(FIT_MODES)}, got {fit!r}")
    duration = info.duration or num_frames / (info.fps or model_fps)  # some containers do not say
    end = duration if end is None or end <= 0 else min(end, duration)
    if not 0 <= start < end:
        raise MotionInversionError(f"the selection {start:.1f}-{end:.1f} s is empty: the clip lasts {duration:.1f} s")
    selection = end - start
    clip_fps = info.fps or model_fps
    too_long = mode == "auto" and selection > MAX_SPAN_FACTOR * num_frames / model_fps
    if mode == "auto":
        mode = "model-fps" if too_long else "whole"
    if mode == "whole":
        # the selection's span in num_frames even steps; never faster than the clip has frames (that would repeat
        # frames, a stutter the model would learn as motion)
        fps = min(num_frames / selection, clip_fps)
    elif mode == "model-fps":
        fps = min(float(model_fps), clip_fps)
    else:
        fps = clip_fps
    return Sampling(num_frames, start, round(fps, 3), duration, fit, mode, too_long)
