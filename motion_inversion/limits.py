"""The allowed range of every number a user or a file can give, in one place, so that Python, the CLI and the app
refuse the same things with the same line, before any model loads.

`check(name, value)` returns the value (an int for integer settings) or raises MotionInversionError with one line
that names the setting, the value and the allowed range, e.g. `seed must be an integer from 0 to
18446744073709551615, got -1`. Non-numbers, NaN and infinities are refused the same way.
"""

import math
import numbers
from dataclasses import dataclass

from .errors import MotionInversionError


@dataclass(frozen=True)
class Limit:
    words: str  # how the message names it
    low: float
    high: float
    integer: bool = False
    low_open: bool = False  # the low end itself is not allowed (lr > 0)

    def describe(self) -> str:
        if self.integer:
            return f"an integer from {int(self.low)} to {int(self.high)}"
        if self.low_open:
            return f"a number above {self.low:g} and at most {self.high:g}"
        return f"a number from {self.low:g} to {self.high:g}"


MAX_SIDE = 4096  # pixels: no supported model is trained above 1280; a motion file claiming more is damaged
MAX_FRAMES = 1024  # frames: the longest supported model makes 121
LIMITS: dict[str, Limit] = {
    "steps": Limit("steps", 1, 10_000, integer=True),  # inversion training steps (the paper's: 400)
    "inversion_steps": Limit("inversion steps", 0, 1000, integer=True),
    "sampling_steps": Limit("sampling steps", 1, 1000, integer=True),  # diffusers' schedulers take at most 1000
    "num_frames": Limit("frames", 1, MAX_FRAMES, integer=True),
    "height": Limit("height", 8, MAX_SIDE, integer=True),
    "width": Limit("width", 8, MAX_SIDE, integer=True),
    "seed": Limit("seed", 0, 2**64 - 1, integer=True),  # torch.Generator.manual_seed's range
    "strength": Limit("strength", 0.0, 10.0),
    "guidance": Limit("guidance", 0.0, 100.0),  # 1 or less: no classifier-free guidance
    "lr": Limit("lr", 0.0, 10.0, low_open=True),
    "noise_prior": Limit("noise_prior", 0.0, 1.0),
    "motion_until": Limit("motion_until", 0.0, 1.0),
    "start": Limit("start", 0.0, 86_400.0),  # seconds into the clip
    "end": Limit("end", 0.0, 86_400.0),
    "subject_x": Limit("the subject's x", 0.0, 1.0),  # fractions of the start image (generate's subject_at)
    "subject_y": Limit("the subject's y", 0.0, 1.0),
}


def _number(value, integer: bool):
    """The value as an int or float, or None when it is not a finite number (or not a whole one, for integers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)  # exactly, however large (a float would round 2**64 - 1 up)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number) or (integer and not number.is_integer()):
        return None
    return int(number) if integer else number


def check(name: str, value):
    """`value` if it is within LIMITS[name] (as an int for integer settings); MotionInversionError otherwise."""
    limit = LIMITS[name]
    number = _number(value, limit.integer)
    if number is not None:
        too_low = number <= limit.low if limit.low_open else number < limit.low
        if not too_low and number <= limit.high:
            return number
    raise MotionInversionError(f"{limit.words} must be {limit.describe()}, got {value!r}")


def check_all(**values) -> dict:
    """check() every given setting that is not None; returns them checked, in the same order."""
    return {name: None if value is None else check(name, value) for name, value in values.items()}


def check_subject_at(value) -> tuple[float, float] | None:
    """Where a start image's subject stands: (x, y) fractions of the image, from a pair or a text "x, y" (the CLI,
    the app's box); None for None or an empty text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    parts = value.replace(",", " ").split() if isinstance(value, str) else value
    try:
        x, y = parts
    except (TypeError, ValueError):
        raise MotionInversionError(
            f"the subject's place must be x, y (fractions of the image from 0 to 1, e.g. 0.3, 0.6), got {value!r}"
        ) from None
    return check("subject_x", x), check("subject_y", y)
