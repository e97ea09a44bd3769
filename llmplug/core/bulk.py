"""Bulk runs: many operation calls through one async client, at a bounded
concurrency, with one pace kept for all of them.

:func:`call` describes one call (``llmplug.call("chat.create", messages=...)``);
:func:`map_unordered` runs them and yields ``(index, result or error)`` as each
finishes. The :class:`Governor` is shared by every worker: a 429 or a
``Retry-After`` on any attempt pauses *all* workers until the server's wait is
over and halves how many calls may be in flight (then one more is allowed for
each full round of successes, up to ``concurrency``); optional
``requests_per_minute`` / ``tokens_per_minute`` spread the starts. Hand-written
because it has to see every attempt inside the retry loop, which no
general-purpose limiter can.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import attrs

from .errors import APIError, APIStatusError, ConfigurationError
from .exchange import ApiResult
from .retry import server_delay

__all__ = ["Call", "Governor", "Progress", "call", "map_unordered"]

#: How long a 429 with no hint pauses every worker.
DEFAULT_PAUSE = 1.0


@attrs.frozen
class Call:
    """One operation call of a bulk run: ``operation`` (``"chat.create"``...) and its params."""

    operation: str
    params: Mapping[str, Any] = attrs.field(factory=dict)


def call(operation: str, **params: Any) -> Call:
    """One call for :meth:`AsyncClient.map`: ``llmplug.call("chat.create", messages=[...], model="...")``
    (any operation name: a plugin may add its own)."""
    if not isinstance(operation, str) or not operation:
        raise ConfigurationError(f"call() needs an operation name such as 'chat.create', not {operation!r}")
    return Call(operation, params)


@attrs.frozen
class Progress:
    """Where a bulk run is: calls ``done`` (``failed`` of them with an error) of
    ``total`` (``None`` when the input has no length), after ``elapsed`` seconds."""

    done: int
    failed: int
    total: int | None
    elapsed: float

    @property
    def rate(self) -> float:
        """Calls finished per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far, when the total is known."""
        if self.total is None or not self.rate:
            return None
        return (self.total - self.done) / self.rate


class Governor:
    """The pace of a bulk run, shared by all its workers (see the module docstring)."""

    def __init__(
        self,
        concurrency: int,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cap = concurrency
        #: How many calls may be in flight now (halved on a 429, regrown on success).
        self.limit = float(concurrency)
        self.active = 0
        self.paused_until = 0.0
        self._last_cut = -1e9
        self._rpm = requests_per_minute
        self._tpm = tokens_per_minute
        self._next_start = 0.0
        self._spent: deque[tuple[float, int]] = deque()  # (when, tokens) in the last minute
        self._clock = clock
        self._changed = asyncio.Condition()

    # ------------------------------------------------------------ one call

    async def start(self, tokens: int) -> None:
        """Wait for a free slot, then for the request and token budgets."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.active < max(1, int(self.limit)))
            self.active += 1
        if self._rpm:
            now = self._clock()
            start_at = max(now, self._next_start)
            self._next_start = start_at + 60.0 / self._rpm
            await asyncio.sleep(start_at - now)
        if self._tpm:
            await self._spend(tokens)

    async def finish(self) -> None:
        async with self._changed:
            self.active -= 1
            self._changed.notify_all()

    async def _spend(self, tokens: int) -> None:
        budget = self._tpm or 0.0
        tokens = min(tokens, int(budget))  # a call larger than the budget still runs, alone
        while True:
            now = self._clock()
            while self._spent and self._spent[0][0] <= now - 60.0:
                self._spent.popleft()
            if sum(n for _, n in self._spent) + tokens <= budget or not self._spent:
                self._spent.append((now, tokens))
                return
            await asyncio.sleep(self._spent[0][0] + 60.0 - now)

    # ------------------------------------------------------------ each attempt (the Pacer)

    async def before_send(self) -> None:
        """Wait while the run is paused by a server's 429."""
        while (left := self.paused_until - self._clock()) > 0:
            await asyncio.sleep(left)

    def on_error(self, error: APIError) -> None:
        """A failed attempt: a 429 or a retry hint pauses every worker and halves
        the concurrency (once per pause: the calls already in flight often get
        429s together)."""
        hint = server_delay(error)
        if not (isinstance(error, APIStatusError) and error.status_code == 429) and hint is None:
            return
        now = self._clock()
        pause = hint if hint is not None else DEFAULT_PAUSE
        self.paused_until = max(self.paused_until, now + pause)
        if now - self._last_cut > pause:
            self.limit = max(1.0, self.limit / 2)
            self._last_cut = now

    def on_result(self, result: ApiResult) -> None:
        """A call succeeded: one more in flight after a full round of successes."""
        self.limit = min(float(self.cap), self.limit + 1.0 / max(self.limit, 1.0))


