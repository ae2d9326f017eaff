"""generate() on a tiny pipeline: baseline, motion types, defaults, size changes and refusals."""

import dataclasses
import warnings

import pytest
import torch

from motion_inversion import Motion, MotionInversionError
from motion_inversion.errors import MotionInversionWarning
from motion_inversion.generation import generate
from motion_inversion.inversion import invert


@pytest.fixture(scope="module")
def motion(tiny_model, clip_path) -> Motion:
    return invert(tiny_model, clip_path, prompt="a test pattern", steps=5, inversion_steps=5)


def test_baseline_without_motion(tiny_model):
    frames = generate(tiny_model, None, "a red circle", steps=2)
    assert frames.shape == (8, 32, 32, 3) and frames.dtype == torch.uint8
    assert torch.equal(frames, generate(tiny_model, None, "a red circle", steps=2))  # same seed, same video


def test_motion_types_change_the_video(tiny_model, motion):
    baseline = generate(tiny_model, None, "a blue square", steps=2, noise_prior=0.0)
    videos = {kind: generate(tiny_model, motion, "a blue square", motion_type=kind, steps=2, noise_prior=0.0)
              for kind in ("camera", "object", "hybrid")}  # fmt: skip
    assert all(v.shape == baseline.shape for v in videos.values())
    assert not torch.equal(videos["object"], baseline)
    assert not torch.equal(videos["camera"], baseline)
    assert not torch.equal(videos["camera"], videos["object"])  # camera drops the value embedding
    assert torch.equal(videos["object"], videos["hybrid"])  # both use the value frame difference
    none = generate(tiny_model, motion, "a blue square", strength=0.0, steps=2, noise_prior=0.0)
    assert torch.equal(none, baseline)


def test_inversion_latent_starts_the_sampling(tiny_model, motion):
    with_prior = generate(tiny_model, motion, "a blue square", steps=2, noise_prior=0.5)
    without_prior = generate(tiny_model, motion, "a blue square", steps=2, noise_prior=0.0)
    assert not torch.equal(with_prior, without_prior)


def test_motion_until_limits_the_embeddings_to_the_first_steps(tiny_model, motion):
    def video(**options):
        return generate(tiny_model, motion, "a blue square", steps=4, noise_prior=0.0, **options)

    baseline = generate(tiny_model, None, "a blue square", steps=4, noise_prior=0.0)
    everywhere, half = video(motion_until=1.0), video(motion_until=0.5)
    assert torch.equal(video(motion_until=0.0), baseline)  # no step uses the motion: the plain model
    assert not torch.equal(half, everywhere) and not torch.equal(half, baseline)
    # unset, the share comes from the model's recipe for the motion type (as the toy model's does)
    recipe = dataclasses.replace(tiny_model.spec, motion_until={"camera": 1.0, "object": 0.5, "hybrid": 0.5})
    with_recipe = dataclasses.replace(tiny_model, spec=recipe)
    assert torch.equal(generate(with_recipe, motion, "a blue square", steps=4, noise_prior=0.0), half)
    camera = generate(with_recipe, motion, "a blue square", motion_type="camera", steps=4, noise_prior=0.0)
    assert torch.equal(camera, video(motion_type="camera", motion_until=1.0))
    original = dict(tiny_model.denoiser.attn_processors)
    video(motion_until=0.25)
    assert all(tiny_model.denoiser.attn_processors[name] is processor for name, processor in original.items())
    with pytest.raises(MotionInversionError, match="motion_until must be a number from 0 to 1, got 1.5"):
        video(motion_until=1.5)


def test_other_frame_count_warns_and_uses_noise(tiny_model, motion):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = generate(tiny_model, motion, "a blue square", steps=2, num_frames=12, height=48, width=32)
    assert frames.shape == (12, 48, 32, 3)
    assert any("starting from plain noise" in str(w.message) for w in caught if w.category is MotionInversionWarning)


def test_refusals(tiny_model, motion):
    with pytest.raises(MotionInversionError, match="the prompt is empty"):
        generate(tiny_model, motion, "   ")
    with pytest.raises(MotionInversionError, match="motion_type must be one of"):
        generate(tiny_model, motion, "a cat", motion_type="zoom")
    foreign = Motion(**{**motion.__dict__, "base_model": "zeroscope"})
    with pytest.raises(MotionInversionError, match="learned on 'zeroscope', not on 'tiny-unet3d'"):
        generate(tiny_model, foreign, "a cat", steps=2)
    with pytest.raises(MotionInversionError, match="stopped at step 1 of 2"):
        generate(tiny_model, motion, "a cat", steps=2, callback=lambda step, total: True)


def test_a_motion_from_an_earlier_version_of_the_model_is_refused(tiny_model, motion):
    """Same name, another VAE (the toy Wan's 4x -> 2x, session 19): its embeddings cover other latent frames, and
    resampled they moved nothing, so generate says to relearn rather than make a still video."""
    from motion_inversion.embeddings import resample_frames

    half = motion.embedding_frames // 2
    embeddings = {name: resample_frames(tensor, half) for name, tensor in motion.embeddings.items()}
    earlier = dataclasses.replace(motion, embeddings=embeddings)
    n = motion.num_frames
    expected = rf"earlier version of tiny-unet3d \({half} latent frames for its {n} frames, this one makes {n}\)"
    with pytest.raises(MotionInversionError, match=expected + ": learn it again from its clip"):
        generate(tiny_model, earlier, "a cat", steps=2)


def test_an_error_mid_generation_leaves_the_original_processors(tiny_model, motion):
    from test_inversion import Interrupted, fail_at_step

    original = dict(tiny_model.denoiser.attn_processors)
    plain = generate(tiny_model, None, "a red circle", steps=2)
    with pytest.raises(Interrupted):
        generate(tiny_model, motion, "a red circle", steps=4, callback=fail_at_step(2))
    after = tiny_model.denoiser.attn_processors
    assert after.keys() == original.keys() and all(after[name] is original[name] for name in original)
    assert torch.equal(generate(tiny_model, None, "a red circle", steps=2), plain)  # the plain model, as before


def test_sampling_keeps_no_autograd_graph(tiny_model, motion):
    """generate runs without gradients: with them, every step's activations would be kept (a misplaced decorator
    once left it tracking)."""
    tracking = []
    generate(tiny_model, motion, "a cat", steps=2, callback=lambda *_: tracking.append(torch.is_grad_enabled()))
    assert tracking == [False, False]
