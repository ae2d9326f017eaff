"""The benchmark's worker processes: the same results as one process, and errors that reach the caller."""

import numpy as np
import pytest

from motion_inversion.errors import MotionInversionError
from motion_inversion.generation import generate
from motion_inversion.models import load_model
from motion_inversion.toy.model_pool import ModelPool


def frames_for(model, prompt: str, seed: int) -> np.ndarray:
    return generate(model, None, prompt, seed=seed, steps=3).numpy()


def refuse(model, prompt: str):
    raise MotionInversionError(f"no clip for {prompt!r} on {model.name}")


@pytest.fixture(scope="module")
def toy_model():
    return load_model("toy")


def test_worker_processes_make_what_one_process_makes(toy_model):
    calls = [("a red circle", 0), ("an orange square", 1), ("a pink triangle", 2)]
    alone = [frames_for(toy_model, *call) for call in calls]
    with ModelPool(toy_model, jobs=2) as pool:
        futures = [pool.submit(frames_for, *call) for call in calls]
        refused = pool.submit(refuse, "a blue star")
        in_workers = [future.result() for future in futures]
        with pytest.raises(MotionInversionError, match="no clip for 'a blue star' on toy"):
            refused.result()
    for one, other in zip(alone, in_workers, strict=True):
        assert one.shape == other.shape == (8, 32, 32, 3)
        # one thread per worker instead of two may round differently: at most one level of 255
        assert np.abs(one.astype(int) - other.astype(int)).max() <= 1


def test_one_job_runs_in_this_process_and_keeps_errors_for_result(toy_model):
    with ModelPool(toy_model, jobs=1) as pool:
        refused = pool.submit(refuse, "a blue star")
        assert pool.executor is None
        with pytest.raises(MotionInversionError, match="a blue star"):
            refused.result()
    with pytest.raises(ValueError, match="jobs must be >= 1, got 0"):
        ModelPool(toy_model, jobs=0)
