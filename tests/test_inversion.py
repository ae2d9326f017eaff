"""invert() on a tiny pipeline: a real training signal, stopping, reproducibility, checkpoints, short clips."""

import warnings

import pytest
import torch
from conftest import TINY_FRAMES, make_clip

from motion_inversion import Motion, MotionInversionError, inject_motion
from motion_inversion.errors import MotionInversionWarning
from motion_inversion.inversion import invert
from motion_inversion.models import denoiser_forward
from motion_inversion.video import read_clip


def fixed_evaluation_loss(model, clip_path, motion=None) -> float:
    """Denoising loss on the clip at five fixed timesteps and noises: comparable before and after training."""
    frames = torch.from_numpy(read_clip(clip_path, TINY_FRAMES, 32, 32).frames)
    latents = model.encode_frames(frames)
    text = model.encode_text(["a test pattern"])
    generator = torch.Generator().manual_seed(123)
    injection = motion.apply(model.denoiser) if motion is not None else None
    total = 0.0
    with torch.no_grad():
        for t in (100, 300, 500, 700, 900):
            noise = torch.randn(latents.shape, generator=generator)
            timestep = torch.tensor([t])
            noisy = model.scheduler.add_noise(latents, noise, timestep)
            total += torch.nn.functional.mse_loss(
                denoiser_forward(model.denoiser, noisy, timestep, text), noise
            ).item()
    if injection is not None:
        injection.remove()
    return total / 5


def test_loss_falls_when_fitting_one_clip(tiny_model, clip_path):
    before = fixed_evaluation_loss(tiny_model, clip_path)
    motion = invert(tiny_model, clip_path, prompt="a test pattern", steps=50, inversion_steps=0)
    after = fixed_evaluation_loss(tiny_model, clip_path, motion)
    # measured on this random-weight tiny model: 1.124 -> 1.081 (-3.8%); a trained model falls much further
    assert after < 0.975 * before
    assert motion.steps == 50 and motion.num_frames == TINY_FRAMES
    assert any(t.abs().sum() > 0 for t in motion.embeddings.values())


def test_stop_via_callback_returns_usable_motion(tiny_model, clip_path, tmp_path):
    seen = []

    def stop_after_three(step, total, loss):
        seen.append((step, total, loss))
        return step == 3

    motion = invert(tiny_model, clip_path, steps=100, inversion_steps=2, callback=stop_after_three)
    assert [s[:2] for s in seen] == [(1, 100), (2, 100), (3, 100)]
    assert motion.steps == 3 and motion.loss == pytest.approx(sum(s[2] for s in seen) / 3)
    assert motion.inversion_latent.shape == (1, 4, TINY_FRAMES, 16, 16)
    reloaded = Motion.load(motion.save(tmp_path / "stopped.safetensors"))
    reloaded.apply(tiny_model.denoiser).remove()


def test_same_seed_same_motion_and_other_seed_differs(tiny_model, clip_path):
    first = invert(tiny_model, clip_path, steps=3, seed=7, inversion_steps=2, loss="debiased")
    second = invert(tiny_model, clip_path, steps=3, seed=7, inversion_steps=2, loss="debiased")
    other = invert(tiny_model, clip_path, steps=3, seed=8, inversion_steps=2, loss="debiased")
    assert all(torch.equal(first.embeddings[k], second.embeddings[k]) for k in first.embeddings)
    assert torch.equal(first.inversion_latent, second.inversion_latent)
    assert not all(torch.equal(first.embeddings[k], other.embeddings[k]) for k in first.embeddings)


@pytest.mark.parametrize("granularity", [True, "block"])  # True: per layer
def test_gradient_checkpointing_gives_the_same_motion_and_restores_the_unet(tiny_model, clip_path, granularity):
    names_before = [name for name, _ in tiny_model.denoiser.named_modules()]
    plain = invert(tiny_model, clip_path, steps=2, inversion_steps=0)
    checkpointed = invert(tiny_model, clip_path, steps=2, inversion_steps=0, gradient_checkpointing=granularity)
    for name in plain.embeddings:
        torch.testing.assert_close(checkpointed.embeddings[name], plain.embeddings[name], rtol=1e-4, atol=1e-6)
    assert [name for name, _ in tiny_model.denoiser.named_modules()] == names_before


