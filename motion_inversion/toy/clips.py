"""Synthetic clips for the toy world: one warm-coloured shape on a textured grey background, moving along a known path.

A clip is described by a `ClipSpec` (shape, colour, kind of motion, seed) and rendered deterministically from it, so
a spec is all that is needed to reproduce a clip. The caption says only what the object looks like ("a red circle");
the motion lives in the trajectory, which is returned alongside the frames as ground truth:
`trajectory[f] = (x, y, size)` in pixels (centre and sqrt of the area) and `camera[f] = (dx, dy)`, how far the
background has moved in pixels (camera pans move the background and leave the object in place).
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SIZE = 32  # pixels, square
NUM_FRAMES = 8
# Saturated, so the tracker tells them from the grey background, and all warm. Why warm: the toy VAE's 4 latent
# channels encode "which colour" along about one axis, and in the first world (red, green, blue, yellow) green and
# blue sat opposite red and yellow on it (latent cosines -0.77 to -0.98 of object minus background). A learned motion
# is added to the UNet's features, so it moved subjects whose colour shared its side and left the others still or
# moved them backwards (docs/toy-transfer-diagnosis.md). With these four colours every pair is at +0.79 to +0.98
# after the VAE refit (session 8): all subjects share one "an object is here" direction, as a real model's do.
COLOURS = {
    "red": (220, 40, 40),
    "orange": (240, 130, 30),
    "pink": (250, 110, 180),
    "yellow": (230, 210, 40),
}
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = {  # unit steps in image coordinates (y grows downwards)
    "right": (1, 0), "up-right": (1, -1), "up": (0, -1), "up-left": (-1, -1),
    "left": (-1, 0), "down-left": (-1, 1), "down": (0, 1), "down-right": (1, 1),
}  # fmt: skip
KINDS = (
    *(f"line-{d}" for d in DIRECTIONS),
    "orbit-clockwise", "orbit-counterclockwise", "zigzag-right", "zigzag-left", "grow", "shrink",
    *(f"pan-{d}" for d in DIRECTIONS),
)  # fmt: skip
SUPERSAMPLE = 4  # shapes are drawn at 4x and averaged down: smooth edges, sub-pixel motion
CENTRE_SPREAD = 0.04  # a path's centre lies this far (fraction of the frame) from the middle, at most, in x and y


@dataclass(frozen=True)
class ClipSpec:
    shape: str
    colour: str
    kind: str
    seed: int

    @property
    def caption(self) -> str:
        return caption(self.colour, self.shape)


def caption(colour: str, shape: str) -> str:
    """What a clip of this look is called: "a red circle", "an orange square"."""
    return f"{'an' if colour[0] in 'aeiou' else 'a'} {colour} {shape}"


@dataclass
class ToyClip:
    spec: ClipSpec
    frames: np.ndarray  # uint8 (frames, size, size, 3)
    trajectory: np.ndarray  # float (frames, 3): object centre x, y and size, in pixels
    camera: np.ndarray  # float (frames, 2): background displacement in pixels since the first frame

    @property
    def caption(self) -> str:
        return self.spec.caption


def sample_specs(count: int, seed: int, kinds=KINDS, shapes=SHAPES, colours=tuple(COLOURS)) -> list[ClipSpec]:
    """`count` random specs; the same seed gives the same list. Training and evaluation use disjoint seeds."""
    rng = np.random.default_rng(seed)
    return [
        ClipSpec(str(rng.choice(shapes)), str(rng.choice(colours)), str(rng.choice(kinds)), int(rng.integers(2**31)))
        for _ in range(count)
    ]


def object_path(kind: str, rng: np.random.Generator, num_frames: int,
                spread: float = CENTRE_SPREAD) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(frames, 3) object centre x, y and radius as fractions of the frame, and (frames, 2) camera offsets in
    fractions of the frame, for one kind of motion with randomised speed, start and size; the path's centre within
    `spread` of the middle (a wider spread moves paths partly out of the frame)."""
    t = np.arange(num_frames, dtype=np.float64)
    radius = np.full(num_frames, rng.uniform(0.13, 0.17))
    camera = np.zeros((num_frames, 2))
    centre = 0.5 + rng.uniform(-spread, spread, size=2)
    if kind.startswith("line-"):
        step = np.array(DIRECTIONS[kind[5:]], dtype=np.float64)
        step *= rng.uniform(0.055, 0.075) / np.linalg.norm(step)
        start = centre - step * (num_frames - 1) / 2
        xy = start + t[:, None] * step
    elif kind.startswith("orbit-"):
        sign = 1.0 if kind == "orbit-clockwise" else -1.0  # y grows downwards: growing angle turns clockwise
        angle = rng.uniform(0, 2 * math.pi) + sign * t * rng.uniform(0.7, 0.85)
        orbit = rng.uniform(0.2, 0.25)
        xy = centre + orbit * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    elif kind.startswith("zigzag-"):
        sign = 1.0 if kind == "zigzag-right" else -1.0
        speed = rng.uniform(0.055, 0.07)
        x = centre[0] + sign * speed * (t - (num_frames - 1) / 2)
        bounce = np.where(np.arange(num_frames) % 2 == 0, -1.0, 1.0) * rng.uniform(0.09, 0.12)
        xy = np.stack([x, centre[1] + bounce], axis=1)
    elif kind in ("grow", "shrink"):
        small, large = rng.uniform(0.08, 0.1), rng.uniform(0.22, 0.26)
        radius = np.linspace(small, large, num_frames) if kind == "grow" else np.linspace(large, small, num_frames)
        xy = np.tile(centre, (num_frames, 1))
    elif kind.startswith("pan-"):
        # the camera moves one way, so the background slides the other way; the object stays put
        step = -np.array(DIRECTIONS[kind[4:]], dtype=np.float64)
        camera = t[:, None] * step * rng.uniform(0.05, 0.07) / np.linalg.norm(step)
        xy = np.tile(centre, (num_frames, 1))
    else:
        raise ValueError(f"unknown kind of motion {kind!r}; known: {', '.join(KINDS)}")
    return np.concatenate([xy, radius[:, None]], axis=1), camera


