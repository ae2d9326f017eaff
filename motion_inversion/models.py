"""Base models: the registry of known text-to-video models and `load_model`, which loads one into a `VideoModel`.

A model is named by a registry name (`toy`, `zeroscope`, `modelscope`, `animatediff`, `wan2.1-1.3b`, `wan2.1-14b`,
`wan2.2-5b`), a Hugging Face Hub id (`owner/name`, read from the local cache, downloaded when online) or a local
diffusers pipeline folder (with `vae/`, `text_encoder/`, `tokenizer/`, `scheduler/` and `unet/` or, for Wan,
`transformer/`). A local folder may carry `motion_inversion.json` with its default size, frames, steps, guidance, fps
and recipe. How each kind of model is loaded and driven is its family's (families/).
"""

import contextlib
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from torch import nn

from .errors import MotionInversionError
from .families import Family, family_named, family_of

SETTINGS_FILE = "motion_inversion.json"
# METHOD.md: camera motion drops the value embedding, object and hybrid motion use its frame difference
PAPER_VALUE_MODES = {"camera": "none", "object": "diff", "hybrid": "diff"}
# the toy model, trained by `python -m motion_inversion.toy.train`
TOY_MODEL_DIR = Path(__file__).resolve().parent.parent / "assets" / "toy-model"
TOY_WAN_DIR = TOY_MODEL_DIR.with_name("toy-wan")  # the toy Wan: `python -m motion_inversion.toy.train --family wan`


