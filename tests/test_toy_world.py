"""The toy world without its model: clips, ground truth, the tracker and the fidelity score."""

import numpy as np
import pytest

from motion_inversion.tiny import tiny_tokenizer, write_tiny_tokenizer
from motion_inversion.toy import clips, tracker
from motion_inversion.toy.evaluate import EVAL_SEED, reference_specs
from motion_inversion.toy.train import MAX_TOKENS, TRAIN_SEED, WORDS


def test_a_spec_renders_the_same_clip_every_time():
    spec = clips.ClipSpec("triangle", "yellow", "orbit-clockwise", 5)
    first, second = clips.render(spec), clips.render(spec)
    assert first.frames.shape == (clips.NUM_FRAMES, clips.SIZE, clips.SIZE, 3) and first.frames.dtype == np.uint8
    assert np.array_equal(first.frames, second.frames) and first.caption == "a yellow triangle"
    assert clips.ClipSpec("square", "orange", "grow", 5).caption == "an orange square"
    assert not np.array_equal(
        first.frames, clips.render(clips.ClipSpec("triangle", "yellow", "orbit-clockwise", 6)).frames
    )


@pytest.mark.parametrize("kind", [k for k in clips.KINDS if not k.startswith("pan-")])
def test_the_tracker_recovers_the_ground_truth_trajectory(kind):
    for shape, colour in [("circle", "red"), ("square", "pink"), ("triangle", "orange")]:
        clip = clips.render(clips.ClipSpec(shape, colour, kind, 3))
        found = tracker.track(clip.frames)
        assert found.colour == colour and found.found.all()
        assert np.abs(found.trajectory[:, :2] - clip.trajectory[:, :2]).max() < 0.75  # pixels
        assert tracker.motion_fidelity(clip.trajectory, found.trajectory) > 0.85


@pytest.mark.parametrize("direction", ["left", "up-right", "down"])
def test_camera_pans_move_the_background_and_leave_the_object(direction):
    clip = clips.render(clips.ClipSpec("square", "yellow", f"pan-{direction}", 8))
    assert np.ptp(clip.trajectory, axis=0).max() == 0  # the object stays put
    shifts = tracker.camera_shifts(clip.frames)
    assert np.abs(shifts - np.diff(clip.camera, axis=0)).mean() < 0.5
    generated = np.concatenate([[[0, 0]], np.cumsum(shifts, axis=0)])
    assert tracker.motion_fidelity(clip.camera, generated) > 0.95


def test_fidelity_is_one_for_the_same_motion_and_minus_one_for_the_opposite():
    right = clips.render(clips.ClipSpec("circle", "red", "line-right", 1)).trajectory
    left = clips.render(clips.ClipSpec("circle", "red", "line-left", 1)).trajectory
    up = clips.render(clips.ClipSpec("circle", "red", "line-up", 1)).trajectory
    assert tracker.motion_fidelity(right, right) == pytest.approx(1.0)
    assert tracker.motion_fidelity(right, left) < -0.95
    assert abs(tracker.motion_fidelity(right, up)) < 0.2
    assert tracker.motion_fidelity(right, np.full_like(right, np.nan)) == 0.0  # nothing found: no credit


@pytest.mark.parametrize("shape", clips.SHAPES)
def test_the_tracker_names_each_shape_and_not_a_blob(shape):
    """tracker.shape_of (the image evaluation's "keeps its shape"): every frame of a clip of each shape, at every
    size a clip takes (a grow clip), is named right; a blob of another shape is not named as this one."""
    clip = clips.render(clips.ClipSpec(shape, "orange", "grow", 3), num_frames=9)
    masks = tracker.colour_masks(clip.frames)["orange"]
    assert [tracker.shape_of(mask) for mask in masks] == [shape] * 9
    others = [other for other in clips.SHAPES if other != shape]
    still = clips.still(others[0], "orange", np.array([0.5, 0.5, 0.2]), seed=1)
    assert tracker.shape_of(tracker.colour_masks(still[None])["orange"][0]) == others[0]
    assert tracker.shape_of(np.zeros((32, 32), dtype=bool)) is None


def test_the_image_benchmarks_ceiling_moves_the_images_subject_along_the_reference_path():
    """evaluate_image's ceiling row: the reference's path drawn from the image's subject starts with the image
    itself and follows the path from where the subject stands; near the edge the path leaves the frame and the
    ceiling drops, as a generated video's fidelity would."""
    from motion_inversion.toy.evaluate_image import drawn_from_image

    reference = clips.render(clips.ClipSpec("circle", "red", "line-right", 5), num_frames=9)
    radius = reference.trajectory[0, 2] / clips.SIZE / np.sqrt(np.pi)
    scores = []
    for x in (0.3, 0.85):
        place = np.array([x, 0.6, radius])
        drawn = drawn_from_image(reference, "square", "pink", place, seed=3)
        assert np.array_equal(drawn[0], clips.still("square", "pink", place, seed=3))
        path = tracker.track(drawn, "pink").trajectory
        assert np.allclose(path[0, :2] / clips.SIZE, place[:2], atol=0.02)
        scores.append(tracker.motion_fidelity(reference.trajectory, path))
    assert scores[0] >= 0.95 and scores[1] < scores[0] - 0.1, scores


def test_no_object_is_found_in_a_grey_clip():
    grey = np.full((8, 32, 32, 3), 120, dtype=np.uint8)
    assert tracker.dominant_colour(grey) is None and not tracker.track(grey).found.any()


def test_evaluation_references_are_never_training_clips():
    training = set(clips.sample_specs(12000, TRAIN_SEED))
    references = reference_specs(8, EVAL_SEED)
    assert {s.kind for s in references} == set(clips.KINDS)
    assert not training & set(references)
    assert not {s.seed for s in training} & {s.seed for s in references}


def test_caption_words_are_single_tokens(tmp_path):
    tokenizer = tiny_tokenizer(tmp_path, WORDS, MAX_TOKENS)
    for word in WORDS:
        assert len(tokenizer.tokenize(word)) == 1, word
    assert tokenizer.tokenize("a tank")[0] == "a</w>"  # unknown words still tokenize, letter by letter
    write_tiny_tokenizer(tmp_path / "plain")  # no words: a character tokenizer, as the tiny test models use
    assert (tmp_path / "plain" / "merges.txt").read_text() == "#version: 0.2\n"


def test_sample_clips_are_written_as_playable_mp4(tmp_path):
    from motion_inversion.video import read_clip

    paths = clips.write_samples(tmp_path)
    assert {p.stem for p in paths} == set(clips.SAMPLES)
    for path, spec in zip(paths, clips.SAMPLES.values(), strict=True):
        clip = read_clip(path, clips.NUM_FRAMES, clips.SIZE, clips.SIZE)
        assert clip.frames.shape == (clips.NUM_FRAMES, clips.SIZE, clips.SIZE, 3)
        assert tracker.dominant_colour(clip.frames) == spec.colour


@pytest.mark.parametrize("name", ["toy", "toy-wan"])
def test_each_toy_model_learns_the_shipped_sample_clips_at_its_own_frame_count(name):
    """The app's sample clips for each toy model give it all the frames it takes (the toy Wan: 1 + 4k = 9)."""
    from motion_inversion.models import REGISTRY
    from motion_inversion.toy.examples import sample_clip

    spec = REGISTRY[name]
    for sample, clip_spec in clips.SAMPLES.items():
        clip = sample_clip(spec, sample)
        assert clip.frames.shape == (spec.num_frames, spec.height, spec.width, 3)
        assert tracker.dominant_colour(clip.frames) == clip_spec.colour
