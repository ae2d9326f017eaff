"""The example motions: each sample clip (assets/samples; the toy Wan's 9-frame ones in assets/samples/toy-wan)
learned ahead on a toy model with its default recipe and its caption, as a creator would in the app.

The app shows them to every visitor as a read-only library (`examples/<name>`), so a newcomer can generate with a
motion at once, before learning one. Run `python -m motion_inversion.toy.examples` after retraining the toy model,
`... --model toy-wan` after retraining the toy Wan (a motion only works on the model it was learned on). The toy
Wan's examples are named `<sample>-toy-wan` and live beside the toy UNet's: a run replaces only its model's.
"""

import argparse
import shutil
from pathlib import Path

from ..inversion import invert, load_reference_clip
from ..library import MotionLibrary
from ..models import ModelSpec, load_model
from ..video import Clip
from .clips import SAMPLE_FRAMES, SAMPLES

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def sample_clip(spec: ModelSpec, name: str) -> Clip:
    """The sample clip `name` as a creator would upload it for this toy model: the toy UNet's 8-frame file, or the
    toy Wan's 9-frame one (assets/samples/toy-wan: its causal VAE takes 1 + 4k frames)."""
    folder = next(folder for folder, frames in SAMPLE_FRAMES.items() if frames == spec.num_frames)
    return load_reference_clip(ASSETS / folder / f"{name}.mp4", spec.num_frames, spec.height, spec.width, spec.fps,
                               frame_step=spec.frame_step)  # fmt: skip


def write_examples(out: Path, model_name: str = "toy") -> list[Path]:
    model = load_model(model_name, device="cpu")
    spec = model.spec
    suffix = "" if model_name == "toy" else f"-{model_name}"
    staging = out.with_name(out.name + ".new")  # the old examples stay until every new one is learned
    shutil.rmtree(staging, ignore_errors=True)
    library, names = MotionLibrary(staging), []
    for name, clip_spec in SAMPLES.items():
        clip = sample_clip(spec, name)
        motion = invert(model, clip, prompt=clip_spec.caption, steps=spec.invert_steps, seed=0)
        entry = library.add(motion, name + suffix, preview_frames=clip.frames, fps=spec.fps)
        print(f"{entry.name}: {motion.steps} steps, loss {motion.loss:.4f}")
        names.append(entry.name)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(staging.iterdir()):  # each file renamed into place: the other model's examples stay
        path.replace(out / path.name)
    shutil.rmtree(staging)
    return [out / f"{name}.safetensors" for name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASSETS / "example-motions")
    parser.add_argument("--model", default="toy", choices=("toy", "toy-wan"))
    args = parser.parse_args()
    write_examples(args.out, args.model)


if __name__ == "__main__":
    main()
