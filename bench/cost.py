"""The exact cost of one inversion step on the real architectures, counted on the meta device (no GPU, no weights).

    python bench/cost.py [--configs ../shared/model-configs] [--only wan]

For ZeroScope at 576x320x24, AnimateDiff v1-5-2 at 512x512x16 and Wan 2.1 T2V 1.3B at 480x832 x 49 and x 81 frames,
in bf16, with the project's injection and default targets (the registry's recipe), one training step (forward, then
backward to the embeddings): the FLOPs per top-level block (torch's FlopCounterMode; backward included) and the bytes
of activations kept for the backward pass (autograd's saved-tensor hooks), with checkpointing off and on (the UNets:
per top-level block and per layer, checkpointing.py; Wan: its own per transformer block). Then weights, embeddings
with their gradients and AdamW state, the predicted peak memory, and the time of a step (and of 400 steps) at the
H100's dense bf16 peak, 989 TFLOP/s: the physical limit, which real kernels reach a fraction of. The text encoder
and VAE are not counted: they run once per job, before the loop, and are offloaded (Wan's UMT5-XXL is ~11 GB).

Attention is counted as FlashAttention, what bf16 SDPA runs on an H100 (it keeps the output and a logsumexp, not the
attention matrix): on the meta device torch's SDPA always takes the math path, which would keep every attention
matrix in float32, so while counting, `F.scaled_dot_product_attention` is routed to aten's flash kernel, whose meta
and FLOP formulas exist. Not counted: the kernels' temporary workspaces and the allocator's fragmentation.
"""

import argparse
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import init_empty_weights
from torch.utils.flop_counter import FlopCounterMode

from motion_inversion import family_of, inject_motion
from motion_inversion.checkpointing import layers_of
from motion_inversion.models import REGISTRY, denoiser_forward
from motion_inversion.random_models import CONFIGS, random_denoiser

H100_BF16_FLOPS = 989e12
GIB = 2**30


@contextmanager
def attention_as_flash():
    original = F.scaled_dot_product_attention

    def flash(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kwargs):
        if attn_mask is not None:  # these UNets pass none; keep the exact path if one ever does
            return original(query, key, value, attn_mask, dropout_p, is_causal, scale=scale, **kwargs)
        return torch.ops.aten._scaled_dot_product_flash_attention(query, key, value, dropout_p, is_causal,
                                                                  scale=scale)[0]  # fmt: skip

    F.scaled_dot_product_attention = flash
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


def build(folder: Path, which: str):
    with init_empty_weights(include_buffers=True):  # buffers too (AnimateDiff's positional table)
        unet = random_denoiser(which, folder)
    return unet.to(dtype=torch.bfloat16).requires_grad_(False)


CONTAINERS = ("down_blocks", "up_blocks", "blocks")  # module lists whose entries are top-level blocks


def top_level_blocks(unet) -> list[tuple[str, torch.nn.Module]]:
    """The UNet's blocks in forward order (down, mid, up) or the transformer's; their other children first."""
    names = [n for n, _ in unet.named_children() if n not in CONTAINERS]
    blocks = [(n, getattr(unet, n)) for n in names if n != "mid_block"]
    if hasattr(unet, "blocks"):
        return blocks + [(f"blocks.{i}", b) for i, b in enumerate(unet.blocks)]
    blocks += [(f"down_blocks.{i}", b) for i, b in enumerate(unet.down_blocks)]
    blocks += [("mid_block", unet.mid_block)] if unet.mid_block is not None else []
    return blocks + [(f"up_blocks.{i}", b) for i, b in enumerate(unet.up_blocks)]


