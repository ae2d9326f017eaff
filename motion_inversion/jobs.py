"""Jobs on the one loaded model: one at a time, each belonging to a visitor who can stop it, with waits estimated.

A job (learning or generating) is registered when it is asked for (`open`: it then counts in the wait of those behind
it), with its owner (whose library it works on) and the browser session that asked; it runs when the queue reaches
it (`run`). `stop(owner=...)` ends every job of that owner (the Stop button, from any of their tabs);
`stop(session=...)` ends the jobs of one closed tab. `run()` holds the model lock for the job's whole life, so a job
whose visitor has left ends at its next step before the next job touches the model.

Waits are estimated from the durations of the last jobs of each kind, not from a global average: a 3 s generation
and a 30 s learning job wait behind each other very differently.
"""

import secrets
import statistics
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .errors import MotionInversionError


@dataclass
class Job:
    kind: str  # "learn" or "generate"
    owner: str
    session: str
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    stop_requested: threading.Event = field(default_factory=threading.Event)
    queued_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None

    def should_stop(self) -> bool:
        return self.stop_requested.is_set()


class JobBoard:
    RECENT = 8  # durations remembered per kind of job

    def __init__(self):
        self._lock = threading.Lock()  # guards the lists below
        self._model_lock = threading.Lock()  # held by the one job that uses the model
        self._jobs: list[Job] = []  # waiting and running, in arrival order
        self._durations: dict[str, deque[float]] = {}

    def open(self, kind: str, owner: str, session: str) -> Job:
        """Register a job that will run (it counts in the waits of those behind it until it is closed)."""
        job = Job(kind, owner, session)
        with self._lock:
            self._jobs.append(job)
        return job

    def claim(self, job_id: str | None, kind: str, owner: str, session: str) -> Job:
        """The job opened earlier under `job_id` (when the page asked for its place in the queue), else a new one."""
        with self._lock:
            for job in self._jobs:
                if job.id == job_id and job.started_at is None and (job.kind, job.owner) == (kind, owner):
                    return job
        return self.open(kind, owner, session)

    def forget(self, session: str) -> None:
        """A closed tab: its waiting jobs will never run, its running ones stop at their next step."""
        with self._lock:
            self._jobs = [j for j in self._jobs if j.session != session or j.started_at is not None]
        self.stop(session=session)

    def close(self, job: Job) -> None:
        with self._lock:
            if job in self._jobs:
                self._jobs.remove(job)

    @contextmanager
    def admitting(self, job: Job) -> Iterator[Job]:
        """Checks of a job's input before it runs: a refusal closes the job (it will not run, so it is no longer
        in anyone's way) and is raised on."""
        try:
            yield job
        except BaseException:
            self.close(job)
            raise

    @contextmanager
    def run(self, job: Job) -> Iterator[Job]:
        """Hold the model for `job` (waiting for the job before it to end), record its duration, close it.
        Inside a run of the same job (the two videos of a comparison), it only yields."""
        if job.started_at is not None:
            yield job
            return
        try:
            with self._model_lock:
                if job.should_stop():  # stopped, or its visitor left, while it waited
                    raise MotionInversionError(f"the {job.kind} job was stopped before it started: nothing was done")
                job.started_at = time.monotonic()
                try:
                    yield job
                finally:
                    with self._lock:
                        self._durations.setdefault(job.kind, deque(maxlen=self.RECENT)).append(
                            time.monotonic() - job.started_at
                        )
        finally:
            self.close(job)

    def stop(self, owner: str | None = None, session: str | None = None) -> int:
        """Ask the jobs of `owner` (or of one `session`) to stop at their next step; returns how many."""
        with self._lock:
            chosen = [
                j for j in self._jobs
                if (owner is not None and j.owner == owner) or (session is not None and j.session == session)
            ]  # fmt: skip
        for job in chosen:
            job.stop_requested.set()
        return len(chosen)

    def typical_duration(self, kind: str) -> float | None:
        with self._lock:
            recent = list(self._durations.get(kind, ()))
        return statistics.median(recent) if recent else None

    def ahead_of(self, job: Job) -> tuple[int, float | None]:
        """How many jobs are ahead of `job`, and the estimated wait in seconds (None until a job of each kind
        ahead has finished once)."""
        with self._lock:
            ahead = self._jobs[: self._jobs.index(job)] if job in self._jobs else []
        wait = 0.0
        for other in ahead:
            typical = self.typical_duration(other.kind)
            if typical is None:
                return len(ahead), None
            elapsed = time.monotonic() - other.started_at if other.started_at is not None else 0.0
            wait += max(typical - elapsed, 0.0)
        return len(ahead), wait