def background(rng: np.random.Generator, size: int, camera: np.ndarray) -> np.ndarray:
    """(frames, size, size) grey levels in [0, 1]: a few random gratings, shifted by the camera offsets."""
    grid = (np.arange(size * SUPERSAMPLE) + 0.5) / (size * SUPERSAMPLE)
    y, x = np.meshgrid(grid, grid, indexing="ij")
    level = rng.uniform(0.35, 0.5)
    waves = [  # (amplitude, spatial frequency, phase, direction)
        (rng.uniform(0.04, 0.09), rng.uniform(3, 7) * math.pi, rng.uniform(0, 2 * math.pi), rng.uniform(0, math.pi))
        for _ in range(3)
    ]
    frames = []
    for dx, dy in camera:
        value = np.full_like(x, level)
        for amplitude, frequency, phase, angle in waves:
            along = (x - dx) * math.cos(angle) + (y - dy) * math.sin(angle)
            value += amplitude * np.sin(frequency * along + phase)
        frames.append(value)
    return np.stack(frames)


def shape_mask(shape: str, x: float, y: float, radius: float, size: int) -> np.ndarray:
    """(size*SUPERSAMPLE,)*2 boolean coverage of a shape centred at (x, y) (fractions of the frame)."""
    grid = (np.arange(size * SUPERSAMPLE) + 0.5) / (size * SUPERSAMPLE)
    py, px = np.meshgrid(grid - y, grid - x, indexing="ij")
    if shape == "circle":
        return px**2 + py**2 <= radius**2
    if shape == "square":
        half = radius * 0.886  # same area as the circle
        return (np.abs(px) <= half) & (np.abs(py) <= half)
    if shape == "triangle":  # pointing up, same area as the circle
        side = radius * 2.694
        height = side * math.sqrt(3) / 2
        top, bottom = -2 * height / 3, height / 3
        inside_y = (py >= top) & (py <= bottom)
        half_width = (py - top) / height * side / 2
        return inside_y & (np.abs(px) <= half_width)
    raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")


