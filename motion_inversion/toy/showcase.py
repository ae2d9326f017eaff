"""A picture of what the app does with the sample clips: each reference, what the app makes from it with its default
settings, and the plain model on the same seed.

    python -m motion_inversion.toy.showcase            # writes docs/toy-showcase.png

For each of four sample clips (assets/samples), the motion is learned with the app's defaults (the model's recipe),
then a new subject is generated with it (motion type "object", or "camera" for the pan) and without it. Each row of
the picture is one clip's frames, enlarged; the motion fidelity of each generated row is written beside it.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..generation import generate
from ..inversion import invert
from ..models import VideoModel, load_model
from . import clips
from .evaluate import fidelity_of
from .examples import sample_clip

SHOWCASE = {  # sample clip -> the new subject generated with its motion: (colour, shape)
    "red-circle-orbit": ("pink", "triangle"),
    "pink-square-right": ("yellow", "circle"),
    "yellow-triangle-zigzag": ("orange", "square"),
    "red-square-pan-left": ("orange", "circle"),
}
SCALE = 4
LABEL_WIDTH = 260


def fidelity(spec: clips.ClipSpec, frames: np.ndarray, colour: str) -> float:
    return fidelity_of(clips.render(spec, num_frames=len(frames)), frames, colour)[0]


def showcase_rows(model: VideoModel, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """(label, frames) rows: per sample, the reference, the app's result and the plain model's."""
    rows = []
    for name, (colour, shape) in SHOWCASE.items():
        spec, prompt = clips.SAMPLES[name], clips.caption(colour, shape)
        reference = sample_clip(model.spec, name)
        motion = invert(model, reference, prompt=spec.caption)
        motion_type = "camera" if spec.kind.startswith("pan-") else "object"
        moved = generate(model, motion, prompt, motion_type=motion_type, seed=seed).numpy()
        plain = generate(model, None, prompt, seed=seed).numpy()
        rows += [
            (f"{name} (reference)", clips.render(spec, num_frames=len(moved)).frames),
            (f"'{prompt}', {motion_type}: {fidelity(spec, moved, colour):+.2f}", moved),
            (f"'{prompt}', no motion: {fidelity(spec, plain, colour):+.2f}", plain),
        ]
    return rows


def draw(rows: list[tuple[str, np.ndarray]], path: Path) -> Path:
    frames, size = rows[0][1].shape[0], rows[0][1].shape[1] * SCALE
    gap = 6
    image = Image.new("RGB", (LABEL_WIDTH + frames * (size + 2), len(rows) * (size + 2) + (len(rows) // 3) * gap),
                      (255, 255, 255))  # fmt: skip
    pen = ImageDraw.Draw(image)
    top = 0
    for index, (label, video) in enumerate(rows):
        if index and index % 3 == 0:
            top += gap
        pen.text((4, top + size // 2 - 6), label, fill=(0, 0, 0))
        for f, frame in enumerate(video):
            tile = Image.fromarray(frame).resize((size, size), Image.NEAREST)
            image.paste(tile, (LABEL_WIDTH + f * (size + 2), top))
        top += size + 2
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/toy-showcase.png"))
    args = parser.parse_args(argv)
    rows = showcase_rows(load_model(args.model), args.seed)
    for label, _ in rows:
        print(label)
    print(f"wrote {draw(rows, args.out)}")


if __name__ == "__main__":
    main()
