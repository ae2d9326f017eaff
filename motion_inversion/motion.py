"""`Motion`: a learned motion and its file format (one .safetensors file, never a pickle).

File layout: tensors `embedding.<name>` (names as in `MotionInjection.state_dict`), optionally `inversion_latent`
(the reference clip's latent inverted to the start of sampling: DDIM, or the flow ODE for Wan), and string metadata:
format version, base model, family, frames, pixel and latent size, target blocks, the value grid's pooling, prompt,
steps, final loss, created-at, the storage dtype, and where the clip's subject stood in each frame (optional).
`num_frames` counts video frames; the embeddings' frame axis is the model's latent frames (the same for the UNets;
1 + (frames - 1) / 4 for Wan).

Tensors are stored in float16 (half the size: a ZeroScope 576x320x24 motion is 111 MB instead of 221 MB) and read
back as float32, the precision everything computes in; files stored in float32 (`save(dtype=torch.float32)`, and
every file written before float16 storage) load unchanged. float16 rather than bfloat16: 3 more bits of mantissa,
and embeddings and latents are far inside float16's range. Measured (`python bench/motion_precision.py --seeds 1`,
the 5 example motions, toy model): the same seed's video moves by 0.006 (float16) or 0.045 (bfloat16) in mean
absolute pixel value against the float32 motion's, where another seed moves it by 20.3.
"""

import json
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from .embeddings import shift_grid
from .errors import MotionInversionError
from .families import family_of
from .files import atomic_write
from .inject import MotionInjection, find_motion_layers, inject_motion, latent_grid, value_pool_halvings

