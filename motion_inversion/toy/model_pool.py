"""Run independent pieces of a benchmark on one model in several worker processes.

The toy benchmarks are many small, independent calls (an inversion and a few generations per reference clip). On a
2-core CPU torch cannot keep both cores busy with the toy model's small tensors: two worker processes of one thread
each do 1.65x the work of one process of two threads (measured: one 200-step inversion 58 s alone, 69 s each with
two running side by side; a generation 4.0 s alone, 4.8 s side by side). Each worker gets its own copy of the model,
so nothing is shared between calls running at the same time.
"""

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor

import torch

from ..models import VideoModel

_worker_model: VideoModel | None = None  # in a worker process: its own copy of the model, set once at start


def _start_worker(model: VideoModel, threads: int) -> None:
    global _worker_model
    torch.set_num_threads(threads)
    _worker_model = model


def _call_with_worker_model(function: Callable, args: tuple):
    return function(_worker_model, *args)


class ModelPool:
    """`submit(function, *args)` runs `function(model, *args)`, in this process when `jobs` is 1, else in one of
    `jobs` worker processes (the CPU's threads split between them). Functions must be importable (module level)."""

    def __init__(self, model: VideoModel, jobs: int = 1):
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.model, self.jobs = model, jobs
        self.executor = None
        if jobs > 1:
            self.executor = ProcessPoolExecutor(
                jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                initargs=(model, max(1, torch.get_num_threads() // jobs)),
            )  # fmt: skip

    def submit(self, function: Callable, *args) -> Future:
        if self.executor is not None:
            return self.executor.submit(_call_with_worker_model, function, args)
        future = Future()
        try:
            future.set_result(function(self.model, *args))
        except Exception as error:  # the caller sees it from result(), as with a worker process
            future.set_exception(error)
        return future

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(cancel_futures=True)

    def __enter__(self) -> "ModelPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
