"""Choose the toy model's recipe by measurement: motion fidelity of transfer cases for candidate settings.

    python bench/toy_recipe.py [--per-group 1] [--model toy]

One inversion per reference and inversion setting (lr, target blocks); every generation setting (value mode per
motion type, strength, noise prior) reuses it. Prints, per setting, the mean transfer fidelity for object motion
and for pans, and the gain over the plain model on the same seeds. The winner becomes the toy registry entry's recipe
(models.py), with these figures next to it.
"""

import argparse
import time

import numpy as np

from motion_inversion import load_model
from motion_inversion.toy.evaluate import evaluate

GENERATION = {  # generate() overrides; motion type is object for object motion, camera for pans (as in the app)
    "no motion (baseline)": None,
    "value diff (paper's object mode)": dict(value_mode="diff"),
    "full value": dict(value_mode="full"),
    "full value, strength 1.5": dict(value_mode="full", strength=1.5),
    "value diff, strength 1.5": dict(value_mode="diff", strength=1.5),
    "query-key only (paper's camera mode)": dict(value_mode="none"),
    "full value + inversion latent 0.3": dict(value_mode="full", noise_prior=0.3),
    "value diff + inversion latent 0.3": dict(value_mode="diff", noise_prior=0.3),
}
INVERSION = {  # invert() overrides
    "lr 0.1 (toy default)": {},
    "lr 0.3": dict(lr=0.3),
    "every temporal block": dict(target_blocks=["*"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy")
    parser.add_argument("--per-group", type=int, default=1)
    parser.add_argument("--inversion", nargs="*", default=list(INVERSION), choices=list(INVERSION))
    args = parser.parse_args()
    model = load_model(args.model)
    print("| inversion | generation | object motion | gain over no motion | pans | gain over no motion "
          "| appearance accuracy | reference's colour in frames |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for inversion in args.inversion:
        started = time.time()
        cases = evaluate(model, per_group=args.per_group, transfers=2, reproduce=False, variants=GENERATION,
                         invert_options=INVERSION[inversion])  # fmt: skip
        objects, pans = [c for c in cases if not c.is_pan], [c for c in cases if c.is_pan]
        for variant in GENERATION:
            o = np.mean([c.fidelity[variant] for c in objects])
            p = np.mean([c.fidelity[variant] for c in pans])
            o0 = np.mean([c.fidelity["no motion (baseline)"] for c in objects])
            p0 = np.mean([c.fidelity["no motion (baseline)"] for c in pans])
            appearance = np.mean([c.colour_ok[variant] for c in cases])
            leak = np.mean([c.reference_colour[variant] for c in cases])
            print(f"| {inversion} | {variant} | {o:.2f} | {o - o0:+.2f} | {p:.2f} | {p - p0:+.2f} | {appearance:.0%} "
                  f"| {leak:.0%} |", flush=True)  # fmt: skip
        print(f"<!-- {inversion}: {len(cases)} cases, {time.time() - started:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
