"""How a clip moves, in two parts: the camera (how the whole background shifts and zooms) and the subject (what moves
on top of it), per frame step. What the motion match (motion_match.py) compares and puts in words.

Per frame step, a grid of points on textured spots is followed to the next frame with OpenCV's pyramidal
Lucas-Kanade flow and back (a point is kept when the round trip lands within `FB_TOLERANCE`). Points are followed one
step at a time, so a point lost at one step (occluded, a scene cut, a fast small subject) costs that step only.

- **Camera**: a similarity transform (shift, zoom, turn) fitted by RANSAC to the step's points. The background is
  the largest-spread consistent group, not the largest: a bold subject can hold more points than a faint background,
  but it does not span the frame. A group spanning less than `MIN_CAMERA_SPREAD` of the frame is no background (a
  subject on a flat background): the camera is then still.
- **Subject**: the points that move otherwise than the camera says (by more than `CAMERA_TOLERANCE`). Its step is
  their trimmed mean displacement in the frame (what a viewer sees on screen; what the toy world's colour tracker
  measures) and how much their spread grows (a subject coming closer).
- Steps where the subject is hidden (`HIDDEN_SHARE`) or the picture cuts (`CUT_SHARE`) are filled in from the steps
  around them.

A part whose path over the clip is shorter than `MIN_TRAVEL` of the frame counts as still.
"""

from dataclasses import dataclass

import numpy as np

# A clip is tracked at its own size, its longer side brought into [128, 256] pixels: the toy's 32 px clips need the
# 4x upscale (Lucas-Kanade's windows would cover a whole toy object), and at 256 rather than 128 the battery's small
# disc scores 0.96 (was 0.60) and a fast one 0.92 (0.39), for the same time (the cost is per point).
MIN_TRACKING_SIDE, MAX_TRACKING_SIDE = 128, 256
# Grid points along the longer side. The cost is per point: 20 (220 points on 16:9) takes 0.7x the time of 24 (312)
# and scores the battery and the toy's same-path pairs alike (mean 0.970 against 0.967); 16 lost the fast disc (0.85).
GRID_POINTS = 20
FB_TOLERANCE = 1.0  # pixels (at the tracking size): round-trip error allowed
MIN_TEXTURE = 0.001  # a point is followed if its texture is >= this x the clip's strongest (motion_match.py says why)
FLAT_TEXTURE = 1e-6  # a frame whose strongest texture is below this has nothing to follow (flat or black)
SETTLED_TEXTURE = 0.1  # a step is measured from a frame with this share of the clip's strongest texture (fades)
# 21 px windows, 4 levels, 30 iterations: per-step tracks score the toy world's zig-zags 0.85-1.00 against the same
# path in another look (5 seeds) and the battery's fast disc (12 of 24 frames) 0.93; 15 px windows gave 0.77-0.98
# and 3 levels with 10 iterations 0.76 (the fast disc's points under-followed). 0.17-0.20 s per 24-frame 256 px clip
# on the 2-core CPU (docs/motion-match-battery.md).
LK_PARAMS = dict(winSize=(21, 21), maxLevel=4, criteria=(3, 30, 0.01))  # (COUNT|EPS, 30 iterations, 0.01 px)
# Pixels at the tracking size. A point this close to the camera's prediction is background: at 0.75 a toy clip through
# H.264 (32 px, 4x upscaled) left its faint background drifting 1-1.5 px out of the camera's group, the subject's fit
# followed that drift and the same path in another size scored 0.74; at 1.5, 0.93.
CAMERA_TOLERANCE = 1.5
MIN_CAMERA_SPREAD = 0.25  # the background's points span at least this share of the frame (bounding box)
MIN_SUBJECT_POINTS = 3  # fewer points moving otherwise than the camera: no subject at that step
# a point joins the subject only if it is off the camera by at least this share of the most-moved tenth's offset:
# a decoder's jitter on a still background (a few px at the tracking size) had joined the subject and drowned its
# step; the toy Wan's VAE round trip of its own references read 0.51 (orbits 0.18), now 0.74 (0.3: 0.73, 0.7: 0.75);
# the battery stays 28 of 28 (docs/motion-match-battery.md, session 13)
SUBJECT_SHARE = 0.5
TRIMMED_SHARE = 0.25  # of the subject's points, those farthest from their median displacement, left out
# A step where the subject has under a third of its usual points is one where it is hidden (behind something, half out
# of the frame): its motion there is interpolated from the steps around it. Measured on the battery's disc passing
# behind a pillar (docs/motion-match-battery.md): the hidden steps read 0-2% of the true motion, and the pair scored
# 0.84; interpolated, 0.99. A subject that stops for a few frames reads as moving on through them (its points then
# agree with the camera): the price of this rule.
HIDDEN_SHARE = 1 / 3
CUT_SHARE = 0.5  # a step that keeps under half the clip's usual points is a scene cut: both parts interpolated
MIN_TRAVEL = 0.03  # fraction of the frame: a part whose path is shorter is still
ZOOM_ARM = 0.5  # a zoom counts as the shift of a point this far (fraction of the frame) from the centre
SPREAD_TO_SIZE = 2.5  # points on a disc spread r/sqrt(2); its size (sqrt of the area) is r sqrt(pi): 2.5x the spread


