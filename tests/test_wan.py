"""Motion embeddings on a Wan transformer (families/wan.py, wan_processor.py): placement, exactness, training, the
motion file, refusal across families, resampling, flow inversion, and the CLI end to end on a tiny Wan pipeline."""

import numpy as np
import pytest
import torch
from conftest import make_clip
from diffusers.models.transformers.transformer_wan import WanAttnProcessor
from test_cli import run_cli
from test_mechanism import fill_randomly

from motion_inversion import Motion, MotionInversionError, WanMotionAttnProcessor, inject_motion, load_model
from motion_inversion.inversion import invert_latents
from motion_inversion.models import denoiser_forward
from motion_inversion.tiny import save_tiny_wan_pipeline, tiny_unet, tiny_wan_transformer
from motion_inversion.video import probe_clip, read_clip

LATENT_FRAMES, LATENT_SIZE = 5, (8, 12)  # 17 video frames at 64x96


@pytest.fixture
def transformer():
    return tiny_wan_transformer(num_layers=3).requires_grad_(False).eval()


def wan_inputs(frames: int = LATENT_FRAMES, latent_size=LATENT_SIZE, batch: int = 2, seed: int = 1) -> dict:
    generator = torch.Generator().manual_seed(seed)
    return dict(
        latents=torch.randn(batch, 16, frames, *latent_size, generator=generator),
        timestep=torch.tensor(500),
        text=torch.randn(batch, 7, 32, generator=generator),
    )


def run(transformer, inputs: dict) -> torch.Tensor:
    with torch.no_grad():
        return denoiser_forward(transformer, inputs["latents"], inputs["timestep"], inputs["text"])


@pytest.fixture(scope="module")
def tiny_wan_dir(tmp_path_factory):
    return save_tiny_wan_pipeline(tmp_path_factory.mktemp("models") / "tiny-wan", height=64, width=96, num_frames=17)


@pytest.fixture(scope="module")
def tiny_wan(tiny_wan_dir):
    return load_model(tiny_wan_dir, device="cpu")


def test_embeddings_sit_in_self_attention_only_and_zero_is_bit_identical(transformer):
    inputs = wan_inputs()
    reference = run(transformer, inputs)
    before = dict(transformer.attn_processors)
    injection = inject_motion(transformer, LATENT_FRAMES, LATENT_SIZE, target_blocks=["blocks.0", "blocks.2"])
    changed = sorted(name for name, p in transformer.attn_processors.items() if p is not before[name])
    assert changed == ["blocks.0.attn1.processor", "blocks.2.attn1.processor"]  # text cross-attention untouched
    assert torch.equal(run(transformer, inputs), reference)  # zero embeddings: bit-identical
    # one query-key row per latent frame; values on the token grid (latent / patch 2)
    shapes = {name: tuple(t.shape) for name, t in injection.named_embeddings().items()}
    assert shapes["blocks.0.query_key"] == (LATENT_FRAMES, 24) and shapes["blocks.0.attn1.value"] == (4 * 6, 5, 24)
    fill_randomly(injection)
    assert not torch.allclose(run(transformer, inputs), reference)
    injection.remove()
    assert all(transformer.attn_processors[name] is p for name, p in before.items())
    assert torch.equal(run(transformer, inputs), reference)


def test_embeddings_enter_before_the_projections_norms_and_rope(transformer):
    """With the value embedding equal to the query-key one, the processor is the stock one fed x + m_qk."""
    injection = inject_motion(transformer, LATENT_FRAMES, LATENT_SIZE, target_blocks=["blocks.1"])
    processor = injection.processors["blocks.1.attn1"]
    assert isinstance(processor, WanMotionAttnProcessor)
    query_key = torch.randn(LATENT_FRAMES, 24)
    grid = 4 * 6
    with torch.no_grad():
        processor.query_key.copy_(query_key)
        processor.value.copy_(query_key[None].expand(grid, -1, -1))  # (h*w, f, c)
    hidden = torch.randn(2, LATENT_FRAMES * grid, 24)
    rotary = transformer.rope(torch.zeros(2, 16, LATENT_FRAMES, *LATENT_SIZE))
    processor.current_grid = (4, 6)
    attn = transformer.blocks[1].attn1
    with torch.no_grad():
        ours = processor(attn, hidden, None, None, rotary)
        shifted = hidden + query_key.repeat_interleave(grid, dim=0)  # frame-major tokens
        stock = WanAttnProcessor()(attn, shifted, None, None, rotary)
    torch.testing.assert_close(ours, stock, rtol=0, atol=1e-6)
    injection.remove()


