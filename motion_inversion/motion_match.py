"""Motion match: a number for "does this video move like that one", and a reading in words, with no model weights.

**The score shown** (app, CLI, comparison, toy evaluation): each clip's motion is split into the camera's and the
subject's per frame step (scene_motion.py: the background's similarity transform, and what moves otherwise), and the
two clips' step sequences are compared as one vector, by their cosine: 1 when they move alike (at any speed), 0 when
unrelated or when only one moves, -1 when opposite. Both parts also get their own cosine, so the reading can say "the
camera pans like the reference, the subject does not". Clips of different sizes, frame counts or fps: positions are
fractions of the frame, and both clips are taken to span the same motion from their first to their last frame (what a
model does with a learned motion), so the shorter one's steps are compared with the longer one's resampled to its
frame count.

**The published score** (`tracklet_score`, METHOD.md's motion-fidelity tracklet score of Diffusion Motion Transfer,
kept for comparison with papers): point tracks over the whole clip; for tracks T of one clip and T~ of the other,
`0.5 * (mean over t~ of max over t corr(t, t~) + mean over t of max over t~ corr(t, t~))`, `corr` the mean over frame
steps of the cosine of two tracks' displacements. On footage nobody made for it, it called opposite motion a partial
match (a disc crossing a texture: right against left +0.67) and saw nothing of small or fast subjects; why, and the
battery of clip pairs both were measured on: docs/motion-match-battery.md. Two choices make it a score of motion:
- only tracks that move (path length >= `MIN_TRAVEL`, moving in >= `MIN_MOVING_SHARE` of the steps) take part;
- within a track, a step where both points are still counts as agreement (1) and one where only one moves as 0.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import scene_motion as motion_parts
from .errors import MotionInversionError
from .scene_motion import SceneMotion, cosine, follow, grid_points, prepare, texture
from .video import read_whole_clip

# The tracklet score's whole-clip tracks, chosen on toy clips (32 px, 8 frames, objects moving up to ~20% of the frame
# per frame): at 128 px with 31 px windows, 4 pyramid levels and a 1 px round trip, a line scores 1.00 against the
# same line in another colour and shape and -0.98 against its reverse. Grey-level tracking, 15 px windows or 3 levels
# lost the toy's orbits and zig-zags entirely (no track survived the round trip at every step).
TRACKLET_LK = dict(winSize=(31, 31), maxLevel=4, criteria=(3, 30, 0.01))
TRACKLET_GRID = 24  # grid points along the longer side
STILL_STEP = 0.004  # fraction of the frame: a smaller frame-to-frame displacement is "not moving"
# A moving track moves in at least a third of its frame steps. Measured on a disc with bright marks crossing a static
# texture (256x144, 24 frames): most "moving" tracks were background points the disc nudged in 0-4 of 23 steps, which
# agree with any other clip's by being still, so right against left scored 0.70; with this rule -0.03. A share of 1/2
# gave a similar disc -0.34. The toy world's same-path pairs are unchanged (within 0.015).
MIN_MOVING_SHARE = 1 / 3
MATCHES, PARTLY, A_LITTLE = 0.8, 0.5, 0.2  # where the reading's words change


@dataclass
class Tracks:
    points: np.ndarray  # float (tracks, frames, 2): x, y as fractions of the frame width and height

    def moving(self) -> np.ndarray:
        """The tracks whose path is at least MIN_TRAVEL long and that move in at least MIN_MOVING_SHARE of the frame
        steps (a background point nudged for a frame or two as an object passes over it is not a motion)."""
        steps = np.linalg.norm(np.diff(self.points, axis=1), axis=-1)
        moves_often = (steps >= STILL_STEP).mean(axis=1) >= MIN_MOVING_SHARE
        return self.points[(steps.sum(axis=1) >= motion_parts.MIN_TRAVEL) & moves_often]


def _alike(score: float) -> str:
    if score >= MATCHES:
        return "moves like"
    if score >= PARTLY:
        return "partly moves like"
    if score >= A_LITTLE:
        return "moves a little like"
    return "does not move like"


@dataclass
class MotionMatch:
    score: float  # in [-1, 1]: the cosine of the two clips' camera and subject steps together
    camera: float  # the camera's part alone, and the subject's (1 when both are still, 0 when only one is)
    subject: float
    reference: SceneMotion  # each clip's motion, resampled to the shorter one's frame count
    other: SceneMotion

    def reading(self, other: str = "the other clip") -> str:
        """One line for a person: what the score says, and of what (`other` names the clip compared)."""
        if not self.reference.measurable:  # flat, black, or nothing the tracker can hold on to
            return "no motion to measure: nothing in the reference could be tracked, so the score says little"
        ref, oth = self.reference, self.other
        if not (ref.moves(ref.SUBJECT) or ref.moves(ref.CAMERA)):
            return "the reference does not move: " + ("neither does " + other if self.score >= MATCHES else
                                                       f"{other} does, so the motions do not match")  # fmt: skip
        if not (oth.moves(oth.SUBJECT) or oth.moves(oth.CAMERA)):
            return f"{other} does not move, so the motions do not match"
        parts = []
        for name, part, score in (("subject", ref.SUBJECT, self.subject), ("camera", ref.CAMERA, self.camera)):
            moving = ref.moves(part), oth.moves(part)
            if moving == (True, True):
                parts.append(f"the {name} {_alike(score)} it")
            elif moving == (True, False):
                parts.append(f"the {name} does not move (the reference's " + (
                    "moves)" if name == "subject" else f"{describe_camera(ref.path(part))})"))  # fmt: skip
            elif moving == (False, True):
                parts.append(f"the {name} moves where the reference's is still")
        return f"{_alike(self.score)} the reference: " + ", ".join(parts)


def describe_camera(camera: np.ndarray) -> str:
    """What the camera does over a clip, in words: 'still', 'pans right 12% of the frame' (the picture slides
    left), 'zooms in 20%'. `camera`: (frames, 2) shifts of the picture since the first frame, or (frames, 3) with
    the zoom (SceneMotion.path)."""
    dx, dy = camera[0, :2] - camera[-1, :2]  # the camera moves against the picture
    words = []
    if np.hypot(dx, dy) >= motion_parts.MIN_TRAVEL:
        angle = np.degrees(np.arctan2(-dy, dx)) % 360  # y grows downwards in images
        names = ("right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right")
        words.append(f"pans {names[round(angle / 45) % 8]} {np.hypot(dx, dy):.0%} of the frame")
    if camera.shape[1] > 2 and abs(camera[-1, 2] - camera[0, 2]) >= motion_parts.MIN_TRAVEL:
        scale = float(np.exp((camera[-1, 2] - camera[0, 2]) / motion_parts.ZOOM_ARM))
        words.append(f"zooms {'in' if scale > 1 else 'out'} {abs(scale - 1):.0%}")
    return " and ".join(words) or "still"


def compare(reference: SceneMotion, other: SceneMotion) -> MotionMatch:
    num_frames = min(reference.num_frames, other.num_frames)
    a, b = reference.resampled(num_frames), other.resampled(num_frames)
    camera, subject = (cosine(a.steps[:, part], b.steps[:, part]) for part in (a.CAMERA, a.SUBJECT))
    return MotionMatch(cosine(a.steps, b.steps), camera, subject, a, b)


def motion_match(reference: np.ndarray, other: np.ndarray) -> MotionMatch:
    """How well the clip `other` moves like `reference`; both uint8 (frames, height, width, 3)."""
    return compare(motion_parts.scene_motion(reference), motion_parts.scene_motion(other))


def _read_clips(*paths: str | os.PathLike) -> list[np.ndarray]:
    clips = [read_whole_clip(path) for path in paths]
    for clip in clips:
        if clip.num_frames < 2:
            raise MotionInversionError(
                f"{Path(clip.source).name} has {clip.num_frames} frame(s): a motion needs at least 2 to compare"
            )
    return [clip.frames for clip in clips]


def match_files(reference: str | os.PathLike, other: str | os.PathLike) -> MotionMatch:
    """motion_match of two video files; a file that is not a video, or has fewer than 2 frames, is refused with
    a MotionInversionError that names it."""
    return motion_match(*_read_clips(reference, other))


def tracklet_score_files(reference: str | os.PathLike, other: str | os.PathLike) -> float:
    """tracklet_score of two video files (refused as match_files refuses)."""
    return tracklet_score(*_read_clips(reference, other))


def _first_textured(images: list[np.ndarray], points: np.ndarray) -> tuple[int, np.ndarray]:
    """The first frame with SETTLED_TEXTURE of the clip's strongest texture at the grid points (a black opening has
    none, and the darkest frames of a fade-in are too dim to follow) and the points that pass the texture filter
    there; (len(images), empty) when no frame has any texture."""
    textures = [texture(image)[points[:, 1].astype(int), points[:, 0].astype(int)] for image in images]
    strongest = max(float(t.max()) for t in textures)
    if strongest <= motion_parts.FLAT_TEXTURE:
        return len(images), points[:0]
    index = next(i for i, t in enumerate(textures) if float(t.max()) >= motion_parts.SETTLED_TEXTURE * strongest)
    return index, points[textures[index] >= motion_parts.MIN_TEXTURE * float(textures[index].max())]


def track(frames: np.ndarray) -> Tracks:
    """Whole-clip point tracks through uint8 frames (frames, height, width, 3): a point is kept only if it passes
    the forward-backward check at every step. Tracks start on the first frame with texture (leading flat frames are
    still frames); a clip with no texture has no tracks."""
    if frames.ndim != 4 or frames.shape[0] < 2:
        raise ValueError(f"tracking needs at least 2 frames of shape (h, w, 3), got an array of shape {frames.shape}")
    images = prepare(frames)
    height, width = images[0].shape[:2]
    first, points = _first_textured(images, grid_points(height, width, TRACKLET_GRID))
    if len(points) == 0 or first >= len(images) - 1:
        return Tracks(np.zeros((0, len(frames), 2)))
    path = [points] * (first + 1)  # the flat frames before it: the points stand where they start
    alive = np.ones(len(points), dtype=bool)
    for previous, current in zip(images[first:-1], images[first + 1 :], strict=True):
        end, kept = follow(previous, current, path[-1], TRACKLET_LK)
        alive &= kept
        path.append(end)
    return Tracks((np.stack(path, axis=1).astype(np.float64) / np.array([width, height]))[alive])


def resample_tracks(points: np.ndarray, num_frames: int) -> np.ndarray:
    """(tracks, frames, 2) -> (tracks, num_frames, 2), linear in time, first and last frames kept."""
    frames = points.shape[1]
    if frames == num_frames or not len(points):
        return points[:, :num_frames]
    old = np.linspace(0.0, 1.0, frames)
    new = np.linspace(0.0, 1.0, num_frames)
    flat = points.transpose(0, 2, 1).reshape(-1, frames)
    return np.stack([np.interp(new, old, row) for row in flat]).reshape(len(points), 2, num_frames).transpose(0, 2, 1)


def track_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """corr for every pair of tracks: a (n, f, 2), b (m, f, 2) -> (n, m), the mean over frame steps of the cosine
    of their displacements; a step where both are still counts 1, one where only one moves 0."""
    da, db = np.diff(a, axis=1), np.diff(b, axis=1)  # (n, f-1, 2), (m, f-1, 2)
    na, nb = np.linalg.norm(da, axis=-1), np.linalg.norm(db, axis=-1)
    cosine = np.einsum("nfc,mfc->nmf", da, db) / np.maximum(na[:, None] * nb[None], 1e-12)
    moving_a, moving_b = (na >= STILL_STEP)[:, None], (nb >= STILL_STEP)[None]
    step = np.where(moving_a & moving_b, cosine, np.where(~moving_a & ~moving_b, 1.0, 0.0))
    return step.mean(axis=-1)


def tracklet_score(reference: np.ndarray, other: np.ndarray) -> float:
    """The published motion-fidelity tracklet score (Diffusion Motion Transfer; module docstring) of two clips."""
    a, b = track(reference).moving(), track(other).moving()
    num_frames = min(reference.shape[0], other.shape[0])
    a, b = resample_tracks(a, num_frames), resample_tracks(b, num_frames)
    if not (len(a) and len(b)):
        return 1.0 if len(a) == len(b) == 0 else 0.0
    corr = track_correlation(a, b)
    return float(0.5 * (corr.max(axis=0).mean() + corr.max(axis=1).mean()))


def draw_tracks(frames: np.ndarray, side: int = 256, max_tracks: int = 80) -> np.ndarray:
    """A picture of what moves in a clip: its first frame (longer side `side` pixels) with every moving track
    drawn from where it starts (thin, dark) to where it ends (a dot). uint8 (height, width, 3)."""
    from PIL import Image, ImageDraw

    moving = track(frames).moving()
    if len(moving) > max_tracks:  # an even sample keeps the picture readable
        moving = moving[np.linspace(0, len(moving) - 1, max_tracks).round().astype(int)]
    height, width = frames.shape[1:3]
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(np.ascontiguousarray(frames[0])).resize(size, Image.Resampling.BICUBIC)
    image = Image.blend(image, Image.new("RGB", size, (0, 0, 0)), 0.35)  # darker, so the tracks stand out
    draw = ImageDraw.Draw(image)
    for points in moving * np.array(size):
        steps = len(points) - 1
        for index, (start, end) in enumerate(zip(points[:-1], points[1:], strict=True)):
            warmth = (index + 1) / steps  # later steps brighter: the direction of motion reads at a glance
            draw.line([tuple(start), tuple(end)], fill=(255, round(120 + 135 * warmth), round(40 * warmth)), width=2)
        x, y = points[-1]
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(255, 255, 90))
    return np.asarray(image)
