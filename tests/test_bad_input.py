"""Broken and hostile input: every case gives one line naming what was wrong, no traceback, and leaves the library
as it was. Numbers and names go through one validation layer (limits.py) in Python and the CLI alike; motion files
are untrusted data (motion.py checks every field against sane bounds and against the tensors)."""

import json
import math

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from test_cli import run_cli
from test_library import files, small_motion

from motion_inversion import Motion, MotionInversionError, generate, invert
from motion_inversion.library import MotionLibrary, list_motions

# -- numbers, through Python --------------------------------------------------------------------------------------
GENERATE_CASES = [
    (dict(seed=-1), "seed must be an integer from 0 to 18446744073709551615, got -1"),
    (dict(seed=2**64), "seed must be an integer"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(steps=1001), "sampling steps must be an integer from 1 to 1000, got 1001"),
    (dict(steps=-3), "sampling steps must be an integer"),
    (dict(strength=math.nan), "strength must be a number from 0 to 10, got nan"),
    (dict(strength=-1.0), "strength must be a number from 0 to 10, got -1.0"),
    (dict(strength=1e308), "strength must be a number from 0 to 10"),
    (dict(guidance=math.nan), "guidance must be a number from 0 to 100, got nan"),
    (dict(guidance=math.inf), "guidance must be a number"),
    (dict(noise_prior=1.5), "noise_prior must be a number from 0 to 1, got 1.5"),
    (dict(motion_until=-0.1), "motion_until must be a number from 0 to 1"),
    (dict(num_frames=-1), "frames must be an integer from 1 to 1024, got -1"),
    (dict(height=10**7), "height must be an integer from 8 to 4096"),
    (dict(height=512, width=512), "512x512, 8 frames is too large for tiny-unet3d"),
    (dict(num_frames=100), "100 frames is too large for tiny-unet3d"),
    (dict(seed="x"), "seed must be an integer"),
    (dict(subject_at=(0.5, 0.5)), "the subject's place marks the subject of a start image: give the image too"),
    (dict(subject_at="0.5"), "the subject's place must be x, y (fractions of the image from 0 to 1"),
    (dict(subject_at="2, 0.5"), "the subject's x must be a number from 0 to 1, got '2'"),
    (dict(subject_at=(0.5, math.nan)), "the subject's y must be a number from 0 to 1, got nan"),
]


@pytest.mark.parametrize(("settings", "message"), GENERATE_CASES, ids=[str(c[0]) for c in GENERATE_CASES])
def test_generate_refuses_out_of_range_numbers_with_one_line(tiny_model, settings, message):
    with pytest.raises(MotionInversionError) as error:
        generate(tiny_model, None, "a cat", **settings)
    assert message in str(error.value) and "\n" not in str(error.value)


INVERT_CASES = [
    (dict(steps=0), "steps must be an integer from 1 to 10000, got 0"),
    (dict(steps=-1), "steps must be an integer from 1 to 10000, got -1"),
    (dict(steps=10**9), "steps must be an integer from 1 to 10000"),
    (dict(lr=math.nan), "lr must be a number above 0 and at most 10, got nan"),
    (dict(lr=0.0), "lr must be a number above 0"),
    (dict(seed=-5), "seed must be an integer"),
    (dict(start=-1.0), "start must be a number from 0"),
    (dict(end=math.nan), "end must be a number from 0"),
    (dict(inversion_steps=5000), "inversion steps must be an integer from 0 to 1000"),
]


@pytest.mark.parametrize(("settings", "message"), INVERT_CASES, ids=[str(c[0]) for c in INVERT_CASES])
def test_invert_refuses_out_of_range_numbers_before_any_work(tiny_model, clip_path, settings, message):
    with pytest.raises(MotionInversionError) as error:
        invert(tiny_model, clip_path, **settings)
    assert message in str(error.value) and "\n" not in str(error.value)


