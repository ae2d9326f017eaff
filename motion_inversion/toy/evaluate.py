"""The toy motion-transfer benchmark: does a learned motion move a new object the way the reference moved?

    python -m motion_inversion.toy.evaluate            # full run; writes docs/toy-evaluation.{md,png}
    python -m motion_inversion.toy.evaluate --quick    # a few clips, few steps: a smoke run

For held-out reference clips (rendered from seeds never used in training), learn the motion, then generate other
shapes in other colours with it, track the generated object by the prompt's colour and compare:
- motion fidelity: the cosine of the reference's and the generated frame-to-frame displacements (x, y, size; for
  camera pans, the background's shift), in the spirit of METHOD.md's tracklet score;
- appearance accuracy: the generated object has the prompt's colour (not the reference's);
for the plain model (no motion, the baseline), the motion's inversion latent alone (blended into the initial noise,
embeddings at strength 0: what the latent prior contributes by itself), three ways of applying the embeddings:
query-key only (the value embedding off: "camera" mode), the full value embedding, and its frame difference
("object" mode), each at the model's default noise prior, and the authors' recipe (frame difference plus the
inversion latent at prior 0.5). The same seed is used for every variant of a case, so they differ only in the
motion.
"""

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..generation import generate
from ..inversion import invert
from ..models import VideoModel, load_model
from ..video import Clip
from . import clips, tracker

EVAL_SEED = 1_000_003  # training clips come from seed 0 (train.py): these specs are never trained on
VARIANTS = {  # how the learned motion is applied: None = not at all; else (value mode, strength, noise prior)
    "no motion (baseline)": None,
    "inversion latent only (prior 0.5)": ("none", 0.0, 0.5),  # strength 0: embeddings off, the latent blended in
    "query-key only": ("none", 1.0, None),  # None: the model's default noise prior
    "full value": ("full", 1.0, None),
    "value diff": ("diff", 1.0, None),
    "value diff + inversion latent (prior 0.5)": ("diff", 1.0, 0.5),  # the authors' generation recipe
}
OBJECT_KINDS = tuple(kind for kind in clips.KINDS if not kind.startswith("pan-"))
PAN_KINDS = tuple(kind for kind in clips.KINDS if kind.startswith("pan-"))


@dataclass
class Case:
    reference: clips.ToyClip
    prompt: str
    colour: str
    seed: int
    fidelity: dict[str, float] = field(default_factory=dict)  # variant -> motion fidelity
    colour_ok: dict[str, bool] = field(default_factory=dict)  # variant -> generated object has the prompt colour
    found: dict[str, float] = field(default_factory=dict)  # variant -> fraction of frames with the object found
    trajectories: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def is_pan(self) -> bool:
        return self.reference.spec.kind.startswith("pan-")


def reference_specs(num_object: int, num_pan: int, seed: int = EVAL_SEED) -> list[clips.ClipSpec]:
    """Held-out references that cycle through the kinds of motion, with random shapes, colours and paths."""
    rng = np.random.default_rng(seed)
    kinds = [OBJECT_KINDS[i % len(OBJECT_KINDS)] for i in range(num_object)]
    kinds += [PAN_KINDS[(2 * i) % len(PAN_KINDS)] for i in range(num_pan)]
    colours = list(clips.COLOURS)
    return [
        clips.ClipSpec(str(rng.choice(clips.SHAPES)), str(rng.choice(colours)), kind, int(rng.integers(2**31)))
        for kind in kinds
    ]


