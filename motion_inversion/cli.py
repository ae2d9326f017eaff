"""The `motion-inversion` command. Errors a user can fix print one line on stderr and exit with code 2."""

import argparse
import sys

from .errors import MotionInversionError


def _show(args: argparse.Namespace) -> None:
    from .motion import Motion

    motion = Motion.load(args.motion)
    for key, value in motion.metadata().items():
        print(f"{key:15} {value}")
    print(f"{'parameters':15} {motion.num_parameters:,}")
    print(f"{'inversion_latent':15} {'yes' if motion.inversion_latent is not None else 'no'}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motion-inversion",
        description="Learn the motion of a video clip as motion embeddings and generate new videos that move alike.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    show = commands.add_parser("show", help="print what a saved motion file holds")
    show.add_argument("motion", help="a .safetensors motion file")
    show.set_defaults(run=_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except MotionInversionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
