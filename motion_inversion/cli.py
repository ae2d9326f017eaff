"""The `motion-inversion` command: invert a clip, generate from a motion, list and show saved motions, score how
well one video moves like another and build side-by-side comparisons.

Errors a user can fix print one line on stderr (no traceback) and exit with code 2. Ctrl-C during inversion stops
after the current step and saves what was learned so far; a second Ctrl-C aborts.
"""

import argparse
import os
import signal
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from .errors import MotionInversionError, MotionInversionWarning
from .precision import MIXED_PRECISIONS
from .progress import STAGE_WORDS, Progress
from .sampling import SAMPLING_MODES
from .video import FIT_MODES

DEFAULT_MODEL = os.environ.get("MOTION_INVERSION_MODEL", "toy")
OFFLOAD_HELP = "keep the text encoder and VAE in CPU memory between their calls: less GPU memory, a little slower"


def _check_writable(path: Path) -> None:
    """Fail before minutes of work, not after, when the output cannot be written."""
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise MotionInversionError(f"cannot write {path}: choose another --out")


@contextmanager
def _notes_to_stderr():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MotionInversionWarning)
        try:
            yield
        finally:
            for warning in caught:
                if issubclass(warning.category, MotionInversionWarning):
                    print(f"note: {warning.message}", file=sys.stderr)


def _quiet_libraries() -> None:
    """Keep the libraries' own chatter (transformers' "Loading weights" bars, deprecation notices) out of the
    terminal: the CLI says what matters itself. Download progress of huggingface_hub stays."""
    import diffusers
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    for module in ("huggingface_hub", "transformers", "diffusers", "torch"):
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)


def _read_clip(args: argparse.Namespace, clip_path: str, spec):
    from .inversion import load_reference_clip

    if not Path(clip_path).is_file():
        raise MotionInversionError(f"clip not found: {clip_path}")
    with _notes_to_stderr():
        return load_reference_clip(
            clip_path, args.frames or spec.num_frames, spec.height, spec.width, spec.fps, args.start, args.end,
            args.sampling, args.fit, spec.frame_step,
        )  # fmt: skip


def _learn(args: argparse.Namespace, model, clip, on_progress=None):
    from .inversion import invert

    return invert(
        model, clip, prompt=args.prompt, steps=args.steps, lr=args.lr, loss=args.loss, seed=args.seed,
        on_progress=on_progress, num_frames=clip.num_frames, gradient_checkpointing=args.gradient_checkpointing,
        mixed_precision=args.mixed_precision,
    )  # fmt: skip


def _save(motion, clip, spec, out: Path, library, name: str | None = None) -> Path:
    """Into the library under `name` (default: out's stem; with the preview the app shows; a taken name gets a
    number) or to `out`."""
    if library is not None:
        name = name or out.stem
        return library.add(motion, name, preview_frames=clip.frames, fps=spec.fps, if_taken="number").path
    motion.save(out)
    return out


def _check_invert_settings(args: argparse.Namespace) -> None:
    """The library's ranges (limits.py), before any clip is read or model loaded."""
    from .limits import check_all

    check_all(steps=args.steps, lr=args.lr, seed=args.seed, num_frames=args.frames, start=args.start, end=args.end)


