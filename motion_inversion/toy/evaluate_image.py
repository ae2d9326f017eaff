"""The toy benchmark for "my image, this motion": does a learned motion move the subject of the creator's image?

    python -m motion_inversion.toy.evaluate_image --model assets/toy-wan [--per-group 2] [--out docs/x.md]

For held-out object-motion references (evaluate.py's, pans left out: an image's subject is what should move), learn
the motion, then take a still image of another shape in another colour, at the reference's first size, anywhere in
the frame where it is whole, on a background of its own; and generate from it without the motion, with it, and with
it and the subject marked (`subject_at`, what a creator's click in the app gives: here the colour tracker's centre
of the image's subject), and with it and the subject guessed (subject_guess.py: what the app marks when nothing is
clicked), the same seed, at the app's defaults. Per case:
the motion fidelity of the image's subject (tracked by its colour) against the reference's path, whether the
subject keeps its colour (the video's dominant colour), the share of frames after the first where it is there in its
colour and its shape (tracker.shape_of), the first frame's PSNR against the fitted image, and where
the subject goes: its mean distance from the reference's path moved to start where the image's subject stands
("from the image") and from the reference's path where it stood ("from the reference's place"). The first row,
not generated, is the ceiling: the reference's path drawn from the image's subject (cut where it leaves the frame,
which costs fidelity and shape with the subject anywhere). Needs a model
trained to start from an image (ModelSpec.first_frame). bench/toy_image_recipe.py sweeps settings with it.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from ..generation import generate
from ..inversion import invert
from ..models import load_model
from ..subject_guess import guess_subject
from ..video import Clip
from . import clips, tracker
from .evaluate import EVAL_SEED, GROUPS, other_prompts, reference_specs
from .showcase import draw

IMAGE_SEED = EVAL_SEED + 7  # the images' clips: held out like the references, and other ones


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255.0**2 / error))


# label -> generate() overrides (None: without the motion); MARKED stands for the image subject's place: True the
# tracker's centre (a click), GUESSED subject_guess's (what the app marks when nothing is clicked)
MARKED, GUESSED = "subject_at", "guess"
VARIANTS = {"no motion": None, "with motion": {}, "with motion, subject marked": {MARKED: True},
            "with motion, subject guessed": {MARKED: GUESSED}}  # fmt: skip
# not generated: the reference's path drawn from the image's subject, the most a video from this image can score
# (a path that leaves the frame is cut there, as in a generated video: fidelity and shape are lost with it)
CEILING = "the path drawn from the image (ceiling)"


def path_distances(reference: np.ndarray, generated: np.ndarray) -> tuple[float, float]:
    """Mean distance (pixels) of the generated centres from the reference's path moved to start at the generated
    first centre (the image's subject), and from the reference's path as it is, over the frames after the first."""
    found = ~np.isnan(generated[1:, 0])
    if not found.any() or np.isnan(generated[0, 0]):
        return float("nan"), float("nan")
    moved = reference[:, :2] - reference[0, :2] + generated[0, :2]
    near_image = np.linalg.norm(generated[1:, :2] - moved[1:], axis=1)[found].mean()
    near_reference = np.linalg.norm(generated[1:, :2] - reference[1:, :2], axis=1)[found].mean()
    return float(near_image), float(near_reference)


def kept_fraction(frames: np.ndarray, colour: str, shape: str) -> float:
    """The share of frames after the first (the image's own) where the subject is there in its colour and shape."""
    masks = tracker.colour_masks(frames[1:])[colour]
    return float(np.mean([tracker.shape_of(mask) == shape for mask in masks]))


def drawn_from_image(reference: clips.ToyClip, shape: str, colour: str, place: np.ndarray, seed: int) -> np.ndarray:
    """The ceiling's frames: the reference's path (and sizes) moved to start at `place`, on the image's background."""
    path = reference.trajectory / clips.SIZE
    moved = np.c_[path[:, :2] - path[0, :2] + place[:2], path[:, 2] / np.sqrt(np.pi)]  # radius from sqrt(area)
    return clips.moving_still(shape, colour, moved, seed)


def measured(frames: np.ndarray, reference: clips.ToyClip, image: np.ndarray, colour: str, shape: str) -> dict:
    """One video's figures in the report (`table`); `frames` kept for the picture strip."""
    path = tracker.track(frames, colour).trajectory
    near_image, near_reference = path_distances(reference.trajectory, path)
    return dict(
        frames=frames,
        fidelity=tracker.motion_fidelity(reference.trajectory, path),
        colour_ok=tracker.dominant_colour(frames) == colour,
        kept=kept_fraction(frames, colour, shape),
        first_frame_psnr=psnr(frames[0], image),
        near_image=near_image,
        near_reference=near_reference,
    )


def image_place(reference: clips.ToyClip, placement: str, rng: np.random.Generator) -> np.ndarray:
    """Where the image's subject stands (x, y, radius: fractions), at the reference's first size: "anywhere" it is
    whole in the frame, or where the reference's path "fits": moved to start there, it keeps the subject whole."""
    path = reference.trajectory / clips.SIZE
    radius = path[:, 2] / np.sqrt(np.pi)  # the trajectory's size is sqrt(area)
    if placement == "anywhere":
        return np.r_[rng.uniform(radius[0], 1 - radius[0], size=2), radius[0]]
    low = np.minimum(np.max(radius[:, None] - path[:, :2], axis=0), 0)
    high = np.maximum(np.min(1 - radius[:, None] - path[:, :2], axis=0), 0)
    return np.r_[path[0, :2] + rng.uniform(low, high), radius[0]]


def image_cases(model, per_group: int, steps: int, log, variants: dict | None = None,
                invert_options: dict | None = None, seed: int = EVAL_SEED,
                placement: str = "anywhere") -> list[dict]:  # fmt: skip
    """`seed`: the references' (evaluate.reference_specs); the images come from another seed; `placement`: where
    the image's subject stands (`image_place`)."""
    variants = VARIANTS if variants is None else variants
    rng = np.random.default_rng(seed + IMAGE_SEED - EVAL_SEED)
    references = [spec for spec in reference_specs(per_group, seed) if not spec.kind.startswith("pan-")]
    cases = []
    for index, spec in enumerate(references):
        reference = clips.render(spec, num_frames=model.spec.num_frames)
        motion = invert(model, Clip(reference.frames, model.spec.fps, f"toy {spec.kind} {index}"),
                        prompt=reference.caption, seed=index, steps=steps, **(invert_options or {}))  # fmt: skip
        ((prompt, colour),) = other_prompts(spec, 1, rng)
        place = image_place(reference, placement, rng)
        shape = prompt.split()[-1]
        background_seed = int(rng.integers(2**31))
        image = clips.still(shape, colour, place, background_seed)
        subject_at = tuple(tracker.track(image[None], colour).trajectory[0, :2] / clips.SIZE)
        case = dict(kind=spec.kind, group=next(g for g, kinds in GROUPS.items() if spec.kind in kinds), prompt=prompt,
                    reference=reference.frames, image=image)  # fmt: skip
        drawn = drawn_from_image(reference, shape, colour, place, background_seed)
        case[CEILING] = measured(drawn, reference, image, colour, shape)
        places = {True: subject_at, GUESSED: guess_subject(image)}
        for label, overrides in variants.items():
            used = None if overrides is None else motion
            overrides = {key: places[value] if key == MARKED else value for key, value in (overrides or {}).items()}
            frames = generate(model, used, prompt, seed=index, image=image, motion_type="object",
                              **overrides).numpy()  # fmt: skip
            case[label] = measured(frames, reference, image, colour, shape)
        log(f"{index + 1}/{len(references)} {spec.kind} -> {prompt}: "
            + ", ".join(f"{label} {case[label]['fidelity']:+.2f}" for label in variants))  # fmt: skip
        cases.append(case)
    return cases


def table(cases: list[dict], variants=VARIANTS) -> str:
    rows = ["| variant | cases | motion fidelity | fidelity >= 0.8 | keeps its colour | frames in colour and shape "
            "| first frame PSNR (dB) | from the image (px) | from the reference's place (px) |",
            "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for label in [CEILING, *variants]:
        values = [case[label] for case in cases]
        fidelity = np.array([v["fidelity"] for v in values])
        colour = np.mean([v["colour_ok"] for v in values])
        kept = np.mean([v["kept"] for v in values])
        psnrs = np.array([v["first_frame_psnr"] for v in values])
        first_frame = "exact" if np.isinf(psnrs).all() else f"{psnrs.mean():.1f}"  # the ceiling's is the image
        near_image = np.nanmean([v["near_image"] for v in values])
        near_reference = np.nanmean([v["near_reference"] for v in values])
        cells = [label, len(values), f"{fidelity.mean():.2f}", f"{np.mean(fidelity >= 0.8):.0%}", f"{colour:.0%}",
                 f"{kept:.0%}", first_frame, f"{near_image:.1f}", f"{near_reference:.1f}"]  # fmt: skip
        rows.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="assets/toy-wan")
    parser.add_argument("--per-group", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200, help="inversion steps per reference (app: 200)")
    parser.add_argument("--out", type=Path, help="markdown report to write")
    parser.add_argument("--picture", type=Path, help="a picture strip of the first 4 cases to write (png)")
    parser.add_argument("--placement", choices=("anywhere", "fits"), default="anywhere",
                        help="where the image's subject stands: anywhere it is whole in the frame, or where the "
                        "reference's path fits from it")  # fmt: skip
    args = parser.parse_args(argv)
    started = time.time()
    model = load_model(args.model, device="cpu")
    cases = image_cases(model, args.per_group, args.steps, log=lambda message: print(message, flush=True),
                        placement=args.placement)  # fmt: skip
    report = table(cases)
    print(report)
    if args.picture:
        rows = []
        for case in cases[:4]:
            moved, plain = case["with motion, subject marked"], case["no motion"]
            rows += [(f"{case['kind']} (reference)", case["reference"]),
                     (f"'{case['prompt']}' from the image, motion, subject marked: {moved['fidelity']:+.2f}",
                      moved["frames"]),
                     (f"the same image, no motion: {plain['fidelity']:+.2f}", plain["frames"])]  # fmt: skip
        print(f"wrote {draw(rows, args.picture)}")
    if args.out:
        args.out.write_text(
            f"`python -m motion_inversion.toy.evaluate_image --model {args.model} --per-group "
            f"{args.per_group} --steps {args.steps} --placement {args.placement}` ({time.time() - started:.0f} s)"
            f"\n\n{report}\n"
        )


if __name__ == "__main__":
    main()
