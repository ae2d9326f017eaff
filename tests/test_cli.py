"""The command line end to end on a tiny pipeline, and its one-line errors for bad input."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import make_clip

from motion_inversion import Motion
from motion_inversion.cli import main
from motion_inversion.video import probe_clip, read_clip


def run_cli(*args) -> tuple[int, str, str]:
    """The CLI in a child process, as a user runs it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "motion_inversion", *map(str, args)], capture_output=True,
                            text=True, env=env, timeout=300)  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def test_invert_then_generate_then_list(tiny_pipeline_dir, clip_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOTION_LIBRARY", str(tmp_path / "library"))
    assert main(["invert", str(clip_path), "--model", str(tiny_pipeline_dir), "--steps", "3", "--prompt", "bars"]) == 0
    saved = tmp_path / "library" / "orbit.safetensors"
    out = capsys.readouterr().out
    assert "learning 8 frames, 0.0-2.0 s of 2.0 s, 4 fps, centre crop" in out  # what is learned, said first
    assert f"saved motion to {saved}" in out
    motion = Motion.load(saved)
    assert (motion.steps, motion.prompt, motion.num_frames) == (3, "bars", 8)
    assert read_clip(saved.with_suffix(".mp4"), 100, 32, 32).num_frames == 8  # the app's gallery preview

    video = tmp_path / "out.mp4"
    args = ["generate", str(saved), "--prompt", "a blue square", "--model", str(tiny_pipeline_dir)]
    assert main([*args, "--steps", "2", "--out", str(video), "--motion-type", "camera"]) == 0
    info = probe_clip(video)
    assert (info.codec, info.width, info.height) == ("h264", 32, 32)
    assert read_clip(video, 100, 32, 32).num_frames == 8

    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "orbit" in listing and "tiny-unet3d" in listing
    assert main(["show", str(saved)]) == 0
    assert "prompt           bars" in capsys.readouterr().out


def bad_clips(folder):
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("not a video at all\n" * 50)
    good = make_clip(folder / "good.mp4")
    (folder / "truncated.mp4").write_bytes(good.read_bytes()[:700])
    make_clip(folder / "one.mp4", seconds=0.125)
    return {
        "empty.mp4": "empty.mp4 is an empty file",
        "notes.mp4": "notes.mp4 is not a video ffmpeg can read",
        "truncated.mp4": "truncated.mp4",
        "one.mp4": "one.mp4 has 1 frame(s); motion inversion needs at least 8",
    }


def test_bad_clips_fail_with_one_line_and_leave_nothing(tiny_pipeline_dir, tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    for name, message in bad_clips(clips).items():
        code = main(["invert", str(clips / name), "--model", str(tiny_pipeline_dir), "--steps", "1",
                     "--out", str(out / "m.safetensors")])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2, name
        assert message in err and "Traceback" not in err, err
        assert list(out.iterdir()) == []


def test_generate_refusals(tiny_pipeline_dir, clip_path, tmp_path, capsys):
    motion_file = tmp_path / "m.safetensors"
    assert main(["invert", str(clip_path), "--model", str(tiny_pipeline_dir), "--steps", "1",
                 "--out", str(motion_file)]) == 0  # fmt: skip
    capsys.readouterr()
    base = ["generate", str(motion_file), "--model", str(tiny_pipeline_dir), "--steps", "2"]
    cases = {
        "empty prompt": ([*base, "--prompt", " ", "--out", str(tmp_path / "a.mp4")], "the prompt is empty"),
        "unwritable": ([*base, "--prompt", "x", "--out", str(motion_file / "a.mp4")], "cannot write"),
        "motion share": ([*base, "--prompt", "x", "--motion-until", "2", "--out", str(tmp_path / "b.mp4")],
                         "motion_until must be a number from 0 to 1, got 2.0"),
    }  # fmt: skip
    motion = Motion.load(motion_file)
    foreign = Motion(**{**motion.__dict__, "base_model": "modelscope"}).save(tmp_path / "foreign.safetensors")
    foreign_args = ["generate", str(foreign), "--model", str(tiny_pipeline_dir), "--prompt", "x"]
    cases["other base model"] = (foreign_args, "learned on 'modelscope', not on 'tiny-unet3d'")
    not_motion = tmp_path / "not.safetensors"
    not_motion.write_text("hello")
    cases["not a motion"] = (["generate", str(not_motion), "--prompt", "x"], "not.safetensors is not a readable")
    for case, (args, message) in cases.items():
        assert main(args) == 2, case
        assert message in capsys.readouterr().err, case
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.safetensors", "m.safetensors", "not.safetensors"]


def test_errors_print_no_traceback_in_a_real_process(tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    code, _, err = run_cli("invert", notes, "--model", tmp_path, "--out", tmp_path / "m.safetensors")
    assert code == 2
    assert err.strip().splitlines() == [f"error: {tmp_path} is not a diffusers pipeline folder (no unet/ or "
                                        "transformer/ inside): pass a folder saved with save_pretrained, a Hub id, "
                                        "or one of toy, toy-wan, zeroscope, modelscope, animatediff, wan2.1-1.3b, "
                                        "wan2.1-14b, wan2.2-5b"]  # fmt: skip
    code, _, err = run_cli("invert", notes, "--model", "zeroscope", "--out", tmp_path / "m.safetensors")
    assert code == 2 and "notes.mp4 is not a video" in err  # the clip is checked before the model loads
    clip = make_clip(tmp_path / "fine.mp4")
    code, _, err = run_cli("invert", clip, "--model", "zeroscope", "--out", tmp_path / "m.safetensors")
    assert code == 2 and "weights for model 'zeroscope'" in err and "Traceback" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
def test_ctrl_c_during_inversion_saves_what_was_learned(tiny_pipeline_dir, clip_path, tmp_path):
    out = tmp_path / "partial.safetensors"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "motion_inversion", "invert", str(clip_path), "--model", str(tiny_pipeline_dir),
               "--steps", "10000", "--out", str(out)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 300  # generous: a busy 2-core machine is slow to load and invert
    buffer = ""
    while "loss=" not in buffer and time.time() < deadline:  # tqdm shows a loss once training has begun
        buffer += process.stderr.read(1)
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    assert "stopped at step" in stdout
    motion = Motion.load(out)
    assert 1 <= motion.steps < 10000


def test_a_missing_clip_is_refused_before_any_model_loads(tmp_path, capsys):
    # a model name that does not exist: had it been loaded first, the error would name the model, not the clip
    code = main(["invert", str(tmp_path / "nowhere.mp4"), "--model", str(tmp_path / "no-model")])
    err = capsys.readouterr().err
    assert code == 2 and "clip not found" in err and "no-model" not in err, err


def test_every_option_says_what_it_does():
    from motion_inversion.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    for name, command in commands.items():
        for action in command._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_the_terminal_shows_the_cli_and_not_the_libraries_chatter(tiny_pipeline_dir, clip_path, tmp_path):
    code, out, err = run_cli("invert", clip_path, "--model", tiny_pipeline_dir, "--steps", "2",
                             "--out", tmp_path / "m.safetensors")  # fmt: skip
    assert code == 0 and out.startswith("learning 8 frames, 0.0-2.0 s of 2.0 s, 4 fps, centre crop")
    assert "Loading weights" not in err and "Warning" not in err, err
    for stage in ("loading the model", "reading the clip", "encoding the frames", "learning the motion"):
        assert stage in err  # the CLI's own bars, one per stage, from the first second
    assert re.search(r"inverting the clip: 100%.* 50/50", err)


def test_a_missing_clip_fails_at_once(tmp_path):
    started = time.perf_counter()
    code, _, err = run_cli("invert", tmp_path / "nowhere.mp4")
    assert code == 2 and err.strip() == f"error: clip not found: {tmp_path / 'nowhere.mp4'}"
    assert time.perf_counter() - started < 2  # nothing heavy is imported before the check


def test_offload_learns_the_same_motion(tiny_pipeline_dir, clip_path, tmp_path):
    learned = {}
    for offload in ([], ["--offload"]):
        out = tmp_path / f"motion{len(offload)}.safetensors"
        args = ["invert", str(clip_path), "--model", str(tiny_pipeline_dir), "--steps", "2", "--out", str(out)]
        assert main([*args, *offload]) == 0
        learned[bool(offload)] = Motion.load(out).embeddings
    assert learned[True].keys() == learned[False].keys()
    assert all(torch.equal(learned[True][name], learned[False][name]) for name in learned[False])