def _invert(args: argparse.Namespace) -> None:
    _check_invert_settings(args)
    if len(args.clip) > 1 or args.out_dir:
        return _invert_many(args)
    clip_path = args.clip[0]
    if not Path(clip_path).is_file():  # before importing torch, and long before loading a model
        raise MotionInversionError(f"clip not found: {clip_path}")
    from tqdm import tqdm

    from .library import MotionLibrary, free_path
    from .models import load_model, model_spec

    library = None if args.out else MotionLibrary()  # no --out: into the library, with a preview for the app
    out = Path(args.out) if args.out else free_path(library.folder, Path(clip_path).stem)
    _check_writable(out)
    spec = model_spec(args.model)  # sizes and recipe, no weights: the clip is read and checked before they load
    args.steps = spec.invert_steps if args.steps is None else args.steps
    clip = _read_clip(args, clip_path, spec)
    print(clip.description, flush=True)
    if not args.verbose:
        _quiet_libraries()
    print(STAGE_WORDS["loading"] + "…", file=sys.stderr, flush=True)
    model = load_model(args.model, device=args.device, offload=args.offload)

    stop = {"requested": False}

    def request_stop(signum, frame):
        if stop["requested"]:
            raise KeyboardInterrupt
        stop["requested"] = True

    previous_handler = signal.signal(signal.SIGINT, request_stop)
    bars: dict[str, tqdm] = {}  # one bar per stage (progress.py), each appearing when its stage starts

    def on_progress(update: Progress) -> bool:
        if update.stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[update.stage] = tqdm(total=update.total, desc=STAGE_WORDS[update.stage], unit="step")
        bar = bars[update.stage]
        bar.update(update.step - bar.n)
        if update.loss is not None:
            bar.set_postfix(loss=f"{update.loss:.4f}")
        return stop["requested"]

    try:
        motion = _learn(args, model, clip, on_progress)
    finally:
        for bar in bars.values():
            bar.close()
        signal.signal(signal.SIGINT, previous_handler)
    out = _save(motion, clip, spec, out, library)
    if stop["requested"]:
        print(f"stopped at step {motion.steps} of {args.steps}: saved what was learned to {out}")
    else:
        print(f"saved motion to {out} ({motion.num_frames} frames, final loss {motion.loss:.4f})")


def batch_names(clips: list[str]) -> list[str]:
    """One motion name per clip, named after its file; clips of the same file name get -2, -3... in list order, so
    every process of a launch derives the same names."""
    from .library import name_from_file

    names, seen = [], {}
    for clip in clips:
        name = name_from_file(Path(clip).stem)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return names


def _invert_many(args: argparse.Namespace) -> None:
    """Learn every clip, spread over the processes of `accelerate launch` (one process without it). Each process
    loads the model once and learns its share; a clip that fails is reported and the others go on; the main
    process prints one summary."""
    import time

    from accelerate import PartialState
    from accelerate.utils import gather_object

    from .library import MotionLibrary, free_path
    from .models import load_model, model_spec

    if args.out:
        raise MotionInversionError("--out names one file: with several clips use --out-dir (or the library)")
    import torch
    from accelerate.utils import parse_flag_from_env

    # processes share the work over gloo on CPUs (no GPU, `accelerate launch --cpu` or --device cpu), else NCCL
    on_cpu = not torch.cuda.is_available() or parse_flag_from_env("ACCELERATE_USE_CPU") or args.device == "cpu"
    state = PartialState(cpu=on_cpu)
    library = None if args.out_dir else MotionLibrary()
    folder = Path(args.out_dir) if args.out_dir else library.folder
    _check_writable(folder / "motion.safetensors")
    spec = model_spec(args.model)
    args.steps = spec.invert_steps if args.steps is None else args.steps
    if not args.verbose:
        _quiet_libraries()
    work = list(enumerate(zip(args.clip, batch_names(args.clip), strict=True)))
    results, model = [], None
    with state.split_between_processes(work) as mine:
        for index, (clip_path, name) in mine:
            started = time.time()
            result = dict(index=index, clip=clip_path, process=state.process_index)
            try:
                clip = _read_clip(args, clip_path, spec)
                if model is None:
                    model = load_model(args.model, device=args.device or state.device, offload=args.offload)
                motion = _learn(args, model, clip)
                # the name as given: a Path's stem would cut "take.01" to "take"
                out = free_path(folder, name) if library is None else folder / name  # the library numbers its own
                out = _save(motion, clip, spec, out, library, name=name)
                result.update(out=str(out), steps=motion.steps, loss=motion.loss)
            except MotionInversionError as error:
                result.update(error=str(error))
            result["seconds"] = time.time() - started
            outcome = f"error: {result['error']}" if "error" in result else f"-> {result['out']}"
            print(f"[process {state.process_index}] {clip_path}: {outcome}", flush=True)
            results.append(result)
    results = sorted(gather_object(results), key=lambda r: r["index"])
    failed = [r for r in results if "error" in r]
    if state.is_main_process:
        print(f"\n{len(results) - len(failed)} of {len(results)} clips learned on {state.num_processes} process(es):")
        for r in results:
            if "error" in r:
                print(f"  {r['clip']}: FAILED ({r['error']})")
            else:
                print(f"  {r['clip']} -> {r['out']} ({r['steps']} steps, loss {r['loss']:.4f}, {r['seconds']:.0f} s, "
                      f"process {r['process']})")  # fmt: skip
    if failed:
        raise MotionInversionError(f"{len(failed)} of {len(results)} clips could not be learned (see above)")


