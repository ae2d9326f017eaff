"""The motion match on clip pairs nobody made for it: what it says against what a person would say.

    python bench/motion_match_battery.py

Every clip is built here (numpy, no weights): a disc with a few bright marks on a blocky texture or a flat grey
background, moving in a direction at a speed, optionally under a camera pan, with noise or fewer frames, a smaller
object. Each pair has the answer a person would give: same, opposite, unrelated (perpendicular) or still. Not yet
covered: compression, occlusion by a second object, a scene cut, a subject leaving the frame. Prints a markdown
table (the issue "A motion match you can trust": same >= 0.9, opposite <= 0.1, unrelated or still <= 0.2); not a
pass/fail test (tests/test_motion_match.py asserts the cases that are met).
"""

import time
from dataclasses import dataclass, replace

import numpy as np

from motion_inversion.motion_match import motion_match

TARGETS = {"same": (">=", 0.9), "opposite": ("<=", 0.1), "unrelated": ("<=", 0.2), "still": ("<=", 0.2)}


@dataclass(frozen=True)
class Scene:
    direction: tuple[float, float] = (1.0, 0.0)  # object motion, (x, y); (0, 0): the object stays
    speed: float = 0.6  # fraction of the frame width crossed over the clip
    look: int = 1  # seeds the texture and the marks
    textured: bool = True
    pan: tuple[float, float] = (0.0, 0.0)  # camera motion: the background slides the other way, fraction of width
    frames: int = 24
    noise: float = 0.0  # pixel noise sigma
    radius: int = 22


def render(scene: Scene, height: int = 144, width: int = 256) -> np.ndarray:
    rng = np.random.default_rng(scene.look)
    if scene.textured:
        blocks = rng.uniform(60, 190, size=(height // 8 + 8, width // 8 + 8, 3))
        background = np.kron(blocks, np.ones((8, 8, 1))) + rng.normal(
            0, 12, (blocks.shape[0] * 8, blocks.shape[1] * 8, 3)
        )
    else:
        background = np.full((height + 64, width + 64, 3), 128.0)
    marks = rng.uniform(-0.6, 0.6, size=(5, 2))
    ys, xs = np.mgrid[0:height, 0:width]
    video = []
    for f in range(scene.frames):
        t = f / (scene.frames - 1) - 0.5
        ox, oy = int(32 - scene.pan[0] * width * t), int(32 - scene.pan[1] * width * t)
        image = background[oy : oy + height, ox : ox + width].copy()
        cx = width / 2 + scene.direction[0] * scene.speed * width * t
        cy = height / 2 + scene.direction[1] * scene.speed * width * t
        image[(xs - cx) ** 2 + (ys - cy) ** 2 <= scene.radius**2] = (200, 60, 60)
        for mx, my in marks:
            image[(xs - cx - mx * scene.radius) ** 2 + (ys - cy - my * scene.radius) ** 2 <= 9] = (255, 255, 255)
        video.append(image + np.random.default_rng(f).normal(0, scene.noise, image.shape) if scene.noise else image)
    return np.clip(np.stack(video), 0, 255).astype(np.uint8)


BASE = Scene()
LEFT, UP = (-1.0, 0.0), (0.0, -1.0)
PAIRS = [  # (case, answer, reference scene, other scene)
    ("same motion, another look", "same", BASE, replace(BASE, look=7)),
    ("same motion, flat background", "same", replace(BASE, textured=False), replace(BASE, textured=False, look=7)),
    ("same motion, half the speed", "same", BASE, replace(BASE, look=7, speed=0.3)),
    ("same motion, 12 of 24 frames", "same", BASE, replace(BASE, look=7, frames=12)),
    ("same motion, noise sigma 20", "same", BASE, replace(BASE, look=7, noise=20.0)),
    ("same motion, a small object", "same", BASE, replace(BASE, look=7, radius=10)),
    ("opposite motion", "opposite", BASE, replace(BASE, direction=LEFT)),
    ("opposite motion, another look", "opposite", BASE, replace(BASE, direction=LEFT, look=7)),
    (
        "opposite motion, flat background",
        "opposite",
        replace(BASE, textured=False),
        replace(BASE, textured=False, direction=LEFT),
    ),
    ("perpendicular motion", "unrelated", BASE, replace(BASE, direction=UP, speed=0.3)),
    ("moving against still", "still", BASE, replace(BASE, direction=(0.0, 0.0))),
    (
        "pan right against pan right, another look",
        "same",
        replace(BASE, direction=(0.0, 0.0), pan=(0.2, 0.0)),
        replace(BASE, direction=(0.0, 0.0), pan=(0.2, 0.0), look=7),
    ),
    (
        "pan right against pan left",
        "opposite",
        replace(BASE, direction=(0.0, 0.0), pan=(0.2, 0.0)),
        replace(BASE, direction=(0.0, 0.0), pan=(-0.2, 0.0)),
    ),
    (
        "object right under a pan against the object alone",
        "same",
        replace(BASE, pan=(0.15, 0.0)),
        replace(BASE, look=7),
    ),
]


def main() -> None:
    print("| case | a person says | motion match | target | met | seconds |")
    print("|---|---|---|---|---|---|")
    for case, answer, reference, other in PAIRS:
        a, b = render(reference), render(other)
        started = time.perf_counter()
        score = motion_match(a, b).score
        seconds = time.perf_counter() - started
        sign, bound = TARGETS[answer]
        met = score >= bound if sign == ">=" else score <= bound
        print(f"| {case} | {answer} | {score:+.2f} | {sign} {bound} | {'yes' if met else 'no'} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
