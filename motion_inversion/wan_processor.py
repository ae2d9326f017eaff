"""The attention processor that adds motion embeddings to a Wan transformer block's self-attention (attn1).

Wan attends over every token of every frame at once: after patching, hidden states are (batch, frames*h*w, channels),
frame-major, and `x` here is the block's normalised, modulated input. As in the UNets' temporal attention (METHOD.md),
the query-key embedding has one row per latent frame, shared by every spatial token of that frame, and the value
embedding one row per latent frame and position of its grid (coarser than the token grid: upsampled bilinearly):

    q = RoPE(norm_q(W_q(x + m_qk))),  k = RoPE(norm_k(W_k(x + m_qk))),  v = W_v(x + m_v),  out = W_o(attn(q, k, v))

so the embeddings enter before the q/k RMS norm and the rotary embedding, as the issue's design asks. With zero
embeddings (or strength 0) each operation is the one diffusers' WanAttnProcessor does, so the output is
bit-identical to the untouched transformer. Text cross-attention (attn2) is not touched.
"""

import torch

from .processor import MotionEmbeddingProcessor


def _rotate(hidden_states: torch.Tensor, freqs_cos: torch.Tensor, freqs_sin: torch.Tensor) -> torch.Tensor:
    """Wan's rotary embedding on (batch, tokens, heads, head_dim), pairs of channels interleaved (as diffusers)."""
    x1, x2 = hidden_states.unflatten(-1, (-1, 2)).unbind(-1)
    cos = freqs_cos[..., 0::2]
    sin = freqs_sin[..., 1::2]
    out = torch.empty_like(hidden_states)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out.type_as(hidden_states)


class WanMotionAttnProcessor(MotionEmbeddingProcessor):
    """Wan self-attention (WanAttention attn1) with a motion query-key and a motion value embedding."""

    def forward(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs,
    ) -> torch.Tensor:
        from diffusers.models.attention_dispatch import dispatch_attention_fn

        if encoder_hidden_states is not None:
            raise ValueError("WanMotionAttnProcessor applies to Wan's self-attention (attn1) only")
        batch_size, tokens, channels = hidden_states.shape  # (b, f*h*w, c)
        grid_size = self.grid_size(tokens, "Wan self-attention")
        num_frames = tokens // grid_size
        frames_view = (batch_size, num_frames, grid_size, channels)

        query_key = self.query_key_for(num_frames, hidden_states.dtype)  # (f, c)
        query_key_input = (hidden_states.view(frames_view) + query_key[:, None]).view(batch_size, tokens, channels)
        value_embedding = self.value_for(num_frames, hidden_states.dtype)  # (h*w, f, c)
        if value_embedding is None:
            value_input = hidden_states
        else:
            value_input = hidden_states.view(frames_view) + value_embedding.transpose(0, 1)  # (b, f, h*w, c)
            value_input = value_input.view(batch_size, tokens, channels)

        query = attn.norm_q(attn.to_q(query_key_input))
        key = attn.norm_k(attn.to_k(query_key_input))
        value = attn.to_v(value_input)
        query = query.unflatten(2, (attn.heads, -1))  # (b, f*h*w, heads, d)
        key = key.unflatten(2, (attn.heads, -1))
        value = value.unflatten(2, (attn.heads, -1))
        if rotary_emb is not None:
            query = _rotate(query, *rotary_emb)
            key = _rotate(key, *rotary_emb)

        hidden_states = dispatch_attention_fn(
            query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
        )  # fmt: skip
        hidden_states = hidden_states.flatten(2, 3).type_as(query)
        hidden_states = attn.to_out[0](hidden_states)
        return attn.to_out[1](hidden_states)
