"""The Gradio app: its handlers on a tiny model, then the launched app driven through gradio_client."""

import os
import re
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import TINY_FRAMES, TINY_SIZE, make_clip, serve

from motion_inversion import Motion
from motion_inversion.video import read_clip


def decoded_frames(path) -> tuple[int, int, int]:
    return read_clip(path, 100, *TINY_SIZE).frames.shape[:3]


def library_files(app) -> list[str]:
    return sorted(p.name for p in app.studio.library().folder.iterdir())


def test_handlers_learn_into_the_library_then_generate_an_mp4(app, clip_path, tiny_pipeline_dir):
    request = SimpleNamespace(session_hash="unit")
    updates = list(
        app.learn(
            str(clip_path),
            "handler test",
            "",
            str(tiny_pipeline_dir),
            3,
            "base",
            0,
            0,
            0,
            "auto",
            "crop",
            "",
            request,
            None,
        )
    )
    status = updates[-1][0]
    assert status.startswith("Saved **handler test** to your library after 3 steps")
    curve = updates[-1][1]  # the loss plot: each step, and the running mean
    assert curve.groupby("series")["step"].apply(list).to_dict() == {s: [1, 2, 3] for s in app.LOSS_SERIES}
    raw, smoothed = (curve[curve.series == s].loss.to_numpy() for s in list(app.LOSS_SERIES)[::-1])
    assert smoothed[-1] == pytest.approx(raw.mean())
    entry = app.studio.library().entry("handler test")
    assert entry.preview and entry.thumbnail
    *_, (with_motion, without, match) = app.generate(
        "handler test", "a red circle", "", "object", 1.0, 0, 2, 0, True, None, "", "", request, None
    )
    assert decoded_frames(with_motion) == decoded_frames(without) == (TINY_FRAMES, *TINY_SIZE)
    assert re.fullmatch(r"Motion match with the reference clip: \*\*-?[01]\.\d\d\*\* \(.+\) · "
                        r"without the motion: \*\*-?[01]\.\d\d\*\*", match)  # fmt: skip


def invert(client, clip, name, steps=3):
    from gradio_client import handle_file

    return client.submit(handle_file(str(clip)), name, "", os.environ["MOTION_INVERSION_MODEL"], steps, "base", 0,
                         api_name="/invert")  # fmt: skip


def test_invert_list_generate_through_the_api(client, clip_path):
    status = invert(client, clip_path, "api-orbit").result()[0]
    assert "Saved **api-orbit**" in status
    listed = {m["name"]: m for m in client.predict(api_name="/list_motions")}
    assert listed["api-orbit"]["num_frames"] == str(TINY_FRAMES) and listed["api-orbit"]["steps"] == "3"
    video, baseline, match = client.predict("api-orbit", "a blue square", "", "camera", 1.0, 7, 2, 0, False, None,
                                            api_name="/generate")  # fmt: skip
    assert decoded_frames(video) == (TINY_FRAMES, *TINY_SIZE) and baseline is None
    assert match.startswith("Motion match with the reference clip: **")  # the score comes with the video


def test_a_comparison_through_the_api(client, clip_path):
    from gradio_client import handle_file

    invert(client, clip_path, "compared").result()
    video, baseline, _ = client.predict("compared", "a blue square", "", "object", 1.0, 3, 2, 0, True, None,
                                        api_name="/generate")  # fmt: skip
    mp4, gif = client.predict("compared", handle_file(video), handle_file(baseline), api_name="/compare")
    assert mp4.endswith("compared-comparison.mp4") and gif.endswith("compared-comparison.gif")
    assert decoded_frames(mp4)[0] == TINY_FRAMES  # the reference's and the videos' 8 frames


def test_a_second_client_waits_in_the_queue_then_completes(app, client, clip_path):
    from gradio_client import Client
    from gradio_client.utils import Status

    other = Client(client.src, verbose=False)
    first = invert(client, clip_path, "queue-first", steps=30)
    while first.status().code not in (Status.PROCESSING, Status.ITERATING, Status.PROGRESS):
        time.sleep(0.1)
    second = other.submit(None, "a green circle", "", "object", 1.0, 1, 2, 0, False, None, api_name="/generate")
    seen = set()
    while not second.done():
        status = second.status()
        seen.add(status.code)
        if status.code == Status.IN_QUEUE:
            assert not first.done()  # it waits because the first job holds the one GPU slot
        time.sleep(0.05)
    assert Status.IN_QUEUE in seen
    assert "Saved **queue-first**" in first.result()[0]
    assert decoded_frames(second.result()[0]) == (TINY_FRAMES, *TINY_SIZE)


