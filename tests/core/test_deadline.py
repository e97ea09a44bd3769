"""The total deadline's helper thread: results, errors, and a step that outlives the deadline."""

from __future__ import annotations

import threading
import time

import pytest

from llmplug.core.deadline import Deadline
from llmplug.core.errors import APITimeoutError
from llmplug.core.http import Request

REQUEST = Request("POST", "https://api.test/v1/x?key=secret-value")


def test_a_step_returns_or_raises_as_if_called_here() -> None:
    deadline = Deadline(time.monotonic() + 5, 5.0)
    assert deadline.run(lambda: 42, REQUEST, "doing") == 42
    with pytest.raises(KeyError):
        deadline.run(lambda: {}["x"], REQUEST, "doing")
    deadline.stop()


def test_a_late_step_raises_at_the_deadline_and_is_cleaned_up_after() -> None:
    deadline = Deadline(time.monotonic() + 0.2, 0.2)
    release, closed = threading.Event(), []
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        deadline.run(lambda: release.wait(5) and "response", REQUEST, "waiting for the response to", closed.append)
    assert time.monotonic() - started < 1.0
    assert str(info.value) == "total timeout of 0.2s reached while waiting for the response to POST https://api.test/v1/x?key=[REDACTED]"
    assert info.value.deadline_passed and closed == []
    release.set()  # the stuck step finishes: what it returned is handed to on_late
    for _ in range(100):
        if closed:
            break
        time.sleep(0.01)
    assert closed == ["response"]
    with pytest.raises(APITimeoutError):  # nothing more runs once it passed
        deadline.run(lambda: 1, REQUEST, "doing")
    deadline.stop()
