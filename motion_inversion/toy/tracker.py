"""Measure toy clips: which colour the object has, where it is and how big per frame, and how the camera pans.

The toy world's objects are saturated red, orange, pink or yellow on a grey background, so a colour mask finds them:
pixels with high saturation, classified by hue. The camera pan is the shift of the grey background between frames,
found by phase correlation with the object masked out.
"""

from dataclasses import dataclass

import numpy as np

from .clips import SHAPES, SUPERSAMPLE, shape_mask

HUES = {"pink": (-50, -15), "red": (-15, 14), "orange": (14, 41), "yellow": (41, 75)}  # degrees; boundaries halfway
MIN_SATURATION = 0.4
MIN_VALUE = 0.3
MIN_PIXELS = 3  # fewer coloured pixels than this in a frame: the object is not found there
# A colour "shows" in a frame (the reference's appearance leaking in) from this many pixels: in the plain models'
# frames the object has >= 22 pixels in 99% of frames, and another hue's fringes at its edge have < 10 in 96.5%
# (toy Wan; 3 pixels: 7.3% of frames, so 14% of its frames "showed" the reference's colour with no motion at all)
SHOWN_PIXELS = 10


@dataclass
class Track:
    colour: str | None  # the colour tracked: the clip's dominant object colour unless one was asked for
    found: np.ndarray  # bool (frames,)
    trajectory: np.ndarray  # float (frames, 3): centre x, y and sqrt(area) in pixels; NaN where not found

    @property
    def found_fraction(self) -> float:
        return float(self.found.mean())


