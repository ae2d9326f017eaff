"""A battery of clip pairs nobody made for the motion match, each with the answer a person would give.

Every clip is drawn here with numpy (no weights): a red disc with a few bright marks on a blocky texture (or a flat
grey background), 256x144, 24 frames, moving right across 60% of the width unless the case says otherwise; a camera
can pan (the background slides) and zoom. Cases vary the look, speed, size, frame count, frame size, noise, heavy
compression, occlusion by a pillar, a scene cut, a subject leaving the frame, camera and subject together.
`bench/motion_match_battery.py` prints the table (docs/motion-match-battery.md); tests/test_motion_match_battery.py
asserts every case's target.

Answers and their targets (the issue "A motion match you can trust"): same >= 0.9, opposite <= 0.1, unrelated or
still <= 0.2. Where camera and subject differ, the parts are checked too: `subject` / `camera` name the answer for
that part alone.
"""

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

TARGETS = {"same": (">=", 0.9), "opposite": ("<=", 0.1), "unrelated": ("<=", 0.2), "still": ("<=", 0.2)}


@dataclass(frozen=True)
class Scene:
    direction: tuple[float, float] = (1.0, 0.0)  # subject motion, (x, y); (0, 0): the subject stays
    speed: float = 0.6  # fraction of the frame width crossed over the clip
    middle: float = 0.5  # where the subject is halfway through, fraction of the width
    look: int = 1  # seeds the texture and the marks
    textured: bool = True
    pan: tuple[float, float] = (0.0, 0.0)  # camera motion over the clip, fraction of the width: the background slides
    zoom: float = 1.0  # the camera's magnification at the last frame (1.3: zooms in 30%)
    frames: int = 24
    size: tuple[int, int] = (144, 256)  # height, width
    noise: float = 0.0  # pixel noise sigma
    crf: int = 0  # > 0: written as H.264 at this quality and read back (40: heavy compression)
    radius: float = 0.086  # the disc's, fraction of the width (22 px at 256)
    pillar: bool = False  # a still dark pillar in front of the middle of the frame
    cut_at: int = 0  # > 0: from this frame on, another look (a scene cut; the motion goes on)


