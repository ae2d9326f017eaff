"""The toy benchmark for "my image, this motion": does a learned motion move the subject of the creator's image?

    python -m motion_inversion.toy.evaluate_image --model assets/toy-wan [--per-group 2] [--out docs/x.md]

For held-out object-motion references (evaluate.py's, pans left out: an image's subject is what should move), learn
the motion, then take a still image of another shape in another colour at another place (the first frame of another
held-out clip) and generate from it with the motion and without it (the same seed), at the app's defaults. Per case:
the motion fidelity of the image's subject (tracked by its colour) against the reference's path, whether the
subject keeps its colour (the video's dominant colour), and the first frame's PSNR against the fitted image. Needs a
model trained to start from an image (ModelSpec.first_frame).
"""

import argparse
import time
from pathlib import Path

import numpy as np

from ..generation import generate
from ..inversion import invert
from ..models import load_model
from ..video import Clip
from . import clips, tracker
from .evaluate import EVAL_SEED, GROUPS, other_prompts, reference_specs

IMAGE_SEED = EVAL_SEED + 7  # the images' clips: held out like the references, and other ones


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255.0**2 / error))


def image_cases(model, per_group: int, steps: int, log) -> list[dict]:
    rng = np.random.default_rng(IMAGE_SEED)
    references = [spec for spec in reference_specs(per_group) if not spec.kind.startswith("pan-")]
    cases = []
    for index, spec in enumerate(references):
        reference = clips.render(spec, num_frames=model.spec.num_frames)
        motion = invert(model, Clip(reference.frames, model.spec.fps, f"toy {spec.kind} {index}"),
                        prompt=reference.caption, seed=index, steps=steps)  # fmt: skip
        ((prompt, colour),) = other_prompts(spec, 1, rng)
        shape = prompt.split()[-1]
        still = clips.render(clips.ClipSpec(shape, colour, "grow", int(rng.integers(2**31))), num_frames=1)
        image = still.frames[0]
        case = dict(kind=spec.kind, group=next(g for g, kinds in GROUPS.items() if spec.kind in kinds), prompt=prompt)
        for label, used in (("with motion", motion), ("no motion", None)):
            frames = generate(model, used, prompt, seed=index, image=image, motion_type="object").numpy()
            path = tracker.track(frames, colour).trajectory
            case[label] = dict(
                fidelity=tracker.motion_fidelity(reference.trajectory, path),
                colour_ok=tracker.dominant_colour(frames) == colour,
                first_frame_psnr=psnr(frames[0], image),
            )
        log(f"{index + 1}/{len(references)} {spec.kind} -> {prompt}: fidelity "
            f"{case['with motion']['fidelity']:+.2f} (without {case['no motion']['fidelity']:+.2f}), first frame "
            f"{case['with motion']['first_frame_psnr']:.1f} dB")  # fmt: skip
        cases.append(case)
    return cases


def table(cases: list[dict]) -> str:
    rows = ["| variant | cases | motion fidelity | fidelity >= 0.8 | keeps its colour | first frame PSNR (dB) |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    for label in ("no motion", "with motion"):
        values = [case[label] for case in cases]
        fidelity = np.array([v["fidelity"] for v in values])
        colour = np.mean([v["colour_ok"] for v in values])
        first_frame = np.mean([v["first_frame_psnr"] for v in values])
        cells = [label, len(values), f"{fidelity.mean():.2f}", f"{np.mean(fidelity >= 0.8):.0%}", f"{colour:.0%}",
                 f"{first_frame:.1f}"]  # fmt: skip
        rows.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="assets/toy-wan")
    parser.add_argument("--per-group", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200, help="inversion steps per reference (app: 200)")
    parser.add_argument("--out", type=Path, help="markdown report to write")
    args = parser.parse_args(argv)
    started = time.time()
    model = load_model(args.model, device="cpu")
    cases = image_cases(model, args.per_group, args.steps, log=lambda message: print(message, flush=True))
    report = table(cases)
    print(report)
    if args.out:
        args.out.write_text(
            f"`python -m motion_inversion.toy.evaluate_image --model {args.model} --per-group "
            f"{args.per_group} --steps {args.steps}` ({time.time() - started:.0f} s)\n\n{report}\n"
        )


if __name__ == "__main__":
    main()