def step_cost(unet, frames: int, latent: tuple[int, int], text: tuple[int, int], checkpointing: str | None,
              value_pool: int = 1) -> dict:  # fmt: skip
    """FLOPs (forward, total, per top-level block) and bytes kept for backward per top-level block and per layer
    (checkpointing.layers_of), with `checkpointing` None, "block" or "layer"; `frames` are latent frames, `text`
    is (tokens, width) of the text embeddings."""
    injection = inject_motion(unet, frames, latent, value_pool=value_pool)
    embeddings = injection.parameters()
    for parameter in embeddings:
        parameter.requires_grad_(True)
    where = {"block": "other", "layer": None}
    kept_by_block, kept_by_layer = defaultdict(int), defaultdict(int)

    def pack(tensor):
        size = tensor.numel() * tensor.element_size()
        kept_by_block[where["block"]] += size
        if where["layer"] is not None:
            kept_by_layer[where["layer"]] += size
        return tensor

    hooks = []
    for name, block in top_level_blocks(unet):
        hooks.append(block.register_forward_pre_hook(lambda *_, n=name: where.update(block=n)))
        hooks.append(block.register_forward_hook(lambda *_: where.update(block="other")))
        for container, index in layers_of(block):
            layer_name = f"{name}.{index}:{type(container[index]).__name__}"
            hooks.append(container[index].register_forward_pre_hook(lambda *_, n=layer_name: where.update(layer=n)))
            hooks.append(container[index].register_forward_hook(lambda *_: where.update(layer=None)))
    sample = torch.empty(1, unet.config.in_channels, frames, *latent, device="meta", dtype=torch.bfloat16)
    text = torch.empty(1, *text, device="meta", dtype=torch.bfloat16)
    timestep = torch.tensor([500], device="meta")
    wrapping = injection.family.gradient_checkpointing(unet, injection.layers, checkpointing)
    try:
        with (wrapping, attention_as_flash(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
              FlopCounterMode(display=False) as counter):  # fmt: skip
            prediction = denoiser_forward(unet, sample, timestep, text)
            forward_flops = counter.get_total_flops()
            prediction.float().pow(2).mean().backward()
        per_block = {}
        for module, counts in counter.get_flop_counts().items():
            parts = module.split(".")[1:]  # without the class name
            if parts and (len(parts) == 1 or (len(parts) == 2 and parts[0] in CONTAINERS)):
                per_block[".".join(parts)] = sum(counts.values())
        return dict(forward=forward_flops, total=counter.get_total_flops(), per_block=per_block,
                    kept=dict(kept_by_block), kept_by_layer=dict(kept_by_layer),
                    embeddings=sum(p.numel() for p in embeddings))  # fmt: skip
    finally:
        for hook in hooks:
            hook.remove()
        injection.remove()


def weights_bytes(unet) -> int:
    return sum(p.numel() * p.element_size() for p in unet.parameters())


def report(label: str, unet, frames: int, latent: tuple[int, int], text: tuple[int, int], value_pool: int = 1
           ) -> list[str]:  # fmt: skip
    """The cost table of one model. With checkpointing, the saved-tensor hooks see only what is kept between the
    checkpointed units (torch's checkpoint keeps the rest itself); the backward then holds one unit's own
    activations at a time, which are what that unit keeps without checkpointing: the peak adds the largest.
    Wan checkpoints per transformer block, which is both its top-level block and its layer."""
    wan = family_of(unet).name == "wan"
    modes = {None: "off", "block": "per transformer block"} if wan else {
        None: "off", "block": "per top-level block", "layer": "per layer"}  # fmt: skip
    runs = {mode: step_cost(unet, frames, latent, text, mode, value_pool) for mode in modes}
    plain = runs[None]
    weights = weights_bytes(unet)
    optimizer = plain["embeddings"] * 16  # float32 embeddings, gradients, AdamW's two moments
    trained_blocks = [name for name, _ in top_level_blocks(unet) if runs["block"]["kept"].get(name, 0) == 0
                      and plain["kept"].get(name, 0) > 0]  # fmt: skip
    largest = {None: 0,
               "block": max(plain["kept"].get(name, 0) for name in trained_blocks),
               "layer": max(plain["kept_by_layer"].values(), default=0)}  # fmt: skip
    by_unit = plain["kept_by_layer"] or plain["kept"]
    biggest_layer = max(by_unit, key=by_unit.get)
    kept = {mode: sum(run["kept"].values()) for mode, run in runs.items()}
    peak = {mode: weights + optimizer + kept[mode] + largest[mode] for mode in runs}
    lines = [f"### {label}", "", "| block | TFLOP (fwd+bwd) | kept for backward, GiB |", "|---|---|---|"]
    for name, _ in top_level_blocks(unet):
        flops, saved = plain["per_block"].get(name, 0), plain["kept"].get(name, 0)
        if flops >= 5e9 or saved >= 0.01 * GIB:
            lines.append(f"| {name} | {flops / 1e12:.2f} | {saved / GIB:.2f} |")
    lines += ["", "| checkpointing | " + " | ".join(modes.values()) + " |", "|---" * (len(modes) + 1) + "|"]
    rows = [
        ("forward TFLOP", lambda m: f"{runs[m]['forward'] / 1e12:.1f}"),
        ("forward + backward TFLOP", lambda m: f"{runs[m]['total'] / 1e12:.1f}"),
        ("activations kept between units", lambda m: f"{kept[m] / GIB:.2f} GiB"),
        ("+ the largest unit's own, during its backward", lambda m: f"{largest[m] / GIB:.2f} GiB"),
        ("weights (bf16) + embeddings, gradients, AdamW (fp32)", lambda m: f"{(weights + optimizer) / GIB:.2f} GiB"),
        ("**predicted peak**", lambda m: f"**{peak[m] / GIB:.1f} GiB**"),
        ("one step at 989 TFLOP/s", lambda m: f"{runs[m]['total'] / H100_BF16_FLOPS * 1e3:.0f} ms"),
        ("400 steps at 989 TFLOP/s (at 40% of it)",
         lambda m: f"{400 * runs[m]['total'] / H100_BF16_FLOPS:.0f} s "
                   f"({400 * runs[m]['total'] / H100_BF16_FLOPS / 0.40:.0f} s)"),
    ]  # fmt: skip
    lines += [f"| {name} | " + " | ".join(cell(m) for m in modes) + " |" for name, cell in rows]
    lines += ["", f"Largest unit: {biggest_layer} ({by_unit[biggest_layer] / GIB:.2f} GiB). "
              f"Embeddings: {plain['embeddings'] / 1e6:.1f} M numbers ({plain['embeddings'] * 2 / 1e6:.1f} MB in "
              f"float16); parameters: {sum(p.numel() for p in unet.parameters()) / 1e9:.2f} B.", ""]  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=Path, default=CONFIGS)
    parser.add_argument("--only", choices=("unet", "wan"), help="only the UNets or only Wan")
    args = parser.parse_args()
    wan_pool = REGISTRY["wan2.1-1.3b"].value_pool
    rows = [
        ("ZeroScope, 576x320, 24 frames, bf16", "zeroscope", 24, (40, 72), (77, 1024), 1),
        ("AnimateDiff v1-5-2, 512x512, 16 frames, bf16", "animatediff", 16, (64, 64), (77, 768), 1),
        # 49 and 81 video frames are 13 and 21 latent frames; 480x832 is a 60x104 latent, 30x52 tokens
        ("Wan 2.1 T2V 1.3B, 480x832, 49 frames, bf16", "wan2.1-1.3b", 13, (60, 104), (512, 4096), wan_pool),
        ("Wan 2.1 T2V 1.3B, 480x832, 81 frames, bf16", "wan2.1-1.3b", 21, (60, 104), (512, 4096), wan_pool),
    ]
    for label, which, frames, latent, text, pool in rows:
        if args.only and (args.only == "wan") != which.startswith("wan"):
            continue
        print("\n".join(report(label, build(args.configs, which), frames, latent, text, pool)), flush=True)


if __name__ == "__main__":
    main()
