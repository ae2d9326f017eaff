"""One progress protocol for every long job (learning a motion, generating a video), from its first second.

A job calls `on_progress(Progress(stage, step, total, loss))` as it goes; the callback may return True to stop
the job at that point. Stages, in order:

    learning a motion:   loading (the model) -> reading (the clip) -> encoding (frames to latents)
                         -> inverting (the sampler run backwards: DDIM, or the flow ODE for Wan; step k of 50)
                         -> learning (step k of N, with the loss)
                         -> saving
    generating a video:  loading -> sampling (step k of N) -> decoding -> saving

Stopping during learning keeps what was learned (see invert); stopping before it, or during generation, ends the
job with a MotionInversionError saying so. The CLI draws a bar per stage; the app shows the stage, its progress and,
once learning steps have been timed, an estimate of the time left.
"""

from collections.abc import Callable
from dataclasses import dataclass

STAGE_WORDS = {
    "loading": "loading the model",
    "reading": "reading the clip",
    "encoding": "encoding the frames",
    "inverting": "inverting the clip",
    "learning": "learning the motion",
    "sampling": "generating",
    "decoding": "decoding the frames",
    "saving": "saving",
}


@dataclass(frozen=True)
class Progress:
    stage: str  # one of STAGE_WORDS
    step: int  # steps of this stage done
    total: int  # steps in this stage
    loss: float | None = None  # learning only: this step's loss

    def describe(self) -> str:
        """'inverting the clip 12/50' or 'loading the model'."""
        words = STAGE_WORDS.get(self.stage, self.stage)
        return f"{words} {self.step}/{self.total}" if self.total > 1 else words


ProgressCallback = Callable[[Progress], bool | None]


def report(on_progress: ProgressCallback | None, stage: str, step: int = 0, total: int = 1, loss=None) -> bool:
    """Call `on_progress` if given; True when it asks to stop."""
    return bool(on_progress(Progress(stage, step, total, loss))) if on_progress is not None else False