@pytest.mark.parametrize("checkpointing", [False, True])
def test_training_changes_only_the_embeddings(transformer, tiny_wan, checkpointing):
    injection = inject_motion(transformer, LATENT_FRAMES, LATENT_SIZE, value_pool=2)
    frozen = {n: p.detach().clone() for n, p in transformer.named_parameters() if "processor" not in n}
    parameters = injection.parameters()
    for parameter in parameters:
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW(parameters, lr=0.05)
    inputs = wan_inputs()
    generator = torch.Generator().manual_seed(0)
    family = injection.family
    with family.gradient_checkpointing(transformer, injection.layers, "layer" if checkpointing else False):
        for _ in range(3):
            noisy, timestep, target = family.training_example(tiny_wan.scheduler, inputs["latents"], generator)
            loss = torch.nn.functional.mse_loss(denoiser_forward(transformer, noisy, timestep, inputs["text"]), target)
            optimizer.zero_grad()
            loss.backward()
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in parameters)
            optimizer.step()
    assert transformer.gradient_checkpointing is False  # switched back off
    assert all(p.abs().sum() > 0 for p in parameters)
    for name, parameter in transformer.named_parameters():
        if name in frozen:
            assert parameter.grad is None and torch.equal(parameter, frozen[name]), name
    injection.remove()


def test_checkpointing_learns_the_same_gradients(transformer, tiny_wan):
    gradients = []
    for checkpointing in (False, True):
        injection = inject_motion(transformer, LATENT_FRAMES, LATENT_SIZE)
        fill_randomly(injection, scale=0.1)
        for parameter in injection.parameters():
            parameter.requires_grad_(True)
        inputs = wan_inputs()
        with injection.family.gradient_checkpointing(transformer, injection.layers, checkpointing):
            prediction = denoiser_forward(transformer, inputs["latents"], inputs["timestep"], inputs["text"])
            prediction.square().mean().backward()
        gradients.append([p.grad.clone() for p in injection.parameters()])
        injection.remove()
    for without, with_checkpointing in zip(*gradients, strict=True):
        torch.testing.assert_close(with_checkpointing, without, rtol=1e-4, atol=1e-7)


def test_motion_file_round_trip_reproduces_the_output(transformer, tmp_path):
    inputs = wan_inputs()
    injection = inject_motion(transformer, LATENT_FRAMES, LATENT_SIZE, value_pool=2)
    fill_randomly(injection)
    expected = run(transformer, inputs)
    motion = Motion.from_injection(injection, num_frames=17, base_model="tiny-wan", height=64, width=96, steps=3,
                                   inversion_latent=torch.randn(1, 16, LATENT_FRAMES, *LATENT_SIZE))  # fmt: skip
    injection.remove()
    loaded = Motion.load(motion.save(tmp_path / "wan.safetensors", dtype=torch.float32))
    assert (loaded.family, loaded.num_frames, loaded.embedding_frames, loaded.value_pool) == ("wan", 17, 5, 2)
    assert all(torch.equal(loaded.embeddings[k], t) for k, t in motion.embeddings.items())
    assert torch.equal(loaded.inversion_latent, motion.inversion_latent)
    with loaded.apply(transformer):
        assert torch.equal(run(transformer, inputs), expected)


def test_a_motion_of_another_family_is_refused_with_one_line(transformer):
    unet = tiny_unet("unet3d").eval()
    injection = inject_motion(unet, 6, (8, 12))
    unet_motion = Motion.from_injection(injection, base_model="zeroscope", height=64, width=96)
    injection.remove()
    with pytest.raises(MotionInversionError, match=r"learned on a 'unet3d' model \(zeroscope\).*'wan' model") as error:
        unet_motion.apply(transformer)
    assert "\n" not in str(error.value)
    injection = inject_motion(transformer, LATENT_FRAMES, LATENT_SIZE)
    wan_motion = Motion.from_injection(injection, base_model="wan2.1-1.3b", height=64, width=96)
    injection.remove()
    with pytest.raises(MotionInversionError, match=r"learned on a 'wan' model \(wan2.1-1.3b\).*'unet3d' model"):
        wan_motion.apply(unet)
    assert not any(isinstance(p, WanMotionAttnProcessor) for p in transformer.attn_processors.values())


def test_other_frame_counts_and_grids_are_resampled(transformer):
    injection = inject_motion(transformer, LATENT_FRAMES, LATENT_SIZE, value_pool=2)
    fill_randomly(injection)
    for frames, latent_size in [(3, LATENT_SIZE), (9, (12, 16)), (LATENT_FRAMES, (4, 4))]:
        inputs = wan_inputs(frames, latent_size)
        with_motion = run(transformer, inputs)
        assert with_motion.shape == inputs["latents"].shape and torch.isfinite(with_motion).all()
        injection.strength = 0.0
        assert not torch.allclose(with_motion, run(transformer, inputs))
        injection.strength = 1.0
    injection.remove()


def test_per_token_timesteps_give_the_same_prediction(transformer):
    """Wan 2.2 TI2V takes one timestep per token; with all of them equal it predicts what one timestep does."""
    inputs = wan_inputs()
    family = inject_motion(transformer, LATENT_FRAMES, LATENT_SIZE).family
    with torch.no_grad():
        one = family.predict(transformer, inputs["latents"], inputs["timestep"], inputs["text"])
        each = family.predict(transformer, inputs["latents"], inputs["timestep"], inputs["text"], True)
    torch.testing.assert_close(each, one, rtol=1e-5, atol=1e-5)


