"""The toy motion-transfer benchmark: does a learned motion move a new object the way the reference moved?

    python -m motion_inversion.toy.evaluate            # full run (<= 30 min on 2 CPU cores): docs/toy-evaluation.*
    python -m motion_inversion.toy.evaluate --quick    # one reference per group of kinds of motion, ~5 min

For held-out reference clips (rendered from seeds never used in training; the same number of each group of kinds:
lines, orbits, zig-zags, grow/shrink, camera pans), learn the motion with the model's default inversion settings,
then generate with it and track the generated object by the prompt's colour:
- transfer cases: another shape in another colour (what a creator does);
- reproduction cases (full run only): the reference's own caption, which separates "the motion was not learned"
  from "the motion was learned but does not transfer".
Each case is generated without the motion (the baseline, same seed) and with it in each variant: "app default" is
what the app and the CLI do (motion type "object" for object motion, "camera" for pans, the model's default strength
and noise prior); the other variants change one thing. Per group, the report gives the mean motion fidelity (the
cosine of the reference's and the generated frame-to-frame displacements of x, y and size; for pans the
background's shift, in the spirit of METHOD.md's tracklet score), the share of cases with fidelity >= 0.8, the
appearance accuracy (the generated video's dominant colour is the prompt's), and the share of frames where the
reference's colour shows up (transfer cases). The full run also measures the plain model's repertoire
(repertoire.py): which motions it makes by itself, against the training clips.
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
from ..motion_match import motion_match, tracklet_score
from ..video import Clip
from . import clips, repertoire, tracker
from .model_pool import ModelPool

EVAL_SEED = 1_000_003  # training clips come from seed 0 (train.py): these specs are never trained on
GROUPS = {
    "lines": [k for k in clips.KINDS if k.startswith("line-")],
    "orbits": ["orbit-clockwise", "orbit-counterclockwise"],
    "zig-zags": ["zigzag-right", "zigzag-left"],
    "grow/shrink": ["grow", "shrink"],
    "pans": [k for k in clips.KINDS if k.startswith("pan-")],
}
APP_DEFAULT = "app default"
# How a learned motion is applied: None = not at all; else generate() overrides (empty: the app's defaults).
VARIANTS = {
    "no motion (baseline)": None,
    APP_DEFAULT: {},
    "full value, every step": dict(value_mode="full", motion_until=1.0),  # the app's default until session 10
    "value diff": dict(value_mode="diff"),  # the paper's object mode
    # the inversion latent's share of the motion: the starting noise blends it in (noise prior), no embeddings act
    "inversion latent only": dict(motion_until=0.0),
}  # query-key only (the paper's camera mode) gave 0.39 (objects) and 0.19 (pans) in session 9's full run
QUICK_VARIANTS = ("no motion (baseline)", APP_DEFAULT)
# 4 references of each of the 5 groups: 20 references, 40 transfer and 20 reproduction cases, in <= 30 minutes on a
# 2-core CPU with 2 worker processes (a reference costs a 200-step inversion, 58 s, and 12 generations, 4 s each)
FULL_PER_GROUP = 4


@dataclass
class Case:
    reference: clips.ToyClip
    prompt: str
    colour: str
    seed: int
    fidelity: dict[str, float] = field(default_factory=dict)  # variant -> motion fidelity
    motion_match: dict[str, float] = field(default_factory=dict)  # variant -> motion_match.py's score (the app's)
    tracklet: dict[str, float] = field(default_factory=dict)  # variant -> the published tracklet score
    colour_ok: dict[str, bool] = field(default_factory=dict)  # variant -> the dominant colour is the prompt's
    reference_colour: dict[str, float] = field(default_factory=dict)  # variant -> share of frames showing it
    trajectories: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def is_pan(self) -> bool:
        return self.reference.spec.kind.startswith("pan-")

    @property
    def is_transfer(self) -> bool:
        return self.colour != self.reference.spec.colour

    @property
    def group(self) -> str:
        return next(group for group, kinds in GROUPS.items() if self.reference.spec.kind in kinds)


def reference_specs(per_group: int, seed: int = EVAL_SEED, groups=tuple(GROUPS)) -> list[clips.ClipSpec]:
    """`per_group` held-out references of each of `groups` (cycling through its kinds), with random shapes,
    colours and paths."""
    rng = np.random.default_rng(seed)
    kinds = [GROUPS[group][i % len(GROUPS[group])] for group in groups for i in range(per_group)]
    return [
        clips.ClipSpec(str(rng.choice(clips.SHAPES)), str(rng.choice(list(clips.COLOURS))), kind,
                       int(rng.integers(2**31)))
        for kind in kinds
    ]  # fmt: skip


def other_prompts(spec: clips.ClipSpec, count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """`count` (prompt, colour) pairs with a shape and a colour both different from the reference's."""
    shapes = [s for s in clips.SHAPES if s != spec.shape]
    colours = [c for c in clips.COLOURS if c != spec.colour]
    pairs = [(s, c) for s in shapes for c in colours]
    chosen = rng.choice(len(pairs), size=count, replace=False)
    return [(clips.caption(pairs[i][1], pairs[i][0]), pairs[i][1]) for i in chosen]


