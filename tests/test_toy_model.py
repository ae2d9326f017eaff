"""The shipped toy models (assets/toy-model, assets/toy-wan): they load offline like any pipeline, draw what the prompt
asks for, and a motion learned from a sample clip moves a new object (another shape, another colour) the way the
reference moved."""

from pathlib import Path

import numpy as np
import pytest

from motion_inversion import generate, invert, load_model
from motion_inversion.models import REGISTRY
from motion_inversion.toy import clips, tracker
from motion_inversion.toy.examples import sample_clip


@pytest.fixture(scope="module")
def toy():
    return load_model("toy", device="cpu")


def test_the_toy_model_is_a_small_diffusers_pipeline_folder(toy):
    folder = Path(REGISTRY["toy"].source)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size <= 25 * 2**20
    assert {type(m).__name__ for m in (toy.vae, toy.text_encoder, toy.denoiser, toy.scheduler)} == {
        "AutoencoderKL", "CLIPTextModel", "UNet3DConditionModel", "DDIMScheduler"
    }  # fmt: skip
    assert (toy.spec.height, toy.spec.width, toy.spec.num_frames) == (clips.SIZE, clips.SIZE, clips.NUM_FRAMES)


@pytest.mark.parametrize("colour", list(clips.COLOURS))
def test_the_toy_model_draws_an_object_of_the_prompted_colour(toy, colour):
    frames = generate(toy, None, clips.caption(colour, "circle"), seed=0).numpy()
    assert frames.shape == (clips.NUM_FRAMES, clips.SIZE, clips.SIZE, 3)
    assert tracker.dominant_colour(frames) == colour
    assert tracker.track(frames, colour).found_fraction >= 0.75


# Margins per toy model: (reproduction mean, its gain over no motion, transfer mean, its gain), below what was
# measured on these 2 sample clips (200 steps, app defaults, seeds 0 and 1), leaving room for one transfer case in 8
# to flip on another CPU's rounding.
# toy (the 2400-step model of session 9, session 10's recipe): reproduction with the reference's caption 0.98, 0.95,
# 0.99, 0.99 (mean 0.98) against -0.29, 0.08, -0.19, 0.16 (mean -0.06) without the motion; transfer to the 4 new
# subjects below, 2 seeds each: 0.96, 0.62, 0.98, 0.99, 0.98, 0.99, 1.00, 1.00 (mean 0.94) against 0.01 without.
# Appearance: every subject on both seeds keeps the prompt's colour (asserted below); the closest call, the orange
# circle on seed 1 (yellow with the embeddings in every step), has 538 orange pixels against 193 yellow.
# toy-wan (session 20: the 2x-temporal VAE, 20989 transformer steps on it, embeddings in all 6 blocks at strength
# 0.5; its 9-frame samples): reproduction 0.96, 0.93, 0.97, 0.98 (mean 0.96) against -0.36, -0.13, 0.07, -0.10;
# transfer 0.96, 0.95, 0.89, 0.86, 0.99, 0.98, 0.92, 0.95 (mean 0.94) against -0.05; every subject in the prompt's
# colour, found in every frame. (Session 19, 12000 steps at strength 1: 0.97 and 0.90; session 13's 4x model: 0.93
# and 0.88.)
MARGINS = {"toy": (0.85, 0.75, 0.75, 0.7), "toy-wan": (0.8, 0.85, 0.75, 0.85)}
TRANSFER_CASES = {  # sample clip -> new subjects generated with its motion (other shape, other colour)
    "pink-square-right": (("an orange circle", "orange"), ("a yellow triangle", "yellow")),
    "red-circle-orbit": (("a pink square", "pink"), ("a yellow triangle", "yellow")),
}


@pytest.fixture(scope="module", params=list(MARGINS))
def toy_model(request):
    return load_model(request.param, device="cpu")


@pytest.fixture(scope="module")
def learned(toy_model):
    """The sample clips' motions, learned as the app does (the model's own sample clips, caption, default recipe,
    seed 0)."""
    return {name: invert(toy_model, sample_clip(toy_model.spec, name), prompt=clips.SAMPLES[name].caption, seed=0)
            for name in TRANSFER_CASES}  # fmt: skip


def run_cases(toy, learned, cases) -> list[tuple]:
    """Each (sample, prompt, colour) case on seeds 0 and 1, generated with the sample's motion (object type, app
    defaults) and without it: (seed, colour, fidelity with the motion, fidelity without, the video with it)."""
    rows = []
    for name, prompt, colour in cases:
        reference = clips.render(clips.SAMPLES[name], num_frames=toy.spec.num_frames).trajectory
        for seed in (0, 1):
            moved = generate(toy, learned[name], prompt, motion_type="object", seed=seed).numpy()
            plain = generate(toy, None, prompt, seed=seed).numpy()
            with_motion, without = (tracker.motion_fidelity(reference, tracker.track(video, colour).trajectory)
                                    for video in (moved, plain))  # fmt: skip
            rows.append((seed, colour, with_motion, without, moved))
    return rows


@pytest.fixture(scope="module")
def transferred(toy_model, learned):
    cases = [(name, prompt, colour) for name, prompts in TRANSFER_CASES.items() for prompt, colour in prompts]
    return run_cases(toy_model, learned, cases)