def test_checkpoints_are_written(tiny_model, clip_path, tmp_path):
    invert(tiny_model, clip_path, steps=4, checkpoint_every=2, checkpoint_dir=tmp_path, inversion_steps=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000002.safetensors", "step-000004.safetensors"]
    assert Motion.load(tmp_path / "step-000002.safetensors").steps == 2


def test_clip_shorter_than_model_frames_learns_at_its_own_length(tiny_model, tmp_path):
    clip = make_clip(tmp_path / "ten.mp4", seconds=1.25, rate=8)  # 10 frames
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        motion = invert(tiny_model, clip, steps=1, num_frames=12, inversion_steps=0)
    assert motion.num_frames == 10
    notes = [str(w.message) for w in caught if issubclass(w.category, MotionInversionWarning)]
    assert notes == ["ten.mp4 has 10 frames, fewer than 12: learning at 10"]


@pytest.mark.parametrize("seconds, frames", [(0.125, 1), (0.625, 5)])
def test_too_short_clip_is_refused_with_counts(tiny_model, tmp_path, seconds, frames):
    clip = make_clip(tmp_path / "tiny.mp4", seconds=seconds, rate=8)
    with pytest.raises(MotionInversionError, match=f"tiny.mp4 has {frames} frame\\(s\\); .* at least 8"):
        invert(tiny_model, clip, steps=1)


def test_bad_settings_are_refused(tiny_model, clip_path):
    with pytest.raises(MotionInversionError, match="steps must be an integer from 1 to 10000, got 0"):
        invert(tiny_model, clip_path, steps=0)
    with pytest.raises(MotionInversionError, match="loss must be one of"):
        invert(tiny_model, clip_path, loss="hybrid")


def test_unet_is_left_clean(tiny_model, clip_path):
    invert(tiny_model, clip_path, steps=1, inversion_steps=0)
    inject_motion(tiny_model.denoiser, TINY_FRAMES, (16, 16)).remove()  # would refuse if embeddings were left behind


class Interrupted(Exception):
    """Stands for anything that can go wrong mid-job: out of memory, a full disk, a bug."""


def fail_at_step(step: int):
    def callback(done, *_):
        if done == step:
            raise Interrupted(f"forced failure at step {done}")

    return callback


def test_an_error_mid_inversion_leaves_the_original_processors(tiny_model, clip_path):
    original = dict(tiny_model.denoiser.attn_processors)
    with pytest.raises(Interrupted):
        invert(tiny_model, clip_path, steps=10, inversion_steps=0, callback=fail_at_step(3))
    after = tiny_model.denoiser.attn_processors
    assert after.keys() == original.keys() and all(after[name] is original[name] for name in original)


def test_progress_reports_each_stage_in_order_and_a_stop_while_preparing_learns_nothing(tiny_model, clip_path):
    seen = []
    invert(tiny_model, clip_path, steps=3, inversion_steps=4, on_progress=lambda p: seen.append(p))
    assert list(dict.fromkeys(p.stage for p in seen)) == ["reading", "encoding", "inverting", "learning"]
    assert [(p.step, p.total) for p in seen if p.stage == "inverting"] == [(k, 4) for k in range(5)]
    assert (seen[-1].stage, seen[-1].step, seen[-1].total) == ("learning", 3, 3) and seen[-1].loss > 0
    with pytest.raises(MotionInversionError, match=r"stopped while inverting the clip \(2/4\): nothing was learned"):
        invert(tiny_model, clip_path, steps=3, inversion_steps=4,
               on_progress=lambda p: p.stage == "inverting" and p.step == 2)  # fmt: skip
    inject_motion(tiny_model.denoiser, TINY_FRAMES, (16, 16)).remove()  # nothing was left installed