def colour_masks(frames: np.ndarray) -> dict[str, np.ndarray]:
    """uint8 (frames, h, w, 3) -> {colour: bool (frames, h, w)} of saturated pixels of that hue."""
    rgb = frames.astype(np.float64) / 255
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    chroma = high - low
    saturation = np.where(high > 0, chroma / np.maximum(high, 1e-9), 0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.maximum(chroma, 1e-9)
    hue = np.select(
        [high == r, high == g], [((g - b) / safe) % 6, (b - r) / safe + 2], (r - g) / safe + 4
    ) * 60  # fmt: skip
    hue = np.where(hue > 180 + 90, hue - 360, hue)  # red wraps around 0: keep it in (-90, 270]
    coloured = (saturation >= MIN_SATURATION) & (high >= MIN_VALUE)
    return {name: coloured & (hue >= lo) & (hue < hi) for name, (lo, hi) in HUES.items()}


def dominant_colour(frames: np.ndarray) -> str | None:
    """The colour with the most pixels over the clip, or None when no colour reaches MIN_PIXELS per frame."""
    counts = {name: int(mask.sum()) for name, mask in colour_masks(frames).items()}
    name = max(counts, key=counts.get)
    return name if counts[name] >= MIN_PIXELS * len(frames) else None


def shown_fraction(frames: np.ndarray, colour: str) -> float:
    """The share of frames where `colour` covers at least SHOWN_PIXELS pixels: an object of it, not a fringe."""
    return float((colour_masks(frames)[colour].sum(axis=(1, 2)) >= SHOWN_PIXELS).mean())


def track(frames: np.ndarray, colour: str | None = None) -> Track:
    """Follow the object of `colour` (default: the dominant colour) through the clip."""
    colour = colour or dominant_colour(frames)
    trajectory = np.full((len(frames), 3), np.nan)
    if colour is None:
        return Track(None, np.zeros(len(frames), dtype=bool), trajectory)
    mask = colour_masks(frames)[colour]
    ys, xs = np.mgrid[: frames.shape[1], : frames.shape[2]] + 0.5
    for f, frame_mask in enumerate(mask):
        area = frame_mask.sum()
        if area >= MIN_PIXELS:
            trajectory[f] = (xs[frame_mask].mean(), ys[frame_mask].mean(), np.sqrt(area))
    return Track(colour, ~np.isnan(trajectory[:, 0]), trajectory)


def shape_of(mask: np.ndarray) -> str | None:
    """Which shape a (h, w) object mask is: the toy world's shape drawn at the mask's centre with its area that
    overlaps it most (intersection over union), or None when fewer than MIN_PIXELS. On rendered toy clips 99.8% of
    frames are named right (2700 frames of 300 clips; 6 small squares called circles)."""
    area = int(mask.sum())
    if area < MIN_PIXELS:
        return None
    height, width = mask.shape
    ys, xs = np.mgrid[:height, :width] + 0.5
    x, y, radius = xs[mask].mean() / width, ys[mask].mean() / height, np.sqrt(area / np.pi) / width

    def overlap(shape: str) -> float:
        supersampled = shape_mask(shape, x, y, radius, width)
        cover = supersampled.reshape(height, SUPERSAMPLE, width, SUPERSAMPLE).mean(axis=(1, 3)) > 0.5
        return (cover & mask).sum() / (cover | mask).sum()

    return max(SHAPES, key=overlap)


def grow(masks: np.ndarray, pixels: int = 1) -> np.ndarray:
    """(frames, h, w) masks grown by `pixels` in every direction (8-neighbourhood): an object's anti-aliased edge
    pixels are too faint to pass the colour mask, yet differ from the background (with bright objects on a dark
    background they pinned a pan's estimated shift to 0)."""
    grown, (h, w) = masks.copy(), masks.shape[1:]
    for _ in range(pixels):
        padded = np.pad(grown, ((0, 0), (1, 1), (1, 1)))
        grown = np.any([padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
                       axis=0)  # fmt: skip
    return grown


def camera_shifts(frames: np.ndarray, max_shift: float = 4.0) -> np.ndarray:
    """(frames - 1, 2) how far the background moved (dx, dy in pixels) from each frame to the next: the shift that
    best maps one frame's grey background onto the next (coarse grid, then a 0.125-pixel refinement)."""
    grey = frames.astype(np.float64).mean(axis=-1)
    objects = grow(np.any(np.stack(list(colour_masks(frames).values())), axis=0))
    margin = int(np.ceil(max_shift)) + 1
    height, width = grey.shape[1:]
    ys, xs = np.mgrid[margin : height - margin, margin : width - margin].astype(np.float64)

    def mismatch(f: int, dx: float, dy: float) -> float:
        # the next frame at x should show this frame at x - d; compare where neither shows an object
        x0, y0 = xs - dx, ys - dy
        xi, yi = np.floor(x0).astype(int), np.floor(y0).astype(int)
        wx, wy = x0 - xi, y0 - yi
        image = grey[f]
        shifted = (
            image[yi, xi] * (1 - wx) * (1 - wy) + image[yi, xi + 1] * wx * (1 - wy)
            + image[yi + 1, xi] * (1 - wx) * wy + image[yi + 1, xi + 1] * wx * wy
        )  # fmt: skip
        valid = ~objects[f + 1][margin : height - margin, margin : width - margin] & ~objects[f][yi, xi]
        target = grey[f + 1][margin : height - margin, margin : width - margin]
        return float(((shifted - target)[valid] ** 2).mean()) if valid.any() else np.inf

    shifts = []
    for f in range(len(frames) - 1):
        best = (0.0, 0.0)
        for step, span in ((1.0, max_shift), (0.25, 1.0), (0.125, 0.25)):
            grid = np.arange(-span, span + step / 2, step)
            candidates = [(best[0] + dx, best[1] + dy) for dx in grid for dy in grid]
            candidates = [c for c in candidates if max(abs(c[0]), abs(c[1])) <= max_shift]
            best = min(candidates, key=lambda c: mismatch(f, *c))
        shifts.append(best)
    return np.array(shifts)


def displacements(trajectory: np.ndarray) -> np.ndarray:
    """Frame-to-frame changes of a (frames, k) trajectory; frames where it was lost count as no change."""
    steps = np.diff(trajectory, axis=0)
    return np.nan_to_num(steps, nan=0.0)


def motion_fidelity(reference: np.ndarray, generated: np.ndarray) -> float:
    """Correlation of two tracks' frame-to-frame displacements, as in the tracklet score of METHOD.md: the cosine
    of the two (frames - 1, k) displacement sequences, 1 when they move alike, 0 when unrelated, -1 when opposite."""
    a, b = displacements(reference).ravel(), displacements(generated).ravel()
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else 0.0
