"""motion-inversion: learn the motion of a clip as motion embeddings in a frozen text-to-video model, and reuse it."""

from .embeddings import VALUE_MODES
from .errors import MotionInversionError, MotionInversionWarning
from .generation import generate
from .inject import MotionInjection, find_temporal_layers, inject_motion, unet_family
from .inversion import invert
from .library import MotionLibrary
from .models import REGISTRY, ModelSpec, VideoModel, load_model
from .motion import Motion
from .processor import MotionAttnProcessor

__version__ = "0.1.0"

__all__ = [
    "REGISTRY",
    "VALUE_MODES",
    "ModelSpec",
    "Motion",
    "MotionAttnProcessor",
    "MotionInjection",
    "MotionInversionError",
    "MotionInversionWarning",
    "MotionLibrary",
    "VideoModel",
    "find_temporal_layers",
    "generate",
    "inject_motion",
    "invert",
    "load_model",
    "unet_family",
]
