"""Batch jobs in the fake API: the clock a test steps, the timing settings, and
the job engine both providers' Batch APIs run on.

Time in batch land is :class:`BatchClock` time, not the wall clock: a
``FakeAPI`` has one clock (``api.batch_clock``) that starts at the real
``time.time()`` when the server starts (and again on ``api.reset()``) and then
only moves when a test calls ``api.batch_clock.advance(seconds)``. Every job
follows a timeline fixed by :class:`BatchSettings` (``api.batch_settings``,
copied into each job when it is created, so a change affects the jobs created
after it; a job's own copy is ``job.settings``)::

    created ──validate_seconds──▶ running ──run_seconds──▶ finalizing ──finalize_seconds──▶ done

While running, lines complete in proportion to the time spent (after half of
``run_seconds``, half of the lines are answered). A job is brought up to the
clock's time lazily, whenever a request (or :meth:`BatchJob.advance_to`) reads
it, and each transition keeps the time it happened on the clock, not the time
it was observed. A job that has not finished when its window closes
(``expire_seconds`` after creation) expires with the lines answered so far; a
cancelled job ends ``cancel_seconds`` later (OpenAI) or at once (Gemini).

:class:`BatchJob` is the state machine; each provider's module subclasses it
with the lines it reads, the way it answers one line, the files it writes at
the end and the JSON it shows.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any

__all__ = ["BatchClock", "BatchInvalid", "BatchJob", "BatchSettings", "Phase"]


class BatchClock:
    """The time batch jobs live by: starts at the real time, moves only when advanced.

    ``now()`` is seconds since the epoch (a float); ``advance(seconds)`` moves it
    forward and returns the new time; ``reset()`` puts it back to the real time.
    Thread-safe.
    """

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._now = time.time() if start is None else float(start)

    def now(self) -> float:
        """The clock's time (seconds since the epoch)."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward (>= 0); the new time."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError("the batch clock only moves forward: seconds must be >= 0")
        with self._lock:
            self._now += seconds
            return self._now

    def reset(self, start: float | None = None) -> None:
        """Back to the real time now (or ``start``)."""
        with self._lock:
            self._now = time.time() if start is None else float(start)

    def __repr__(self) -> str:
        return f"BatchClock(now={self.now():.3f})"


@dataclass
class BatchSettings:
    """How long each phase of a fake batch job takes, in batch-clock seconds, and the limits.

    ``api.batch_settings`` holds the defaults every new job copies; change them
    before creating a job (``api.batch_settings.run_seconds = 90_000`` makes the
    next jobs outlive OpenAI's 24 h window), or change one job's own copy
    (``job.settings``). ``reset()`` restores the defaults below.
    """

    #: OpenAI ``validating`` / Gemini ``BATCH_STATE_PENDING``.
    validate_seconds: float = 10.0
    #: ``in_progress`` / ``BATCH_STATE_RUNNING``: the lines complete evenly over this time.
    run_seconds: float = 60.0
    #: OpenAI ``finalizing`` (Gemini stays ``RUNNING`` for it).
    finalize_seconds: float = 10.0
    #: OpenAI ``cancelling`` lasts this long, then the job is ``cancelled``.
    cancel_seconds: float = 1.0
    #: OpenAI's completion window ("24h"): a job not done by then is ``expired``.
    openai_window_seconds: float = 24 * 3600.0
    #: Gemini's: a job pending or running for 48 h is ``BATCH_STATE_EXPIRED``.
    gemini_expire_seconds: float = 48 * 3600.0
    #: OpenAI: requests in one batch input file.
    max_requests: int = 50_000
    #: OpenAI: bytes in one batch input file (200 MB).
    max_file_bytes: int = 200 * 1024 * 1024
    #: Gemini: bytes of a ``batchGenerateContent`` body with inline requests (20 MB).
    gemini_inline_bytes: int = 20 * 1024 * 1024

    def copy(self) -> BatchSettings:
        return replace(self)

    def reset(self) -> None:
        """Back to the defaults."""
        for f in fields(self):
            setattr(self, f.name, f.default)


class Phase(str, Enum):
    """Where a job is, whatever the provider calls it."""

    VALIDATING = "validating"
    FAILED = "failed"
    RUNNING = "running"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


#: Phases a job never leaves.
TERMINAL = frozenset({Phase.FAILED, Phase.COMPLETED, Phase.EXPIRED, Phase.CANCELLED})


