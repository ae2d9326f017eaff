"""Shared fixtures: tiny models built from config (no network), and a quiet, offline environment."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import pytest  # noqa: E402
import torch  # noqa: E402

from motion_inversion.models import unet_forward  # noqa: E402
from motion_inversion.tiny import tiny_unet  # noqa: E402

FAMILIES = ["unet3d", "animatediff"]
NUM_FRAMES = 6
LATENT_SIZE = (8, 12)


@pytest.fixture(params=FAMILIES)
def unet(request):
    return tiny_unet(request.param).eval()


def unet_inputs(num_frames: int = NUM_FRAMES, latent_size=LATENT_SIZE, batch: int = 2, seed: int = 1) -> dict:
    """Arguments for a UNet forward pass on (batch, 4, frames, h, w) latents."""
    generator = torch.Generator().manual_seed(seed)
    return dict(
        sample=torch.randn(batch, 4, num_frames, *latent_size, generator=generator),
        timestep=torch.tensor(500),
        encoder_hidden_states=torch.randn(batch, 7, 32, generator=generator),
    )


def run_unet(unet, inputs: dict) -> torch.Tensor:
    with torch.no_grad():
        return unet_forward(unet, inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"])