def learned_steps(job) -> int:
    """The step the job's status line reports ("step 12 / 2000 · ..."), 0 before learning starts."""
    outputs = job.outputs()
    match = re.match(r"step (\d+) /", outputs[-1][0]) if outputs else None
    return int(match.group(1)) if match else 0


def test_stop_mid_inversion_keeps_a_usable_motion(app, client, clip_path):
    from gradio_client.utils import Status

    job = invert(client, clip_path, "stopped", steps=2000)
    while learned_steps(job) < app.MIN_STEPS_TO_KEEP:  # fewer would not be worth keeping
        assert job.status().code != Status.FINISHED
        time.sleep(0.1)
    client.predict(api_name="/stop")
    status = job.result(timeout=120)[0]
    assert "stopped early: what was learned so far is kept" in status
    motion = Motion.load(app.studio.library().entry("stopped").path)
    assert 1 <= motion.steps < 2000
    video, *_ = client.predict("stopped", "a red circle", "", "object", 1.0, 0, 2, 0, False, None,
                               api_name="/generate")  # fmt: skip
    assert decoded_frames(video) == (TINY_FRAMES, *TINY_SIZE)


def assert_refused(call, message: str) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        call()


def test_bad_input_gets_a_readable_message_and_leaves_the_library_alone(app, client, tmp_path):
    from gradio_client import handle_file

    invert(client, make_clip(tmp_path / "keep.mp4"), "kept").result()
    before = library_files(app)
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is a shopping list, not a video")
    assert_refused(lambda: invert(client, not_video, "bad").result(), "notes.mp4 .*(not a video|could not)")
    short = make_clip(tmp_path / "short.mp4", seconds=0.5)  # 4 frames
    assert_refused(lambda: invert(client, short, "short").result(), "short.mp4 has 4 frame.*needs at least 8")
    shared = tmp_path / "shared.safetensors"
    shared.write_bytes(app.studio.library().entry("kept").path.read_bytes())
    client.predict(handle_file(str(shared)), api_name="/import_motion")
    gallery = client.predict(api_name="/list_motions")
    assert "shared" in {m["name"] for m in gallery}
    assert len(app.gallery_items()) == len(gallery)  # shown in the gallery too, with a placeholder picture
    before = library_files(app)
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(b"\x80\x04\x95 a pickle, not a motion")
    assert_refused(lambda: client.predict(handle_file(str(foreign)), api_name="/import_motion"), "foreign.safetensors")
    assert_refused(
        lambda: client.predict("kept", "  ", "", "object", 1.0, 0, 2, 0, False, None, api_name="/generate"),
        "the prompt is empty",
    )
    assert_refused(  # a real model whose weights are not here: says so, with what to do
        lambda: client.predict(handle_file(str(tmp_path / "keep.mp4")), "z", "", "zeroscope", 3, "base", 0,
                               api_name="/invert"),
        "weights for model 'zeroscope' .* run `hf download",
    )  # fmt: skip
    assert library_files(app) == before


def test_the_library_survives_an_app_restart(tiny_pipeline_dir, clip_path, tmp_path):
    env = {**os.environ, "MOTION_LIBRARY": str(tmp_path / "library"), "MOTION_INVERSION_MODEL": str(tiny_pipeline_dir)}
    process, client = serve(env)
    try:
        assert "Saved **survivor**" in invert(client, clip_path, "survivor").result()[0]
    finally:
        process.terminate()
        process.wait(30)
    process, client = serve(env)
    try:
        names = [m["name"] for m in client.predict(api_name="/list_motions")]
        assert [name for name in names if not name.startswith("examples/")] == ["survivor"]
    finally:
        process.terminate()
        process.wait(30)


