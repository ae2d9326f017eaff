"""motion-inversion: learn the motion of a clip as motion embeddings in a frozen text-to-video model, and reuse it.

The public names are imported on first use (PEP 562), so that `python -m motion_inversion` answers a mistyped path
in well under a second instead of first importing torch and diffusers.
"""

import importlib

__version__ = "0.1.0"

_PUBLIC = {  # name -> the module that defines it
    "VALUE_MODES": "embeddings",
    "MotionInversionError": "errors",
    "MotionInversionWarning": "errors",
    "generate": "generation",
    "FAMILIES": "families",
    "family_of": "families",
    "MotionInjection": "inject",
    "find_motion_layers": "inject",
    "inject_motion": "inject",
    "invert": "inversion",
    "MotionLibrary": "library",
    "REGISTRY": "models",
    "ModelSpec": "models",
    "VideoModel": "models",
    "load_model": "models",
    "Motion": "motion",
    "MotionAttnProcessor": "processor",
    "guess_subject": "subject_guess",
    "WanMotionAttnProcessor": "wan_processor",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'motion_inversion' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