def draw(shape: str, colour: str, place: np.ndarray, grey: np.ndarray, size: int = SIZE) -> np.ndarray:
    """One uint8 (size, size, 3) frame: the shape at `place` (x, y, radius: fractions) on the supersampled grey."""
    mask = shape_mask(shape, *place, size)[..., None]
    image = np.where(mask, np.array(COLOURS[colour], dtype=np.float64) / 255, grey[..., None])  # (s*S, s*S, 3)
    image = image.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def still(shape: str, colour: str, place: np.ndarray, seed: int, size: int = SIZE) -> np.ndarray:
    """A still image (size, size, 3) uint8 of the shape at `place` (x, y, radius: fractions) on a background of
    its own (`seed`): a creator's picture in the toy world."""
    return moving_still(shape, colour, place[None], seed, size)[0]


def moving_still(shape: str, colour: str, path: np.ndarray, seed: int, size: int = SIZE) -> np.ndarray:
    """uint8 (frames, size, size, 3): `still`'s picture with its shape moved along `path` (frames, 3: x, y,
    radius as fractions) and the background held still; a shape partly out of the frame is cut at its edge."""
    grey = background(np.random.default_rng(seed), size, np.zeros((1, 2)))[0]
    return np.stack([draw(shape, colour, place, grey, size) for place in path])


def render(spec: ClipSpec, size: int = SIZE, num_frames: int = NUM_FRAMES, spread: float = CENTRE_SPREAD) -> ToyClip:
    """Render one clip and its ground truth from its spec (`spread`: object_path's)."""
    if spec.colour not in COLOURS:
        raise ValueError(f"unknown colour {spec.colour!r}; known: {', '.join(COLOURS)}")
    rng = np.random.default_rng(spec.seed)
    path, camera = object_path(spec.kind, rng, num_frames, spread)
    grey = background(rng, size, camera)
    frames = np.stack([draw(spec.shape, spec.colour, path[f], grey[f], size) for f in range(num_frames)])
    area_radius = path[:, 2] * math.sqrt(math.pi)  # sqrt of the area, the same for all three shapes
    trajectory = np.stack([path[:, 0] * size, path[:, 1] * size, area_radius * size], axis=1)
    return ToyClip(spec, frames, trajectory, camera * size)


SAMPLES = {  # the ready examples in assets/samples: (file stem, spec)
    "red-circle-orbit": ClipSpec("circle", "red", "orbit-clockwise", 11),
    "pink-square-right": ClipSpec("square", "pink", "line-right", 12),
    "yellow-triangle-zigzag": ClipSpec("triangle", "yellow", "zigzag-right", 13),
    "orange-circle-grow": ClipSpec("circle", "orange", "grow", 14),
    "red-square-pan-left": ClipSpec("square", "red", "pan-left", 15),
}


# the toy Wan's causal VAE takes 1 + 4k frames: the 8-frame samples give it 5, too few to learn from, so it has
# its own, the same motions drawn at its 9 frames (the toy UNet learns the 8-frame ones exactly; it would drop a
# frame from a 9-frame clip to cover it whole, which cost 0.19 of reproduction fidelity, session 13)
SAMPLE_FRAMES = {"samples": NUM_FRAMES, "samples/toy-wan": 9}  # folder in assets/ -> frames of its clips


def write_samples(folder: str | Path, num_frames: int = NUM_FRAMES) -> list[Path]:
    """Render the sample clips as mp4 files (8 fps) of `num_frames` frames into `folder`."""
    from ..video import write_mp4

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_mp4(render(spec, num_frames=num_frames).frames, folder / f"{name}.mp4", fps=8)
            for name, spec in SAMPLES.items()]  # fmt: skip


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Render the toy world's sample clips (assets/samples and "
                                     "assets/samples/toy-wan) as mp4 files.")  # fmt: skip
    parser.parse_args()
    for folder, num_frames in SAMPLE_FRAMES.items():
        for path in write_samples(Path(__file__).resolve().parents[2] / "assets" / folder, num_frames):
            print(path)
