"""The shipped toy model (assets/toy-model): it loads offline like any pipeline, draws what the prompt asks for, and
a motion learned from a sample clip moves a new object the way the reference moved."""

from pathlib import Path

import numpy as np
import pytest

from motion_inversion import generate, invert, load_model
from motion_inversion.models import REGISTRY
from motion_inversion.toy import clips, tracker

SAMPLES = Path(__file__).resolve().parent.parent / "assets" / "samples"


@pytest.fixture(scope="module")
def toy():
    return load_model("toy", device="cpu")


def test_the_toy_model_is_a_small_diffusers_pipeline_folder(toy):
    folder = Path(REGISTRY["toy"].source)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size <= 25 * 2**20
    assert {type(m).__name__ for m in (toy.vae, toy.text_encoder, toy.unet, toy.scheduler)} == {
        "AutoencoderKL", "CLIPTextModel", "UNet3DConditionModel", "DDIMScheduler"
    }  # fmt: skip
    assert (toy.spec.height, toy.spec.width, toy.spec.num_frames) == (clips.SIZE, clips.SIZE, clips.NUM_FRAMES)


@pytest.mark.parametrize("colour", list(clips.COLOURS))
def test_the_toy_model_draws_an_object_of_the_prompted_colour(toy, colour):
    frames = generate(toy, None, f"a {colour} circle", seed=0).numpy()
    assert frames.shape == (clips.NUM_FRAMES, clips.SIZE, clips.SIZE, 3)
    assert tracker.dominant_colour(frames) == colour
    assert tracker.track(frames, colour).found_fraction >= 0.75


MIN_FIDELITY, MIN_GAIN = 0.25, 0.2  # set from the measurement below
TRANSFER_CASES = {  # sample clip -> new subjects generated with its motion (other shape, other colour)
    "blue-square-right": (("a green circle", "green"), ("a yellow triangle", "yellow")),
    "red-circle-orbit": (("a blue square", "blue"), ("a yellow triangle", "yellow")),
}


def test_a_learned_motion_moves_a_new_object_like_the_reference(toy):
    # What the app does with default settings (the toy recipe, motion type "object"), on 4 cases: 2 sample clips,
    # 2 new subjects each. MEASURED; the margins below leave room for numerics.
    with_motion, without = [], []
    for name, prompts in TRANSFER_CASES.items():
        spec = clips.SAMPLES[name]
        reference = clips.render(spec).trajectory
        motion = invert(toy, SAMPLES / f"{name}.mp4", prompt=spec.caption, seed=0)
        for prompt, colour in prompts:
            moved = generate(toy, motion, prompt, motion_type="object", seed=0).numpy()
            plain = generate(toy, None, prompt, seed=0).numpy()
            assert tracker.dominant_colour(moved) == colour  # the prompt's look, not the reference's
            with_motion.append(tracker.motion_fidelity(reference, tracker.track(moved, colour).trajectory))
            without.append(tracker.motion_fidelity(reference, tracker.track(plain, colour).trajectory))
    assert np.mean(with_motion) >= MIN_FIDELITY and np.mean(with_motion) - np.mean(without) >= MIN_GAIN, (
        with_motion, without
    )  # fmt: skip