def fidelity_of(reference: clips.ToyClip, frames: np.ndarray, colour: str) -> tuple[float, np.ndarray]:
    """Motion fidelity of `frames` against the reference, and the path it measured: the background's shift for a
    pan, else the object of `colour`."""
    if reference.spec.kind.startswith("pan-"):
        generated = np.concatenate([[[0.0, 0.0]], np.cumsum(tracker.camera_shifts(frames), axis=0)])
        return tracker.motion_fidelity(reference.camera, generated), generated
    generated = tracker.track(frames, colour).trajectory
    return tracker.motion_fidelity(reference.trajectory, generated), generated


def measure(case: Case, variant: str, frames: np.ndarray) -> None:
    case.motion_match[variant] = motion_match(case.reference.frames, frames).score
    case.tracklet[variant] = tracklet_score(case.reference.frames, frames)
    case.colour_ok[variant] = tracker.dominant_colour(frames) == case.colour
    case.reference_colour[variant] = tracker.shown_fraction(frames, case.reference.spec.colour)
    case.fidelity[variant], case.trajectories[variant] = fidelity_of(case.reference, frames, case.colour)


def vae_round_trip(model: VideoModel, per_group: int, seed: int = EVAL_SEED, groups=tuple(GROUPS)) -> dict[str, float]:
    """Per group, the motion fidelity of each reference after the model's VAE alone (encode, decode): the most a
    generation can reach on this model, whatever the denoiser and the embeddings do (session 13: the toy Wan's
    first VAE gave 0.63 for object motion, docs/toy-wan.md)."""
    import torch

    by_group: dict[str, list[float]] = {}
    for spec in reference_specs(per_group, seed, groups):
        reference = clips.render(spec, num_frames=model.spec.num_frames)
        frames = model.decode_latents(model.encode_frames(torch.from_numpy(reference.frames))).numpy()
        group = next(group for group, kinds in GROUPS.items() if spec.kind in kinds)
        by_group.setdefault(group, []).append(fidelity_of(reference, frames, spec.colour)[0])
    return {group: float(np.mean(values)) for group, values in by_group.items()}


def colour_accuracy(model: VideoModel, seeds: int = 2) -> tuple[float, float]:
    """The plain model's prompt-colour accuracy and object-found rate over every caption of the toy world."""
    hits, found = [], []
    for shape in clips.SHAPES:
        for colour in clips.COLOURS:
            for seed in range(seeds):
                frames = generate(model, None, clips.caption(colour, shape), seed=seed).numpy()
                hits.append(tracker.dominant_colour(frames) == colour)
                found.append(tracker.track(frames, colour).found_fraction)
    return float(np.mean(hits)), float(np.mean(found))


def resolve(model: VideoModel, motion_type: str, how: dict) -> tuple:
    """A variant's full generation settings (sorted (name, value) pairs), the model's recipe filling in what it
    leaves out; any other generate() setting it names (guidance, steps) is kept as given."""
    spec = model.spec
    recipe = dict(value_mode=spec.value_modes[motion_type], strength=spec.strength, noise_prior=spec.noise_prior,
                  guidance=spec.guidance, motion_until=spec.motion_until[motion_type])  # fmt: skip
    return tuple(sorted({**recipe, **how}.items()))


def plan(per_group: int, transfers: int, reproduce: bool, seed: int = EVAL_SEED, groups=tuple(GROUPS)) -> list[tuple]:
    """The benchmark's references and what is generated from each: (index, spec, [(prompt, colour)], first seed).
    Drawn up front, in order, so the cases do not depend on how many processes run them."""
    rng = np.random.default_rng(seed + 1)
    references, first_seed = [], 0
    for index, spec in enumerate(reference_specs(per_group, seed, groups)):
        prompts = other_prompts(spec, transfers, rng) + ([(spec.caption, spec.colour)] if reproduce else [])
        references.append((index, spec, prompts, first_seed))
        first_seed += len(prompts)
    return references


