"""motion-inversion web app: learn a motion from a clip, keep a library of motions, generate videos that move alike.

A thin Gradio view over `motion_inversion.studio.Studio`. Run `python app.py` (GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT are honoured). GPU work (learning, generating) goes through one queue, one job at a time.
"""

import os
import queue
import random
import threading
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from motion_inversion.errors import MotionInversionError
from motion_inversion.library import MotionLibrary
from motion_inversion.models import REGISTRY
from motion_inversion.studio import MAX_STEPS, MOTION_TYPE_HELP, Studio

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
NO_MOTION = "(none: plain model)"
NO_PREVIEW = ASSETS / "no-preview.png"

studio = Studio(MotionLibrary())


def default_steps(model_name: str) -> int:
    """The model's inversion steps (its recipe in the registry), or the paper's 400 for other models."""
    return REGISTRY[model_name].invert_steps if model_name in REGISTRY else REGISTRY["zeroscope"].invert_steps


def fail(error: Exception):
    """Show a library error to the user as one readable line."""
    raise gr.Error(str(error), print_exception=False) from error


# -- library views ----------------------------------------------------------------------------------------------------
def gallery_items() -> list[tuple[str, str]]:
    # imported motions come without their source clip: they get a placeholder picture
    return [(str(e.thumbnail or NO_PREVIEW), f"{e.name}\n{e.summary}") for e in studio.library.entries()]


def library_views(selected: str | None = None):
    """Fresh gallery, library picker and generation picker (the three show the same library)."""
    names = studio.library.names()
    selected = selected if selected in names else (names[0] if names else None)
    return (
        gallery_items(),
        gr.update(choices=names, value=selected),
        gr.update(choices=[NO_MOTION, *names], value=selected or NO_MOTION),
    )


def show_motion(name: str | None):
    """Details, preview clip and download file of the chosen motion."""
    if not name:
        return "The library is empty: learn a motion above, or import one.", None, gr.update(value=None)
    try:
        entry = studio.library.entry(name)
    except MotionInversionError as error:
        return str(error), None, gr.update(value=None)
    meta = entry.metadata
    details = (
        f"**{entry.name}**: {entry.summary}  \n"
        f"learned for {meta['steps']} steps (loss {float(meta['loss'] or 'nan'):.4f})"
        + (f" · caption: *{meta['prompt']}*" if meta.get("prompt") else "")
    )
    return details, str(entry.preview) if entry.preview else None, gr.update(value=str(entry.path))


def list_motions() -> list[dict]:
    """Every saved motion: name, base model, frames, width, height, steps, created date."""
    keys = ("base_model", "num_frames", "width", "height", "steps", "created_at", "prompt")
    return [{"name": e.name, **{k: e.metadata.get(k, "") for k in keys}} for e in studio.library.entries()]


# -- learning ---------------------------------------------------------------------------------------------------------
def loss_frame(history: list[tuple[int, float]]) -> pd.DataFrame:
    steps, losses = zip(*history, strict=True) if history else ((), ())
    # explicit dtypes: an empty frame would otherwise be "object" and plot as categories
    return pd.DataFrame({"step": pd.Series(steps, dtype="int64"), "loss": pd.Series(losses, dtype="float64")})


@gpu
def learn(clip, name, caption, model_name, steps, loss, seed, request: gr.Request, progress=gr.Progress()):
    """Learn the clip's motion into the library, streaming progress; Stop keeps what was learned so far."""
    try:
        studio.check_clip(clip)
    except MotionInversionError as error:
        fail(error)
    updates: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work():
        try:
            outcome["entry"] = studio.learn(
                clip, name or Path(clip).stem, caption or "", model_name, int(steps), loss, int(seed),
                session=request.session_hash, on_step=lambda step, total, value: updates.put((step, total, value)),
            )  # fmt: skip
        except Exception as error:  # reported below, in the request's thread
            outcome["error"] = error
        finally:
            updates.put(None)

    threading.Thread(target=work, daemon=True).start()
    history, started, total = [], time.time(), int(steps)
    yield f"Loading **{model_name}** and reading the clip…", loss_frame(history), gr.skip(), gr.skip(), gr.skip()
    first_step_at, finished = None, False
    while not finished:
        items = [updates.get()]
        time.sleep(0.25)  # at most a few page updates per second, however fast the steps are
        while not updates.empty():
            items.append(updates.get_nowait())
        for item in items:
            if item is None:
                finished = True
            else:
                step, total, value = item
                history.append((step, value))
                first_step_at = first_step_at or (time.time(), step)
        if history and not finished:
            step = history[-1][0]
            progress((step, total), desc="learning the motion", unit="steps")
            seconds_per_step = (time.time() - first_step_at[0]) / max(step - first_step_at[1], 1)
            left = seconds_per_step * (total - step)
            status = f"step {step} / {total} · loss {history[-1][1]:.4f} · about {left:.0f} s left"
            yield status, loss_frame(history), gr.skip(), gr.skip(), gr.skip()
    if "error" in outcome:
        if isinstance(outcome["error"], MotionInversionError):
            fail(outcome["error"])
        raise outcome["error"]
    entry = outcome["entry"]
    stopped = int(entry.metadata["steps"]) < total
    status = (
        f"Saved **{entry.name}** to the library after {entry.metadata['steps']} steps"
        + (" (stopped early: what was learned so far is kept)" if stopped else "")
        + f" in {time.time() - started:.0f} s."
    )
    yield status, loss_frame(history), *library_views(entry.name)


