"""Many clips on many processes: `motion-inversion invert CLIP [CLIP ...]`, alone and under `accelerate launch`,
and the accelerate path of the training loop (float32 on a CPU, bf16 autocast when asked)."""

import os
import subprocess
import sys

import pytest
import torch
from conftest import make_clip

from motion_inversion import Motion
from motion_inversion.errors import MotionInversionError
from motion_inversion.inversion import invert
from motion_inversion.precision import training_accelerator


def three_clips_and_a_bad_one(folder):
    clips = [make_clip(folder / f"{name}.mp4", source=source)
             for name, source in (("bars", "testsrc"), ("rings", "testsrc2"), ("noise", "mandelbrot"))]  # fmt: skip
    (folder / "broken.mp4").write_text("not a video\n" * 20)
    return [*clips[:2], folder / "broken.mp4", clips[2]]


def launch(*args, timeout=600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([*args], capture_output=True, text=True, env=env, timeout=timeout)


def test_accelerate_launch_spreads_clips_over_processes_and_reports_a_bad_one(tiny_pipeline_dir, tmp_path):
    clips = three_clips_and_a_bad_one(tmp_path)
    out = tmp_path / "motions"
    # accelerate's own --cpu launcher starts several processes only through mpirun; --multi_gpu starts them with
    # torchrun, and on a machine without CUDA (or with ACCELERATE_USE_CPU) they share the work over gloo
    result = launch(sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                    "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                    "-m", "motion_inversion", "invert", *clips, "--model", tiny_pipeline_dir, "--steps", "2",
                    "--out-dir", out)  # fmt: skip
    assert result.returncode != 0  # one clip failed ...
    summary = result.stdout[result.stdout.index("3 of 4 clips learned on 2 process(es)") :]
    assert "broken.mp4: FAILED (broken.mp4 is not a video" in summary  # ... and says which, and why
    assert sorted(p.name for p in out.iterdir()) == ["bars.safetensors", "noise.safetensors", "rings.safetensors"]
    processes = {line.split("process ")[-1].rstrip(")") for line in summary.splitlines() if "->" in line}
    assert processes == {"0", "1"}  # both processes took a share
    for path in out.iterdir():
        assert Motion.load(path).steps == 2
    assert result.stderr.count("clips could not be learned") == 2  # each process ends with the same one line


def test_several_clips_without_a_launcher_go_one_after_another_into_the_library(tiny_pipeline_dir, tmp_path):
    clips = three_clips_and_a_bad_one(tmp_path)
    twin = tmp_path / "again"
    twin.mkdir()
    clips.append(make_clip(twin / "bars.mp4"))  # the same file name as the first: it gets bars-2
    clips.append(make_clip(tmp_path / "take.01.mp4"))  # a dot in the name is kept
    env = {"MOTION_LIBRARY": str(tmp_path / "library")}
    result = subprocess.run([sys.executable, "-m", "motion_inversion", "invert", *map(str, clips), "--model",
                             str(tiny_pipeline_dir), "--steps", "2"], capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", **env}, timeout=600)  # fmt: skip
    assert result.returncode == 2 and "5 of 6 clips learned on 1 process(es)" in result.stdout
    names = sorted(p.name for p in (tmp_path / "library").glob("*.safetensors"))
    assert names == ["bars-2.safetensors", "bars.safetensors", "noise.safetensors", "rings.safetensors",
                     "take.01.safetensors"]  # fmt: skip


def test_the_cpu_default_is_float32_and_another_precision_needs_a_new_process(tiny_model, clip_path):
    motion = invert(tiny_model, clip_path, steps=2)
    assert training_accelerator(tiny_model.device, tiny_model.dtype).mixed_precision == "no"
    again = invert(tiny_model, clip_path, steps=2)
    assert all(torch.equal(motion.embeddings[k], again.embeddings[k]) for k in motion.embeddings)
    with pytest.raises(MotionInversionError, match="already learns with mixed precision 'no'.*new process"):
        invert(tiny_model, clip_path, steps=2, mixed_precision="bf16")


def test_bf16_autocast_on_the_cpu_learns_a_close_but_different_motion(tiny_pipeline_dir, clip_path, tmp_path):
    runs = {}
    for precision in ("no", "bf16"):  # one process each: accelerate keeps one precision per process
        out = tmp_path / f"{precision}.safetensors"
        result = launch(sys.executable, "-m", "motion_inversion", "invert", clip_path, "--model", tiny_pipeline_dir,
                        "--steps", "3", "--mixed-precision", precision, "--out", out)  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[precision] = Motion.load(out)
    full, half = runs["no"].embeddings, runs["bf16"].embeddings
    assert any(not torch.equal(full[k], half[k]) for k in full)  # the forward pass did run in bf16
    # ... and learned nearly the same thing (Adam's first steps move each number by +-lr, so a few flip sign)
    a, b = (torch.cat([embeddings[k].flatten() for k in sorted(full)]) for embeddings in (full, half))
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.9