@dataclass
class SceneMotion:
    steps: np.ndarray  # float (frames - 1, 6): camera dx, dy, zoom; subject dx, dy, size; fractions of the frame
    points: np.ndarray  # int (frames - 1,): points followed at each step (0: nothing to follow there)
    subject_points: np.ndarray  # int (frames - 1,): of those, the subject's
    # where the subject stands in the first frame (x, y, fractions of the frame): at each step it is seen, the mean
    # of its points less its path up to there, averaged over the steps; None when no subject is seen
    subject_start: np.ndarray | None = None

    CAMERA, SUBJECT = slice(0, 3), slice(3, 6)

    @property
    def num_frames(self) -> int:
        return len(self.steps) + 1

    @property
    def measurable(self) -> bool:
        """Something could be followed (a flat or black clip has nothing)."""
        return bool(self.points.any())

    def moves(self, part: slice) -> bool:
        return bool(np.linalg.norm(self.steps[:, part], axis=1).sum() >= MIN_TRAVEL)

    def path(self, part: slice) -> np.ndarray:
        """(frames, 3) where the part stands relative to the first frame (zoom and size as in `steps`)."""
        return np.concatenate([np.zeros((1, 3)), np.cumsum(self.steps[:, part], axis=0)])

    def subject_positions(self) -> np.ndarray | None:
        """(frames, 2) where the subject stands in each frame (x, y, fractions of the frame), or None."""
        if self.subject_start is None:
            return None
        return self.subject_start + self.path(self.SUBJECT)[:, :2]

    def resampled(self, num_frames: int) -> "SceneMotion":
        """The same motion over `num_frames` frames (both clips span the same motion from first to last frame):
        each part's path interpolated linearly in time; still parts zeroed."""
        steps = self.steps
        if num_frames != self.num_frames:
            path = np.concatenate([np.zeros((1, 6)), np.cumsum(steps, axis=0)])
            old, new = np.linspace(0.0, 1.0, len(path)), np.linspace(0.0, 1.0, num_frames)
            steps = np.diff(np.stack([np.interp(new, old, column) for column in path.T], axis=1), axis=0)
        steps = steps.copy()
        for part in (self.CAMERA, self.SUBJECT):
            if not self.moves(part):
                steps[:, part] = 0.0
        count = len(steps)
        return SceneMotion(steps, _resample_counts(self.points, count), _resample_counts(self.subject_points, count),
                           self.subject_start)  # fmt: skip


def _resample_counts(counts: np.ndarray, length: int) -> np.ndarray:
    return counts[np.linspace(0, len(counts) - 1, length).round().astype(int)] if len(counts) else counts


def prepare(frames: np.ndarray) -> list[np.ndarray]:
    """Frames scaled to the tracking size, in colour: Lucas-Kanade runs on all three channels, because a saturated
    object can have the same grey level as its background (the toy's red on grey does; one channel of grey plus
    saturation lost the battery's coloured textures: same motion 0.28)."""
    import cv2

    height, width = frames.shape[1:3]
    scale = min(max(max(height, width), MIN_TRACKING_SIDE), MAX_TRACKING_SIDE) / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return [cv2.resize(np.ascontiguousarray(f), size, interpolation=cv2.INTER_CUBIC) for f in frames]


def texture(image: np.ndarray) -> np.ndarray:
    """The structure tensor's smaller eigenvalue per pixel, the largest over the colour channels."""
    import cv2

    return np.max([cv2.cornerMinEigenVal(np.ascontiguousarray(image[..., c]), blockSize=7) for c in range(3)], axis=0)