def other_prompts(spec: clips.ClipSpec, count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """`count` (prompt, colour) pairs with a shape and a colour both different from the reference's."""
    shapes = [s for s in clips.SHAPES if s != spec.shape]
    colours = [c for c in clips.COLOURS if c != spec.colour]
    pairs = [(s, c) for s in shapes for c in colours]
    chosen = rng.choice(len(pairs), size=count, replace=False)
    return [(f"a {pairs[i][1]} {pairs[i][0]}", pairs[i][1]) for i in chosen]


def measure(case: Case, variant: str, frames: np.ndarray) -> None:
    found = tracker.track(frames, case.colour)
    case.colour_ok[variant] = tracker.dominant_colour(frames) == case.colour
    case.found[variant] = found.found_fraction
    if case.is_pan:
        generated = np.concatenate([[[0.0, 0.0]], np.cumsum(tracker.camera_shifts(frames), axis=0)])
        case.fidelity[variant] = tracker.motion_fidelity(case.reference.camera, generated)
        case.trajectories[variant] = generated
    else:
        case.fidelity[variant] = tracker.motion_fidelity(case.reference.trajectory, found.trajectory)
        case.trajectories[variant] = found.trajectory


def colour_accuracy(model: VideoModel, seeds: int = 2) -> tuple[float, float]:
    """The plain model's prompt-colour accuracy and object-found rate over every caption of the toy world."""
    hits, found = [], []
    for shape in clips.SHAPES:
        for colour in clips.COLOURS:
            for seed in range(seeds):
                frames = generate(model, None, f"a {colour} {shape}", seed=seed).numpy()
                hits.append(tracker.dominant_colour(frames) == colour)
                found.append(tracker.track(frames, colour).found_fraction)
    return float(np.mean(hits)), float(np.mean(found))


def evaluate(
    model: VideoModel, num_object: int = 14, num_pan: int = 4, prompts_per_clip: int = 2, steps: int = 200,
    seed: int = EVAL_SEED, log=lambda message: None,
) -> list[Case]:  # fmt: skip
    """Run the benchmark; returns every case with its measurements (see `summarise`)."""
    rng = np.random.default_rng(seed + 1)
    cases = []
    for index, spec in enumerate(reference_specs(num_object, num_pan, seed)):
        reference = clips.render(spec)
        started = time.time()
        clip = Clip(reference.frames, fps=model.spec.fps, source=f"toy {spec.kind} clip {index}")
        motion = invert(model, clip, prompt=reference.caption, steps=steps, seed=index)
        for prompt, colour in other_prompts(spec, prompts_per_clip, rng):
            case = Case(reference, prompt, colour, seed=len(cases))
            for variant, how in VARIANTS.items():
                value_mode, strength, noise_prior = how or (None, 1.0, None)
                frames = generate(
                    model, motion if how else None, prompt, seed=case.seed, value_mode=value_mode, strength=strength,
                    noise_prior=noise_prior,
                ).numpy()  # fmt: skip
                measure(case, variant, frames)
            cases.append(case)
        log(f"{index + 1}: {reference.caption}, {spec.kind} ({time.time() - started:.0f} s): " + ", ".join(
            f"{v} {np.mean([c.fidelity[v] for c in cases[-prompts_per_clip:]]):+.2f}" for v in VARIANTS
        ))  # fmt: skip
    return cases


def summarise(cases: list[Case]) -> list[dict]:
    """One row per (clip group, variant): mean motion fidelity, appearance accuracy, object-found rate."""
    rows = []
    for group, is_pan in (("object motion", False), ("camera pans", True)):
        chosen = [c for c in cases if c.is_pan == is_pan]
        for variant in VARIANTS if chosen else ():
            rows.append(dict(
                clips=group, variant=variant, cases=len(chosen),
                fidelity=float(np.mean([c.fidelity[variant] for c in chosen])),
                appearance=float(np.mean([c.colour_ok[variant] for c in chosen])),
                found=float(np.mean([c.found[variant] for c in chosen])),
            ))  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| clips | variant | cases | motion fidelity | appearance accuracy | object found |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['clips']} | {r['variant']} | {r['cases']} | {r['fidelity']:.3f} | {r['appearance']:.0%} "
        f"| {r['found']:.0%} |"
        for r in rows
    ]
    return "\n".join(lines)


PLOT_COLOURS = {"reference": (255, 255, 255), "no motion (baseline)": (150, 150, 150),
                "inversion latent only (prior 0.5)": (90, 90, 255), "query-key only": (255, 160, 0),
                "full value": (230, 60, 230), "value diff": (0, 220, 230),
                "value diff + inversion latent (prior 0.5)": (120, 230, 90)}  # fmt: skip