class BatchInvalid(Exception):
    """Raised by :meth:`BatchJob.validate`: the job fails with these errors."""

    def __init__(self, errors: list[Any]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = errors


class BatchJob:
    """A batch job's timeline: validate, answer lines as time passes, finish.

    Subclasses implement :meth:`validate` (the lines, or :class:`BatchInvalid`),
    :meth:`answer` (one line's result) and :meth:`finish` (called once, on
    entering a terminal phase: write the output). ``results[i]`` is the result
    of ``lines[i]``; ``times[phase]`` when the job entered ``phase``.
    """

    #: Whether a cancel ends the job at once (Gemini) or after ``cancel_seconds`` (OpenAI).
    cancels_at_once = False

    def __init__(self, created_at: float, settings: BatchSettings, expires_at: float | None) -> None:
        self.created_at = created_at
        self.settings = settings
        self.expires_at = expires_at
        self.phase = Phase.VALIDATING
        self.times: dict[Phase, float] = {Phase.VALIDATING: created_at}
        self.lines: list[Any] = []
        self.results: list[Any] = []
        self.errors: list[Any] = []
        #: Clock time of the last change (a transition or lines answered).
        self.updated_at = created_at

    # -- what subclasses provide --------------------------------------------
    def validate(self, at: float) -> list[Any]:
        """The lines to answer (read at time ``at``), or raise :class:`BatchInvalid`."""
        raise NotImplementedError

    def answer(self, line: Any) -> Any:
        """The result of one line."""
        raise NotImplementedError

    def finish(self, at: float) -> None:
        """The job reached a terminal phase at ``at``: write what it produced."""

    # -- the timeline ---------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.phase in TERMINAL

    @property
    def started_at(self) -> float | None:
        return self.times.get(Phase.RUNNING)

    def _enter(self, phase: Phase, at: float) -> None:
        self.phase = phase
        self.times[phase] = at
        self.updated_at = max(self.updated_at, at)
        if phase in TERMINAL:
            self.finish(at)

    def _due(self, at: float) -> int:
        """How many lines are answered by time ``at`` while running."""
        total = len(self.lines)
        started = self.started_at
        if started is None:
            return 0
        run = self.settings.run_seconds
        if run <= 0 or at >= started + run:
            return total
        return max(0, min(total, math.floor(total * (at - started) / run + 1e-9)))

    def _answer_until(self, count: int, at: float) -> None:
        count = min(count, len(self.lines))
        if count > len(self.results):
            for i in range(len(self.results), count):
                self.results.append(self.answer(self.lines[i]))
            self.updated_at = max(self.updated_at, at)

    def advance_to(self, now: float) -> None:
        """Bring the job up to clock time ``now`` (each step at its own time)."""
        s = self.settings
        deadline = self.expires_at if self.expires_at is not None else math.inf
        while not self.done:
            if self.phase is Phase.VALIDATING:
                ready = self.created_at + s.validate_seconds
                if deadline <= ready and now >= deadline:
                    self._enter(Phase.EXPIRED, deadline)
                    continue
                if now < ready:
                    return
                try:
                    self.lines = list(self.validate(ready))
                except BatchInvalid as exc:
                    self.errors = exc.errors
                    self._enter(Phase.FAILED, ready)
                    continue
                self._enter(Phase.RUNNING, ready)
            elif self.phase is Phase.RUNNING:
                started = self.started_at or self.created_at
                end = started + s.run_seconds
                if deadline < end and now >= deadline:
                    self._answer_until(self._due(deadline), deadline)
                    self._enter(Phase.EXPIRED, deadline)
                    continue
                self._answer_until(self._due(min(now, end)), min(now, end))
                if now < end:
                    return
                self._enter(Phase.FINALIZING, end)
            elif self.phase is Phase.FINALIZING:
                end = self.times[Phase.FINALIZING] + s.finalize_seconds
                if now < end:
                    return
                self._enter(Phase.COMPLETED, end)
            elif self.phase is Phase.CANCELLING:
                end = self.times[Phase.CANCELLING] + s.cancel_seconds
                if now < end:
                    return
                self._enter(Phase.CANCELLED, end)
            else:  # pragma: no cover - every phase is handled above
                return

    def cancel(self, now: float) -> bool:
        """Cancel at ``now`` (after catching up); False when the job had already ended."""
        self.advance_to(now)
        if self.done:
            return False
        if self.phase is Phase.CANCELLING:
            return True
        if self.cancels_at_once:
            self._enter(Phase.CANCELLED, now)
        else:
            self._enter(Phase.CANCELLING, now)
            self.advance_to(now)  # a zero cancel_seconds ends it now
        return True

    # -- counts ------------------------------------------------------------
    @property
    def total(self) -> int:
        return len(self.lines)

    @property
    def answered(self) -> int:
        return len(self.results)
