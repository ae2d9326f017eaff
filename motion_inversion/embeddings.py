"""Tensor operations on motion embeddings: creation, value modes and resampling to other sizes.

Two kinds of embedding (METHOD.md):
- query-key `m_qk`, shape (frames, channels): added to the input of W_q and W_k, shared by all spatial positions;
- value `m_v`, shape (h*w, frames, channels): added to the input of W_v, one per spatial position of the latent grid.

Generation-time behaviour documented here, applied by the attention processor:
- value mode `full` uses `m_v` as trained, `none` drops it (camera motion), `diff` replaces it by its frame
  difference (object and hybrid motion);
- a motion used at another frame count is linearly interpolated along frames (first and last frames kept);
- a value embedding used at another latent grid is bilinearly resized over its (h, w) grid;
- a value embedding moved to another place (a start image's subject stands elsewhere) is shifted over its grid by
  whole cells, zeros where it comes in.
The mode is applied at the trained size, then the result is resampled.
"""

from typing import Literal, get_args

import torch
import torch.nn.functional as F

ValueMode = Literal["full", "none", "diff"]
VALUE_MODES: tuple[str, ...] = get_args(ValueMode)


def zero_query_key(num_frames: int, channels: int) -> torch.Tensor:
    return torch.zeros(num_frames, channels)


def zero_value(grid: tuple[int, int], num_frames: int, channels: int) -> torch.Tensor:
    height, width = grid
    return torch.zeros(height * width, num_frames, channels)


def frame_difference(value: torch.Tensor) -> torch.Tensor:
    """m~[:, 0] = m[:, 0]; m~[:, j] = m[:, j] - m[:, j-1]: keeps how values change, drops what they are."""
    return torch.cat([value[:, :1], value[:, 1:] - value[:, :-1]], dim=1)


def apply_value_mode(value: torch.Tensor, mode: str) -> torch.Tensor | None:
    """The value embedding to add for a mode; None means add nothing."""
    if mode == "full":
        return value
    if mode == "none":
        return None
    if mode == "diff":
        return frame_difference(value)
    raise ValueError(f"value_mode must be one of {VALUE_MODES}, got {mode!r}")


def resample_frames(embedding: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Linear interpolation along the frame axis (dim -2) to `num_frames`, keeping the first and last frames."""
    trained_frames = embedding.shape[-2]
    if trained_frames == num_frames:
        return embedding
    if trained_frames == 1:
        return embedding.expand(*embedding.shape[:-2], num_frames, embedding.shape[-1])
    lead_shape = embedding.shape[:-2]
    channels = embedding.shape[-1]
    rows = embedding.reshape(-1, trained_frames, channels).transpose(1, 2)  # (n, c, f)
    rows = F.interpolate(rows, size=num_frames, mode="linear", align_corners=True)
    return rows.transpose(1, 2).reshape(*lead_shape, num_frames, channels)


def resize_grid(value: torch.Tensor, grid: tuple[int, int], new_grid: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a value embedding's (h, w) grid: (h*w, f, c) -> (h'*w', f, c)."""
    if tuple(grid) == tuple(new_grid):
        return value
    height, width = grid
    _, num_frames, channels = value.shape
    image = value.reshape(height, width, num_frames * channels).permute(2, 0, 1)[None]  # (1, f*c, h, w)
    image = F.interpolate(image, size=tuple(new_grid), mode="bilinear", align_corners=False)
    return image[0].permute(1, 2, 0).reshape(new_grid[0] * new_grid[1], num_frames, channels)


def shift_grid(value: torch.Tensor, grid: tuple[int, int], cells: tuple[int, int]) -> torch.Tensor:
    """A value embedding (h*w, f, c) moved `cells` = (right, down) whole cells over its grid, zeros where it comes
    in. Whole cells: a bilinear shift by fractions of a cell blurs it (toy Wan: 0.29 against 0.47, docs/toy-wan.md)."""
    height, width = grid
    right, down = cells
    image = value.reshape(height, width, *value.shape[1:])
    shifted = torch.zeros_like(image)
    if abs(right) < width and abs(down) < height:
        rows, columns = slice(max(down, 0), height + min(down, 0)), slice(max(right, 0), width + min(right, 0))
        source = slice(max(-down, 0), height + min(-down, 0)), slice(max(-right, 0), width + min(-right, 0))
        shifted[rows, columns] = image[source]
    return shifted.reshape(value.shape)