@dataclass(frozen=True)
class ModelSpec:
    """Where a base model's weights live and how it is used by default."""

    name: str
    source: str  # Hub id or local folder of the diffusers pipeline (for animatediff: Stable Diffusion 1.5)
    height: int
    width: int
    num_frames: int
    steps: int
    guidance: float
    fps: int = 8
    frame_step: int = 1  # clips have 1 + k * frame_step frames (Wan's causal VAE: 4)
    # -- the recipe: how motions are learned and applied on this model (the authors' for ZeroScope by default) --
    invert_steps: int = 400  # inversion steps
    lr: float = 0.02  # inversion learning rate
    target_blocks: tuple[str, ...] | None = None  # temporal blocks that carry embeddings (None: the widest)
    noise_prior: float = 0.5  # how much of the inversion latent starts a generation (METHOD.md)
    strength: float = 1.0  # how strongly the embeddings are applied at generation
    # motion type -> share of the sampling steps, from the first, that carry the embeddings (paper: all of them)
    motion_until: dict = field(default_factory=lambda: dict.fromkeys(PAPER_VALUE_MODES, 1.0))
    value_modes: dict = field(default_factory=lambda: dict(PAPER_VALUE_MODES))  # motion type -> value mode
    value_pool: int = 1  # the value embedding's grid is the token grid pooled this many times (a power of 2)
    motion_adapter: str | None = None  # AnimateDiff: Hub id of the motion adapter added to the SD 1.5 UNet
    scheduler_overrides: dict = field(default_factory=dict)
    family: str | None = None  # families/ name; None: read from the pipeline folder
    per_token_timesteps: bool = False  # Wan 2.2 TI2V: the transformer takes one timestep per token
    first_frame: bool = False  # trained to start a video from a clean first latent frame (an image): Wan 2.2 TI2V
    offload: bool = False  # keep the text encoder and VAE in CPU memory between their calls (load_model)
    description: str = ""


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "toy", str(TOY_MODEL_DIR), height=32, width=32, num_frames=8, steps=25, guidance=6.0, invert_steps=200,
            # Measured on the toy model (bench/toy_recipe.py, 4860-step model, transfer cases; docs/toy-recipe.md):
            # lr 0.02 barely moves its embeddings in 200 steps, 0.1 does. The default targets beat every temporal
            # block for object motion (0.43 vs 0.40, and 0.36 vs 0.21 without the latent). The paper's camera mode
            # (no value embedding) does not move the toy's background at all (-0.47 on pans), the full value
            # embedding does; and a little of the inversion latent (prior 0.3) adds most for pans (0.28 -> 0.82)
            # and a little for objects (0.36 -> 0.43) without the reference's colour appearing in any frame.
            # Strength 1.5 (without the latent) gave objects 0.42 / 0.26 (diff / full), below the chosen 0.43.
            # The first world's full evaluation (25 references, 50 transfer cases) then showed the sweep's
            # 10 cases were optimistic and moved the generation recipe: pans 0.48 with full value + prior 0.3, 0.65
            # with value diff + prior 0.5; object motion 0.20 (diff + 0.3) against 0.19 (diff + 0.5), the same
            # within noise. So: prior 0.5 and diff for every motion type (the paper's object mode).
            # On the warm-colour world (docs/toy-transfer-diagnosis.md section 5) and its 2400-step model, the full
            # evaluation (20 references, 40 transfer cases, session 9) moved the value mode back to full: object
            # motion 0.86 with the full value against 0.75 with its frame difference (84% vs 75% of cases >= 0.8;
            # lines 0.69/0.61, orbits 0.86/0.87, zig-zags 0.99/0.85, grow/shrink 0.91/0.68), pans 0.87 vs 0.74, at
            # the same appearance (94%) and reference's colour in frames (2%); query-key only: 0.39, 0.19. Now
            # docs/toy-evaluation.md.
            # Session 10: its appearance misses (2 of 32) were orange subjects turned yellow by the embeddings in
            # the last sampling steps (with the motion in the first 20 of 25 steps both stayed orange and moved).
            # On bench/toy_recipe.py's own 30 cases (not the evaluation's): embeddings in every step / first 80% /
            # 60% / 40%: object motion 0.93 / 0.94 / 0.94 / 0.94, pans 0.92 / 0.91 / 0.87 / 0.82, reference's colour
            # in 7% / 5% / 4% / 4% of frames, appearance 97% in each (its one miss is the inversion latent's: it
            # misses without any embedding too). The full evaluation then gave, every step / first 80%: object
            # motion 0.86 / 0.91, appearance 94% / 100%, pans 0.87 / 0.84. So object and hybrid motion: the first
            # 80%; camera pans (the background moves, no subject's look at stake): every step, best on both sets.
            lr=0.1, noise_prior=0.5, motion_until={"camera": 1.0, "object": 0.8, "hybrid": 0.8},
            value_modes={"camera": "full", "object": "full", "hybrid": "full"},
            description="the project's own tiny text-to-video model of coloured shapes (CPU, offline)",
        ),
        ModelSpec(
            # The toy world on Wan's classes (toy/toy_wan.py); 9 frames: what its 2x causal VAE takes (1 + 2 x 4);
            # 2x, not Wan's 4x, keeps a moving subject's shape (docs/toy-wan.md, "Session 19").
            # Recipe chosen on references of its own (bench/toy_recipe.py, docs/toy-wan.md, session 13): embeddings
            # in all 6 blocks (object motion 0.90, pans 0.97; Wan's default every 3rd of the last 13 = blocks 0 and
            # 3: 0.85, 0.96); lr, steps, value modes, motion_until and noise prior as the toy UNet's, within noise.
            # Strength 0.5 (session 20, docs/toy-wan.md): from an image, shape kept in 77-80% of frames against
            # 70-72% at 1, fidelity -0.02 on average (anywhere 0.80 / 0.86 on two sets of 16 references against
            # 0.84 / 0.85; fits 0.92 both); text-to-video object motion 0.91 against 0.84 (8 references).
            "toy-wan", str(TOY_WAN_DIR), height=32, width=32, num_frames=9, steps=25, guidance=5.0, frame_step=2,
            invert_steps=200, lr=0.1, noise_prior=0.5, family="wan", per_token_timesteps=True, first_frame=True,
            target_blocks=("*",), strength=0.5,
            motion_until={"camera": 1.0, "object": 0.8, "hybrid": 0.8},
            value_modes={"camera": "full", "object": "full", "hybrid": "full"},
            description="the project's tiny Wan (WanTransformer3DModel, causal video VAE, UMT5) of coloured shapes, "
            "with an image start (CPU, offline)",
        ),
        ModelSpec(
            "zeroscope", "cerspense/zeroscope_v2_576w", height=320, width=576, num_frames=24, steps=30, guidance=12.0,
            family="unet3d",
            description="ZeroScope v2 576w (UNet3DConditionModel), the method's reference model",
        ),
        ModelSpec(
            "modelscope", "ali-vilab/text-to-video-ms-1.7b", height=256, width=256, num_frames=16, steps=30,
            guidance=9.0, family="unet3d", description="ModelScope text-to-video 1.7B (UNet3DConditionModel)",
        ),
        ModelSpec(
            "animatediff", "stable-diffusion-v1-5/stable-diffusion-v1-5", height=512, width=512, num_frames=16,
            steps=25, guidance=7.5, motion_adapter="guoyww/animatediff-motion-adapter-v1-5-2",
            scheduler_overrides={
                "beta_schedule": "linear", "clip_sample": False, "timestep_spacing": "linspace", "steps_offset": 1
            },
            description="Stable Diffusion 1.5 + AnimateDiff motion adapter v1-5-2 (UNetMotionModel)",
        ),
        # Wan (families/wan.py): the recipe values below are the paper's (lr, steps, value modes, noise prior) and a
        # cost budget (the value grid pooled 4x, every 3rd of the last 13 blocks: a 480x832, 81-frame Wan 2.1 1.3B
        # motion is 38 MB; 400 steps fit 5 minutes on an H100 at 40% of peak); no fidelity is measured on Wan yet
        # (docs/wan.md). guidance 5 and 50 steps are Wan's own pipeline defaults; the
        # UMT5-XXL text encoder (~11 GB in bf16) is offloaded so that the 1.3B model fits a 16 GB card.
        ModelSpec(
            "wan2.1-1.3b", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", height=480, width=832, num_frames=81, fps=16, steps=50,
            guidance=5.0, value_pool=4, family="wan", offload=True, frame_step=4,
            description="Wan 2.1 text-to-video 1.3B (WanTransformer3DModel, full 3D attention, flow matching)",
        ),
        ModelSpec(
            "wan2.1-14b", "Wan-AI/Wan2.1-T2V-14B-Diffusers", height=480, width=832, num_frames=81, fps=16, steps=50,
            guidance=5.0, value_pool=4, family="wan", offload=True, frame_step=4,
            description="Wan 2.1 text-to-video 14B (same classes as 1.3B; 720x1280 works too)",
        ),
        ModelSpec(
            "wan2.2-5b", "Wan-AI/Wan2.2-TI2V-5B-Diffusers", height=704, width=1280, num_frames=121, fps=24,
            steps=50, guidance=5.0, value_pool=4, family="wan", per_token_timesteps=True, offload=True,
            frame_step=4, first_frame=True,
            description="Wan 2.2 text-and-image-to-video 5B (WanTransformer3DModel, 16x VAE)",
        ),
    ]
}  # fmt: skip