def test_a_cancelled_learning_job_stops_and_the_next_one_runs_at_once(app, client, clip_path):
    """A visitor who leaves mid-learning (here: cancels, which closes the job as a closed tab does) frees the model
    within a few steps: the next job starts at once and completes, and the first keeps what it had learned."""
    first = invert(client, clip_path, "left-behind", steps=2000)
    while learned_steps(first) < app.MIN_STEPS_TO_KEEP + 2:
        time.sleep(0.1)
    first.cancel()
    cancelled_at = learned_steps(first)
    second = invert(client, clip_path, "next-in-line", steps=5)
    assert "Saved **next-in-line**" in second.result(timeout=120)[0]
    abandoned = Motion.load(app.studio.library().entry("left-behind").path)  # it ended before the second began
    assert cancelled_at <= abandoned.steps <= cancelled_at + 5


def test_a_refusal_on_the_page_shows_next_to_its_action_and_leaves_the_rest_alone(app, clip_path):
    import gradio as gr

    request = SimpleNamespace(session_hash="unit")
    status, *others = app.in_place(app.rename, 0, 4)("no such motion", "x", request, None)
    assert status == "⚠️ no motion named 'no such motion' in the library"
    assert others == [gr.skip()] * 3  # the gallery and both pickers stay as they were: no error badges
    learning = app.in_place(app.learn, 0, 5)
    (status, *others), *more = list(
        learning(None, "", "", "toy", 3, "base", 0, 0, 0, "auto", "crop", "", request, None)
    )
    assert status == "⚠️ no clip: upload a short video first" and others == [gr.skip()] * 4 and not more
    updates = list(
        learning(str(clip_path), "../escape", "", "toy", 3, "base", 0, 0, 0, "auto", "crop", "", request, None)
    )
    assert "contains '/'" in updates[-1][0]  # refused before any model is loaded or step is taken


def test_text_from_a_file_is_shown_as_text_never_as_html(app):
    shown = app.as_text("<img src=x onerror=alert(1)> *bold* [link](http://x)")
    assert "<img" not in shown and "&lt;img" in shown
    assert "\\*bold\\*" in shown and "\\[link\\]" in shown


def test_a_fade_in_clip_is_learned_generated_and_matched_through_the_api(app, client, tmp_path):
    """A black first frame used to crash the motion match after the video was made (and the video was lost)."""
    fade_in = make_clip(tmp_path / "fadein.mp4", size="64x64", extra=["-vf", "fade=in:0:3"])
    assert "Saved **fade-in**" in invert(client, fade_in, "fade-in").result()[0]
    video, baseline, match = client.predict("fade-in", "a red circle", "", "object", 1.0, 0, 2, 0, True, None,
                                            api_name="/generate")  # fmt: skip
    assert decoded_frames(video) == (TINY_FRAMES, *TINY_SIZE) and decoded_frames(baseline)
    assert match.startswith("Motion match with the reference clip") or "no motion to measure" in match


def test_out_of_range_numbers_through_the_api_are_refused_with_their_range(app, client):
    before = library_files(app)
    cases = [
        ((1.0, 2**64, 2, 0), "seed must be an integer from 0 to 18446744073709551615"),
        ((1.0, -1, 2, 0), "seed must be an integer"),
        ((1.0, 0, 5000, 0), "sampling steps must be an integer from 1 to 1000"),
        # the strength slider checks its own range first (JSON carries no NaN: see test_bad_input)
        ((1e308, 0, 2, 0), "Value 1e\\+308 is greater than maximum value"),
        ((-1.0, 0, 2, 0), "Value -1.0 is less than minimum value"),
        ((1.0, 0, 2, 1e9), "guidance must be a number from 0 to 100"),
    ]
    for (strength, seed, steps, guidance), message in cases:
        assert_refused(lambda s=strength, e=seed, n=steps, g=guidance: client.predict(
            app.NO_MOTION, "a cat", "", "object", s, e, n, g, False, None, api_name="/generate"), message)  # fmt: skip
    assert library_files(app) == before