def estimate_tokens(params: Mapping[str, Any]) -> int:
    """A rough token count of a call, for ``tokens_per_minute``: the text sent
    (4 characters a token) plus the most it may generate."""
    sent = sum(len(json.dumps(params.get(key), default=str)) for key in ("messages", "input", "prompt", "contents") if key in params)
    most = next((params[key] for key in ("max_completion_tokens", "max_tokens", "max_output_tokens") if params.get(key)), 0)
    return sent // 4 + int(most)


async def map_unordered(
    client: Any,
    calls: Iterable[Call | Mapping[str, Any]],
    *,
    concurrency: int = 32,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    progress: Callable[[Progress], Any] | None = None,
) -> AsyncIterator[tuple[int, Any]]:
    """Run ``calls`` through ``client`` (an AsyncClient); yield ``(index, result)`` as each one ends,
    the result being the :class:`ApiResult` or the exception it raised (one
    failure never stops the others). Stops the workers when the consumer stops."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be a whole number >= 1, not {concurrency!r}")
    governor = Governor(concurrency, requests_per_minute=requests_per_minute, tokens_per_minute=tokens_per_minute)
    total = len(calls) if hasattr(calls, "__len__") else None  # type: ignore[arg-type]
    source = enumerate(calls)
    finished: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    started = time.monotonic()

    async def one(spec: Any) -> Any:
        operation, params = _unpack(spec)
        await governor.start(estimate_tokens(params) if tokens_per_minute else 0)
        try:
            return await client._call(operation, params, pacer=governor)
        finally:
            await governor.finish()

    async def worker() -> None:
        for index, spec in source:  # one shared iterator: each call is taken once
            try:
                outcome: Any = await one(spec)
            except Exception as exc:  # kept as this call's result
                outcome = exc
            await finished.put((index, outcome))

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    done = failed = 0
    try:
        while True:
            for task in workers:  # a worker that died (not a call's error: a bug, or bad input) is raised
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            running = [task for task in workers if not task.done()]
            if finished.empty() and not running:
                break
            getter = asyncio.ensure_future(finished.get())
            await asyncio.wait({getter, *running}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                continue
            index, outcome = getter.result()
            done += 1
            failed += isinstance(outcome, BaseException)
            if progress is not None:
                progress(Progress(done, failed, total, time.monotonic() - started))
            yield index, outcome
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def _unpack(spec: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, Call):
        operation, params = spec.operation, dict(spec.params)
    elif isinstance(spec, Mapping) and isinstance(spec.get("operation"), str):
        operation, params = spec["operation"], dict(spec.get("params") or {})
    else:
        raise ConfigurationError(
            f"each call of a bulk run is llmplug.call(operation, **params) or {{'operation': ..., 'params': {{...}}}}, "
            f"not {type(spec).__name__}"
        )
    if params.get("stream"):
        raise ConfigurationError(f"a bulk run returns whole results: drop stream=True from the {operation} call")
    return operation, params

