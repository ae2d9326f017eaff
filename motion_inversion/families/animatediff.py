"""The AnimateDiff family: UNetMotionModel (Stable Diffusion 1.5's UNet + an AnimateDiff motion adapter).

As the UNet3D family, with the temporal transformers under `*.motion_modules.N`; their attention input already carries
AnimateDiff's sinusoidal positional embedding, which is kept. diffusers' UNetMotionModel expects the text embeddings
repeated per frame (its pipeline does it), and its weights are the SD 1.5 UNet plus the adapter's.
"""

from torch import nn

from .unet3d import UNet3DFamily


class AnimateDiffFamily(UNet3DFamily):
    name = "animatediff"
    temporal_container = "motion_modules"

    def matches(self, denoiser: nn.Module) -> bool:
        from diffusers import UNetMotionModel

        return isinstance(denoiser, UNetMotionModel)

    def predict(self, denoiser, latents, timestep, text, per_token_timesteps=False, first_frame_given=False):
        text = text.repeat_interleave(latents.shape[2], dim=0)
        return denoiser(latents, timestep, encoder_hidden_states=text).sample

    def load_denoiser(self, spec, dtype) -> nn.Module:
        from diffusers import MotionAdapter, UNet2DConditionModel, UNetMotionModel

        if spec.motion_adapter:
            unet2d = UNet2DConditionModel.from_pretrained(spec.source, subfolder="unet", torch_dtype=dtype)
            adapter = MotionAdapter.from_pretrained(spec.motion_adapter, torch_dtype=dtype)
            return UNetMotionModel.from_unet2d(unet2d, adapter).to(dtype)
        return UNetMotionModel.from_pretrained(spec.source, subfolder="unet", torch_dtype=dtype)
