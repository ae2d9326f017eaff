"""Why toy transfer fails: motion fidelity by the new subject's colour, for references of each colour.

    python bench/toy_colour_transfer.py [--model toy] [--seeds 2] [--recolour]

For one held-out object reference per colour (a line, an orbit, a zig-zag and a grow/shrink, from evaluate.py's
held-out seeds), learn its motion with the app's settings and generate each colour in a shape other than the
reference's, 2 seeds, with and without the motion (app default: object type). Prints a markdown table: rows are
the reference's colour, columns the new subject's. `--recolour` instead learns each motion from the clip rendered in
all four colours at once (each with its caption), to test whether training on several appearances makes the
embeddings carry motion only.
"""

import argparse
import time

import numpy as np

from motion_inversion import load_model
from motion_inversion.generation import generate
from motion_inversion.inject import inject_motion
from motion_inversion.inversion import invert, invert_latents
from motion_inversion.models import denoiser_forward
from motion_inversion.motion import Motion
from motion_inversion.toy import clips, tracker
from motion_inversion.toy.evaluate import EVAL_SEED, GROUPS
from motion_inversion.video import Clip


def references(seed: int = EVAL_SEED) -> list[clips.ClipSpec]:
    """One held-out object reference per colour, each of another group of kinds of motion."""
    rng = np.random.default_rng(seed + 7)
    groups = [kinds for name, kinds in GROUPS.items() if name != "pans"]
    return [
        clips.ClipSpec(str(rng.choice(clips.SHAPES)), colour, str(rng.choice(kinds)), int(rng.integers(2**31)))
        for colour, kinds in zip(clips.COLOURS, groups, strict=True)
    ]


def invert_recoloured(model, spec: clips.ClipSpec, steps: int, seed: int) -> Motion:
    """The motion learned from the clip in every colour at once (a batch, one caption each)."""
    import torch

    variants = [clips.render(clips.ClipSpec(spec.shape, colour, spec.kind, spec.seed)) for colour in clips.COLOURS]
    latents = torch.cat([model.encode_frames(torch.from_numpy(v.frames)).float() for v in variants])
    reference_index = list(clips.COLOURS).index(spec.colour)
    inversion_latent = invert_latents(model, latents[reference_index : reference_index + 1]).cpu()
    text = model.encode_text([v.caption for v in variants])
    generator = torch.Generator().manual_seed(seed)
    injection = inject_motion(model.denoiser, clips.NUM_FRAMES, model.latent_size(clips.SIZE, clips.SIZE),
                              model.spec.target_blocks)  # fmt: skip
    try:
        parameters = injection.parameters()
        for parameter in parameters:
            parameter.requires_grad_(True)
        optimizer = torch.optim.AdamW(parameters, lr=model.spec.lr)
        for _ in range(steps):
            t = torch.randint(0, model.scheduler.config.num_train_timesteps, (len(variants),), generator=generator)
            noise = torch.randn(latents.shape, generator=generator)
            prediction = denoiser_forward(model.denoiser, model.scheduler.add_noise(latents, noise, t), t, text)
            loss = torch.nn.functional.mse_loss(prediction, noise)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return Motion.from_injection(injection, base_model=model.name, height=clips.SIZE, width=clips.SIZE,
                                     prompt=spec.caption, steps=steps, inversion_latent=inversion_latent)  # fmt: skip
    finally:
        injection.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--recolour", action="store_true")
    args = parser.parse_args()
    model = load_model(args.model)
    started = time.time()
    rows = []
    for index, spec in enumerate(references()):
        reference = clips.render(spec)
        if args.recolour:
            motion = invert_recoloured(model, spec, args.steps, seed=index)
        else:
            motion = invert(model, Clip(reference.frames, fps=model.spec.fps), prompt=reference.caption, seed=index,
                            steps=args.steps)  # fmt: skip
        shape = next(s for s in clips.SHAPES if s != spec.shape)
        cells = {}
        for colour in clips.COLOURS:
            scores = {"with": [], "without": []}
            for seed in range(args.seeds):
                for key, used in (("with", motion), ("without", None)):
                    frames = generate(model, used, clips.caption(colour, shape), seed=100 * index + seed).numpy()
                    scores[key].append(tracker.motion_fidelity(reference.trajectory,
                                                               tracker.track(frames, colour).trajectory))  # fmt: skip
            cells[colour] = (np.mean(scores["with"]), np.mean(scores["without"]))
        rows.append((spec, cells))
        scores = ", ".join(f"{c} {w:+.2f} ({wo:+.2f})" for c, (w, wo) in cells.items())
        print(f"{spec.caption}, {spec.kind}: {scores}", flush=True)
    print(
        f"\n{'recoloured inversion' if args.recolour else 'inversion as in the app'}, {args.steps} steps, "
        f"{args.seeds} seeds, {time.time() - started:.0f} s; cells: with the motion (without)\n"
    )
    print("| reference | " + " | ".join(f"new subject {c}" for c in clips.COLOURS) + " |")
    print("|---|" + "---|" * len(clips.COLOURS))
    for spec, cells in rows:
        print(f"| {spec.colour} {spec.shape}, {spec.kind} | "
              + " | ".join(f"{w:+.2f} ({wo:+.2f})" for w, wo in cells.values()) + " |")  # fmt: skip


if __name__ == "__main__":
    main()
