"""The motion file: round trip, metadata, atomic writes, and refusal of files that are not motions or do not fit."""

import pytest
import torch
from conftest import LATENT_SIZE, NUM_FRAMES, run_unet, unet_inputs
from test_mechanism import fill_randomly

from motion_inversion import Motion, MotionInversionError, inject_motion
from motion_inversion.tiny import tiny_unet


def learned_motion(unet, seed: int = 0) -> Motion:
    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    fill_randomly(injection, seed)
    motion = Motion.from_injection(
        injection, base_model="tiny", height=64, width=96, prompt="a red circle", steps=7, loss=0.125,
        inversion_latent=torch.randn(1, 4, NUM_FRAMES, *LATENT_SIZE),
    )  # fmt: skip
    injection.remove()
    return motion


def test_save_load_round_trip_is_bit_identical_in_float16_and_float32(unet, tmp_path):
    motion = learned_motion(unet)
    path = motion.save(tmp_path / "motion.safetensors")  # float16 storage, read back as float32
    loaded = Motion.load(path)
    assert loaded.embeddings.keys() == motion.embeddings.keys()
    assert all(loaded.embeddings[k].dtype == torch.float32 for k in loaded.embeddings)
    assert all(torch.equal(loaded.embeddings[k], motion.embeddings[k].half().float()) for k in motion.embeddings)
    assert torch.equal(loaded.inversion_latent, motion.inversion_latent.half().float())
    again = Motion.load(loaded.save(tmp_path / "again.safetensors"))  # stable once stored
    assert all(torch.equal(again.embeddings[k], loaded.embeddings[k]) for k in motion.embeddings)
    exact = Motion.load(motion.save(tmp_path / "exact.safetensors", dtype=torch.float32))  # as files were before
    assert all(torch.equal(exact.embeddings[k], motion.embeddings[k]) for k in motion.embeddings)
    assert (path.stat().st_size - 4096) * 2 < (tmp_path / "exact.safetensors").stat().st_size  # half the numbers
    assert loaded.metadata() == motion.metadata()
    assert (loaded.prompt, loaded.steps, loaded.loss, loaded.num_frames) == ("a red circle", 7, 0.125, NUM_FRAMES)
    assert loaded.family == motion.family and loaded.target_blocks == motion.target_blocks
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{n}.safetensors" for n in ("again", "exact", "motion")]


def test_applied_motion_reproduces_the_trained_model_output(unet, tmp_path):
    inputs = unet_inputs()
    injection = inject_motion(unet, NUM_FRAMES, LATENT_SIZE)
    fill_randomly(injection, seed=3)
    expected = run_unet(unet, inputs)
    motion = Motion.from_injection(injection, base_model="tiny", height=64, width=96)
    motion.save(tmp_path / "exact.safetensors", dtype=torch.float32)
    motion.save(tmp_path / "half.safetensors")
    injection.remove()

    applied = Motion.load(tmp_path / "exact.safetensors").apply(unet)
    assert torch.equal(run_unet(unet, inputs), expected)
    applied.remove()
    applied = Motion.load(tmp_path / "half.safetensors").apply(unet)
    assert torch.allclose(run_unet(unet, inputs), expected, atol=1e-3 * expected.abs().max().item())
    applied.remove()


def test_motion_from_other_family_is_refused(tmp_path):
    motion = learned_motion(tiny_unet("unet3d"))
    with pytest.raises(MotionInversionError, match="learned on a 'unet3d' model .*'animatediff' model"):
        motion.apply(tiny_unet("animatediff"))


