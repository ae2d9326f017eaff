"""The motion match on clip pairs nobody made for it: what it says against what a person would say.

    python bench/motion_match_battery.py            # the table of docs/motion-match-battery.md
    python bench/motion_match_battery.py --timing   # also the seconds of one score, best of 5

The pairs are motion_inversion/match_battery.py's. Columns: the score the app and the CLI show, its subject and
camera parts, and the published tracklet score (Diffusion Motion Transfer's) for comparison. A target is the whole
score's unless the case names its parts ("subject same, camera still"). Not a pass/fail test:
tests/test_motion_match_battery.py asserts the targets.
"""

import argparse
import time

import numpy as np

from motion_inversion.match_battery import CASES, TARGETS, met, render
from motion_inversion.motion_match import motion_match, tracklet_score


def seconds_of(function, *args, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timing", action="store_true", help="time one score per pair (best of 5)")
    args = parser.parse_args()
    print("| case | a person says | motion match | subject | camera | tracklet score | target | met |"
          + (" seconds |" if args.timing else ""))  # fmt: skip
    print("|---|---|---|---|---|---|---|---|" + ("---|" if args.timing else ""))
    met_count, seconds = 0, []
    for case in CASES:
        a, b = render(case.reference), render(case.other)
        match = motion_match(a, b)
        checks = [(case.answer, match.score)] if case.answer else []
        checks += [(answer, getattr(match, part)) for part, answer in case.parts.items()]
        targets = ", ".join(
            (f"{part} " if part else "") + " ".join(map(str, TARGETS[answer]))
            for part, answer in [("", case.answer)] * bool(case.answer) + list(case.parts.items())
        )
        ok = all(met(answer, score) for answer, score in checks)
        met_count += ok
        says = case.answer or ", ".join(f"{part} {answer}" for part, answer in case.parts.items())
        row = (f"| {case.name} | {says} | {match.score:+.2f} | {match.subject:+.2f} | {match.camera:+.2f} "
               f"| {tracklet_score(a, b):+.2f} | {targets} | {'yes' if ok else 'no'} |")  # fmt: skip
        if args.timing:
            seconds.append((seconds_of(motion_match, a, b, repeats=5), a.shape == b.shape == (24, 144, 256, 3)))
            row += f" {seconds[-1][0]:.2f} |"
        print(row, flush=True)
    print(f"\n{met_count} of {len(CASES)} met")
    if seconds:
        typical = [s for s, is_typical in seconds if is_typical]
        print(f"24-frame 256x144 pairs ({len(typical)}): median {np.median(typical):.2f} s, max {max(typical):.2f} s")


if __name__ == "__main__":
    main()
