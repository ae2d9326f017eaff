"""motion-inversion web app: learn a motion from a clip, keep a library of motions, generate videos that move alike.

A thin Gradio view over `motion_inversion.studio.Studio`. Run `python app.py` (GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT are honoured). GPU work (learning, generating) goes through one queue, one job at a time.

On a Space (`SPACE_ID`) or with `MOTION_INVERSION_PRIVATE=1`, each visitor has a private library (owners.py): every
handler that touches a library works on the library of the visitor who sent the request, and library files reach
the page only as copies handed out by a handler, never through a static route to the library folder.
"""

import functools
import html
import inspect
import os
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import torch
from gradio.utils import get_upload_folder

from motion_inversion.errors import MotionInversionError
from motion_inversion.jobs import Job
from motion_inversion.library import default_library_dir
from motion_inversion.limits import check
from motion_inversion.models import REGISTRY
from motion_inversion.owners import (
    Libraries,
    Visitors,
    anonymous_days_from_env,
    browser_secret,
    private_mode_from_env,
    quotas_from_env,
)
from motion_inversion.progress import Progress
from motion_inversion.sampling import SAMPLING_MODES
from motion_inversion.scratch import Scratch, prune
from motion_inversion.studio import MAX_STEPS, MIN_STEPS_TO_KEEP, MOTION_TYPE_HELP, Studio
from motion_inversion.toy.clips import SAMPLE_FRAMES
from motion_inversion.video import FIT_MODES

try:  # ZeroGPU on Hugging Face Spaces: the decorated calls get a GPU; elsewhere a no-op
    import spaces

    gpu = spaces.GPU(duration=300)
except ImportError:

    def gpu(fn):
        return fn


ASSETS = Path(__file__).resolve().parent / "assets"
DEFAULT_MODEL = os.environ.get("MOTION_INVERSION_MODEL", "toy")
MAX_QUEUE = int(os.environ.get("MOTION_INVERSION_MAX_QUEUE", "16"))
MAX_UPLOAD = os.environ.get("MOTION_INVERSION_MAX_UPLOAD", "200mb")
# The most files and bytes kept in Gradio's cache (uploads, generated videos, handed-out copies of library files);
# the oldest go first. 500 toy videos are ~10 MB; a real model's are ~1 MB each; an upload may be 200 MB.
MAX_TEMP_FILES = int(os.environ.get("MOTION_INVERSION_MAX_TEMP_FILES", "500"))
MAX_TEMP_BYTES = int(float(os.environ.get("MOTION_INVERSION_MAX_TEMP_MB", "2000")) * 2**20)
NO_MOTION = "(none: plain model)"
# Gradio's gallery stretches its few items over the whole width; fixed 140 px cells keep the thumbnails small and
# their names readable, whatever their number.
PAGE_CSS = """
#library-gallery .grid-container {
    grid-template-columns: repeat(auto-fill, 140px) !important; grid-template-rows: none !important;
    grid-auto-rows: 140px !important;
}
"""
NO_PREVIEW = ASSETS / "no-preview.png"
PRIVATE = private_mode_from_env()
EXAMPLES = Path(os.environ.get("MOTION_INVERSION_EXAMPLES") or ASSETS / "example-motions")

# On a small GPU, MOTION_INVERSION_OFFLOAD=1 keeps the text encoder and VAE in CPU memory between their calls.
OFFLOAD = os.environ.get("MOTION_INVERSION_OFFLOAD", "0").lower() in ("1", "true", "yes")


def cpu_threads() -> int:
    """torch threads for a server without a GPU: MOTION_INVERSION_THREADS, else one less than the cores it may use
    (at least 1). Measured on a 2-core machine with another process busy: a toy UNet forward took 14 s at 2 threads
    and 0.19 s at 1 (threads that wait for a core spin); alone, 2 threads are at most 2x faster than 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, int(os.environ.get("MOTION_INVERSION_THREADS") or cores - 1))


if not torch.cuda.is_available():
    torch.set_num_threads(cpu_threads())

studio = Studio(
    Libraries(default_library_dir(), PRIVATE, EXAMPLES, anonymous_days_from_env(), *quotas_from_env()),
    scratch=Scratch(Path(get_upload_folder()) / "motion-inversion"),  # in Gradio's cache: results are not copied
    offload=OFFLOAD,
)
visitors = Visitors(browser_secret(studio.libraries.root))  # signs anonymous visitors' ids


def default_steps(model_name: str) -> int:
    """The model's inversion steps (its recipe in the registry), or the paper's 400 for other models."""
    return REGISTRY[model_name].invert_steps if model_name in REGISTRY else REGISTRY["zeroscope"].invert_steps


def fail(error: Exception):
    """Show a library error to the user as one readable line."""
    raise gr.Error(str(error), print_exception=False) from error


MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")  # emphasis, code, links, tables; html.escape does the tags


def as_text(text: object) -> str:
    """A string from a file or a visitor, for a Markdown component: shown as the characters it is, never as HTML
    or Markdown (a shared motion's prompt may hold either)."""
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(str(text), quote=False))


