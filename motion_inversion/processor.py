"""The attention processor that adds motion embeddings to one temporal self-attention layer.

Installed with diffusers' public `Attention.set_processor`; it is an nn.Module, so the embeddings it holds move with
`.to()` and show up in `parameters()`. Inside a temporal transformer the hidden states are laid out as
(batch * h * w, frames, channels) and attention runs over frames (METHOD.md):

    q = W_q(x + m_qk),  k = W_k(x + m_qk),  v = W_v(x + m_v),  out = softmax(q k^T / sqrt(d)) v

computed with torch's scaled_dot_product_attention. With zero embeddings (or strength 0) every operation matches
diffusers' stock AttnProcessor2_0, so the model's output is bit-identical to the untouched model.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .embeddings import apply_value_mode, resample_frames, resize_grid


class MotionEmbeddingProcessor(nn.Module):
    """What every motion processor holds: the embeddings, the generation-time controls, and the embeddings at the
    current pass's size (value mode applied at the trained size, then resampled; embeddings.py).

    `query_key` (frames, channels) may be the same Parameter object as in a sibling attention of the same layer.
    `value` is (h*w, frames, channels) for the grid `trained_grid`; `current_grid` is the grid of the current
    forward pass, reported by a forward pre-hook that the model's family installs (families/)."""

    def __init__(self, query_key: nn.Parameter, value: nn.Parameter, trained_grid: tuple[int, int]):
        super().__init__()
        self.query_key = query_key
        self.value = value
        self.trained_grid = tuple(trained_grid)
        # Generation-time controls, set by MotionInjection without reinstalling.
        self.value_mode = "full"
        self.strength = 1.0
        self.current_grid = self.trained_grid

    def grid_size(self, tokens: int, what: str) -> int:
        """Positions in the current grid; `tokens` (of one attention call) must be a whole number of grids."""
        grid_size = self.current_grid[0] * self.current_grid[1]
        if tokens % grid_size:
            raise ValueError(
                f"{what} got {tokens} tokens, not a multiple of the grid {self.current_grid[0]}x{self.current_grid[1]}"
            )
        return grid_size

    def query_key_for(self, num_frames: int, dtype: torch.dtype) -> torch.Tensor:
        return (resample_frames(self.query_key, num_frames) * self.strength).to(dtype)  # (f, c)

    def value_for(self, num_frames: int, dtype: torch.dtype) -> torch.Tensor | None:
        value = apply_value_mode(self.value, self.value_mode)
        if value is None:
            return None
        value = resize_grid(value, self.trained_grid, self.current_grid)
        return (resample_frames(value, num_frames) * self.strength).to(dtype)  # (h*w, f, c)


class MotionAttnProcessor(MotionEmbeddingProcessor):
    """Temporal self-attention of a video UNet with a motion query-key and a motion value embedding."""

    def forward(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **kwargs,
    ) -> torch.Tensor:
        if encoder_hidden_states is not None or hidden_states.ndim != 3:
            raise ValueError("MotionAttnProcessor only applies to temporal self-attention on (b*h*w, f, c) inputs")
        residual = hidden_states
        tokens, num_frames, channels = hidden_states.shape  # (b*h*w, f, c)
        grid_size = self.grid_size(tokens, "temporal attention")
        batch_size = tokens // grid_size

        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, num_frames, tokens)
            attention_mask = attention_mask.view(tokens, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query_key_input = hidden_states + self.query_key_for(num_frames, hidden_states.dtype)
        value_embedding = self.value_for(num_frames, hidden_states.dtype)
        if value_embedding is None:
            value_input = hidden_states
        else:
            value_input = hidden_states.view(batch_size, grid_size, num_frames, channels) + value_embedding
            value_input = value_input.view(tokens, num_frames, channels)

        query = attn.to_q(query_key_input)
        key = attn.to_k(query_key_input)
        value = attn.to_v(value_input)

        head_dim = key.shape[-1] // attn.heads
        query = query.view(tokens, -1, attn.heads, head_dim).transpose(1, 2)  # (b*h*w, heads, f, d)
        key = key.view(tokens, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(tokens, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        hidden_states = F.scaled_dot_product_attention(
            query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
        )
        hidden_states = hidden_states.transpose(1, 2).reshape(tokens, -1, attn.heads * head_dim)
        hidden_states = hidden_states.to(query.dtype)

        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor
