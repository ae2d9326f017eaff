"""load_model: local pipeline folders, registry names and Hub ids, and the clear error when weights are missing."""

import pytest
import torch

from motion_inversion import REGISTRY, MotionInversionError, inject_motion, load_model
from motion_inversion.models import denoiser_forward
from motion_inversion.tiny import save_tiny_pipeline


@pytest.mark.parametrize("family", ["unet3d", "animatediff"])
def test_load_local_pipeline_folder(tmp_path, family):
    folder = save_tiny_pipeline(tmp_path / "pipe", family, height=32, width=48, num_frames=6)
    model = load_model(folder, device="cpu")
    assert model.family.name == family
    assert (model.spec.height, model.spec.width, model.spec.num_frames) == (32, 48, 6)
    assert model.name == f"tiny-{family}"
    assert model.latent_size(32, 48) == (16, 24)
    assert not any(p.requires_grad for p in model.denoiser.parameters())
    assert model.device.type == "cpu" and model.dtype == torch.float32

    tokens = model.tokenizer(["a red circle"], padding="max_length", max_length=16, return_tensors="pt").input_ids
    text = model.text_encoder(tokens)[0]
    injection = inject_motion(model.denoiser, 6, (16, 24))
    with torch.no_grad():
        out = denoiser_forward(model.denoiser, torch.randn(1, 4, 6, 16, 24), torch.tensor(10), text)
    assert out.shape == (1, 4, 6, 16, 24)
    injection.remove()


def test_registry_records_default_sizes():
    zeroscope = REGISTRY["zeroscope"]
    assert (zeroscope.width, zeroscope.height, zeroscope.num_frames, zeroscope.steps, zeroscope.guidance) == (
        576,
        320,
        24,
        30,
        12.0,
    )
    assert (REGISTRY["modelscope"].width, REGISTRY["modelscope"].height) == (256, 256)
    assert REGISTRY["animatediff"].motion_adapter == "guoyww/animatediff-motion-adapter-v1-5-2"


@pytest.mark.parametrize("name", ["zeroscope", "animatediff", "nobody-here/no-such-video-model"])
def test_missing_weights_offline_give_one_clear_error(name, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(MotionInversionError) as caught:
        load_model(name, device="cpu")
    message = str(caught.value)
    assert "\n" not in message
    assert "not in the local Hugging Face cache" in message and "offline" in message
    assert "hf download" in message
    source = REGISTRY[name].source if name in REGISTRY else name
    assert source in message


def test_unknown_name_and_non_pipeline_folder(tmp_path):
    with pytest.raises(MotionInversionError, match="unknown model 'zeroscopee'"):
        load_model("zeroscopee")
    with pytest.raises(MotionInversionError, match="is not a diffusers pipeline folder"):
        load_model(tmp_path)


def test_offloaded_encoders_give_the_same_results_and_wait_on_the_cpu(tiny_pipeline_dir):
    plain = load_model(tiny_pipeline_dir, device="cpu")
    offloaded = load_model(tiny_pipeline_dir, device="cpu", offload=True)
    assert len(offloaded.offload_hooks) == 2  # the text encoder's and the VAE's
    frames = torch.randint(0, 256, (8, 32, 32, 3), dtype=torch.uint8)
    assert torch.equal(offloaded.encode_text(["a red circle"]), plain.encode_text(["a red circle"]))
    latents = offloaded.encode_frames(frames)
    assert torch.equal(latents, plain.encode_frames(frames))
    assert torch.equal(offloaded.decode_latents(latents), plain.decode_latents(latents))
    for module in (offloaded.text_encoder, offloaded.vae):
        assert {p.device.type for p in module.parameters()} == {"cpu"}
    with pytest.raises(MotionInversionError, match="offloaded"):
        offloaded.to("cpu")


@pytest.mark.parametrize("name", ["toy", "toy-wan"])
def test_the_toy_folder_carries_the_toy_recipe(name):
    """Loading assets/toy-model (or toy-wan) by its path gives the registry's recipe: the copies cannot drift apart."""
    from dataclasses import asdict

    from motion_inversion.models import model_spec

    by_path, by_name = asdict(model_spec(REGISTRY[name].source)), asdict(REGISTRY[name])
    for key in ("source", "description"):
        by_path.pop(key), by_name.pop(key)
    assert by_path == by_name