def test_generate_takes_a_start_image_through_the_api(app, client, tmp_path):
    """The app's tiny model is not trained to start from an image: the image reaches the library, which refuses
    with the models that can (tests/test_image_to_video.py covers a model that can)."""
    from gradio_client import handle_file
    from PIL import Image

    picture = tmp_path / "me.png"
    Image.fromarray(np.full((40, 60, 3), 200, dtype=np.uint8)).save(picture)
    assert_refused(
        lambda: client.predict(app.NO_MOTION, "a cat", "", "object", 1.0, 0, 2, 0, False, handle_file(str(picture)),
                               api_name="/generate"),
        "cannot start a video from an image: models that can: toy-wan, wan2.2-5b",
    )  # fmt: skip


def test_the_start_image_is_previewed_as_fitted(app, tmp_path):
    from PIL import Image

    wide = tmp_path / "wide.png"
    Image.fromarray(np.full((30, 120, 3), 90, dtype=np.uint8)).save(wide)
    request = type("Request", (), {"session_hash": "preview", "username": None})()
    preview, subject_at = app.preview_new_start(str(wide), app.NO_MOTION, request, None)
    fitted = Image.open(preview)
    assert fitted.size == (TINY_SIZE[1], TINY_SIZE[0]) and subject_at == ""  # the model's size, centre-cropped
    assert app.preview_start(None, app.NO_MOTION, "", request, None) is None
    marked = np.asarray(Image.open(app.preview_start(str(wide), app.NO_MOTION, "0.5, 0.5", request, None)))
    assert tuple(marked[16, 16]) == (255, 255, 255)  # another motion picked: the mark stays drawn

    # an image with a subject: its place is guessed, put in the box for Generate and marked on the preview
    pixels = np.full((TINY_SIZE[0], TINY_SIZE[1], 3), 90, dtype=np.uint8)
    pixels[4:12, -12:-4] = (230, 210, 40)  # a yellow square, top right
    Image.fromarray(pixels).save(tmp_path / "square.png")
    preview, subject_at = app.preview_new_start(str(tmp_path / "square.png"), app.NO_MOTION, request, None)
    x, y = map(float, subject_at.split(","))
    assert abs(x - (TINY_SIZE[1] - 8) / TINY_SIZE[1]) < 0.03 and abs(y - 8 / TINY_SIZE[0]) < 0.03, subject_at
    assert tuple(np.asarray(Image.open(preview))[int(y * TINY_SIZE[0]), int(x * TINY_SIZE[1])]) == (255, 255, 255)


def test_a_refused_upload_is_deleted_and_no_other_file_is(app, tmp_path):
    from gradio.utils import get_upload_folder

    upload = Path(get_upload_folder()) / "test-refused" / "notes.mp4"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text("not a video")
    elsewhere = tmp_path / "notes.mp4"
    elsewhere.write_text("not a video either")
    app.discard_upload(str(upload))
    app.discard_upload(str(elsewhere))
    assert not upload.exists() and elsewhere.exists()


def test_a_click_on_the_fitted_image_marks_the_subject(app, client, tmp_path):
    """The fitted start image takes a click: where the subject stands, as "x, y" fractions for Generate (and the
    API's subject_at), and a cross there on the preview. A place without an image is refused in one line."""
    import gradio as gr
    from PIL import Image

    picture = tmp_path / "me.png"
    Image.fromarray(np.full((40, 60, 3), 90, dtype=np.uint8)).save(picture)
    request = type("Request", (), {"session_hash": "mark", "username": None})()
    click = gr.SelectData(None, {"index": [8, 24], "value": None, "selected": True})  # pixels of the 32x32 preview
    place, preview = app.mark_subject(str(picture), app.NO_MOTION, request, None, click)
    assert place == "0.266, 0.766"  # the pixel's centre
    marked = np.asarray(Image.open(preview))
    assert marked.shape == (*TINY_SIZE, 3) and tuple(marked[24, 8]) == (255, 255, 255)
    assert tuple(marked[5, 20]) == (90, 90, 90)  # the rest of the picture as it was
    assert_refused(
        lambda: client.predict(app.NO_MOTION, "a cat", "", "object", 1.0, 0, 2, 0, False, None, place,
                               api_name="/generate"),
        "the subject's place marks the subject of a start image: give the image too",
    )  # fmt: skip
