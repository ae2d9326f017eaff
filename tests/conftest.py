"""Shared fixtures: tiny models built from config (no network), and a quiet, offline environment."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
# importing app.py sets the server's thread count (one less than the cores); the suite keeps torch's own
os.environ.setdefault("MOTION_INVERSION_THREADS", str(len(os.sched_getaffinity(0))))

import pytest  # noqa: E402
import torch  # noqa: E402

from motion_inversion.models import denoiser_forward  # noqa: E402
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
        return denoiser_forward(unet, inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"])


# -- clips and a tiny pipeline on disk --
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

from motion_inversion.video import ffmpeg_exe  # noqa: E402

TINY_SIZE = (32, 32)  # height, width of the tiny pipeline
TINY_FRAMES = 8


def make_clip(path: Path, seconds: float = 2.0, size: str = "64x48", rate: int = 8, extra: list[str] | None = None,
              source: str = "testsrc") -> Path:  # fmt: skip
    """A synthetic clip rendered by ffmpeg (moving test pattern); the container follows the file extension."""
    codec = {".mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"], ".gif": [],
             ".webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime"], ".avi": ["-c:v", "mpeg4"],
             ".mov": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"]}[path.suffix]  # fmt: skip
    separator = ":" if "=" in source else "="
    command = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}{separator}size={size}:rate={rate}"]
    command += ["-t", str(seconds), *codec, *(extra or []), str(path)]
    subprocess.run(command, check=True)
    return path


@pytest.fixture(scope="session")
def clip_path(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "orbit.mp4")


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory) -> Path:
    from motion_inversion.tiny import save_tiny_pipeline

    height, width = TINY_SIZE
    return save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny", "unet3d", height, width, TINY_FRAMES)


@pytest.fixture(scope="session")
def tiny_model(tiny_pipeline_dir):
    from motion_inversion import load_model

    # bench/gpu.sh runs the model tests on CUDA with MOTION_INVERSION_TEST_DEVICE=cuda
    return load_model(tiny_pipeline_dir, device=os.environ.get("MOTION_INVERSION_TEST_DEVICE", "cpu"))


# -- the app --
import importlib  # noqa: E402
import sys  # noqa: E402


@pytest.fixture(scope="module")
def app(tiny_pipeline_dir, tmp_path_factory):
    """app.py on the tiny pipeline, with its library in a temp folder."""
    os.environ["MOTION_LIBRARY"] = str(tmp_path_factory.mktemp("library"))
    os.environ["MOTION_INVERSION_MODEL"] = str(tiny_pipeline_dir)
    module = (
        importlib.reload(importlib.import_module("app")) if "app" in sys.modules else importlib.import_module("app")
    )
    yield module
    os.environ.pop("MOTION_LIBRARY")
    os.environ.pop("MOTION_INVERSION_MODEL")


@pytest.fixture(scope="module")
def app_url(app):
    """The app launched on a free local port."""
    _, url, _ = app.launch(prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        app.demo.close()


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


# -- the app as a user starts it --
import socket  # noqa: E402
import time  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(env: dict) -> tuple[subprocess.Popen, object]:
    """`python app.py` in a subprocess, as a user starts it; returns it and a gradio Client once it answers."""
    from gradio_client import Client

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env={**env, "GRADIO_SERVER_NAME": "127.0.0.1",
                                                  "GRADIO_SERVER_PORT": str(port)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        try:
            return process, Client(url, verbose=False)
        except Exception:
            if process.poll() is not None:
                raise RuntimeError("app.py exited before serving") from None
            time.sleep(0.2)
    process.kill()
    raise TimeoutError("app.py did not start")