def grid_points(height: int, width: int, count: int = GRID_POINTS) -> np.ndarray:
    """float32 (points, 2) x, y of a grid of `count` points along the longer side."""
    spacing = max(height, width) / count
    ys, xs = np.mgrid[spacing / 2 : height : spacing, spacing / 2 : width : spacing]
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def follow(
    previous: np.ndarray, current: np.ndarray, start: np.ndarray, lk_params: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 2) of `previous` followed into `current`: where they land (n, 2) and which passed the
    forward-backward check (bool (n,): tracked there and back to within FB_TOLERANCE)."""
    import cv2

    start = np.ascontiguousarray(start, dtype=np.float32).reshape(-1, 1, 2)
    forward, ok_forward, _ = cv2.calcOpticalFlowPyrLK(previous, current, start, None, **lk_params)
    back, ok_back, _ = cv2.calcOpticalFlowPyrLK(current, previous, forward, None, **lk_params)
    round_trip = np.linalg.norm((back - start).reshape(-1, 2), axis=1)
    kept = ok_forward.ravel().astype(bool) & ok_back.ravel().astype(bool) & (round_trip <= FB_TOLERANCE)
    return forward.reshape(-1, 2), kept


def _spread_area(points: np.ndarray) -> float:
    return float(np.prod(points.max(axis=0) - points.min(axis=0))) if len(points) >= 3 else 0.0


def fit_camera(start: np.ndarray, end: np.ndarray, frame_area: float) -> tuple[np.ndarray, np.ndarray]:
    """The camera's 2x3 similarity transform for one step and the background's points (bool mask): of the two
    largest consistent groups (RANSAC on all points, then on the rest), the one whose points spread wider; the
    identity and no points when neither spans MIN_CAMERA_SPREAD of the frame."""
    import cv2

    best, best_spread = (np.eye(2, 3), np.zeros(len(start), dtype=bool)), MIN_CAMERA_SPREAD * frame_area
    left = np.ones(len(start), dtype=bool)
    for _ in range(2):
        index = np.flatnonzero(left)
        if len(index) < 3:
            break
        transform, inliers = cv2.estimateAffinePartial2D(
            start[index], end[index], method=cv2.RANSAC, ransacReprojThreshold=CAMERA_TOLERANCE, maxIters=500
        )  # fmt: skip
        if transform is None:
            break
        group = np.zeros(len(start), dtype=bool)
        group[index[inliers.ravel().astype(bool)]] = True
        if _spread_area(start[group]) >= best_spread:
            best, best_spread = (transform, group), _spread_area(start[group])
        left &= ~group
    return best


def _subject_step(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """dx, dy, size change (pixels) of the subject's points from one frame to the next: the mean over the points
    that move most alike (the quarter farthest from the median displacement left out) and the growth of their
    spread. Measured on the battery and the toy's same-path pairs (docs/motion-match-battery.md): on a flat
    subject's edges points slide along the edge (the aperture problem), so the median or a RANSAC fit followed a
    biased subset (a toy diagonal through H.264 read 25 degrees off: 0.90; a large flat disc 0.84); the plain mean
    let stray points in (0.80); this trimmed mean: mean 0.979, lowest 0.93."""
    moved = end - start
    off = np.linalg.norm(moved - np.median(moved, axis=0), axis=1)
    kept = off <= np.quantile(off, 1 - TRIMMED_SHARE)
    start, end = start[kept], end[kept]
    spread = [np.sqrt(((q - q.mean(axis=0)) ** 2).sum(axis=1).mean()) for q in (start, end)]
    return np.r_[(end - start).mean(axis=0), SPREAD_TO_SIZE * (spread[1] - spread[0])]


def scene_motion(frames: np.ndarray) -> SceneMotion:
    """The camera's and the subject's motion per frame step of uint8 frames (frames, height, width, 3)."""
    if frames.ndim != 4 or frames.shape[0] < 2:
        raise ValueError(f"motion needs at least 2 frames of shape (h, w, 3), got an array of shape {frames.shape}")
    images = prepare(frames)
    height, width = images[0].shape[:2]
    grid = grid_points(height, width)
    textures = [texture(image)[grid[:, 1].astype(int), grid[:, 0].astype(int)] for image in images]
    strongest = max(float(t.max()) for t in textures)
    frame, centre = np.array([width, height], dtype=np.float64), np.array([width, height]) / 2
    steps = np.zeros((len(frames) - 1, 6))
    points, subject_points = np.zeros(len(steps), dtype=int), np.zeros(len(steps), dtype=int)
    seen_at = []  # (step, mean position of the subject's points at its start and its end, fractions, points)
    if strongest <= FLAT_TEXTURE:
        return SceneMotion(steps, points, subject_points)
    for i, (previous, current) in enumerate(zip(images[:-1], images[1:], strict=True)):
        if textures[i].max() < SETTLED_TEXTURE * strongest:  # a black opening, the dim start of a fade-in
            continue
        start = grid[textures[i] >= MIN_TEXTURE * strongest]
        end, kept = follow(previous, current, start, LK_PARAMS)
        p0, p1 = start[kept].astype(np.float64), end[kept].astype(np.float64)
        points[i] = len(p0)
        if len(p0) < 3:
            continue
        transform, background = fit_camera(p0, p1, width * height)
        predicted = p0 @ transform[:, :2].T + transform[:, 2]
        residual = np.linalg.norm(p1 - predicted, axis=1)
        off_camera = ~background & (residual > CAMERA_TOLERANCE)
        floor = SUBJECT_SHARE * np.quantile(residual[off_camera], 0.9) if off_camera.any() else 0.0
        subject = off_camera & (residual > floor)
        steps[i, 0:2] = (transform[:, :2] @ centre + transform[:, 2] - centre) / frame
        steps[i, 2] = ZOOM_ARM * np.log(np.sqrt(abs(np.linalg.det(transform[:, :2]))))
        subject_points[i] = int(subject.sum())
        if subject_points[i] >= MIN_SUBJECT_POINTS:
            steps[i, 3:] = _subject_step(p0[subject], p1[subject]) / np.array([width, height, max(width, height)])
            seen_at.append((i, p0[subject].mean(axis=0) / frame, p1[subject].mean(axis=0) / frame, subject.sum()))
    cut = points < CUT_SHARE * np.median(points[points > 0]) if points.any() else np.zeros(len(points), dtype=bool)
    seen = subject_points[subject_points >= MIN_SUBJECT_POINTS]
    hidden = subject_points < max(MIN_SUBJECT_POINTS, HIDDEN_SHARE * np.median(seen)) if len(seen) else cut
    steps[:, :3] = _interpolated(steps[:, :3], cut)
    steps[:, 3:] = _interpolated(steps[:, 3:], hidden | cut)
    return SceneMotion(steps, points, subject_points, _subject_start(steps, seen_at))


def _subject_start(steps: np.ndarray, seen_at: list) -> np.ndarray | None:
    """Where the subject stood in the first frame, from every step it was seen at: a flat subject's points sit on
    the part of its edge that moves across texture, so one step's mean is off by up to a third of its size (a toy
    orbit: 3 px of 32); the mean over the steps, each less the path up to it: 0.80 px on average over 60 random toy
    clips (90% within 1.26 px; one 7.4 px), 0.55 px over the toy evaluation's 16 object references (session 14)."""
    if not seen_at:
        return None
    path = np.concatenate([np.zeros((1, 2)), np.cumsum(steps[:, 3:5], axis=0)])
    starts = [(start - path[i]) * count for i, start, _, count in seen_at]
    starts += [(end - path[i + 1]) * count for i, _, end, count in seen_at]
    return np.sum(starts, axis=0) / (2 * sum(count for *_, count in seen_at))


def _interpolated(steps: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """`steps` with each run of unknown steps between known ones filled linearly from its neighbours; unknown
    steps before the first known one or after the last (a subject not yet in the frame, or gone) are still."""
    known = np.flatnonzero(~unknown)
    filled = np.zeros_like(steps)
    if len(known):
        inside = np.arange(known[0], known[-1] + 1)
        filled[inside] = np.stack([np.interp(inside, known, column[known]) for column in steps.T], axis=1)
    return filled


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """How alike two step sequences are: the cosine of the whole sequences (1 alike, 0 unrelated, -1 opposite;
    a speed-up or a slow-down changes nothing), 1 when both are still, 0 when only one is."""
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if norm_a == 0 or norm_b == 0:
        return 1.0 if norm_a == norm_b else 0.0
    return float(np.sum(a * b) / (norm_a * norm_b))