# -- motion files: untrusted data -----------------------------------------------------------------------------------
def rewritten(source, target, metadata=None, tensors=None, drop=()):
    """A copy of a motion file with some metadata fields replaced or dropped and some tensors replaced."""
    with safe_open(str(source), framework="pt") as reader:
        meta = dict(reader.metadata())
        contents = {key: reader.get_tensor(key) for key in reader.keys()}
    meta.update(metadata or {})
    for key in drop:
        meta.pop(key)
    contents.update(tensors or {})
    save_file(contents, str(target), metadata=meta)
    return target


@pytest.fixture
def good_file(tiny_model, clip_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.safetensors"
    return invert(tiny_model, clip_path, steps=1, inversion_steps=2).save(path)


def first_key(path, suffix):
    with safe_open(str(path), framework="pt") as reader:
        return next(key for key in reader.keys() if key.endswith(suffix))


FILE_CASES = [
    ("huge height", dict(metadata={"height": "3200000", "width": "3200000"}), "height must be an integer from 8"),
    ("many frames", dict(metadata={"num_frames": "100000"}), "frames must be an integer from 1 to 1024"),
    ("no frames", dict(metadata={"num_frames": "0"}), "frames must be an integer"),
    ("negative frames", dict(metadata={"num_frames": "-32"}), "frames must be an integer"),
    ("not a number", dict(metadata={"width": "wide"}), "width must be an integer"),
    ("latent larger than the clip", dict(metadata={"latent_height": "9999"}), "latent_height must be from 1 to"),
    ("pooling not a power of 2", dict(metadata={"value_pool": "3"}), "value_pool must be a power of 2"),
    ("unknown family", dict(metadata={"family": "evil"}), "unknown model family 'evil'"),
    ("blocks not JSON", dict(metadata={"target_blocks": "{oops"}), "damaged motion file"),
    ("blocks not names", dict(metadata={"target_blocks": "[1, 2]"}), "target_blocks must be a list"),
    ("no base model", dict(drop=("base_model",)), "its metadata has no base_model"),
    ("loss not a number", dict(metadata={"loss": "low"}), "damaged motion file"),
    ("steps negative", dict(metadata={"steps": "-4"}), "steps must be from 0"),
    ("subject path not JSON", dict(metadata={"subject_path": "[[0.5"}), "damaged motion file"),
    ("subject path too short", dict(metadata={"subject_path": "[[0.5, 0.5]]"}), "subject_path must be 8 [x, y]"),
    ("subject path far outside", dict(metadata={"subject_path": json.dumps([[1e9, 0.5]] * 8)}), "subject_path must"),
    ("subject path not numbers", dict(metadata={"subject_path": json.dumps([["a", "b"]] * 8)}), "damaged motion"),
]


@pytest.mark.parametrize(("case", "change", "message"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_a_motion_file_with_insane_metadata_is_refused(good_file, tmp_path, case, change, message):
    bad = rewritten(good_file, tmp_path / "bad.safetensors", **change)
    for read in (Motion.load, Motion.read_metadata):
        with pytest.raises(MotionInversionError) as error:
            read(bad)
        assert message in str(error.value) and "bad.safetensors" in str(error.value) and "\n" not in str(error.value)


def test_a_motion_file_with_bad_tensors_is_refused(good_file, tmp_path):
    query_key, value = first_key(good_file, ".query_key"), first_key(good_file, ".value")
    with safe_open(str(good_file), framework="pt") as reader:
        shape_qk, shape_v = reader.get_tensor(query_key).shape, reader.get_tensor(value).shape
        shape_latent = reader.get_tensor("inversion_latent").shape
    cases = {
        "NaN embedding": ({query_key: torch.full(shape_qk, math.nan)}, "holds NaN or infinite numbers"),
        "infinite latent": ({"inversion_latent": torch.full(shape_latent, math.inf)}, "inversion_latent holds NaN"),
        "latent of another size": ({"inversion_latent": torch.zeros(1, 4, 8, 3, 3)}, "inversion latent has shape"),
        "frames apart": ({query_key: torch.zeros(shape_qk[0] + 1, shape_qk[1])}, "does not fit its metadata"),
        "value grid too big": ({value: torch.zeros(10**4, *shape_v[1:])}, "does not fit its metadata"),
    }
    for name, (tensors, message) in cases.items():
        bad = rewritten(good_file, tmp_path / f"{name}.safetensors", tensors=tensors)
        with pytest.raises(MotionInversionError, match=message):
            Motion.load(bad)


def test_missing_optional_fields_get_defaults_and_listings_work(good_file, tmp_path, capsys):
    folder = tmp_path / "lib"
    folder.mkdir()
    rewritten(good_file, folder / "old.safetensors", drop=("created_at", "steps", "prompt", "loss"))
    motion = Motion.load(folder / "old.safetensors")
    assert (motion.steps, motion.prompt, motion.loss, motion.created_at) == (0, "", None, "")
    [entry] = list_motions(folder)
    assert "tiny-unet3d" in entry.summary
    code, out, err = run_cli("list", "--library", folder)
    assert code == 0 and "old" in out and not err.strip()


# -- the CLI: one line on stderr, exit 2, nothing written ---------------------------------------------------------
def test_the_cli_refuses_bad_numbers_before_loading_anything(tiny_pipeline_dir, good_file, clip_path, tmp_path):
    library = MotionLibrary(tmp_path / "lib")
    library.add(small_motion(), "kept")
    before = files(library.folder)
    nowhere = tmp_path / "no-model-here"  # a model that cannot load: the refusals must come first
    generate_base = ["generate", good_file, "--model", nowhere, "--prompt", "x", "--out", tmp_path / "v.mp4"]
    invert_base = ["invert", clip_path, "--model", nowhere, "--out", tmp_path / "m.safetensors"]
    cases = [
        ([*generate_base, "--seed", str(2**64)], "seed must be an integer"),
        ([*generate_base, "--steps", "1001"], "sampling steps must be an integer from 1 to 1000"),
        ([*generate_base, "--strength", "nan"], "strength must be a number from 0 to 10, got nan"),
        ([*generate_base, "--strength", "-1"], "strength must be a number from 0 to 10, got -1.0"),
        ([*generate_base, "--guidance", "nan"], "guidance must be a number"),
        ([*generate_base, "--frames", "-1"], "frames must be an integer from 1 to 1024, got -1"),
        ([*invert_base, "--steps", "0"], "steps must be an integer from 1 to 10000, got 0"),
        ([*invert_base, "--steps", "1000000000"], "steps must be an integer from 1 to 10000"),
        ([*invert_base, "--lr", "nan"], "lr must be a number above 0"),
        ([*invert_base, "--steps", "-1"], "steps must be an integer"),
    ]
    for args, message in cases:
        code, out, err = run_cli(*args)
        assert code == 2 and err.strip().splitlines() == [err.strip()] and message in err, (args, err)
        assert "Traceback" not in err
    assert files(library.folder) == before
    assert not (tmp_path / "v.mp4").exists() and not (tmp_path / "m.safetensors").exists()


def test_a_motion_naming_a_folder_as_its_base_model_never_loads_it(good_file, tiny_pipeline_dir, tmp_path):
    trap = rewritten(good_file, tmp_path / "trap.safetensors", metadata={"base_model": str(tiny_pipeline_dir)})
    code, out, err = run_cli("generate", trap, "--prompt", "x", "--out", tmp_path / "v.mp4")
    assert code == 2 and "not a registry model: pass --model" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "v.mp4").exists()


def test_show_escapes_a_shared_files_control_characters(good_file, tmp_path):
    hostile = "\x1b]0;pwned\x07\x1b[31mred"
    shared = rewritten(good_file, tmp_path / "shared.safetensors", metadata={"prompt": hostile})
    code, out, err = run_cli("show", shared)
    assert code == 0 and "\x1b" not in out and "\\x1b]0;pwned" in out
    assert json.loads(Motion.read_metadata(shared)["target_blocks"])  # the rest is intact