def test_motion_with_other_channel_count_or_layers_is_refused(unet):
    motion = learned_motion(unet)
    name = next(n for n in motion.embeddings if n.endswith("query_key"))
    wide = Motion(**{**motion.__dict__, "embeddings": {**motion.embeddings, name: torch.zeros(NUM_FRAMES, 128)}})
    with pytest.raises(MotionInversionError, match=f"motion layer {name} has 128 channels, this model has 64"):
        wide.apply(unet)
    renamed = {k.replace("up_blocks.0", "up_blocks.7"): v for k, v in motion.embeddings.items()}
    stranger = Motion(**{**motion.__dict__, "embeddings": renamed})
    with pytest.raises(MotionInversionError, match="up_blocks.7.* does not exist in this model"):
        stranger.apply(unet)
    # nothing stays installed after a refused apply
    assert not any(type(p).__name__ == "MotionAttnProcessor" for p in unet.attn_processors.values())


def test_not_a_motion_file_fails_cleanly(tmp_path, unet):
    text = tmp_path / "notes.safetensors"
    text.write_text("this is not a motion")
    with pytest.raises(MotionInversionError, match="notes.safetensors is not a readable motion file"):
        Motion.load(text)

    good = learned_motion(unet).save(tmp_path / "good.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(MotionInversionError, match="truncated.safetensors is not a readable motion file"):
        Motion.load(truncated)

    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(MotionInversionError, match="empty.safetensors"):
        Motion.load(empty)

    with pytest.raises(MotionInversionError, match="motion file not found"):
        Motion.load(tmp_path / "missing.safetensors")


def test_safetensors_without_motion_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "lora.safetensors"
    save_file({"weight": torch.zeros(2)}, str(other))
    with pytest.raises(MotionInversionError, match="not a motion-inversion motion"):
        Motion.load(other)


def test_save_to_unwritable_place_fails_cleanly(tmp_path, unet):
    motion = learned_motion(unet)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(MotionInversionError, match="cannot write motion"):
        motion.save(blocker / "motion.safetensors")


def test_full_disk_during_save_keeps_the_previous_file(tmp_path, unet, monkeypatch):
    import errno

    import motion_inversion.motion as motion_module

    motion = learned_motion(unet)
    target = motion.save(tmp_path / "keep.safetensors")
    before = target.read_bytes()

    def write_half_then_fail(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(motion_module, "save_file", write_half_then_fail)
    with pytest.raises(MotionInversionError, match="No space left on device"):
        learned_motion(tiny_unet(motion.family), seed=5).save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]


def test_a_motion_placed_on_an_image_subject_moves_its_value_grid_and_keeps_the_path_in_the_frame(unet, tmp_path):
    """`Motion.placed`: value embeddings shift by whole cells of their own grid, the query-key stays; the path is
    stopped PLACEMENT_MARGIN inside the frame; the subject's path survives the file."""
    from dataclasses import replace

    from motion_inversion.embeddings import shift_grid
    from motion_inversion.motion import PLACEMENT_MARGIN

    still_subject = [[0.25, 0.5]] * NUM_FRAMES  # the reference's subject stood a quarter in from the left
    motion = replace(learned_motion(unet), subject_path=still_subject)
    assert Motion.load(motion.save(tmp_path / "m.safetensors")).subject_path == still_subject

    placed = motion.placed((0.5, 0.5))  # the image's subject is in the middle: a quarter of the frame to the right
    assert placed.subject_path == [[0.5, 0.5]] * NUM_FRAMES
    for name, tensor in motion.embeddings.items():
        if name.endswith(".query_key"):
            assert torch.equal(placed.embeddings[name], tensor)
        else:
            height, width = motion.value_grid(tensor)
            assert torch.equal(placed.embeddings[name], shift_grid(tensor, (height, width), (round(width / 4), 0)))
    assert any(not torch.equal(placed.embeddings[n], t) for n, t in motion.embeddings.items())

    at_the_edge = motion.placed((1.0, 0.5))
    assert at_the_edge.subject_path[0] == pytest.approx([1 - PLACEMENT_MARGIN, 0.5])

    with pytest.raises(MotionInversionError, match="does not know where its clip's subject stood") as error:
        learned_motion(unet).placed((0.5, 0.5))
    assert "\n" not in str(error.value)