def _background(look: int, textured: bool, height: int, width: int) -> np.ndarray:
    """float (2h, 2w, 3): room for the camera to pan and zoom out."""
    rng = np.random.default_rng(look)
    if not textured:
        return np.full((2 * height, 2 * width, 3), 128.0)
    blocks = rng.uniform(60, 190, size=(2 * height // 8 + 1, 2 * width // 8 + 1, 3))
    texture = np.kron(blocks, np.ones((8, 8, 1)))[: 2 * height, : 2 * width]
    return texture + rng.normal(0, 12, texture.shape)


def render(scene: Scene) -> np.ndarray:
    """uint8 (frames, height, width, 3)."""
    import cv2

    height, width = scene.size
    ys, xs = np.mgrid[0:height, 0:width]
    video = []
    for f in range(scene.frames):
        look = scene.look + (100 if scene.cut_at and f >= scene.cut_at else 0)
        world = _background(look, scene.textured, height, width)
        marks = np.random.default_rng(look + 1000).uniform(-0.6, 0.6, size=(5, 2))
        t = f / (scene.frames - 1) - 0.5
        zoom = scene.zoom ** (t + 0.5)
        # frame pixel (x, y) shows world pixel centre + pan + (x - w/2, y - h/2) / zoom
        cx, cy = width + scene.pan[0] * width * t, height + scene.pan[1] * width * t
        to_world = np.array([[1 / zoom, 0, cx - width / 2 / zoom], [0, 1 / zoom, cy - height / 2 / zoom]])
        image = cv2.warpAffine(world.astype(np.float32), to_world, (width, height),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP).astype(np.float64)  # fmt: skip
        radius = scene.radius * width * zoom
        dx = scene.middle * width + scene.direction[0] * scene.speed * width * t
        dy = height / 2 + scene.direction[1] * scene.speed * width * t
        image[(xs - dx) ** 2 + (ys - dy) ** 2 <= radius**2] = (200, 60, 60)
        for mx, my in marks:
            image[(xs - dx - mx * radius) ** 2 + (ys - dy - my * radius) ** 2 <= (3 * zoom) ** 2] = (255, 255, 255)
        if scene.pillar:
            image[:, int(0.45 * width) : int(0.55 * width)] = (45, 45, 50)
        if scene.noise:
            image += np.random.default_rng(f).normal(0, scene.noise, image.shape)
        video.append(image)
    frames = np.clip(np.stack(video), 0, 255).round().astype(np.uint8)
    return _compressed(frames, scene.crf) if scene.crf else frames


def _compressed(frames: np.ndarray, crf: int) -> np.ndarray:
    from .video import read_whole_clip, write_mp4

    with tempfile.TemporaryDirectory() as folder:
        path = write_mp4(frames, Path(folder) / "clip.mp4", fps=24, crf=crf)
        return read_whole_clip(path, max_side=max(frames.shape[1:3])).frames


@dataclass(frozen=True)
class Case:
    name: str
    answer: str  # what a person says of the whole: same, opposite, unrelated, still
    reference: Scene
    other: Scene
    parts: dict = field(default_factory=dict)  # {"subject" | "camera": answer} where a part alone is checked


BASE = Scene()
LEFT, UP, STAY = (-1.0, 0.0), (0.0, -1.0), (0.0, 0.0)
PAN = replace(BASE, direction=STAY, pan=(0.2, 0.0))
ZOOM = replace(BASE, direction=STAY, zoom=1.4)
FLAT = replace(BASE, textured=False)
LEAVES = replace(BASE, middle=0.85)  # from 55% of the width out of the frame: gone for the last 3 frames
CASES = [
    Case("same motion, another look", "same", BASE, replace(BASE, look=7)),
    Case("same motion, flat background", "same", FLAT, replace(FLAT, look=7)),
    Case("same motion, half the speed", "same", BASE, replace(BASE, look=7, speed=0.3)),
    Case("same motion, 12 of 24 frames (half the fps)", "same", BASE, replace(BASE, look=7, frames=12)),
    Case("same motion, 48 frames", "same", BASE, replace(BASE, look=7, frames=48)),
    Case("same motion, a 128x72 clip", "same", BASE, replace(BASE, look=7, size=(72, 128))),
    Case("same motion, noise sigma 20", "same", BASE, replace(BASE, look=7, noise=20.0)),
    Case("same motion, heavy compression (crf 40)", "same", BASE, replace(BASE, look=7, crf=40)),
    Case("same motion, a small subject", "same", BASE, replace(BASE, look=7, radius=0.04)),
    Case("same motion, a large subject", "same", BASE, replace(BASE, look=7, radius=0.17)),
    Case("same motion, behind a pillar", "same", BASE, replace(BASE, look=7, pillar=True)),
    Case("same motion, a scene cut halfway", "same", BASE, replace(BASE, look=7, cut_at=12)),
    Case("leaving the frame, another look", "same", LEAVES, replace(LEAVES, look=7)),
    Case("opposite motion", "opposite", BASE, replace(BASE, direction=LEFT)),
    Case("opposite motion, another look", "opposite", BASE, replace(BASE, direction=LEFT, look=7)),
    Case("opposite motion, flat background", "opposite", FLAT, replace(FLAT, direction=LEFT)),
    Case("opposite motion, behind a pillar", "opposite", BASE, replace(BASE, direction=LEFT, look=7, pillar=True)),
    Case("leaving the frame, the other way", "opposite", LEAVES, replace(LEAVES, direction=LEFT, middle=0.15, look=7)),
    Case("perpendicular motion", "unrelated", BASE, replace(BASE, direction=UP, speed=0.3)),
    Case("moving against still", "still", BASE, replace(BASE, direction=STAY)),
    Case(
        "still against still, another look",
        "same",
        replace(BASE, direction=STAY),
        replace(BASE, direction=STAY, look=7),
    ),  # fmt: skip
    Case("pan right against pan right, another look", "same", PAN, replace(PAN, look=7)),
    Case("pan right against pan left", "opposite", PAN, replace(PAN, pan=(-0.2, 0.0))),
    Case("pan against still", "still", PAN, replace(PAN, pan=(0.0, 0.0), look=7)),
    Case("zoom in against zoom in, another look", "same", ZOOM, replace(ZOOM, look=7)),
    Case("zoom in against zoom out", "opposite", ZOOM, replace(ZOOM, zoom=1 / 1.4, look=7)),
    Case(
        "subject right under a pan against the subject alone",
        "same",
        replace(BASE, pan=(0.15, 0.0)),
        replace(BASE, look=7),
        {"subject": "same", "camera": "still"},
    ),  # fmt: skip
    Case(
        "subject right under a pan against the pan alone",
        "",
        replace(BASE, pan=(0.15, 0.0)),
        replace(PAN, pan=(0.15, 0.0), look=7),
        {"subject": "still", "camera": "same"},
    ),  # fmt: skip
]


def met(answer: str, score: float) -> bool:
    sign, bound = TARGETS[answer]
    return score >= bound if sign == ">=" else score <= bound
