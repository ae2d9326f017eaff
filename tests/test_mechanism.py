"""The motion-embedding mechanism on both UNet families: placement, exactness, training, controls, resampling."""

import pytest
import torch
from conftest import LATENT_SIZE, NUM_FRAMES, run_unet, unet_inputs
from diffusers.models.attention_processor import AttnProcessor2_0

from motion_inversion import MotionAttnProcessor, MotionInversionError, family_of, inject_motion
from motion_inversion.embeddings import frame_difference
from motion_inversion.models import denoiser_forward

EXPECTED_TARGETS = {
    "unet3d": ["down_blocks.1.temp_attentions.0", "up_blocks.0.temp_attentions.0", "up_blocks.0.temp_attentions.1"],
    "animatediff": ["down_blocks.1.motion_modules.0", "up_blocks.0.motion_modules.0", "up_blocks.0.motion_modules.1"],
}


def fill_randomly(injection, seed: int = 0, scale: float = 0.5) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in injection.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)


def test_processors_replaced_only_on_targeted_temporal_attentions(unet):
    family = family_of(unet).name
    before = dict(unet.attn_processors)
    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    after = unet.attn_processors
    changed = sorted(name for name in after if after[name] is not before[name])
    expected = sorted(
        f"{block}.transformer_blocks.0.{attn}.processor"
        for block in EXPECTED_TARGETS[family]
        for attn in ("attn1", "attn2")
    )
    assert changed == expected
    assert len(changed) == 6
    assert all(isinstance(after[name], MotionAttnProcessor) for name in changed)
    # one query-key per transformer layer, shared by its attn1 and attn2; one value per attention
    embeddings = injection.named_embeddings()
    assert len([n for n in embeddings if n.endswith(".query_key")]) == 3
    assert len([n for n in embeddings if n.endswith(".value")]) == 6
    first = f"{EXPECTED_TARGETS[family][0]}.transformer_blocks.0"
    assert injection.processors[f"{first}.attn1"].query_key is injection.processors[f"{first}.attn2"].query_key


def test_targets_selectable_by_block_pattern(unet):
    family = family_of(unet).name
    container = "temp_attentions" if family == "unet3d" else "motion_modules"
    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE, target_blocks=[f"down_blocks.*.{container}.*"])
    assert sorted({layer.block_name for layer in injection.layers}) == [
        f"down_blocks.0.{container}.0",
        f"down_blocks.1.{container}.0",
    ]
    injection.remove()
    with pytest.raises(MotionInversionError, match="no temporal block matches"):
        inject_motion(unet, NUM_FRAMES, LATENT_SIZE, target_blocks=["nowhere.*"])


def test_embedding_shapes_follow_module_sizes(unet):
    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    for name, tensor in injection.named_embeddings().items():
        if name.endswith("query_key"):
            assert tuple(tensor.shape) == (NUM_FRAMES, 64)
        else:  # 64-channel blocks sit one downsampling below the latent: 8x12 -> 4x6
            assert tuple(tensor.shape) == (4 * 6, NUM_FRAMES, 64)


def test_zero_embeddings_are_exact_and_removal_restores(unet):
    inputs = unet_inputs()
    reference = run_unet(unet, inputs)
    original_processors = dict(unet.attn_processors)
    parameter_names = {name for name, _ in unet.named_parameters()}

    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    assert torch.equal(run_unet(unet, inputs), reference)

    fill_randomly(injection)
    assert not torch.allclose(run_unet(unet, inputs), reference)

    injection.remove()
    assert all(unet.attn_processors[name] is proc for name, proc in original_processors.items())
    assert {name for name, _ in unet.named_parameters()} == parameter_names
    assert torch.equal(run_unet(unet, inputs), reference)