def reference_cases(model: VideoModel, index: int, spec: clips.ClipSpec, prompts: list, first_seed: int,
                    variants: dict, invert_options: dict) -> tuple[list[Case], float]:  # fmt: skip
    """One reference's cases: learn its motion, then generate each prompt in each variant; and the seconds it took."""
    started = time.time()
    reference = clips.render(spec, num_frames=model.spec.num_frames)  # the toy Wan's clips are 9 frames
    clip = Clip(reference.frames, fps=model.spec.fps, source=f"toy {spec.kind} clip {index}")
    motion = invert(model, clip, prompt=reference.caption, seed=index, **invert_options)
    cases = []
    for offset, (prompt, colour) in enumerate(prompts):
        case = Case(reference, prompt, colour, seed=first_seed + offset)
        motion_type = "camera" if case.is_pan else "object"
        made = {}  # variants that come to the same settings are generated once
        for variant, how in variants.items():
            settings = None if how is None else resolve(model, motion_type, how)
            if settings not in made:
                made[settings] = generate(
                    model, motion if how is not None else None, prompt, seed=case.seed, **dict(settings or ()),
                ).numpy()  # fmt: skip
            measure(case, variant, made[settings])
        cases.append(case)
    return cases, time.time() - started


def evaluate(
    model: VideoModel, per_group: int = FULL_PER_GROUP, transfers: int = 2, reproduce: bool = True, variants=VARIANTS,
    invert_options: dict | None = None, seed: int = EVAL_SEED, log=lambda message: None, pool: ModelPool | None = None,
    groups=tuple(GROUPS),
) -> list[Case]:  # fmt: skip
    """Run the benchmark; returns every case with its measurements (see `summarise`). `invert_options` go to
    `invert` (its defaults are the model's: steps 200 as in the app, lr, target blocks). References run in `pool`'s
    worker processes when one is given; the cases are the same either way."""
    options = {"steps": 200, **(invert_options or {})}
    pool = pool or ModelPool(model)
    futures = [pool.submit(reference_cases, *reference, variants, options)
               for reference in plan(per_group, transfers, reproduce, seed, groups)]  # fmt: skip
    cases = []
    for index, future in enumerate(futures):
        new, seconds = future.result()
        cases += new
        log(f"{index + 1}: {new[0].reference.caption}, {new[0].reference.spec.kind} ({seconds:.0f} s): " + ", ".join(
            f"{v} {np.mean([c.fidelity[v] for c in new]):+.2f}" for v in variants
        ))  # fmt: skip
    return cases


def summarise(cases: list[Case], transfer: bool = True) -> list[dict]:
    """One row per (group, variant) over the transfer (or the reproduction) cases: mean motion fidelity, share of
    cases >= 0.8, appearance accuracy, share of frames showing the reference's colour; object motion overall too."""
    chosen = [c for c in cases if c.is_transfer == transfer]
    groups = {group: [c for c in chosen if c.group == group] for group in GROUPS}
    groups["all object motion"] = [c for c in chosen if not c.is_pan]
    rows = []
    for group, members in groups.items():
        for variant in members[0].fidelity if members else ():
            fidelity = np.array([c.fidelity[variant] for c in members])
            rows.append(dict(
                group=group, variant=variant, cases=len(members), fidelity=float(fidelity.mean()),
                high=float((fidelity >= 0.8).mean()),
                motion_match=float(np.mean([c.motion_match[variant] for c in members])),
                appearance=float(np.mean([c.colour_ok[variant] for c in members])),
                reference_colour=float(np.mean([c.reference_colour[variant] for c in members])),
            ))  # fmt: skip
    return rows


def table(rows: list[dict], transfer: bool = True) -> str:
    lines = [
        "| motion | variant | cases | motion fidelity | fidelity >= 0.8 | motion match (point tracks) "
        "| appearance accuracy" + (" | reference's colour in frames |" if transfer else " |"),
        "|---|---|---|---|---|---|---|" + ("---|" if transfer else ""),
    ]
    for r in rows:
        bold = "**" if r["variant"] == APP_DEFAULT else ""
        lines.append(
            f"| {r['group']} | {bold}{r['variant']}{bold} | {r['cases']} | {bold}{r['fidelity']:.2f}{bold} "
            f"| {r['high']:.0%} | {r['motion_match']:.2f} | {r['appearance']:.0%} |"
            + (f" {r['reference_colour']:.0%} |" if transfer else "")
        )
    return "\n".join(lines)