def test_flow_inversion_goes_to_noise_and_back(tiny_wan):
    """The flow ODE run backwards from a clip's latents, then forwards by the pipeline's own sampler (UniPC), comes
    back to the latents: measured 0.038 relative error at 50 steps on this tiny random model (0.10 at 20)."""
    frames = (torch.rand(17, 64, 96, 3, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    latents = tiny_wan.encode_frames(frames)
    assert latents.shape == (1, 16, 5, 8, 12)
    noise = invert_latents(tiny_wan, latents, 50)
    assert (noise - latents).norm() > latents.norm()  # it went somewhere else
    text = tiny_wan.encode_text([""])
    scheduler = tiny_wan.scheduler
    scheduler.set_timesteps(50)
    x = noise
    with torch.no_grad():
        for t in scheduler.timesteps:
            x = scheduler.step(tiny_wan.predict(x, t, text), t, x).prev_sample
    assert (x - latents).norm() / latents.norm() < 0.06


def test_learn_save_generate_through_the_cli(tiny_wan_dir, tmp_path):
    clip = make_clip(tmp_path / "pan.mp4", seconds=2.0, size="96x64", rate=16)
    motion_path = tmp_path / "pan.safetensors"
    code, out, err = run_cli("invert", clip, "--model", tiny_wan_dir, "--steps", "2", "--prompt", "bars",
                             "--out", motion_path)  # fmt: skip
    assert code == 0, err
    motion = Motion.load(motion_path)
    assert (motion.family, motion.num_frames, motion.embedding_frames) == ("wan", 17, 5)
    assert motion.inversion_latent.shape == (1, 16, 5, 8, 12)
    for motion_type in ("camera", "object", "hybrid"):
        video = tmp_path / f"{motion_type}.mp4"
        code, out, err = run_cli("generate", motion_path, "--model", tiny_wan_dir, "--prompt", "a cat",
                                 "--motion-type", motion_type, "--out", video)  # fmt: skip
        assert code == 0, err
        frames = read_clip(video, 100, 64, 96).frames
        assert frames.shape == (17, 64, 96, 3) and np.ptp(frames) > 0
        assert probe_clip(video).fps == 16  # the model's frame rate


def test_a_wan_motion_at_full_size_fits_the_file_budget():
    """Wan 2.1 1.3B at 480x832, 81 frames, with the registry's recipe (every 3rd of the last 13 blocks, value grid
    pooled 4x): the motion file (float16) must stay <= 50 MB. Counted on the meta device from the real config."""
    from accelerate import init_empty_weights

    from motion_inversion.models import REGISTRY
    from motion_inversion.random_models import random_denoiser

    spec = REGISTRY["wan2.1-1.3b"]
    with init_empty_weights():
        transformer = random_denoiser("wan2.1-1.3b")
        injection = inject_motion(transformer, 21, (60, 104), spec.target_blocks, spec.value_pool)
    numbers = sum(p.numel() for p in injection.parameters()) + 16 * 21 * 60 * 104  # + the inversion latent
    assert [layer.name for layer in injection.layers] == [f"blocks.{i}" for i in (17, 20, 23, 26, 29)]
    assert numbers * 2 <= 50e6, numbers * 2


def test_clips_are_planned_in_frame_counts_the_wan_vae_takes(tmp_path):
    """A short clip (20 frames at 10 fps) for a model of 81 frames at 16 fps is learned at its own length, cut to
    1 + 4k frames, and the line shown before learning says so."""
    from motion_inversion.inversion import load_reference_clip
    from motion_inversion.sampling import usable_frames

    assert [usable_frames(n, 4) for n in (1, 4, 5, 20, 81, 82)] == [1, 1, 5, 17, 81, 81]
    clip = make_clip(tmp_path / "short.mp4", seconds=2.0, size="96x64", rate=10)
    with pytest.warns(Warning, match="17 frames, fewer than 81"):
        reference = load_reference_clip(clip, 81, 64, 96, 16, frame_step=4)
    assert reference.num_frames == 17
    assert reference.description.startswith("learning 17 frames, 0.0-")


def test_a_clip_too_short_once_cut_to_1_plus_4k_frames_says_how_many_it_has(tmp_path):
    """An 8-frame clip gives a 4x causal VAE 5 frames (1 + 4k), too few to learn from: the refusal names both."""
    from motion_inversion.inversion import load_reference_clip

    clip = make_clip(tmp_path / "eight.mp4", seconds=1.0, size="96x64", rate=8)
    with pytest.raises(MotionInversionError) as refused:
        load_reference_clip(clip, 9, 64, 96, 8, frame_step=4)
    assert str(refused.value).startswith("eight.mp4 has 8 frame(s), 5 of them usable by this model (1 + 4k); "
                                         "motion inversion needs at least 8")  # fmt: skip