def plot(cases: list[Case], path: Path, scale: int = 5) -> None:
    """One panel per case: the reference trajectory (white) and each variant's (camera pans: background offsets,
    drawn from the centre)."""
    panel = clips.SIZE * scale
    columns = 6
    rows = (len(cases) + columns - 1) // columns
    image = Image.new("RGB", (columns * panel, rows * panel + 20 * len(PLOT_COLOURS)), (20, 20, 20))
    draw = ImageDraw.Draw(image)
    for i, case in enumerate(cases):
        left, top = (i % columns) * panel, (i // columns) * panel
        draw.rectangle([left, top, left + panel - 1, top + panel - 1], outline=(70, 70, 70))
        draw.text((left + 3, top + 2), f"{case.reference.spec.kind} -> {case.prompt[2:]}", fill=(200, 200, 200))
        lines = {"reference": case.reference.camera if case.is_pan else case.reference.trajectory}
        lines.update(case.trajectories)
        for name, trajectory in lines.items():
            xy = trajectory[:, :2] + (clips.SIZE / 2 if case.is_pan else 0)
            points = [(left + x * scale, top + y * scale) for x, y in xy if np.isfinite(x) and np.isfinite(y)]
            if len(points) > 1:
                draw.line(points, fill=PLOT_COLOURS[name], width=2)
            if points:
                draw.ellipse([points[-1][0] - 3, points[-1][1] - 3, points[-1][0] + 3, points[-1][1] + 3],
                             fill=PLOT_COLOURS[name])  # fmt: skip
    for j, (name, colour) in enumerate(PLOT_COLOURS.items()):
        draw.text((10, rows * panel + 4 + 20 * j), f"-- {name} (dot: last frame)", fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def report(rows: list[dict], accuracy: tuple[float, float], settings: str, seconds: float, plot_name: str) -> str:
    return "\n".join([
        "# Toy evaluation: does motion transfer?",
        "",
        f"Produced by `python -m motion_inversion.toy.evaluate {settings}` ({seconds / 60:.1f} minutes). Method and "
        "metrics: `motion_inversion/toy/evaluate.py`; the model: `assets/toy-model/training.json`.",
        "",
        f"The plain model (no motion), every toy caption, 2 seeds: prompt-colour accuracy **{accuracy[0]:.0%}**, "
        f"object found in {accuracy[1]:.0%} of frames.",
        "",
        table(rows),
        "",
        f"![reference vs generated trajectories]({plot_name})",
        "",
    ])  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy")
    parser.add_argument("--object-clips", type=int, default=14)
    parser.add_argument("--pan-clips", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=2, help="generated prompts per reference clip")
    parser.add_argument("--steps", type=int, default=200, help="inversion steps per reference clip")
    parser.add_argument("--quick", action="store_true", help="2 object clips, 1 pan, 30 steps")
    parser.add_argument("--out", type=Path, default=Path("docs/toy-evaluation.md"))
    args = parser.parse_args(argv)
    if args.quick:
        args.object_clips, args.pan_clips, args.steps = 2, 1, 30
    started = time.time()
    model = load_model(args.model)
    accuracy = colour_accuracy(model)
    print(f"plain model: prompt-colour accuracy {accuracy[0]:.0%}, object found {accuracy[1]:.0%}", flush=True)
    cases = evaluate(model, args.object_clips, args.pan_clips, args.prompts, args.steps,
                     log=lambda message: print(message, flush=True))  # fmt: skip
    rows = summarise(cases)
    print(table(rows))
    plot_path = args.out.with_suffix(".png")
    plot(cases, plot_path)
    settings = f"--model {args.model} --object-clips {args.object_clips} --pan-clips {args.pan_clips} " + (
        f"--prompts {args.prompts} --steps {args.steps}"
    )
    args.out.write_text(report(rows, accuracy, settings, time.time() - started, plot_path.name))
    print(f"wrote {args.out} and {plot_path}")


if __name__ == "__main__":
    main()