PLOT_COLOURS = {"reference": (255, 255, 255), "no motion (baseline)": (150, 150, 150), APP_DEFAULT: (0, 220, 230),
                "full value, every step": (230, 60, 230), "value diff": (255, 160, 0),
                "inversion latent only": (120, 230, 90)}  # fmt: skip


def plot(cases: list[Case], path: Path, variants=(APP_DEFAULT, "no motion (baseline)"), scale: int = 5) -> None:
    """One panel per case: the reference trajectory (white) and the chosen variants' (camera pans: background
    offsets, drawn from the centre)."""
    panel = clips.SIZE * scale
    columns = 8
    rows = (len(cases) + columns - 1) // columns
    legend = ["reference", *variants]
    image = Image.new("RGB", (columns * panel, rows * panel + 20 * len(legend)), (20, 20, 20))
    draw = ImageDraw.Draw(image)
    for i, case in enumerate(cases):
        left, top = (i % columns) * panel, (i // columns) * panel
        draw.rectangle([left, top, left + panel - 1, top + panel - 1], outline=(70, 70, 70))
        draw.text((left + 3, top + 2), f"{case.reference.spec.kind} -> {case.prompt[2:]}", fill=(200, 200, 200))
        lines = {"reference": case.reference.camera if case.is_pan else case.reference.trajectory}
        lines.update({v: case.trajectories[v] for v in variants if v in case.trajectories})
        for name, trajectory in lines.items():
            xy = trajectory[:, :2] + (clips.SIZE / 2 if case.is_pan else 0)
            points = [(left + x * scale, top + y * scale) for x, y in xy if np.isfinite(x) and np.isfinite(y)]
            if len(points) > 1:
                draw.line(points, fill=PLOT_COLOURS[name], width=2)
            if points:
                draw.ellipse([points[-1][0] - 3, points[-1][1] - 3, points[-1][0] + 3, points[-1][1] + 3],
                             fill=PLOT_COLOURS[name])  # fmt: skip
    for j, name in enumerate(legend):
        draw.text((10, rows * panel + 4 + 20 * j), f"-- {name} (dot: last frame)", fill=PLOT_COLOURS[name])
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def agreement(cases: list[Case], score: str = "motion_match") -> str:
    """How well the colour tracker's fidelity and a point-track score (`score`: the Case field, motion_match or
    tracklet) agree: their Pearson correlation over every (case, variant), overall and per group of kinds."""
    pairs = {group: [] for group in [*GROUPS, "all"]}
    for case in cases:
        for variant, fidelity in case.fidelity.items():
            pairs[case.group].append((fidelity, getattr(case, score)[variant]))
            pairs["all"].append((fidelity, getattr(case, score)[variant]))
    cells = []
    for group, values in pairs.items():
        values = np.array(values)
        if len(values) > 2 and values.std(axis=0).min() > 0:
            cells.append(f"{group} {np.corrcoef(values.T)[0, 1]:+.2f} ({len(values)})")
    return "; ".join(cells)


def ceiling_line(ceiling: dict[str, float] | None) -> list[str]:
    if not ceiling:
        return []
    values = ", ".join(f"{group} {value:.2f}" for group, value in ceiling.items())
    return [f"The model's VAE alone, each reference encoded and decoded (what a generation can reach): {values}.", ""]


def report(cases: list[Case], accuracy, motions: str | None, settings: str, seconds: float, plot_name: str,
           model_folder: str = "assets/toy-model", ceiling: dict[str, float] | None = None) -> str:  # fmt: skip
    parts = [
        "# Toy evaluation: does motion transfer?",
        "",
        f"Produced by `python -m motion_inversion.toy.evaluate {settings}` ({seconds / 60:.1f} minutes). Method and "
        f"metrics: `motion_inversion/toy/evaluate.py`; the model: `{model_folder}/training.json`.",
        "",
        f"The plain model (no motion), every toy caption, 2 seeds: prompt-colour accuracy **{accuracy[0]:.0%}**, "
        f"object found in {accuracy[1]:.0%} of frames.",
        "",
        *ceiling_line(ceiling),
        "Two metrics per case: *motion fidelity* from the colour tracker that knows the toy world (the cosine of "
        "frame-to-frame displacements), and *motion match* from motion_match.py's point tracks, which knows nothing "
        "about the toy world (the score `motion-inversion score` and the app show: the camera's and the subject's "
        "steps). Their agreement, as the Pearson correlation over every case and variant (number of pairs): "
        + agreement(cases)
        + ". The published tracklet score (Diffusion Motion Transfer's, `score --tracklet`): "
        + agreement(cases, "tracklet")
        + ".",
        "",
        "## Transfer: another shape in another colour",
        "",
        table(summarise(cases, transfer=True)),
    ]
    if any(not c.is_transfer for c in cases):
        parts += ["", "## Reproduction: the reference's own caption", "", table(summarise(cases, False), False)]
    if motions:
        parts += ["", "## What the plain model moves like by itself", "",
                  "Each clip's best-matching kind of motion (fidelity against rendered clips of every kind; "
                  "`repertoire.py`), for the plain model (every caption, 4 seeds) and for 240 training clips:", "",
                  motions]  # fmt: skip
    parts += ["", f"![reference vs generated trajectories, transfer cases]({plot_name})", ""]
    return "\n".join(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy")
    parser.add_argument(
        "--per-group", type=int, help=f"references per group of kinds of motion ({FULL_PER_GROUP}; --quick: 1)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (model_pool.py: 1.65x on 2 cores)")
    parser.add_argument("--transfers", type=int, default=2, help="other shapes/colours generated per reference")
    parser.add_argument("--steps", type=int, default=200, help="inversion steps per reference clip (app: 200)")
    parser.add_argument("--quick", action="store_true", help="baseline and app default only, no reproduction cases "
                        "or repertoire, 1 reference per group unless --per-group says otherwise")  # fmt: skip
    parser.add_argument("--groups", nargs="+", choices=list(GROUPS), default=list(GROUPS), metavar="GROUP",
                        help=f"groups of kinds to draw references from (all: {', '.join(GROUPS)})")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("docs/toy-evaluation.md"))
    args = parser.parse_args(argv)
    variants, reproduce = VARIANTS, True
    if args.quick:
        reproduce, variants = False, {name: VARIANTS[name] for name in QUICK_VARIANTS}
    args.per_group = args.per_group or (1 if args.quick else FULL_PER_GROUP)
    started = time.time()
    model = load_model(args.model)
    with ModelPool(model, args.jobs) as pool:
        # the plain model's colour accuracy and repertoire run in the same workers, beside the references
        accuracy = pool.submit(colour_accuracy)
        plain = None if args.quick else pool.submit(repertoire.plain_model_motions)
        cases = evaluate(model, args.per_group, args.transfers, reproduce, variants, dict(steps=args.steps),
                         log=lambda message: print(message, flush=True), pool=pool, groups=args.groups)  # fmt: skip
        accuracy = accuracy.result()
        motions = (
            None
            if plain is None
            else repertoire.compare(plain.result(), repertoire.training_motions(240, num_frames=model.spec.num_frames))
        )
    print(f"plain model: prompt-colour accuracy {accuracy[0]:.0%}, object found {accuracy[1]:.0%}", flush=True)
    ceiling = vae_round_trip(model, args.per_group, groups=args.groups)
    print("the VAE's round trip of the references: " + ", ".join(f"{g} {v:.2f}" for g, v in ceiling.items()))
    if motions:
        print(motions, flush=True)
    print(table(summarise(cases)))
    plot_path = args.out.with_suffix(".png")
    plot([c for c in cases if c.is_transfer], plot_path)
    settings = ("--quick " if args.quick else "") + f"--per-group {args.per_group} --transfers {args.transfers}"
    settings += f" --jobs {args.jobs} --model {args.model} --steps {args.steps}"
    settings += "" if args.groups == list(GROUPS) else " --groups " + " ".join(args.groups)
    settings += "" if args.out == parser.get_default("out") else f" --out {args.out}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(model.spec.source)
    folder = folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder
    seconds = time.time() - started
    args.out.write_text(report(cases, accuracy, motions, settings, seconds, plot_path.name, str(folder), ceiling))
    print(f"wrote {args.out} and {plot_path}")


if __name__ == "__main__":
    main()