def test_training_changes_only_embeddings_and_all_get_gradients(unet):
    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    unet.requires_grad_(False)
    for parameter in injection.parameters():
        parameter.requires_grad_(True)
    embedding_ids = {id(p) for p in injection.parameters()}
    frozen_before = {n: p.detach().clone() for n, p in unet.named_parameters() if id(p) not in embedding_ids}
    embeddings_before = {n: p.detach().clone() for n, p in injection.named_embeddings().items()}

    optimizer = torch.optim.AdamW(injection.parameters(), lr=0.02)
    inputs = unet_inputs(batch=1)
    target = torch.randn_like(inputs["sample"])
    for step in range(3):
        optimizer.zero_grad()
        prediction = denoiser_forward(unet, inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"])
        loss = torch.nn.functional.mse_loss(prediction, target)
        loss.backward()
        if step == 0:
            for name, parameter in injection.named_embeddings().items():
                assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        optimizer.step()

    for name, parameter in unet.named_parameters():
        if id(parameter) not in embedding_ids:
            assert torch.equal(parameter, frozen_before[name]), name
    for name, parameter in injection.named_embeddings().items():
        assert not torch.equal(parameter, embeddings_before[name]), name


def test_value_mode_none_equals_zeroed_values(unet):
    inputs = unet_inputs()
    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    fill_randomly(injection)
    injection.value_mode = "none"
    dropped = run_unet(unet, inputs)
    injection.value_mode = "full"
    with torch.no_grad():
        for name, parameter in injection.named_embeddings().items():
            if name.endswith(".value"):
                parameter.zero_()
    assert torch.equal(run_unet(unet, inputs), dropped)


def test_value_mode_diff_matches_hand_computed_frame_difference(unet):
    inputs = unet_inputs()
    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    fill_randomly(injection)
    injection.value_mode = "diff"
    with_diff_mode = run_unet(unet, inputs)

    values = {n: p for n, p in injection.named_embeddings().items() if n.endswith(".value")}
    with torch.no_grad():
        for parameter in values.values():
            hand = parameter.clone()
            for j in range(parameter.shape[1] - 1, 0, -1):
                hand[:, j] = parameter[:, j] - parameter[:, j - 1]
            assert torch.equal(hand, frame_difference(parameter))
            parameter.copy_(hand)
    injection.value_mode = "full"
    assert torch.equal(run_unet(unet, inputs), with_diff_mode)


def test_strength_zero_equals_no_motion_and_strength_scales(unet):
    inputs = unet_inputs()
    reference = run_unet(unet, inputs)
    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    fill_randomly(injection)
    full = run_unet(unet, inputs)
    injection.strength = 0.0
    assert torch.equal(run_unet(unet, inputs), reference)
    injection.strength = 0.5
    half = run_unet(unet, inputs)
    assert not torch.allclose(half, reference) and not torch.allclose(half, full)


def test_other_frame_count_and_resolution(unet):
    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    fill_randomly(injection)
    # 10 frames at a 12x16 latent: embeddings interpolated along frames, value grids resized 4x6 -> 6x8
    output = run_unet(unet, unet_inputs(num_frames=10, latent_size=(12, 16)))
    assert output.shape == (2, 4, 10, 12, 16)
    assert torch.isfinite(output).all()
    processor = next(iter(injection.processors.values()))
    assert processor.current_grid == (6, 8)
    assert tuple(processor.query_key_for(10, torch.float32).shape) == (10, 64)
    assert tuple(processor.value_for(10, torch.float32).shape) == (6 * 8, 10, 64)
    # interpolation keeps the first and last frames
    resampled = processor.query_key_for(10, torch.float32)
    assert torch.allclose(resampled[0], processor.query_key[0]) and torch.allclose(
        resampled[-1], processor.query_key[-1]
    )
    # fewer frames than trained also works, and the trained size is used unchanged again afterwards
    assert run_unet(unet, unet_inputs(num_frames=3)).shape == (2, 4, 3, *LATENT_SIZE)
    assert processor.current_grid == (4, 6)


def test_injecting_twice_is_refused(unet):
    inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    with pytest.raises(MotionInversionError, match="already carries motion embeddings"):
        inject_motion(unet, NUM_FRAMES, LATENT_SIZE)


def test_stock_processor_is_what_we_match():
    # The exactness tests above compare against diffusers' default processor; make sure it is the one in use.
    from motion_inversion.tiny import tiny_unet

    processors = tiny_unet("unet3d").attn_processors
    assert isinstance(
        processors["down_blocks.1.temp_attentions.0.transformer_blocks.0.attn1.processor"], AttnProcessor2_0
    )