def stop(request: gr.Request):
    studio.request_stop(request.session_hash)
    return "Stopping after the current step…"


# -- library actions --------------------------------------------------------------------------------------------------
def rename(name, new_name):
    try:
        entry = studio.library.rename(name, new_name)
    except MotionInversionError as error:
        fail(error)
    return f"Renamed to **{entry.name}**.", *library_views(entry.name)


def delete(name):
    try:
        studio.library.delete(name)
    except MotionInversionError as error:
        fail(error)
    return f"Deleted **{name}**.", *library_views(), gr.update(visible=False)


def import_motion(file):
    if not file:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    try:
        entry = studio.library.import_file(file, Path(file).stem)
    except MotionInversionError as error:
        fail(error)
    return f"Imported **{entry.name}**.", *library_views(entry.name)


# -- generating -------------------------------------------------------------------------------------------------------
@gpu
def generate(motion_name, prompt, negative_prompt, motion_type, strength, seed, steps, guidance, compare,
             progress=gr.Progress()):  # fmt: skip
    """A video from the prompt, moving like the chosen motion; with `compare`, also the plain model's video."""
    motion_name = None if motion_name in (None, "", NO_MOTION) else motion_name
    jobs = [motion_name] + ([None] if compare and motion_name else [])
    videos = []
    try:
        for index, name in enumerate(jobs):

            def on_step(step, total, done=index):
                progress((done * total + step, total * len(jobs)), desc="generating")

            videos.append(str(studio.generate(
                name, prompt, negative_prompt or "", motion_type, float(strength), int(seed), int(steps) or None,
                float(guidance) or None, model_name=DEFAULT_MODEL, on_step=on_step,
            )))  # fmt: skip
    except MotionInversionError as error:
        fail(error)
    return videos[0], videos[1] if len(videos) > 1 else None


def random_seed() -> int:
    return random.randrange(2**31)


