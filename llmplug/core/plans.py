"""A method written once, run by a sync or an async client (session methods,
batch jobs).

Such a method is a *plan*: a generator that yields what it needs done and is
sent back the outcome. It yields a callable (a client call: its result is
sent back, awaited first on an async client), a :class:`Sleep` (a wait:
``time.sleep`` or ``asyncio.sleep``), or a list of :class:`ToolJob` (one
turn's tool calls: their outputs are sent back as a list, in order). A
failure is thrown into the plan, so its rollback is written once too.
:func:`drive` runs a plan with a sync client; :func:`adrive` with an async
one, running a turn's tool calls concurrently (sync tools each on a thread,
so none blocks the event loop).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

import attrs

from .errors import ConfigurationError

__all__ = ["Plan", "Sleep", "ToolJob", "adrive", "drive"]

Plan = Generator[Any, Any, Any]


@attrs.frozen
class ToolJob:
    """One tool call of a turn: ``run()`` gives the text for the model (an
    awaitable of it when ``is_async``, the tool being a coroutine function)."""

    name: str
    run: Callable[[], Any]
    is_async: bool = False


@attrs.frozen
class Sleep:
    """Wait ``seconds`` (``sleep``: the function to wait with, ``time.sleep``
    by default; an async plan uses ``asyncio.sleep`` unless it is a coroutine function)."""

    seconds: float
    sleep: Callable[[float], Any] | None = None


def _advance(plan: Plan, outcome: Any, error: BaseException | None) -> tuple[bool, Any]:
    """Send ``plan`` the last step's outcome (or throw its error): ``(True, the
    plan's return value)`` when it is done, else ``(False, its next step)``."""
    try:
        return False, plan.send(outcome) if error is None else plan.throw(error)
    except StopIteration as stop:
        return True, stop.value


def drive(plan: Plan) -> Any:
    """Run ``plan`` with a sync client: calls and tools one after another."""
    outcome, error = None, None
    while True:
        finished, step = _advance(plan, outcome, error)
        if finished:
            return step
        outcome, error = None, None
        try:
            if isinstance(step, Sleep):
                (step.sleep or time.sleep)(step.seconds)
            else:
                outcome = [_sync_tool(job) for job in step] if isinstance(step, list) else step()
        except BaseException as exc:  # thrown into the plan, which rolls back and re-raises
            error = exc


async def adrive(plan: Plan) -> Any:
    """Run ``plan`` with an async client: calls awaited, one turn's tools at once."""
    import asyncio
    import inspect

    outcome, error = None, None
    while True:
        finished, step = _advance(plan, outcome, error)
        if finished:
            return step
        outcome, error = None, None
        try:
            if isinstance(step, Sleep):
                slept = step.sleep(step.seconds) if step.sleep is not None else asyncio.sleep(step.seconds)
                if inspect.isawaitable(slept):
                    await slept
            elif isinstance(step, list):
                runs = (_awaited(job.run()) if job.is_async else asyncio.to_thread(job.run) for job in step)
                outcome = list(await asyncio.gather(*runs))
            elif inspect.isawaitable(outcome := step()):
                outcome = await outcome
        except BaseException as exc:
            error = exc


async def _awaited(outcome: Any) -> Any:
    """An async tool's outcome: awaited, unless it is already the text (an
    error found before the tool was called, such as arguments that do not fit)."""
    import inspect

    return await outcome if inspect.isawaitable(outcome) else outcome


def _sync_tool(job: ToolJob) -> Any:
    if job.is_async:
        raise ConfigurationError(
            f"tool {job.name!r} is a coroutine function: run it with an async session "
            "(llmplug.new_async(...).new_chat_session())"
        )
    return job.run()