@dataclass
class VideoModel:
    """A loaded text-to-video model: its diffusers components and its defaults. Frozen: nothing here is trained.
    `denoiser` is the UNet (UNet families) or the transformer (Wan); `family` drives it (families/)."""

    name: str
    vae: nn.Module
    text_encoder: nn.Module
    tokenizer: object
    denoiser: nn.Module
    scheduler: object
    spec: ModelSpec
    offload_hooks: list = field(default_factory=list, repr=False)  # see offload_encoders

    @property
    def family(self) -> Family:
        return family_of(self.denoiser)

    @property
    def device(self) -> torch.device:
        return next(self.denoiser.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.denoiser.parameters()).dtype

    def latent_size(self, height: int, width: int) -> tuple[int, int]:
        factor = self.family.spatial_factor(self.vae, self.denoiser)
        if height % factor or width % factor:
            raise MotionInversionError(f"height and width must be multiples of {factor}, got {height}x{width}")
        downsampling = self.family.vae_downsampling(self.vae)
        return height // downsampling, width // downsampling

    def latent_frames(self, num_frames: int) -> int:
        return self.family.latent_frames(self.vae, num_frames)

    def usable_frames(self, num_frames: int) -> int:
        """The largest frame count <= num_frames that the model's VAE takes (Wan: 1 + 4k)."""
        from .sampling import usable_frames

        return usable_frames(num_frames, self.family.frame_step(self.vae))

    # -- the frozen encoders, shared by inversion and generation --------------------------------------------------
    def offload_encoders(self) -> "VideoModel":
        """Keep the frozen text encoder and VAE in CPU memory and bring each onto the denoiser's device only for its
        own call (accelerate's offload hooks; diffusers' `enable_model_cpu_offload` does the same for its pipelines),
        so that the denoiser, the embeddings and their activations have the GPU to themselves during the inversion
        and sampling loops: ZeroScope's text encoder and VAE are 0.42 B parameters, 0.79 GiB in bf16 (AnimateDiff's:
        0.39 GiB; Wan's UMT5-XXL alone is 5.7 B, ~11 GiB). A job encodes its prompts once, before its loop. The
        outputs are the same as without offloading; each call costs one copy of the module to the GPU."""
        from accelerate import cpu_offload_with_hook

        if not self.offload_hooks:
            device = self.device
            for name in ("text_encoder", "vae"):
                module, hook = cpu_offload_with_hook(getattr(self, name).to("cpu"), device)
                setattr(self, name, module)
                self.offload_hooks.append(hook)
        return self

    @contextlib.contextmanager
    def _encoder_call(self):
        """Back to the CPU after the call, when the encoders are offloaded."""
        try:
            yield
        finally:
            for hook in self.offload_hooks:
                hook.offload()

    @torch.no_grad()
    def encode_text(self, prompts: list[str]) -> torch.Tensor:
        """(len(prompts), tokens, dim) text embeddings."""
        with self._encoder_call():
            return self.family.encode_text(self.text_encoder, self.tokenizer, prompts, self.device)

    @torch.no_grad()
    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (frames, h, w, 3) -> latents (1, c, latent frames, h', w') as the denoiser sees them."""
        pixels = frames.permute(0, 3, 1, 2).to(self.device, self.dtype) / 127.5 - 1.0  # (f, 3, h, w) in [-1, 1]
        with self._encoder_call():
            return self.family.encode_frames(self.vae, pixels)

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """(1, c, latent frames, h', w') latents -> uint8 (frames, h, w, 3) on the CPU."""
        with self._encoder_call():
            images = self.family.decode_latents(self.vae, latents.to(self.dtype))  # (f, 3, h, w)
        images = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return images.permute(0, 2, 3, 1).contiguous()

    def predict(self, latents: torch.Tensor, timestep, text_embeddings: torch.Tensor,
                first_frame_given: bool = False) -> torch.Tensor:  # fmt: skip
        """The denoiser's output (noise, velocity or flow velocity, as the model was trained) for (batch, c, frames,
        h, w) latents; `first_frame_given`: the first latent frame is clean (an image to start from)."""
        return self.family.predict(self.denoiser, latents, timestep, text_embeddings, self.spec.per_token_timesteps,
                                   first_frame_given)  # fmt: skip

    def to(self, device=None, dtype=None) -> "VideoModel":
        if self.offload_hooks and device is not None:
            raise MotionInversionError("the text encoder and VAE are offloaded: load the model again to move it")
        for module in (self.vae, self.text_encoder, self.denoiser):
            # separate calls: diffusers warns about any dtype argument, even None
            if device is not None:
                module.to(device)
            if dtype is not None:
                module.to(dtype)
        return self


def denoiser_forward(
    denoiser: nn.Module, latents: torch.Tensor, timestep, text_embeddings: torch.Tensor
) -> torch.Tensor:
    """The prediction of a bare denoiser (no VideoModel around it) for (batch, channels, frames, h, w) latents and
    (batch, tokens, dim) text embeddings, as its family calls it."""
    return family_of(denoiser).predict(denoiser, latents, timestep, text_embeddings)


def default_device_and_dtype(device=None, dtype=None) -> tuple[torch.device, torch.dtype]:
    """CUDA in half precision (bf16 where supported) when available, else CPU float32; explicit arguments win."""
    device = (
        torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    if dtype is None and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    elif dtype is None:
        dtype = torch.float32
    return device, dtype


def model_spec(name_or_path: str | os.PathLike) -> ModelSpec:
    """The spec of a registry name, local pipeline folder or Hub id, without loading any weights."""
    text = str(name_or_path)
    if text in REGISTRY:
        return REGISTRY[text]
    folder = Path(text).expanduser()
    if folder.is_dir():
        if not (folder / "unet").is_dir() and not (folder / "transformer").is_dir():
            raise MotionInversionError(
                f"{folder} is not a diffusers pipeline folder (no unet/ or transformer/ inside): pass a folder saved "
                "with save_pretrained, a Hub id, or one of " + ", ".join(REGISTRY)
            )
        settings = {}
        if (folder / SETTINGS_FILE).is_file():
            settings = json.loads((folder / SETTINGS_FILE).read_text())
        known = {f.name for f in fields(ModelSpec)} - {"name", "source"}
        defaults = dict(height=320, width=576, num_frames=16, steps=30, guidance=9.0)
        if (folder / "transformer").is_dir():  # a Wan folder: its causal VAE takes 1 + 4k frames, at 16 fps
            defaults.update(num_frames=81, fps=16, frame_step=4, steps=50, guidance=5.0, value_pool=4)
        defaults.update({k: v for k, v in settings.items() if k in known})
        if defaults.get("target_blocks") is not None:  # JSON has lists; the spec is frozen, and so is its tuple
            defaults["target_blocks"] = tuple(defaults["target_blocks"])
        return ModelSpec(name=settings.get("name", folder.name), source=str(folder), **defaults)
    if text.count("/") == 1 and not text.startswith((".", "/", "~")):
        return ModelSpec(name=text, source=text, height=320, width=576, num_frames=16, steps=30, guidance=9.0)
    raise MotionInversionError(
        f"unknown model {text!r}: use one of {', '.join(REGISTRY)}, a Hub id (owner/name) or a local pipeline folder"
    )


def _missing_weights_error(spec: ModelSpec, error: Exception) -> MotionInversionError:
    if Path(spec.source).is_absolute():
        train = "python -m motion_inversion.toy.train"
        hint = {"toy": train, "toy-wan": f"{train} --family wan"}.get(spec.name, "save a pipeline there")
        return MotionInversionError(
            f"model '{spec.name}' has no complete pipeline folder at {spec.source}: run `{hint}` "
            f"({type(error).__name__})"
        )
    repos = " and ".join(r for r in (spec.source, spec.motion_adapter) if r)
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    why = "the Hub is offline (HF_HUB_OFFLINE=1)" if offline else "they could not be downloaded"
    return MotionInversionError(
        f"weights for model '{spec.name}' ({repos}) are not in the local Hugging Face cache and {why}: "
        f"run `hf download {spec.source}` on a connected machine, or pass a local pipeline folder "
        f"({type(error).__name__})"
    )


def family_for(spec: ModelSpec) -> Family:
    """The family of the model `spec` names, from the registry or from its pipeline folder's configs (the Hub cache
    for a Hub id); OSError or ValueError when they cannot be read."""
    from diffusers import DiffusionPipeline, UNet3DConditionModel

    if spec.family:
        return family_named(spec.family)
    if spec.motion_adapter:
        return family_named("animatediff")
    folder = Path(spec.source)
    if folder.is_dir():
        subfolder = "transformer" if (folder / "transformer").is_dir() else "unet"
    else:
        index = DiffusionPipeline.load_config(spec.source)  # the Hub repo's model_index.json
        subfolder = "transformer" if "transformer" in index else "unet"
    # any model class reads a component's config.json; the class it names is what counts
    class_name = UNet3DConditionModel.load_config(spec.source, subfolder=subfolder).get("_class_name")
    families = {"UNet3DConditionModel": "unet3d", "UNetMotionModel": "animatediff", "WanTransformer3DModel": "wan"}
    if class_name not in families:
        raise MotionInversionError(
            f"model '{spec.name}' has a {class_name} {subfolder}; motion inversion supports "
            f"{', '.join(families)} (ZeroScope, ModelScope, AnimateDiff, Wan)"
        )
    return family_named(families[class_name])


def first_frame_models() -> str:
    """The registry's models trained to start a video from an image, for the one-line refusals of the others."""
    return ", ".join(name for name, spec in REGISTRY.items() if spec.first_frame)


def load_model(
    name_or_path: str | os.PathLike = "zeroscope", device=None, dtype=None, offload: bool | None = None
) -> VideoModel:
    """Load a base model's VAE, text encoder, tokenizer, denoiser (UNet or transformer) and scheduler, frozen, on
    `device`/`dtype`; `offload` keeps the text encoder and VAE in CPU memory between their calls
    (`VideoModel.offload_encoders`; unset: the registry's choice, on for Wan's 11 GB text encoder)."""
    spec = model_spec(name_or_path)
    device, dtype = default_device_and_dtype(device, dtype)
    try:
        components = family_for(spec).load_components(spec, dtype)
    except (OSError, ValueError) as error:
        if isinstance(error, MotionInversionError):
            raise
        raise _missing_weights_error(spec, error) from error
    model = VideoModel(spec.name, spec=spec, **components)
    for module in (model.vae, model.text_encoder, model.denoiser):
        module.requires_grad_(False)
        module.eval()
    model.to(device)
    offload = spec.offload and device.type == "cuda" if offload is None else offload
    return model.offload_encoders() if offload else model