# -- the page ---------------------------------------------------------------------------------------------------------
with gr.Blocks(title="motion-inversion") as demo:
    gr.Markdown(
        "# motion-inversion\nLearn how a short clip **moves**, keep it in your library, and make new videos of new "
        "subjects that move the same way."
    )
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
                samples = sorted(str(p) for p in (ASSETS / "samples").glob("*.mp4"))
                if samples:
                    gr.Examples([[p] for p in samples], inputs=[clip], label="Sample clips")
            with gr.Column():
                motion_name = gr.Textbox(
                    label="Name in the library", placeholder="default: the clip's file name", elem_id="learn-name"
                )
                caption = gr.Textbox(label="Caption (optional)", placeholder="what the clip shows, e.g. a red circle")
                model_choice = gr.Dropdown(
                    list(dict.fromkeys([*REGISTRY, DEFAULT_MODEL])), value=DEFAULT_MODEL, label="Base model",
                    allow_custom_value=True,
                    info="toy runs anywhere; the others need their weights (downloaded on first use) and a GPU; "
                    "a Hub id or a local pipeline folder also works",
                )  # fmt: skip
                with gr.Accordion("Advanced", open=False):
                    steps = gr.Slider(1, MAX_STEPS, value=default_steps(DEFAULT_MODEL), step=1,
                                      label="Training steps", elem_id="learn-steps")  # fmt: skip
                    loss = gr.Radio(["base", "debiased"], value="base", label="Loss")
                    learn_seed = gr.Number(value=0, precision=0, label="Seed")
                with gr.Row():
                    start_button = gr.Button("Start learning", variant="primary")
                    stop_button = gr.Button("Stop")
                learn_status = gr.Markdown(elem_id="learn-status")
                loss_plot = gr.LinePlot(loss_frame([]), x="step", y="loss", title="Loss", height=200)

    with gr.Group():
        gr.Markdown("## 2. Library")
        gallery = gr.Gallery(
            gallery_items(),
            label="Saved motions",
            columns=6,
            height=220,
            allow_preview=False,
            object_fit="contain",
            elem_id="library-gallery",
        )
        with gr.Row():
            with gr.Column():
                library_choice = gr.Dropdown(studio.library.names(), label="Motion", interactive=True)
                details = gr.Markdown()
                download = gr.DownloadButton("Download .safetensors")
                with gr.Row():
                    new_name = gr.Textbox(label="New name", scale=3)
                    rename_button = gr.Button("Rename", scale=1)
                delete_button = gr.Button("Delete…", variant="stop")
                with gr.Row(visible=False) as confirm_row:
                    confirm_button = gr.Button("Yes, delete it", variant="stop")
                    cancel_button = gr.Button("Keep it")
                import_file = gr.File(label="Import a motion (.safetensors)", file_types=[".safetensors"])
                library_status = gr.Markdown()
            preview = gr.Video(label="Source clip", interactive=False, height=220)

    with gr.Group():
        gr.Markdown("## 3. Generate")
        with gr.Row():
            with gr.Column():
                generate_choice = gr.Dropdown([NO_MOTION, *studio.library.names()], value=NO_MOTION, label="Motion")
                prompt = gr.Textbox(label="Prompt", placeholder="e.g. a blue square", elem_id="generate-prompt")
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
                compare = gr.Checkbox(label="Also generate without the motion (same seed), side by side")
                generate_button = gr.Button("Generate", variant="primary")
            with gr.Column():
                video = gr.Video(label="With the motion", interactive=False, height=260, elem_id="generated-video")
                baseline_video = gr.Video(label="Without the motion", interactive=False, height=260)

    library_outputs = [gallery, library_choice, generate_choice]
    gpu_queue = dict(concurrency_limit=1, concurrency_id="gpu")  # one GPU job at a time, everyone else waits
    start_button.click(
        learn, [clip, motion_name, caption, model_choice, steps, loss, learn_seed],
        [learn_status, loss_plot, *library_outputs], api_name="invert", **gpu_queue,
    )  # fmt: skip
    stop_button.click(stop, None, learn_status, api_name="stop", concurrency_limit=None)
    model_choice.change(default_steps, model_choice, steps, api_visibility="private")
    library_choice.change(show_motion, library_choice, [details, preview, download], api_visibility="private")
    rename_button.click(rename, [library_choice, new_name], [library_status, *library_outputs], api_name="rename")
    delete_button.click(lambda: gr.update(visible=True), None, confirm_row, api_visibility="private")
    cancel_button.click(lambda: gr.update(visible=False), None, confirm_row, api_visibility="private")
    confirm_button.click(delete, library_choice, [library_status, *library_outputs, confirm_row], api_name="delete")
    import_file.upload(import_motion, import_file, [library_status, *library_outputs], api_name="import_motion")
    randomise.click(random_seed, None, seed, api_visibility="private")
    generate_button.click(
        generate, [generate_choice, prompt, negative_prompt, motion_type, strength, seed, sample_steps, guidance,
                   compare], [video, baseline_video], api_name="generate", **gpu_queue,
    )  # fmt: skip
    gr.api(list_motions, api_name="list_motions")
    demo.load(library_views, None, library_outputs, api_visibility="private").then(
        show_motion, library_choice, [details, preview, download], api_visibility="private"
    )

demo.queue(max_size=MAX_QUEUE, default_concurrency_limit=1)


def launch(**kwargs):
    """Start the server; the library folder and assets are the only files it serves besides its own."""
    studio.library.folder.mkdir(parents=True, exist_ok=True)
    return demo.launch(
        allowed_paths=[str(studio.library.folder), str(ASSETS)], max_file_size=MAX_UPLOAD, **kwargs
    )  # fmt: skip


if __name__ == "__main__":
    launch()