def _guessed_subject(image, motion, fit: str) -> tuple[float, float]:
    """--subject-at auto: where the start image's subject stands, fitted to the motion's size (subject_guess.py)."""
    from .subject_guess import guess_subject
    from .video import read_image

    if image is None:
        raise MotionInversionError("--subject-at auto guesses the subject of a start image: give --image too")
    guess = guess_subject(read_image(image, motion.height, motion.width, fit)[0])
    if guess is None:
        raise MotionInversionError(
            f"nothing in {image} stands out from its edges to guess as its subject: give --subject-at X,Y"
        )
    print(f"subject guessed at {guess[0]:.3f},{guess[1]:.3f} of the fitted image (--subject-at X,Y to say otherwise)")
    return guess


def _generate(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from .generation import generate, placed_on_image
    from .limits import check_all
    from .models import REGISTRY, load_model
    from .motion import Motion
    from .video import write_mp4

    check_all(strength=args.strength, seed=args.seed, sampling_steps=args.steps, guidance=args.guidance,
              num_frames=args.frames, noise_prior=args.noise_prior, motion_until=args.motion_until)  # fmt: skip
    motion = Motion.load(args.motion)
    if args.image is not None:  # before any model loads
        from .video import check_image

        check_image(args.image)
    if args.subject_at == "auto":
        args.subject_at = _guessed_subject(args.image, motion, args.fit)
    placed_on_image(motion, args.motion_type, args.image, args.subject_at)  # its refusals, before the model
    out = Path(args.out) if args.out else Path(f"{Path(args.motion).stem}-seed{args.seed}.mp4")
    _check_writable(out)
    if args.model is None and motion.base_model not in REGISTRY:  # a file's label is never a path or id to load
        raise MotionInversionError(
            f"this motion was learned on {_printable(motion.base_model)}, not a registry model: pass --model with "
            "that model's folder or Hub id"
        )
    if not args.verbose:
        _quiet_libraries()
    model = load_model(args.model or motion.base_model, device=args.device, offload=args.offload)
    progress = tqdm(total=args.steps or model.spec.steps, desc="generating", unit="step")

    def on_step(step: int, total: int) -> None:
        progress.update(1)

    try:
        with _notes_to_stderr():
            frames = generate(
                model, motion, args.prompt, negative_prompt=args.negative_prompt, motion_type=args.motion_type,
                strength=args.strength, seed=args.seed, steps=args.steps, guidance=args.guidance,
                num_frames=args.frames, noise_prior=args.noise_prior, motion_until=args.motion_until,
                callback=on_step, image=args.image, fit=args.fit, subject_at=args.subject_at,
            )  # fmt: skip
    finally:
        progress.close()
    write_mp4(frames.numpy(), out, fps=model.spec.fps)
    print(f"wrote {out} ({frames.shape[0]} frames, {frames.shape[2]}x{frames.shape[1]})")


def _list(args: argparse.Namespace) -> None:
    from .library import default_library_dir, list_motions

    folder = Path(args.library) if args.library else default_library_dir()
    entries = list_motions(folder)
    if not entries:
        print(f"no motions in {folder}")
        return
    print(f"{'name':24} {'base model':16} {'frames':>6} {'size':>9} {'steps':>5}  created")
    for entry in entries:
        meta = entry.metadata
        size = f"{meta['width']}x{meta['height']}"
        print(
            f"{entry.name:24} {meta['base_model']:16} {meta['num_frames']:>6} {size:>9} {meta['steps']:>5}  "
            f"{meta['created_at']}"
        )


def _printable(text: str) -> str:
    """A string from a file, quoted with its control characters escaped: a shared motion's escape sequences must
    not retitle or recolour the terminal."""
    return repr(str(text))


def _show(args: argparse.Namespace) -> None:
    from .motion import Motion

    motion = Motion.load(args.motion)
    for key, value in motion.metadata().items():
        shown = value if value.isprintable() else _printable(value)
        print(f"{key:16} {shown}")
    print(f"{'parameters':16} {motion.num_parameters:,}")
    print(f"{'inversion_latent':16} {'yes' if motion.inversion_latent is not None else 'no'}")


def _score(args: argparse.Namespace) -> None:
    from .motion_match import describe_camera, match_files, tracklet_score_files

    match = match_files(args.reference, args.generated)
    print(f"motion match {match.score:.2f}: {match.reading()}")
    print(f"subject {match.subject:.2f}, camera {match.camera:.2f}")
    print(f"camera: reference {describe_camera(match.reference.path(match.reference.CAMERA))}, "
          f"other {describe_camera(match.other.path(match.other.CAMERA))}")  # fmt: skip
    if args.tracklet:
        tracklet = tracklet_score_files(args.reference, args.generated)
        print(f"tracklet score (Diffusion Motion Transfer's): {tracklet:.2f}")


def _compare(args: argparse.Namespace) -> None:
    from .comparison import comparison_panels, write_comparison

    out = Path(args.out)
    _check_writable(out.with_suffix(".mp4"))
    mp4, gif = write_comparison(comparison_panels(args.reference, args.with_motion, args.without_motion), out)
    print(f"wrote {mp4} and {gif}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="motion-inversion",
        description="Learn the motion of a video clip as motion embeddings and generate new videos that move alike.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    invert = commands.add_parser("invert", help="learn the motion of a clip and save it")
    invert.add_argument("clip", nargs="+", help="video file(s) (mp4, mov, webm, avi, gif); several clips are learned "
                        "one after another, or spread over processes with `accelerate launch` (README)")  # fmt: skip
    invert.add_argument("--model", default=DEFAULT_MODEL, help=f"base model: registry name, Hub id or folder "
                        f"(default {DEFAULT_MODEL})")  # fmt: skip
    invert.add_argument("--prompt", default="", help="a caption of the clip (may be empty)")
    invert.add_argument("--steps", type=int, help="training steps (default: the model's; 200 toy, 400 real models)")
    invert.add_argument("--lr", type=float, help="learning rate (default: the model's, 0.02 for real models)")
    invert.add_argument(
        "--loss",
        choices=("base", "debiased"),
        default="base",
        help="base: the denoising loss (default); debiased: plus a frame-difference term (METHOD.md)",
    )
    invert.add_argument("--seed", type=int, default=0, help="random seed: the same seed learns the same motion")
    invert.add_argument("--frames", type=int, help="frames to learn from (default: the model's)")
    invert.add_argument("--start", type=float, default=0.0, help="start of the part to learn, in seconds")
    invert.add_argument("--end", type=float, help="end of the part to learn, in seconds (default: the clip's end)")
    invert.add_argument(
        "--sampling", choices=SAMPLING_MODES, default="auto",
        help="how the part becomes the model's frames: auto (default: the whole part when it is up to 4x the "
        "model's span, else the model's frame rate from the start), whole, model-fps, every-frame",
    )  # fmt: skip
    invert.add_argument("--fit", choices=FIT_MODES, default="crop", help="fit to the model's size (default: crop)")
    invert.add_argument("--gradient-checkpointing", action="store_true", help="less GPU memory, a little slower")
    invert.add_argument("--device", help="cuda, cuda:1, cpu (default: cuda when available)")
    invert.add_argument("--offload", action="store_true", help=OFFLOAD_HELP)
    invert.add_argument("--out", help="motion file to write, one clip only (default: the library folder)")
    invert.add_argument("--out-dir", help="folder for the motion files of several clips (default: the library)")
    invert.add_argument("--mixed-precision", choices=MIXED_PRECISIONS, help="no (float32), bf16 or fp16 with loss "
                        "scaling (default: float32 on a CPU, bf16 on a GPU that has it, else fp16)")  # fmt: skip
    invert.add_argument("--verbose", action="store_true", help="also show the libraries' warnings and load bars")
    invert.set_defaults(run=_invert)

    generate = commands.add_parser("generate", help="generate a video that moves like a saved motion")
    generate.add_argument("motion", help="a .safetensors motion file")
    generate.add_argument("--prompt", required=True, help="what the new video shows, e.g. 'a tank in the desert'")
    generate.add_argument("--negative-prompt", default="", help="what it should not show")
    generate.add_argument(
        "--motion-type",
        choices=("camera", "object", "hybrid"),
        default="object",
        help="object: a subject moves (default); camera: the camera moves; hybrid: both",
    )
    generate.add_argument("--strength", type=float, help="how strongly the motion is applied (default: the model's)")
    generate.add_argument("--seed", type=int, default=0, help="random seed of the new video")
    generate.add_argument("--steps", type=int, help="sampling steps (default: the model's)")
    generate.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the model's)")
    generate.add_argument("--frames", type=int, help="frames to generate (default: the motion's)")
    generate.add_argument(
        "--noise-prior",
        type=float,
        help="share of the motion's inversion latent in the starting noise (default: the model's)",
    )
    generate.add_argument(
        "--motion-until",
        type=float,
        help="share of the sampling steps, from the first, that use the motion; later steps refine appearance "
        "(default: the model's)",
    )
    generate.add_argument("--model", help="base model (default: the one the motion was learned on)")
    generate.add_argument("--image", help="start the video from this image (models trained for it: wan2.2-5b, the "
                          "toy Wan); fitted to the video's size as --fit says")  # fmt: skip
    generate.add_argument("--fit", choices=FIT_MODES, default="crop", help="fit the image: crop (default), pad or "
                          "stretch")  # fmt: skip
    generate.add_argument("--subject-at", metavar="X,Y", help="where the image's subject stands, as fractions of the "
                          "fitted image (0,0 top left; e.g. 0.3,0.6), or auto (guessed from the image): an object "
                          "motion starts there rather than where the reference's subject stood")  # fmt: skip
    generate.add_argument("--device", help="cuda, cuda:1, cpu (default: cuda when available)")
    generate.add_argument("--offload", action="store_true", help=OFFLOAD_HELP)
    generate.add_argument("--out", help="mp4 to write (default: MOTION-seedN.mp4)")
    generate.add_argument("--verbose", action="store_true", help="also show the libraries' warnings and load bars")
    generate.set_defaults(run=_generate)

    listing = commands.add_parser("list", help="list saved motions")
    listing.add_argument("--library", help="library folder (default: $MOTION_LIBRARY or the user data folder)")
    listing.set_defaults(run=_list)

    show = commands.add_parser("show", help="print what a saved motion file holds")
    show.add_argument("motion", help="a .safetensors motion file")
    show.set_defaults(run=_show)

    score = commands.add_parser("score", help="how well one video moves like another (motion match, -1 to 1)")
    score.add_argument("reference", help="the clip whose motion is wanted")
    score.add_argument("generated", help="the clip to score, e.g. a generated video")
    score.add_argument("--tracklet", action="store_true", help="also the published tracklet score (papers report it)")
    score.set_defaults(run=_score)

    compare = commands.add_parser("compare", help="a side-by-side mp4 and GIF of a reference and generated videos")
    compare.add_argument("reference", help="the reference clip (e.g. the motion's .mp4 in the library)")
    compare.add_argument("with_motion", help="the video generated with the motion")
    compare.add_argument("without_motion", nargs="?", help="the video generated without it (same seed), optional")
    compare.add_argument("--out", default="comparison.mp4", help="mp4 to write; the GIF goes beside it "
                         "(default comparison.mp4)")  # fmt: skip
    compare.set_defaults(run=_compare)
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
