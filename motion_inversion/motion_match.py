"""Motion match: a number for "does this video move like that one", from point tracks, with no model weights.

Tracks: a grid of points on the first frame, followed through the clip with OpenCV's pyramidal Lucas-Kanade
optical flow. A point is kept only if it passes a forward-backward check at every frame pair (tracked to the next
frame and back, it lands within `FB_TOLERANCE` pixels of where it started) and sits on some texture (flat regions
give the flow nothing to hold on to).

Score: the motion-fidelity tracklet score of Diffusion Motion Transfer (METHOD.md). For tracks T of one clip and T~
of the other, `0.5 * (mean over t~ of max over t corr(t, t~) + mean over t of max over t~ corr(t, t~))`, where
`corr` is the mean over frame steps of the cosine of the two tracks' frame-to-frame displacements. Two choices make
it a score of *motion* on clips with still backgrounds (documented where they are made):
- only tracks that move (path length >= `MIN_TRAVEL` of the frame) take part; a still background would otherwise
  match every still background and say "right" and "left" are alike. A clip with no moving track against one with
  moving tracks scores 0; two clips where nothing moves score 1;
- within a track, a step where both points are still counts as agreement (1) and one where only one moves as 0,
  since a cosine of two near-zero vectors is noise.

Clips of different sizes, frame counts or fps: coordinates are fractions of the frame's width and height; both clips
are taken to span the same motion from their first to their last frame (what a model does with a learned motion),
so their tracks are resampled in time (linear interpolation) to the smaller frame count. Every clip is first scaled
so its longer side is `TRACKING_SIDE` pixels, which gives Lucas-Kanade's window the same meaning on a 32 px toy
clip as on a 576 px one.

The global (camera) motion of a clip is the median displacement of its tracks per frame step. It follows the
background when most tracked texture is there (most real footage); on the toy's faint backgrounds a bold moving
subject holds most of the tracks, and the global motion then follows the subject. (The median over every grid point,
textured or not, did not help: the faint background's points then under-read a pan by 4x.)
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MotionInversionError
from .video import read_whole_clip

# Tracking settings, chosen on toy clips (32 px, 8 frames, objects moving up to ~20% of the frame per frame): at 128 px
# with 31 px windows, 4 pyramid levels and a 1 px round trip, a line scores 1.00 against the same line in another
# colour and shape and -0.98 against its reverse, an orbit 1.00 against itself and 0.05 against the reverse orbit, a
# pan 0.96 against itself and -0.08 against the reverse. Grey-level tracking, 15 px windows or 3 levels lost the toy's
# orbits and zig-zags entirely (no track survived the round trip).
TRACKING_SIDE = 128  # pixels: clips are scaled to this longer side before tracking
GRID_POINTS = 24  # grid points along the longer side
FB_TOLERANCE = 1.0  # pixels (at TRACKING_SIDE): forward-backward round trip error allowed per frame pair
# Tracked if the structure tensor's smaller eigenvalue is >= this x the grid's largest. 0.01 dropped the faint
# background of a pan whenever a bright, high-contrast subject set the largest: on toy clips with bright objects on a
# dark background (the experimental toy world of docs/toy-transfer-diagnosis.md), a pan against the same pan in
# another colour and shape scored 0 (no moving track) in 5 of 16 cases; 0.001 keeps them (all 16 >= 0.8), and on the
# shipped toy world raises those pans from 0.88-0.98 to 0.95-0.99.
MIN_TEXTURE = 0.001
MIN_TRAVEL = 0.03  # fraction of the frame: shorter paths count as still
FLAT_TEXTURE = 1e-6  # a frame whose largest texture is below this has nothing to track (a flat or black frame)
SETTLED_TEXTURE = 0.1  # tracks start on the first frame with this share of the clip's strongest texture
STILL_STEP = 0.004  # fraction of the frame: a smaller frame-to-frame displacement is "not moving"
# A moving track moves in at least a third of its frame steps. Measured on a disc with bright marks crossing a static
# texture (256x144, 24 frames; tests/test_motion_match.py, the issue "A motion match you can trust"): most "moving"
# tracks were background points the disc nudged in 0-4 of 23 steps, which agree with any other clip's by being still,
# so right against left scored 0.70; with this rule -0.03 (same motion, another look: 0.86, was 0.89). A share of 1/2
# gave a similar disc -0.34 and 0.92. The toy world's same-path pairs are unchanged (within 0.015).
MIN_MOVING_SHARE = 1 / 3
LK_PARAMS = dict(winSize=(31, 31), maxLevel=4, criteria=(3, 30, 0.01))  # (COUNT|EPS, 30 iterations, 0.01 px)


@dataclass
class Tracks:
    points: np.ndarray  # float (tracks, frames, 2): x, y as fractions of the frame width and height
    camera: np.ndarray  # float (frames, 2): how the whole picture moved since the first frame (global motion)

    @property
    def num_frames(self) -> int:
        return len(self.camera)

    def moving(self) -> np.ndarray:
        """The tracks whose path is at least MIN_TRAVEL long and that move in at least MIN_MOVING_SHARE of the frame
        steps (a background point nudged for a frame or two as an object passes over it is not a motion)."""
        steps = np.linalg.norm(np.diff(self.points, axis=1), axis=-1)
        moves_often = (steps >= STILL_STEP).mean(axis=1) >= MIN_MOVING_SHARE
        return self.points[(steps.sum(axis=1) >= MIN_TRAVEL) & moves_often]


@dataclass
class MotionMatch:
    score: float  # in [-1, 1]: 1 = every moving point of each clip has a counterpart that moves the same way
    reference_tracks: int  # moving tracks found in each clip
    other_tracks: int
    reference_camera: np.ndarray  # (frames, 2) global motion of each clip, fractions of the frame
    other_camera: np.ndarray

    def reading(self, other: str = "the other clip") -> str:
        """One line for a person: what the score says (`other` names the clip compared with the reference)."""
        if self.reference_tracks == 0:  # still, flat, or moving too fast (or too plainly) for the tracker
            return "no motion to measure: nothing in the reference could be tracked, so the score says little"
        if self.other_tracks == 0:
            return f"{other} does not move, so the motions do not match"
        if self.score >= 0.8:
            return "moves like the reference"
        if self.score >= 0.5:
            return "partly moves like the reference"
        if self.score >= 0.2:
            return "moves a little like the reference"
        return "does not move like the reference"


def describe_camera(camera: np.ndarray) -> str:
    """How the whole picture shifts over a clip (its global motion), in words: 'still' or e.g. 'shifts right 12%'."""
    dx, dy = camera[-1] - camera[0]
    if np.hypot(dx, dy) < MIN_TRAVEL:
        return "still"
    angle = np.degrees(np.arctan2(-dy, dx)) % 360  # y grows downwards in images
    words = ("right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right")
    return f"shifts {words[round(angle / 45) % 8]} {np.hypot(dx, dy):.0%} of the frame"


def _prepare(frames: np.ndarray) -> list[np.ndarray]:
    """Frames scaled to TRACKING_SIDE, in colour: Lucas-Kanade runs on all three channels, because a saturated
    object can have the same grey level as its background (the toy's red on grey does)."""
    import cv2

    height, width = frames.shape[1:3]
    scale = TRACKING_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return [cv2.resize(np.ascontiguousarray(f), size, interpolation=cv2.INTER_CUBIC) for f in frames]


def _texture(image: np.ndarray) -> np.ndarray:
    """The structure tensor's smaller eigenvalue per pixel, the largest over the colour channels."""
    import cv2

    return np.max([cv2.cornerMinEigenVal(np.ascontiguousarray(image[..., c]), blockSize=7) for c in range(3)], axis=0)


def _first_textured(images: list[np.ndarray], points: np.ndarray) -> tuple[int, np.ndarray]:
    """The first frame with SETTLED_TEXTURE of the clip's strongest texture at the grid points (a black opening has
    none, and the darkest frames of a fade-in are too dim to follow) and the points that pass the texture filter
    there; (len(images), empty) when no frame has any texture."""
    textures = [_texture(image)[points[:, 1].astype(int), points[:, 0].astype(int)] for image in images]
    strongest = max(float(texture.max()) for texture in textures)
    if strongest <= FLAT_TEXTURE:
        return len(images), points[:0]
    index = next(i for i, texture in enumerate(textures) if float(texture.max()) >= SETTLED_TEXTURE * strongest)
    return index, points[textures[index] >= MIN_TEXTURE * float(textures[index].max())]


def track(frames: np.ndarray) -> Tracks:
    """Point tracks through uint8 frames (frames, height, width, 3) that pass the forward-backward check, and the
    clip's global motion: per frame step, the median displacement of those tracks. Tracks start on the first frame
    with texture (leading flat frames -- a fade-in, a black opening -- are still frames: nothing there to follow);
    a clip with no texture at all has no tracks, which reads as "no motion to measure", never an error."""
    import cv2

    if frames.ndim != 4 or frames.shape[0] < 2:
        raise ValueError(f"tracking needs at least 2 frames of shape (h, w, 3), got an array of shape {frames.shape}")
    images = _prepare(frames)
    height, width = images[0].shape[:2]
    spacing = max(height, width) / GRID_POINTS
    ys, xs = np.mgrid[spacing / 2 : height : spacing, spacing / 2 : width : spacing]
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    first, points = _first_textured(images, grid)
    camera = np.zeros((len(frames), 2))
    if len(points) == 0 or first >= len(images) - 1:
        return Tracks(np.zeros((0, len(frames), 2)), camera)
    path = [points] * (first + 1)  # the flat frames before it: the points stand where they start
    alive = np.ones(len(points), dtype=bool)
    for previous, current in zip(images[first:-1], images[first + 1 :], strict=True):
        start = path[-1].reshape(-1, 1, 2)
        forward, ok_forward, _ = cv2.calcOpticalFlowPyrLK(previous, current, start, None, **LK_PARAMS)
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(current, previous, forward, None, **LK_PARAMS)
        round_trip = np.linalg.norm((back - start).reshape(-1, 2), axis=1)
        alive &= ok_forward.ravel().astype(bool) & ok_back.ravel().astype(bool) & (round_trip <= FB_TOLERANCE)
        path.append(forward.reshape(-1, 2))
    points = (np.stack(path, axis=1).astype(np.float64) / np.array([width, height]))[alive]  # (tracks, frames, 2)
    if len(points):
        camera[1:] = np.cumsum(np.median(np.diff(points, axis=1), axis=0), axis=0)
    return Tracks(points, camera)


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


def compare_tracks(reference: Tracks, other: Tracks) -> MotionMatch:
    num_frames = min(reference.num_frames, other.num_frames)
    a = resample_tracks(reference.moving(), num_frames)
    b = resample_tracks(other.moving(), num_frames)
    if len(a) and len(b):
        corr = track_correlation(a, b)
        score = 0.5 * (corr.max(axis=0).mean() + corr.max(axis=1).mean())
    else:
        score = 1.0 if len(a) == len(b) == 0 else 0.0
    return MotionMatch(
        float(score), len(a), len(b), resample_tracks(reference.camera[None], num_frames)[0],
        resample_tracks(other.camera[None], num_frames)[0],
    )  # fmt: skip


def motion_match(reference: np.ndarray, other: np.ndarray) -> MotionMatch:
    """How well the clip `other` moves like `reference`; both uint8 (frames, height, width, 3)."""
    return compare_tracks(track(reference), track(other))


def match_files(reference: str | os.PathLike, other: str | os.PathLike) -> MotionMatch:
    """motion_match of two video files; a file that is not a video, or has fewer than 2 frames, is refused with
    a MotionInversionError that names it."""
    clips = [read_whole_clip(path) for path in (reference, other)]
    for clip in clips:
        if clip.num_frames < 2:
            raise MotionInversionError(
                f"{Path(clip.source).name} has {clip.num_frames} frame(s): a motion needs at least 2 to compare"
            )
    return motion_match(clips[0].frames, clips[1].frames)


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
