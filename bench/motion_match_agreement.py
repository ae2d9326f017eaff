"""How well the motion match agrees with the toy world's colour tracker, on the toy evaluation's own cases.

    python bench/motion_match_agreement.py --jobs 2          # the toy UNet, 20 references (about 25 minutes)

Runs the transfer and reproduction cases of `python -m motion_inversion.toy.evaluate` (the same references, seeds
and variants; without its colour-accuracy and repertoire parts) and prints, per group of kinds of motion, the Pearson
correlation of the colour tracker's fidelity with the score the app shows (motion_match.py) and with the published
tracklet score, then the evaluation's transfer table. The issue "A motion match you can trust": r >= 0.85 overall,
every kind >= 0.75.
"""

import argparse
import time

from motion_inversion.models import load_model
from motion_inversion.toy.evaluate import FULL_PER_GROUP, VARIANTS, agreement, evaluate, summarise, table
from motion_inversion.toy.model_pool import ModelPool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy")
    parser.add_argument("--per-group", type=int, default=FULL_PER_GROUP)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    started = time.time()
    model = load_model(args.model)
    with ModelPool(model, args.jobs) as pool:
        cases = evaluate(model, args.per_group, 2, True, VARIANTS, dict(steps=200), log=print, pool=pool)
    print(f"\n{len(cases)} cases, {(time.time() - started) / 60:.1f} minutes")
    print("motion match (shown):", agreement(cases))
    print("tracklet score:", agreement(cases, "tracklet"))
    print()
    print(table(summarise(cases)))


if __name__ == "__main__":
    main()