FORMAT_NAME = "motion-inversion"
FORMAT_VERSION = "1"
_EMBEDDING_PREFIX = "embedding."
_LATENT_KEY = "inversion_latent"
STORAGE_DTYPE = torch.float16
# a placed path keeps the subject's centre this far (fraction of the frame) inside the edges, about a toy object's
# radius (0.13-0.17): toy Wan, stills anywhere, 8 cases: 0.10 / 0.15 / 0.20 -> 0.72 / 0.78 / 0.79 (docs/toy-wan.md)
PLACEMENT_MARGIN = 0.15


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Motion:
    """Motion embeddings learned from one clip, plus what is needed to apply them to the right model."""

    embeddings: dict[str, torch.Tensor]
    base_model: str
    family: str
    num_frames: int
    height: int  # pixels of the clip the motion was learned at
    width: int
    latent_height: int
    latent_width: int
    target_blocks: list[str]
    prompt: str = ""
    steps: int = 0
    loss: float | None = None
    inversion_latent: torch.Tensor | None = None
    created_at: str = field(default_factory=_now)
    value_pool: int = 1  # the value embeddings' grid is the token grid pooled this many times
    # where the reference clip's subject stands in each of its frames, [x, y] fractions of the frame (scene_motion's
    # subject points); None: no subject seen, or a file from before session 14. What `placed` moves from.
    subject_path: list[list[float]] | None = None

    @property
    def embedding_frames(self) -> int:
        """The embeddings' frame count (latent frames), read from a query-key tensor (frames, channels)."""
        query_key = next(t for name, t in self.embeddings.items() if name.endswith(".query_key"))
        return query_key.shape[0]

    # -- applying to a model ------------------------------------------------------------------------------------
    def check_fits(self, denoiser: nn.Module) -> None:
        """Raise MotionInversionError naming the first mismatch between this motion and `denoiser`."""
        family = family_of(denoiser).name
        if family != self.family:
            raise MotionInversionError(
                f"motion was learned on a '{self.family}' model ({self.base_model}) and cannot be used with a "
                f"'{family}' model: pick a base model of the same family"
            )
        channels = {}
        for layer in find_motion_layers(denoiser):
            channels[f"{layer.name}.query_key"] = layer.channels
            for attn_name in layer.attentions:
                channels[f"{layer.name}.{attn_name}.value"] = layer.channels
        for name, tensor in self.embeddings.items():
            if name not in channels:
                raise MotionInversionError(
                    f"motion layer {name} does not exist in this model (learned on {self.base_model})"
                )
            if tensor.shape[-1] != channels[name]:
                raise MotionInversionError(
                    f"motion layer {name} has {tensor.shape[-1]} channels, this model has {channels[name]} "
                    f"(learned on {self.base_model})"
                )

    def apply(self, denoiser: nn.Module, value_mode: str = "full", strength: float = 1.0) -> MotionInjection:
        """Install these embeddings in `denoiser`; remove them with the returned object's `.remove()`."""
        self.check_fits(denoiser)
        injection = inject_motion(
            denoiser, self.embedding_frames, (self.latent_height, self.latent_width), self.target_blocks,
            self.value_pool,
        )  # fmt: skip
        try:
            injection.load_state_dict(self.embeddings)
            injection.value_mode = value_mode
            injection.strength = strength
        except Exception:
            injection.remove()
            raise
        return injection

    def placed(self, subject_at: tuple[float, float]) -> "Motion":
        """This motion with its value embeddings moved so that the learned path starts at `subject_at` ((x, y),
        fractions of the frame: where a start image's subject stands) rather than where the reference's subject
        stood; the move is cut short where the path would take the subject within PLACEMENT_MARGIN of the frame's
        edge. The value embeddings are a grid over the frame: unmoved, the subject is drawn back to the reference's
        place (docs/toy-wan.md, "Where the subject goes")."""
        if self.subject_path is None:
            raise MotionInversionError(
                "this motion does not know where its clip's subject stood (no moving subject was seen, or it was "
                "learned before motion-inversion recorded it): learn it again to place it on an image's subject"
            )
        path = np.asarray(self.subject_path, dtype=np.float64)
        wanted = np.asarray(subject_at, dtype=np.float64) - path[0]
        low, high = PLACEMENT_MARGIN - path.min(axis=0), 1 - PLACEMENT_MARGIN - path.max(axis=0)
        offset = np.where(low <= high, np.clip(wanted, low, high), (low + high) / 2)  # too wide a path: centred
        embeddings = {}
        for name, tensor in self.embeddings.items():
            if name.endswith(".value"):
                grid = self.value_grid(tensor)
                cells = (int(round(offset[0] * grid[1])), int(round(offset[1] * grid[0])))
                tensor = shift_grid(tensor, grid, cells)
            embeddings[name] = tensor
        moved = [[x + offset[0], y + offset[1]] for x, y in path]
        return replace(self, embeddings=embeddings, subject_path=moved)

    def value_grid(self, value: torch.Tensor) -> tuple[int, int]:
        """The (h, w) grid of a value embedding: the latent grid halved as often as it takes to hold its cells."""
        for halvings in range(16):
            grid = latent_grid((self.latent_height, self.latent_width), halvings)
            if grid[0] * grid[1] == value.shape[0]:
                return grid
        raise MotionInversionError(f"a value embedding of {value.shape[0]} cells fits no grid of this motion")

    # -- the file -------------------------------------------------------------------------------------------------
    def metadata(self) -> dict[str, str]:
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "base_model": self.base_model,
            "family": self.family,
            "num_frames": str(self.num_frames),
            "height": str(self.height),
            "width": str(self.width),
            "latent_height": str(self.latent_height),
            "latent_width": str(self.latent_width),
            "target_blocks": json.dumps(self.target_blocks),
            "value_pool": str(self.value_pool),
            "prompt": self.prompt,
            "steps": str(self.steps),
            "loss": "" if self.loss is None else repr(float(self.loss)),
            "created_at": self.created_at,
            "subject_path": "" if self.subject_path is None else json.dumps(self.subject_path),
        }

    def save(self, path: str | os.PathLike, dtype: torch.dtype = STORAGE_DTYPE) -> Path:
        """Write atomically: a temporary file in the same folder, then a rename; a failure leaves no partial file.
        Tensors are stored as `dtype` (float16 by default, float32 to keep every bit)."""
        path = Path(path)
        tensors = {_EMBEDDING_PREFIX + name: t for name, t in self.embeddings.items()}
        if self.inversion_latent is not None:
            tensors[_LATENT_KEY] = self.inversion_latent
        tensors = {key: t.detach().to("cpu", dtype).contiguous() for key, t in tensors.items()}
        metadata = {**self.metadata(), "dtype": str(dtype).removeprefix("torch.")}
        with atomic_write(path, "motion") as temp_name:
            try:
                save_file(tensors, temp_name, metadata=metadata)
            except SafetensorError as error:
                raise MotionInversionError(f"cannot write motion to {path}: {error}") from error
        return path

    @staticmethod
    def read_metadata(path: str | os.PathLike) -> dict[str, str]:
        """A motion file's metadata without reading its tensors (cheap: for listings), checked (`_check_metadata`)
        and with defaults for the optional fields."""
        return _read(Path(path), with_tensors=False)[0]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Motion":
        """Read a motion file; anything that is not one, or whose metadata or tensors do not hold together (a
        shared file is untrusted data), raises MotionInversionError naming the file and what is wrong."""
        path = Path(path)
        metadata, tensors = _read(path, with_tensors=True)
        _check_tensors(path, metadata, tensors)
        try:
            return cls(
                embeddings={
                    key[len(_EMBEDDING_PREFIX) :]: t for key, t in tensors.items() if key.startswith(_EMBEDDING_PREFIX)
                },
                inversion_latent=tensors.get(_LATENT_KEY),
                base_model=metadata["base_model"],
                family=metadata["family"],
                num_frames=int(metadata["num_frames"]),
                height=int(metadata["height"]),
                width=int(metadata["width"]),
                latent_height=int(metadata["latent_height"]),
                latent_width=int(metadata["latent_width"]),
                target_blocks=json.loads(metadata["target_blocks"]),
                prompt=metadata.get("prompt", ""),
                steps=int(metadata.get("steps", "0")),
                loss=float(metadata["loss"]) if metadata.get("loss") else None,
                created_at=metadata.get("created_at", ""),
                value_pool=int(metadata.get("value_pool", "1")),  # files before Wan have none: the token grid
                subject_path=json.loads(metadata["subject_path"]) if metadata["subject_path"] else None,
            )
        except (KeyError, ValueError) as error:
            raise MotionInversionError(f"{path.name} has damaged motion metadata ({error})") from error

    @classmethod
    def from_injection(cls, injection: MotionInjection, num_frames: int | None = None, **fields) -> "Motion":
        """Snapshot the embeddings currently installed in a model as a Motion (`num_frames`: the clip's video
        frames; unset, the embeddings' frames)."""
        return cls(
            embeddings=injection.state_dict(),
            family=injection.family.name,
            num_frames=injection.num_frames if num_frames is None else num_frames,
            value_pool=injection.value_pool,
            latent_height=injection.latent_size[0],
            latent_width=injection.latent_size[1],
            target_blocks=sorted({layer.block_name for layer in injection.layers}),
            **fields,
        )

    @property
    def num_parameters(self) -> int:
        return sum(t.numel() for t in self.embeddings.values())