def assert_margins(rows, minimum: float, gain: float) -> None:
    with_motion, without = [row[2] for row in rows], [row[3] for row in rows]
    assert np.mean(with_motion) >= minimum and np.mean(with_motion) - np.mean(without) >= gain, (with_motion, without)


def test_a_learned_motion_reproduces_the_reference_motion(toy_model, learned):
    cases = [(name, clips.SAMPLES[name].caption, clips.SAMPLES[name].colour) for name in learned]
    assert_margins(run_cases(toy_model, learned, cases), *MARGINS[toy_model.spec.name][:2])


def test_a_learned_motion_moves_a_new_subject_the_way_the_reference_moved(toy_model, transferred):
    assert_margins(transferred, *MARGINS[toy_model.spec.name][2:])


def test_a_learned_motion_never_carries_the_reference_look_to_a_new_subject(transferred):
    for seed, colour, _, _, moved in transferred:
        assert tracker.dominant_colour(moved) == colour, seed  # the prompt's look, not the reference's
        assert tracker.track(moved, colour).found_fraction >= 0.75, seed


@pytest.mark.parametrize("name", ["toy", "toy-wan"])
def test_the_vae_keeps_every_colour_of_the_toy_world(name):
    """Encode and decode one clip of each colour: the colour comes back (session 11's toy Wan VAE returned every
    colour as orange, so no caption could be drawn in its colour; docs/toy-wan.md)."""
    import torch

    model = load_model(name, device="cpu")
    for colour in clips.COLOURS:
        frames = clips.render(
            clips.ClipSpec("circle", colour, "line-right", 3), num_frames=model.spec.num_frames
        ).frames
        round_trip = model.decode_latents(model.encode_frames(torch.from_numpy(frames))).numpy()
        assert tracker.dominant_colour(round_trip) == colour, (
            f"{name}: {colour} came back {tracker.dominant_colour(round_trip)}"
        )


# Shape kept through the toy Wan's VAE alone, frames after the first of these 12 held-out clips per shape: circles /
# squares / triangles 94% / 40% / 70% with the MSE-fitted VAE of sessions 13-15, 89% / 72% / 98% with sharpen_decoder's
# decoder (docs/toy-wan.md, "Session 16"), 98% / 86% / 100% with the shipped 2x-temporal VAE (session 19).
MIN_SHAPE_KEPT = {"circle": 0.85, "square": 0.75, "triangle": 0.9}


def test_the_toy_wan_vae_gives_each_shape_back_in_its_shape():
    """The issue "My image, this motion": the subject keeps the image's shape, and nothing generated keeps a shape
    the VAE itself does not draw (its first, MSE-fitted decoder drew squares round)."""
    import torch

    model = load_model("toy-wan", device="cpu")
    specs = clips.sample_specs(60, seed=4242)
    kept = {}
    for shape in clips.SHAPES:
        hits = []
        for spec in [spec for spec in specs if spec.shape == shape][:12]:
            frames = clips.render(spec, num_frames=model.spec.num_frames).frames
            round_trip = model.decode_latents(model.encode_frames(torch.from_numpy(frames))).numpy()
            hits += [tracker.shape_of(mask) == shape for mask in tracker.colour_masks(round_trip[1:])[spec.colour]]
        kept[shape] = float(np.mean(hits))
    assert all(kept[shape] >= least for shape, least in MIN_SHAPE_KEPT.items()), kept


# The VAE's round trip of one held-out reference per group, measured like a generated video (session 13): toy UNet
# 0.99 / 1.00 / 1.00 / 0.93 / 1.00, toy Wan 0.98 / 0.93 / 0.97 / 0.80 / 0.98 (lines, orbits, zig-zags, grow/shrink,
# pans; session 19's 2x VAE: 0.99 / 1.00 / 1.00 / 0.96 / 0.99); session 12's toy Wan VAE gave 0.91 / 0.52 / 0.40 /
# 0.79 / 0.73 (docs/toy-wan.md).
@pytest.mark.parametrize("name", ["toy", "toy-wan"])
def test_the_vae_keeps_the_motion_of_each_kind(name):
    """No generation can move more faithfully than the VAE decodes: a VAE that blurs the frames inside a latent
    frame turns orbits and zig-zags into other paths, whatever the embeddings learn."""
    from motion_inversion.toy.evaluate import vae_round_trip

    kept = vae_round_trip(load_model(name, device="cpu"), per_group=1)
    assert min(kept.values()) >= 0.75 and np.mean(list(kept.values())) >= 0.9, kept


@pytest.mark.parametrize("name", ["toy", "toy-wan"])
def test_the_shipped_folder_carries_the_registry_recipe(name):
    """Loaded by its path (a copy on a Space, `--model assets/toy-wan`), a toy model generates as by its name: its
    motion_inversion.json holds the registry's recipe (session 20 changed toy-wan's strength in both by hand)."""
    from motion_inversion.models import model_spec
    from motion_inversion.toy.train import spec_settings

    by_path = spec_settings(model_spec(REGISTRY[name].source))
    assert by_path == spec_settings(REGISTRY[name])
