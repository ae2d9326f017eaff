"""Clips in and out: probe and read any video ffmpeg can read, write browser-playable H.264 mp4 and thumbnails.

Reading runs ffmpeg with filters so that only the frames asked for are decoded, already resized: a 4K or ten-minute
clip never sits in memory whole. ffmpeg honours rotation metadata, decodes variable frame rate and ignores audio.
Uses the ffmpeg binary of imageio-ffmpeg (shipped with the Python package), so no system ffmpeg is required.
"""

import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .errors import MotionInversionError
from .files import atomic_write

FitMode = Literal["crop", "stretch", "pad"]
FIT_MODES = ("crop", "stretch", "pad")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class ClipInfo:
    width: int  # as displayed, after rotation
    height: int
    fps: float
    duration: float  # seconds; 0 when the container does not say
    codec: str


@dataclass
class Clip:
    frames: np.ndarray  # (frames, height, width, 3) uint8 RGB
    fps: float
    source: str = ""
    description: str = ""  # how it was sampled from its source, for the creator (sampling.py)

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]


def probe_clip(path: str | os.PathLike) -> ClipInfo:
    """Size, frame rate and duration from the container, without decoding the clip."""
    import imageio_ffmpeg

    # imageio-ffmpeg logs a warning for every rotated clip; the rotation is expected and handled here.
    logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)
    path = Path(path)
    if not path.is_file():
        raise MotionInversionError(f"clip not found: {path}")
    if path.stat().st_size == 0:
        raise MotionInversionError(f"{path.name} is an empty file, not a video")
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as error:
        raise MotionInversionError(
            f"{path.name} is not a video ffmpeg can read (mp4, mov, webm, avi and gif clips work)"
        ) from error
    finally:
        reader.close()
    width, height = meta["size"]  # as displayed: imageio-ffmpeg applies the rotation metadata
    duration = meta.get("duration") or 0.0
    return ClipInfo(width, height, float(meta.get("fps") or 0.0), float(duration), str(meta.get("codec", "")))


def _fit_filter(width: int, height: int, fit: str) -> str:
    if fit == "crop":
        return f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}"
    if fit == "stretch":
        return f"scale={width}:{height}"
    if fit == "pad":
        return (
            f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black"
        )
    raise MotionInversionError(f"fit must be one of {FIT_MODES}, got {fit!r}")


def read_clip(
    path: str | os.PathLike,
    num_frames: int,
    height: int,
    width: int,
    start: float = 0.0,
    fps: float | None = None,
    stride: int = 1,
    fit: FitMode = "crop",
) -> Clip:
    """Up to `num_frames` frames from `start` seconds, resized to height x width.

    Frames are consecutive by default; `fps` resamples the clip to that frame rate first, `stride` keeps every
    stride-th frame. Returns fewer frames when the clip is shorter: the caller decides what is enough.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    info = probe_clip(path)
    filters = []
    if fps:
        filters.append(f"fps={fps}")
    if stride > 1:
        filters.append(f"select=not(mod(n\\,{stride}))")
    filters += [_fit_filter(width, height, fit), "setsar=1"]
    command = [ffmpeg_exe(), "-v", "error", "-nostdin"]
    if start > 0:
        command += ["-ss", f"{start:.3f}"]
    command += ["-i", str(path), "-an", "-sn", "-vf", ",".join(filters), "-fps_mode", "passthrough"]
    command += ["-frames:v", str(num_frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    result = subprocess.run(command, capture_output=True)
    frame_bytes = width * height * 3
    count = len(result.stdout) // frame_bytes
    if result.returncode != 0 and count == 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise MotionInversionError(
            f"{Path(path).name} could not be decoded ({detail[-1] if detail else 'ffmpeg failed'}): "
            "the file may be damaged or truncated"
        )
    frames = np.frombuffer(result.stdout[: count * frame_bytes], dtype=np.uint8).reshape(count, height, width, 3)
    clip_fps = (fps or info.fps or 8.0) / stride
    return Clip(frames=frames.copy(), fps=clip_fps, source=str(path))


def read_whole_clip(path: str | os.PathLike, max_side: int = 256, max_frames: int = 240) -> Clip:
    """Every frame (up to `max_frames`) at the clip's own aspect ratio, scaled down so its longer side is at most
    `max_side` pixels: for measuring a clip, not for feeding a model."""
    info = probe_clip(path)
    scale = min(1.0, max_side / max(info.width, info.height, 1))
    width, height = (max(2, round(side * scale / 2) * 2) for side in (info.width, info.height))
    return read_clip(path, max_frames, height, width, fit="stretch")


def read_image(image: "str | os.PathLike | np.ndarray", height: int, width: int, fit: FitMode = "crop") -> np.ndarray:
    """An image file (or a uint8 (h, w, 3) array) fitted to height x width the way clips are (crop, pad or
    stretch): uint8 (1, height, width, 3). Anything that is not an image is refused with one line naming it."""
    import tempfile

    from PIL import Image

    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise MotionInversionError(f"an image array must be uint8 (h, w, 3), got {image.dtype} {image.shape}")
        with tempfile.TemporaryDirectory(prefix="image-") as folder:
            path = Path(folder) / "image.png"
            Image.fromarray(image).save(path)
            return read_image(path, height, width, fit)
    return read_clip(check_image(image), 1, height, width, fit=fit).frames[:1]


def check_image(path: str | os.PathLike) -> Path:
    """`path` if it is an image file that can be read (cheap: before any model loads); else one line naming it."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise MotionInversionError(f"image not found: {path}")
    try:
        with Image.open(path) as opened:
            opened.verify()  # reads the whole file: a damaged or foreign file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise MotionInversionError(
            f"{path.name} is not an image that can be read (png, jpg, webp, ...): {str(error).splitlines()[0]}"
        ) from None
    return path


def write_mp4(frames: np.ndarray, path: str | os.PathLike, fps: float = 8.0, crf: int = 18) -> Path:
    """H.264 yuv420p mp4 (plays in browsers), written to a temporary file and renamed into place. `crf`: x264's
    quality (18 looks lossless; 40 is heavy compression)."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (frames, height, width, 3) uint8, got shape {frames.shape}")
    path = Path(path)
    num_frames, height, width, _ = frames.shape
    command = [
        ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "-",
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf),
        "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4",
    ]  # fmt: skip
    with atomic_write(path) as temp_name:
        result = subprocess.run([*command, temp_name], input=frames.tobytes(), capture_output=True)
        if result.returncode != 0:
            raise MotionInversionError(f"cannot write {path}: {result.stderr.decode(errors='replace').strip()[-200:]}")
    return path


def write_thumbnail(frames: np.ndarray, path: str | os.PathLike, max_side: int = 256) -> Path:
    """A PNG of the middle frame, at most `max_side` pixels on its longer side."""
    from PIL import Image

    image = Image.fromarray(np.asarray(frames[len(frames) // 2], dtype=np.uint8))
    image.thumbnail((max_side, max_side))
    path = Path(path)
    with atomic_write(path) as temp_name:
        image.save(temp_name, format="PNG")
    return path