def _read(path: Path, with_tensors: bool) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    if not path.is_file():
        raise MotionInversionError(f"motion file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as reader:
            metadata = reader.metadata() or {}
            # float32 in memory whatever the file holds (float16 since storage went half, float32 before)
            tensors = {key: reader.get_tensor(key).float() for key in reader.keys()} if with_tensors else {}
    except Exception as error:  # safetensors raises several types for corrupt input
        raise MotionInversionError(
            f"{path.name} is not a readable motion file (.safetensors expected): {str(error).splitlines()[0]}"
        ) from error
    if metadata.get("format") != FORMAT_NAME:
        raise MotionInversionError(f"{path.name} is a safetensors file but not a motion-inversion motion")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise MotionInversionError(
            f"{path.name} has motion format version {metadata.get('format_version')!r}; this version of "
            f"motion-inversion reads version {FORMAT_VERSION}: upgrade motion-inversion"
        )
    return _check_metadata(path, metadata), tensors


OPTIONAL_FIELDS = {"prompt": "", "steps": "0", "loss": "", "created_at": "", "value_pool": "1", "dtype": "float32",
                   "subject_path": ""}  # fmt: skip
REQUIRED_FIELDS = ("base_model", "family", "num_frames", "height", "width", "latent_height", "latent_width",
                   "target_blocks")  # fmt: skip


def _check_metadata(path: Path, metadata: dict[str, str]) -> dict[str, str]:
    """The metadata with defaults for missing optional fields, if every field is sane (limits.py's ranges for
    sizes and frames, a known family, a power-of-2 pooling); else MotionInversionError naming the field."""
    from .families import FAMILIES
    from .limits import MAX_SIDE, check

    missing = [key for key in REQUIRED_FIELDS if key not in metadata]
    if missing:
        raise MotionInversionError(f"{path.name} is a damaged motion file: its metadata has no {', '.join(missing)}")
    metadata = {**OPTIONAL_FIELDS, **metadata}
    try:
        check("num_frames", metadata["num_frames"])
        height, width = check("height", metadata["height"]), check("width", metadata["width"])
        for key, side in (("latent_height", height), ("latent_width", width)):
            if not 1 <= int(metadata[key]) <= min(side, MAX_SIDE):
                raise MotionInversionError(f"{key} must be from 1 to {side}, got {metadata[key]!r}")
        if not 0 <= int(metadata["steps"]) <= 10**9:
            raise MotionInversionError(f"steps must be from 0 to 10^9, got {metadata['steps']!r}")
        if value_pool_halvings(int(metadata["value_pool"])) > 6:  # a power of 2 (inject.py's rule), at most 64
            raise MotionInversionError(f"value_pool must be at most 64, got {metadata['value_pool']!r}")
        if metadata["loss"]:
            float(metadata["loss"])
        blocks = json.loads(metadata["target_blocks"])
        if not isinstance(blocks, list) or not all(isinstance(block, str) for block in blocks):
            raise MotionInversionError("target_blocks must be a list of block names")
        if metadata["subject_path"]:
            _check_subject_path(json.loads(metadata["subject_path"]), int(metadata["num_frames"]))
    except (ValueError, TypeError) as error:  # int(), float(), json: a field that is not what it claims
        raise MotionInversionError(f"{path.name} is a damaged motion file: {str(error).splitlines()[0]}") from None
    except MotionInversionError as error:
        raise MotionInversionError(f"{path.name} is a damaged motion file: {error}") from None
    if metadata["family"] not in FAMILIES:
        raise MotionInversionError(
            f"{path.name} names an unknown model family {metadata['family']!r}; known: {', '.join(FAMILIES)}"
        )
    return metadata


def _check_subject_path(path: object, num_frames: int) -> None:
    """One [x, y] per frame, finite, within a frame's width of the frame (a subject may stand partly outside)."""
    points = np.asarray(path, dtype=np.float64) if isinstance(path, list) else np.zeros((0,))
    if points.shape != (num_frames, 2) or not np.isfinite(points).all() or np.abs(points - 0.5).max() > 1.5:
        raise MotionInversionError(f"subject_path must be {num_frames} [x, y] pairs within the frame")


def _check_tensors(path: Path, metadata: dict[str, str], tensors: dict[str, torch.Tensor]) -> None:
    """The tensors hold together with the metadata: finite numbers, query-key (frames, channels) with at most the
    clip's frames, values (grid, frames, channels) on a grid no larger than the latent's, a latent of the clip's
    latent size. Otherwise MotionInversionError: applying such a file would allocate what its numbers claim."""

    def damaged(why: str) -> MotionInversionError:
        return MotionInversionError(f"{path.name} is a damaged motion file: {why}")

    embeddings = {k[len(_EMBEDDING_PREFIX) :]: t for k, t in tensors.items() if k.startswith(_EMBEDDING_PREFIX)}
    query_keys = [t for name, t in embeddings.items() if name.endswith(".query_key")]
    if not query_keys:
        raise damaged("it holds no query-key embedding")
    frames = query_keys[0].shape[0] if query_keys[0].ndim == 2 else 0
    latent_cells = int(metadata["latent_height"]) * int(metadata["latent_width"])
    for name, tensor in embeddings.items():
        if name.endswith(".query_key"):
            wanted = tensor.ndim == 2 and tensor.shape[0] == frames
        else:
            wanted = tensor.ndim == 3 and tensor.shape[1] == frames and 1 <= tensor.shape[0] <= latent_cells
        if not wanted:
            raise damaged(f"embedding {name} has shape {tuple(tensor.shape)}, which does not fit its metadata")
    if not 1 <= frames <= int(metadata["num_frames"]):
        raise damaged(f"its embeddings have {frames} frames for a clip of {metadata['num_frames']}")
    latent = tensors.get(_LATENT_KEY)
    if latent is not None and (latent.ndim != 5 or latent.shape[2] != frames
                               or tuple(latent.shape[3:]) != (int(metadata["latent_height"]),
                                                              int(metadata["latent_width"]))):  # fmt: skip
        raise damaged(f"its inversion latent has shape {tuple(latent.shape)}, which does not fit its metadata")
    for name, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise damaged(f"{name} holds NaN or infinite numbers")