def in_place(handler: Callable, status: int, outputs: int) -> Callable:
    """The page's version of `handler`: a refusal (gr.Error) shows as a toast and in the action's own status line
    (output number `status`) and leaves every other output as it was, so no component turns into an error badge.
    API clients call `handler` itself, which raises, so their call fails with the message."""

    def refusal(error: gr.Error) -> tuple:
        gr.Warning(error.message)
        return tuple(f"⚠️ {as_text(error.message)}" if index == status else gr.skip() for index in range(outputs))

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)  # the same parameters: Gradio still injects the request, profile and progress
        def page_generator(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except gr.Error as error:
                yield refusal(error)

        return page_generator

    @functools.wraps(handler)
    def page_function(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error as error:
            return refusal(error)

    return page_function


# -- who is asking ----------------------------------------------------------------------------------------------------
def owner_of(request: gr.Request, profile: gr.OAuthProfile | None) -> str:
    """The library owner of a request: everyone shares one locally; on a Space, the signed-in user, else the
    browser's anonymous id, else (an API client) its session."""
    if not PRIVATE:
        return ""
    return visitors.owner(request.session_hash, profile.username if profile else None)


def shown(path: Path | None) -> str | None:
    """A library file as the page may get it: in private mode a handed-out copy (the library is not served)."""
    if path is None:
        return None
    return str(studio.scratch.hand_out(path) if PRIVATE else path)


def tidy() -> None:
    """Keep Gradio's cache within MAX_TEMP_FILES files and drop anonymous libraries left idle too long."""
    prune([Path(demo.GRADIO_CACHE)], MAX_TEMP_FILES, MAX_TEMP_BYTES)  # uploads, results and handed-out copies
    studio.libraries.clean_idle()


# -- library views ----------------------------------------------------------------------------------------------------
def gallery_items(owner: str = "") -> list[tuple[str, str]]:
    # imported motions come without their source clip: they get a placeholder picture
    entries = studio.libraries.entries(owner)
    # the name alone: a cell is 140 px wide, the details under the gallery give the rest
    return [(shown(e.thumbnail) or str(NO_PREVIEW), name) for name, e in entries]


def library_views(owner: str = "", selected: str | None = None):
    """Fresh gallery, library picker and generation picker (the three show the same library)."""
    names = studio.libraries.names(owner)
    selected = selected if selected in names else (names[0] if names else None)
    return (
        gallery_items(owner),
        gr.update(choices=names, value=selected),
        gr.update(choices=[NO_MOTION, *names], value=selected or NO_MOTION),
    )


def pick_from_gallery(event: gr.SelectData, request: gr.Request, profile: gr.OAuthProfile | None):
    """A click on a thumbnail selects that motion for details and for generation (the gallery lists the names in
    the pickers' order)."""
    names = studio.libraries.names(owner_of(request, profile))
    if not 0 <= event.index < len(names):
        return gr.skip(), gr.skip()
    return gr.update(value=names[event.index]), gr.update(value=names[event.index])


def identify(browser_id: str, request: gr.Request, profile: gr.OAuthProfile | None):
    """On page load: tie this page to its visitor's library (private mode), then show that library."""
    if PRIVATE and profile is None:
        browser_id = visitors.arrive(request.session_hash, browser_id or "")
    return browser_id, *library_views(owner_of(request, profile))


def leave(request: gr.Request):
    """The tab was closed: its jobs stop at their next step, its waiting ones are dropped."""
    studio.jobs.forget(request.session_hash)
    visitors.leave(request.session_hash)


def show_motion(name: str | None, request: gr.Request, profile: gr.OAuthProfile | None):
    """Details, source clip, download file and motion picture (its point tracks) of the chosen motion."""
    if not name:
        return "The library is empty: learn a motion above, or import one.", None, gr.update(value=None), None
    owner = owner_of(request, profile)
    try:
        entry = studio.libraries.entry(owner, name)
        picture = studio.motion_picture(owner, name)
    except MotionInversionError as error:
        return as_text(error), None, gr.update(value=None), None
    meta = entry.metadata
    details = (
        f"**{as_text(entry.name)}**: {as_text(entry.summary)}  \n"
        f"learned for {meta['steps']} steps (loss {float(meta['loss'] or 'nan'):.4f})"
        + (f" · caption: *{as_text(meta['prompt'])}*" if meta.get("prompt") else "")
    )
    return details, shown(entry.preview), gr.update(value=shown(entry.path)), str(picture) if picture else None


def list_motions(request: gr.Request, profile: gr.OAuthProfile | None) -> list[dict]:
    """Every motion you can use: name, base model, frames, width, height, steps, created date (yours, then the
    read-only examples, named examples/...)."""
    keys = ("base_model", "num_frames", "width", "height", "steps", "created_at", "prompt")
    entries = studio.libraries.entries(owner_of(request, profile))
    return [{"name": name, **{k: e.metadata.get(k, "") for k in keys}} for name, e in entries]


def download_motion(name: str, request: gr.Request, profile: gr.OAuthProfile | None) -> str:
    """The .safetensors file of one of your motions (or an example)."""
    try:
        return shown(studio.libraries.entry(owner_of(request, profile), name).path)
    except MotionInversionError as error:
        fail(error)


# -- learning ---------------------------------------------------------------------------------------------------------
# Each step's loss is taken at a random timestep and swings several-fold from one step to the next; the mean of the
# last 20 steps (10% of the toy model's 200) is what shows a creator whether it is learning.
LOSS_WINDOW = 20
LOSS_SERIES = {"smoothed (mean of 20 steps)": "#3b5bdb", "each step": "#d0d4dc"}  # the raw curve faintly


def loss_frame(history: list[tuple[int, float]]) -> pd.DataFrame:
    """The loss plot's data: each step's loss and its running mean, as two series."""
    steps = pd.Series([step for step, _ in history], dtype="int64")
    losses = pd.Series([loss for _, loss in history], dtype="float64")  # explicit dtypes: an empty frame would
    smoothed = losses.rolling(LOSS_WINDOW, min_periods=1).mean()  # otherwise plot as categories
    raw_name, smooth_name = list(LOSS_SERIES)[1], list(LOSS_SERIES)[0]
    return pd.concat([
        pd.DataFrame({"step": steps, "loss": losses, "series": raw_name}),
        pd.DataFrame({"step": steps, "loss": smoothed, "series": smooth_name}),
    ], ignore_index=True)  # fmt: skip


def line_up(kind: str, request: gr.Request, profile: gr.OAuthProfile | None):
    """Before a job joins the queue: register it and say where the visitor stands and how long the wait is."""
    job = studio.jobs.open(kind, owner_of(request, profile), request.session_hash)
    ahead, wait = studio.jobs.ahead_of(job)
    if ahead == 0:
        return "Starting…", job.id
    jobs = f"{ahead} job{'s' if ahead > 1 else ''} ahead of you"
    if wait is None:
        return f"Waiting: {jobs} (the wait is estimated once such a job has finished here).", job.id
    return f"Waiting: {jobs} · about {wait:.0f} s (from the last jobs' times).", job.id


def line_up_learning(request: gr.Request, profile: gr.OAuthProfile | None):
    return line_up("learn", request, profile)


def line_up_generation(request: gr.Request, profile: gr.OAuthProfile | None):
    return line_up("generate", request, profile)


def follow(job: Job, work: Callable[[Callable], object], show: Callable[[list], tuple | None]) -> Iterator:
    """Run `work(report)` in a thread and yield `show(reports)` as reports come (a few page updates a second);
    returns what `work` returned. If the visitor leaves (Gradio closes this generator) or the work fails, the
    job is asked to stop at its next step."""
    reports: queue.Queue = queue.Queue()
    outcome: dict = {}
    done = object()

    def target():
        try:
            outcome["result"] = work(reports.put)
        except Exception as error:  # re-raised below, in the request's thread
            outcome["error"] = error
        finally:
            reports.put(done)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        finished = False
        while not finished:
            items = [reports.get()]
            time.sleep(0.25)  # at most a few page updates per second, however fast the steps are
            while not reports.empty():
                items.append(reports.get_nowait())
            finished = items[-1] is done
            update = show([item for item in items if item is not done])
            if update is not None and not finished:
                yield update
    finally:
        if thread.is_alive():
            job.stop_requested.set()
    if "error" in outcome:
        if isinstance(outcome["error"], MotionInversionError):
            fail(outcome["error"])
        raise outcome["error"]
    return outcome["result"]


def discard_upload(path: str | None) -> None:
    """Delete an uploaded file that was refused, if it is one of Gradio's uploads (never any other file)."""
    if not path:
        return
    uploads, target = Path(get_upload_folder()).resolve(), Path(path).resolve()
    if uploads in target.parents and target.is_file():
        target.unlink(missing_ok=True)


@gpu
def learn(clip, name, caption, model_name, steps, loss, seed, start, end, sampling, fit, ticket, request: gr.Request,
          profile: gr.OAuthProfile | None, progress=gr.Progress()):  # fmt: skip
    """Learn the clip's motion into the visitor's library, streaming progress; Stop keeps what was learned so far.
    The frames learned are the part start-end (seconds; 0: the end) sampled as `sampling` says (sampling.py)."""
    owner = owner_of(request, profile)
    job = studio.jobs.claim(ticket, "learn", owner, request.session_hash)
    selection = dict(start=start or 0, end=end or None, sampling=sampling or "auto", fit=fit or "crop")
    try:  # refused before the first page update (studio.learn checks the same, later, for other callers)
        with studio.jobs.admitting(job):
            steps, seed = check("steps", steps), check("seed", seed)  # the library's ranges (limits.py)
            selection.update(start=check("start", selection["start"]))
            selection.update(end=None if selection["end"] is None else check("end", selection["end"]))
            try:
                plan = studio.plan(clip, model_name, **selection).description
            except MotionInversionError:
                discard_upload(clip)  # not a usable clip (not a video, damaged, too long): nothing will read it
                raise
            library = studio.library(owner)
            if name and name.strip():
                library.check_new_name(name)
    except MotionInversionError as error:
        fail(error)
    history, started, total = [], time.time(), int(steps)
    first_step_at = None

    def work(report):
        return studio.learn(
            clip, name or "", caption or "", model_name, steps, loss, seed, owner=owner, job=job,
            on_progress=report, **selection,
        )  # fmt: skip

    def show(updates: list[Progress]):
        nonlocal first_step_at
        for update in updates:
            if update.stage == "learning":
                history.append((update.step, update.loss))
                first_step_at = first_step_at or (time.time(), update.step)
        if not updates:
            return None
        latest = updates[-1]
        if latest.stage != "learning":  # preparing (no estimate yet) or saving
            progress((latest.step, latest.total) if latest.total > 1 else None, desc=latest.describe())
            return f"{latest.describe()}…  \n{plan}", loss_frame(history), gr.skip(), gr.skip(), gr.skip()
        progress((latest.step, total), desc="learning the motion", unit="steps")
        status = f"step {latest.step} / {total} · loss {latest.loss:.4f}"
        timed = latest.step - first_step_at[1]
        if timed >= 3:  # the time left is shown once it can be estimated (saving takes well under a step)
            status += f" · about {(time.time() - first_step_at[0]) / timed * (total - latest.step):.0f} s left"
        return f"{status}  \n{plan}", loss_frame(history), gr.skip(), gr.skip(), gr.skip()

    yield f"Loading **{model_name}**…  \n{plan}", loss_frame(history), gr.skip(), gr.skip(), gr.skip()
    try:
        entry = yield from follow(job, work, show)
    finally:
        tidy()
    stopped = int(entry.metadata["steps"]) < total
    status = (
        f"Saved **{entry.name}** to your library after {entry.metadata['steps']} steps"
        + (" (stopped early: what was learned so far is kept)" if stopped else "")
        + f" in {time.time() - started:.0f} s."
    )
    yield status, loss_frame(history), *library_views(owner, entry.name)


def preview_learning(clip, model_name, start, end, sampling, fit):
    """What the model will learn from this clip with these settings: the frames (8 per row) and one line."""
    if not clip:
        return None, ""
    try:
        planned = studio.plan(clip, model_name, float(start or 0), float(end or 0) or None, sampling, fit)
    except MotionInversionError as error:
        return None, f"⚠️ {error}"
    frames = planned.frames
    scale = max(1, 96 // frames.shape[1])  # tiny toy frames are enlarged (pixels kept sharp)
    frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    rows = [frames[i : i + 8] for i in range(0, len(frames), 8)]
    rows = [np.concatenate(list(row) + [np.zeros_like(row[0])] * (8 - len(row)), axis=1) for row in rows]
    return np.concatenate(rows, axis=0), planned.description


def stop(request: gr.Request, profile: gr.OAuthProfile | None):
    """Stop every running or waiting job of this visitor, from whichever of their tabs."""
    stopped = studio.request_stop(owner_of(request, profile))
    if not stopped:
        return "Nothing of yours is running."
    return f"Stopping after the current step (fewer than {MIN_STEPS_TO_KEEP} learning steps are not saved)…"


# -- library actions --------------------------------------------------------------------------------------------------
def rename(name, new_name, request: gr.Request, profile: gr.OAuthProfile | None):
    owner = owner_of(request, profile)
    try:
        entry = studio.libraries.own_library(owner, name or "").rename(name, new_name)
    except MotionInversionError as error:
        fail(error)
    return f"Renamed to **{entry.name}**.", *library_views(owner, entry.name)


def delete(name, request: gr.Request, profile: gr.OAuthProfile | None):
    owner = owner_of(request, profile)
    try:
        studio.libraries.own_library(owner, name or "").delete(name)
    except MotionInversionError as error:
        fail(error)
    return f"Deleted **{name}**.", *library_views(owner), gr.update(visible=False)


def copy_example(name, request: gr.Request, profile: gr.OAuthProfile | None):
    owner = owner_of(request, profile)
    try:
        entry = studio.libraries.copy_example(owner, name or "")
    except MotionInversionError as error:
        fail(error)
    return f"Copied to your library as **{entry.name}**.", *library_views(owner, entry.name)


def import_motion(file, request: gr.Request, profile: gr.OAuthProfile | None):
    if not file:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    owner = owner_of(request, profile)
    try:
        entry = studio.library(owner).import_file(file, Path(file).stem)
    except MotionInversionError as error:
        fail(error)
    finally:
        tidy()
    return f"Imported **{entry.name}**.", *library_views(owner, entry.name)


# -- generating -------------------------------------------------------------------------------------------------------
# subject_at defaults to None so that API clients may leave it out (Gradio: a None default makes it optional)
def generating(motion_name, prompt, negative_prompt, motion_type, strength, seed, steps, guidance, compare,
               start_image, subject_at=None, ticket="", request: gr.Request = None,
               profile: gr.OAuthProfile | None = None, progress=gr.Progress()):  # fmt: skip
    """A video from the prompt, moving like the chosen motion; with `compare`, also the plain model's video.
    `start_image` (optional; models trained for it) is the first frame of both; `subject_at` ("x, y" fractions of
    it, or empty) where its subject stands, for an object motion to start there. Yields status lines while it
    works, then (video, baseline video or None, motion match line)."""
    owner = owner_of(request, profile)
    motion_name = None if motion_name in (None, "", NO_MOTION) else motion_name
    names = [motion_name] + ([None] if compare and motion_name else [])
    job = studio.jobs.claim(ticket, "generate", owner, request.session_hash)
    first_step_at = None

    def work(report):
        videos = []
        with studio.jobs.run(job):  # one job for both videos of a comparison
            for index, name in enumerate(names):
                videos.append(str(studio.generate(  # 0 steps or guidance: the model's; numbers checked by the library
                    name, prompt, negative_prompt or "", motion_type, strength, seed, steps or None,
                    guidance or None, model_name=DEFAULT_MODEL, owner=owner, job=job, image=start_image or None,
                    subject_at=subject_at or None, on_progress=lambda update, done=index: report((done, update)),
                )))  # fmt: skip
        return videos

    def show(updates):
        nonlocal first_step_at
        if not updates:
            return None
        video, latest = updates[-1]
        if latest.stage != "sampling":
            progress(None, desc=latest.describe())
            return f"{latest.describe()}…"
        step, total = video * latest.total + latest.step, latest.total * len(names)
        first_step_at = first_step_at or (time.time(), step)
        progress((step, total), desc="generating", unit="steps")
        status = f"step {step} / {total}"
        if step - first_step_at[1] >= 2:
            status += (
                f" · about {(time.time() - first_step_at[0]) / (step - first_step_at[1]) * (total - step):.0f} s left"
            )
        return status

    try:
        videos = yield from follow(job, work, show)
        match = match_line(owner, motion_name, videos) if motion_name else ""
    finally:
        tidy()
    yield videos[0], videos[1] if len(videos) > 1 else None, match


def match_line(owner: str, motion_name: str, videos: list[str]) -> str:
    """How well each video moves like the motion's reference clip, in one line (motion_match.py)."""
    matches = [studio.motion_match(owner, motion_name, video) for video in videos]
    if matches[0] is None:
        return "This motion has no reference clip (imported without one), so no motion match."
    line = f"Motion match with the reference clip: **{matches[0].score:.2f}** ({matches[0].reading('this video')})"
    if len(matches) > 1:
        line += f" · without the motion: **{matches[1].score:.2f}**"
    return line


def make_comparison(motion_name, video, baseline_video, request: gr.Request, profile: gr.OAuthProfile | None):
    """The reference clip, the video with the motion and (if made) the one without, side by side with their
    motion match: [mp4, GIF]."""
    try:
        paths = studio.comparison(owner_of(request, profile), motion_name, video, baseline_video)
    except MotionInversionError as error:
        fail(error)
    return [str(path) for path in paths]


def make_comparison_on_page(motion_name, video, baseline_video, request: gr.Request,
                            profile: gr.OAuthProfile | None):  # fmt: skip
    """The page's comparison: a status line, then the files."""
    return "", make_comparison(motion_name, video, baseline_video, request, profile)


@gpu
@functools.wraps(generating)  # the same parameters: Gradio injects the request, profile and progress by them
def generate(*args, **kwargs):
    """The API's generation: (video, baseline video or None); progress goes to Gradio's progress bar."""
    for update in generating(*args, **kwargs):
        if isinstance(update, tuple):
            yield update


@gpu
@functools.wraps(generating)
def generate_on_page(*args, **kwargs):
    """The page's generation: its status line (progress, then refusals in place), then the videos, their motion
    match, the motion they used and an emptied comparison."""
    motion_name = args[0] if args[0] not in (None, "", NO_MOTION) else None
    for update in generating(*args, **kwargs):
        if isinstance(update, str):
            yield update, *[gr.skip()] * 5
        else:  # the motion used, for "Download comparison"; the files of an earlier comparison go
            yield "", *update, motion_name, None


def preview_start(image, motion_name, subject_at, request: gr.Request, profile: gr.OAuthProfile | None):
    """The start image fitted to the video's size (centre crop, as clips), shown before generating, with a cross
    where its subject is marked."""
    if not image:
        return None
    motion_name = None if motion_name in (None, "", NO_MOTION) else motion_name
    try:
        return str(studio.fitted_image(image, motion_name, DEFAULT_MODEL, owner_of(request, profile),
                                       subject_at=subject_at or None))  # fmt: skip
    except MotionInversionError as error:
        fail(error)


def preview_new_start(image, motion_name, request: gr.Request, profile: gr.OAuthProfile | None):
    """A new start image: its fitted preview with a cross where its subject is guessed to stand, and that place for
    Generate ("" when nothing stands out); a click on the preview corrects it."""
    if not image:
        return None, ""
    motion_name = None if motion_name in (None, "", NO_MOTION) else motion_name
    try:
        guess = studio.guessed_subject(image, motion_name, DEFAULT_MODEL, owner_of(request, profile))
    except MotionInversionError as error:
        fail(error)
    subject_at = "" if guess is None else f"{guess[0]:.3f}, {guess[1]:.3f}"
    return preview_start(image, motion_name, subject_at, request, profile), subject_at


def mark_subject(image, motion_name, request: gr.Request, profile: gr.OAuthProfile | None, event: gr.SelectData):
    """A click on the fitted start image: where its subject stands ("x, y" fractions, for Generate) and the
    preview with a cross there."""
    if not image:
        return gr.skip(), gr.skip()
    motion_name = None if motion_name in (None, "", NO_MOTION) else motion_name
    owner = owner_of(request, profile)
    try:
        height, width = studio.video_size(motion_name, DEFAULT_MODEL, owner)
        x, y = event.index  # pixels of the fitted image
        at = (min((x + 0.5) / width, 1.0), min((y + 0.5) / height, 1.0))
        return f"{at[0]:.3f}, {at[1]:.3f}", str(studio.fitted_image(image, motion_name, DEFAULT_MODEL, owner,
                                                                  subject_at=at))  # fmt: skip
    except MotionInversionError as error:
        fail(error)


def random_seed() -> int:
    return random.randrange(2**31)


# -- the page ---------------------------------------------------------------------------------------------------------
# in private mode the page is empty until it loads and says whose it is
initial_names = [] if PRIVATE else studio.libraries.names()

with gr.Blocks(title="motion-inversion", delete_cache=(3600, 86400)) as demo:
    gr.Markdown(
        "# motion-inversion\nLearn how a short clip **moves**, keep it in your library, and make new videos of new "
        "subjects that move the same way."
        + ("\n\nYour library is private: sign in with Hugging Face to keep it across browsers; without signing in "
           "it stays in this browser for a few days." if PRIVATE else "")
    )  # fmt: skip
    # anonymous visitors' library id, kept in their browser and signed by the server (owners.Visitors); Gradio's
    # encryption key is public (sent to the page), so it is only fixed here so that the browser's value stays
    # readable after a restart
    browser_id = gr.BrowserState("", storage_key="motion-inversion-visitor", secret="motion-inversion-visitor")
    if os.environ.get("SPACE_ID"):
        gr.LoginButton()  # Hugging Face sign-in (the Space's README enables hf_oauth)
    learn_ticket, generate_ticket = gr.State(""), gr.State("")
    with gr.Group():
        gr.Markdown("## 1. Learn a motion")
        with gr.Row():
            with gr.Column():
                clip = gr.Video(
                    label="Clip to learn from (trim it in the player)",
                    sources=["upload"],
                    height=260,
                    elem_id="learn-clip",
                )
                learn_preview = gr.Image(
                    label="What the model will learn", interactive=False, height=120, elem_id="learn-preview"
                )
                learn_plan = gr.Markdown(elem_id="learn-plan")
                # the toy Wan takes 1 + 4k frames: its own samples, the same motions at 9 frames (toy/clips.py)
                for folder in SAMPLE_FRAMES:
                    samples = sorted(str(p) for p in (ASSETS / folder).glob("*.mp4"))
                    if samples:
                        label = "Sample clips" + ("" if folder == "samples" else f" for {Path(folder).name}")
                        gr.Examples(
                            [[p] for p in samples], inputs=[clip], label=label,
                            example_labels=[Path(p).stem.replace("-", " ") for p in samples],
                        )  # fmt: skip
            with gr.Column():
                motion_name = gr.Textbox(
                    label="Name in the library", placeholder="default: the clip's file name", elem_id="learn-name"
                )
                caption = gr.Textbox(label="Caption (optional)", placeholder="what the clip shows, e.g. a red circle")
                model_choice = gr.Dropdown(
                    list(dict.fromkeys([*REGISTRY, DEFAULT_MODEL])), value=DEFAULT_MODEL, label="Base model",
                    allow_custom_value=True,
                    info="toy runs anywhere; the others need their weights (downloaded on first use) and a GPU; "
                    "a Hub id or a local pipeline folder also works", elem_id="learn-model",
                )  # fmt: skip
                with gr.Accordion("Advanced", open=False):
                    steps = gr.Slider(1, MAX_STEPS, value=default_steps(DEFAULT_MODEL), step=1,
                                      label="Training steps", elem_id="learn-steps")  # fmt: skip
                    loss = gr.Radio(["base", "debiased"], value="base", label="Loss")
                    learn_seed = gr.Number(value=0, precision=0, label="Seed")
                    with gr.Row():
                        clip_start = gr.Number(value=0, label="From (s)", minimum=0)
                        clip_end = gr.Number(value=0, label="To (s; 0: the end)", minimum=0)
                    sampling = gr.Radio(
                        list(SAMPLING_MODES), value="auto", label="Frames to learn",
                        info="auto: the whole part when it is up to 4x the model's span, else the model's frame rate "
                        "from its start · whole · model-fps · every-frame",
                    )  # fmt: skip
                    fit = gr.Radio(list(FIT_MODES), value="crop", label="Fit to the model's size")
                with gr.Row():
                    start_button = gr.Button("Start learning", variant="primary")
                    stop_button = gr.Button("Stop")
                learn_status = gr.Markdown(elem_id="learn-status")
                loss_plot = gr.LinePlot(
                    loss_frame([]), x="step", y="loss", color="series", color_map=LOSS_SERIES, title="Loss", height=200
                )

    with gr.Group():
        gr.Markdown("## 2. Library")
        gallery = gr.Gallery(
            [] if PRIVATE else gallery_items(),
            label="Your motions, then the examples (click one to select it)",
            columns=10,
            height=340,  # two rows of thumbnails (PAGE_CSS keeps them small), then it scrolls
            allow_preview=False,
            object_fit="contain",
            elem_id="library-gallery",
        )
        with gr.Row():
            with gr.Column():
                # custom values: API clients name motions the page has not listed to them; handlers check them
                library_choice = gr.Dropdown(
                    initial_names, label="Motion", interactive=True, allow_custom_value=True, elem_id="library-choice"
                )
                details = gr.Markdown()
                with gr.Row():
                    download = gr.DownloadButton("Download .safetensors")
                    copy_button = gr.Button("Copy example to my library")
                download_api = gr.Button(visible=False)  # the /download API: a motion's file by its name
                download_file = gr.File(visible=False)
                with gr.Row():
                    new_name = gr.Textbox(label="New name", scale=3)
                    rename_button = gr.Button("Rename", scale=1)
                delete_button = gr.Button("Delete…", variant="stop")
                with gr.Row(visible=False) as confirm_row:
                    confirm_button = gr.Button("Yes, delete it", variant="stop")
                    cancel_button = gr.Button("Keep it")
                library_status = gr.Markdown(elem_id="library-status")  # copy, rename and delete say here
                import_file = gr.File(label="Import a motion (.safetensors)", file_types=[".safetensors"])
                import_status = gr.Markdown(elem_id="import-status")
            with gr.Column():
                preview = gr.Video(label="Source clip", interactive=False, height=220)
                motion_picture = gr.Image(
                    label="What moves in it (point tracks, brighter towards the end; this is what gets transferred)",
                    interactive=False, height=220, elem_id="motion-picture",
                )  # fmt: skip

    with gr.Group():
        gr.Markdown("## 3. Generate")
        with gr.Row():
            with gr.Column():
                generate_choice = gr.Dropdown(
                    [NO_MOTION, *initial_names], value=NO_MOTION, label="Motion", allow_custom_value=True,
                    elem_id="generate-choice",
                )  # fmt: skip
                prompt = gr.Textbox(label="Prompt", placeholder="e.g. a pink square", elem_id="generate-prompt")
                negative_prompt = gr.Textbox(label="Negative prompt")
                motion_type = gr.Radio(
                    list(MOTION_TYPE_HELP), value="object", label="Motion type",
                    info=" · ".join(f"{k}: {v}" for k, v in MOTION_TYPE_HELP.items()),
                )  # fmt: skip
                default_strength = REGISTRY[DEFAULT_MODEL].strength if DEFAULT_MODEL in REGISTRY else 1.0
                strength = gr.Slider(0, 2, value=default_strength, step=0.05, label="Motion strength")
                with gr.Row():
                    seed = gr.Number(value=0, precision=0, label="Seed", scale=3)
                    randomise = gr.Button("🎲 Randomise", scale=1)
                with gr.Accordion("Advanced", open=False):
                    sample_steps = gr.Number(
                        value=0, precision=0, label="Sampling steps (0: the model's default)", elem_id="generate-steps"
                    )
                    guidance = gr.Number(value=0, label="Guidance (0: the model's default)")
                with gr.Row():
                    start_image = gr.Image(
                        type="filepath", label="Start from this image (optional; models trained for it: toy-wan, "
                        "wan2.2-5b)", height=160, elem_id="start-image",
                    )  # fmt: skip
                    fitted_start = gr.Image(
                        label="The first frame, as fitted: click your subject", height=160, interactive=False,
                        elem_id="fitted-start",
                    )  # fmt: skip
                subject_at = gr.Textbox(
                    label="Your subject is at (x, y)", placeholder="click it in the fitted image; empty: not marked",
                    info="guessed when an image comes (the cross): click your subject to correct it. An object "
                    "motion starts from there, not from where the clip's subject stood",
                    elem_id="subject-at",
                )  # fmt: skip
                compare = gr.Checkbox(label="Also generate without the motion (same seed), side by side")
                with gr.Row():
                    generate_button = gr.Button("Generate", variant="primary")
                    stop_generate_button = gr.Button("Stop")
                generate_status = gr.Markdown(elem_id="generate-status")
            with gr.Column():
                with gr.Row():  # side by side: the comparison is the point
                    video = gr.Video(label="With the motion", interactive=False, height=260, elem_id="generated-video")
                    baseline_video = gr.Video(label="Without the motion", interactive=False, height=260)
                match = gr.Markdown(elem_id="motion-match")
                # the motion of the videos shown, for the comparison (a hidden textbox: API clients name it)
                generated_with = gr.Textbox(visible=False)
                comparison_button = gr.Button("Download comparison (mp4 and GIF, side by side)")
                comparison_status = gr.Markdown(elem_id="comparison-status")
                comparison_files = gr.File(
                    label="Comparison", file_count="multiple", interactive=False, elem_id="comparison-files"
                )

    library_outputs = [gallery, library_choice, generate_choice]
    motion_views = [details, preview, download, motion_picture]
    gpu_queue = dict(concurrency_limit=1, concurrency_id="gpu")  # one GPU job at a time, everyone else waits

    def page_and_api(trigger, handler, inputs, outputs, api_name, page_outputs=None, page_handler=None, **options):
        """The page's event (refusals in place, see in_place) and, on a hidden trigger, the API endpoint."""
        page_outputs = page_outputs or outputs
        page_handler = in_place(page_handler or handler, 0, len(page_outputs))
        trigger(
            page_handler, inputs, page_outputs, api_name=f"{api_name}_on_page", api_visibility="private", **options
        )
        gr.Button(visible=False).click(handler, inputs, outputs, api_name=api_name, **options)

    # the queue: first a quick, unqueued word on the visitor's place in line, then the job itself
    lined_up = dict(concurrency_limit=None, api_visibility="private")
    selection = [clip_start, clip_end, sampling, fit]
    learn_inputs = [clip, motion_name, caption, model_choice, steps, loss, learn_seed, *selection, learn_ticket]
    gr.on(
        [clip.change, model_choice.change, *(c.change for c in selection[:2]), sampling.change, fit.change],
        preview_learning, [clip, model_choice, *selection], [learn_preview, learn_plan], api_visibility="private",
        concurrency_limit=None,
    )  # fmt: skip
    learning_lined_up = start_button.click(line_up_learning, None, [learn_status, learn_ticket], **lined_up)
    page_and_api(
        learning_lined_up.then, learn, learn_inputs, [learn_status, loss_plot, *library_outputs], "invert", **gpu_queue
    )
    stop_button.click(stop, None, learn_status, api_name="stop", concurrency_limit=None)
    stop_generate_button.click(stop, None, generate_status, api_visibility="private", concurrency_limit=None)
    model_choice.change(default_steps, model_choice, steps, api_visibility="private")
    library_choice.change(show_motion, library_choice, motion_views, api_visibility="private")
    gallery.select(pick_from_gallery, None, [library_choice, generate_choice], api_visibility="private")
    page_and_api(copy_button.click, copy_example, library_choice, [library_status, *library_outputs], "copy_example")
    download_api.click(download_motion, library_choice, download_file, api_name="download")
    page_and_api(rename_button.click, rename, [library_choice, new_name], [library_status, *library_outputs], "rename")
    delete_button.click(lambda: gr.update(visible=True), None, confirm_row, api_visibility="private")
    cancel_button.click(lambda: gr.update(visible=False), None, confirm_row, api_visibility="private")
    page_and_api(confirm_button.click, delete, library_choice, [library_status, *library_outputs, confirm_row],
                 "delete")  # fmt: skip
    page_and_api(import_file.upload, import_motion, import_file, [import_status, *library_outputs], "import_motion")
    randomise.click(random_seed, None, seed, api_visibility="private")
    start_image.change(preview_new_start, [start_image, generate_choice], [fitted_start, subject_at],
                       api_visibility="private")  # fmt: skip
    for changed in (generate_choice.change, subject_at.submit):  # another motion's size; a place typed in
        changed(preview_start, [start_image, generate_choice, subject_at], fitted_start, api_visibility="private")
    fitted_start.select(mark_subject, [start_image, generate_choice], [subject_at, fitted_start],
                        api_visibility="private")  # fmt: skip
    generate_inputs = [generate_choice, prompt, negative_prompt, motion_type, strength, seed, sample_steps, guidance,
                       compare, start_image, subject_at, generate_ticket]  # fmt: skip
    generation_lined_up = generate_button.click(
        line_up_generation, None, [generate_status, generate_ticket], **lined_up
    )
    page_and_api(
        generation_lined_up.then, generate, generate_inputs, [video, baseline_video, match], "generate",
        page_handler=generate_on_page,
        page_outputs=[generate_status, video, baseline_video, match, generated_with, comparison_files], **gpu_queue,
    )  # fmt: skip
    # comparisons are CPU work beside the GPU queue; two at a time keep a busy Space responsive
    page_and_api(
        comparison_button.click, make_comparison, [generated_with, video, baseline_video], comparison_files,
        "compare", page_handler=make_comparison_on_page, page_outputs=[comparison_status, comparison_files],
        concurrency_limit=2, concurrency_id="comparisons",
    )  # fmt: skip
    gr.api(list_motions, api_name="list_motions")
    demo.load(identify, browser_id, [browser_id, *library_outputs], api_visibility="private").then(
        show_motion, library_choice, motion_views, api_visibility="private"
    )
    demo.unload(leave)

demo.queue(max_size=MAX_QUEUE, default_concurrency_limit=1)


def launch(**kwargs):
    """Start the server. It serves the assets and, for local use only, the library folder; in private mode library
    files reach a page only as copies handed out by the handlers."""
    studio.libraries.root.mkdir(parents=True, exist_ok=True)
    tidy()
    allowed = [str(ASSETS)] + ([] if PRIVATE else [str(studio.libraries.root)])
    return demo.launch(allowed_paths=allowed, max_file_size=MAX_UPLOAD, css=PAGE_CSS, **kwargs)


if __name__ == "__main__":
    launch()
