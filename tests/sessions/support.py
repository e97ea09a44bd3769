"""What the session tests share."""

from __future__ import annotations

from llmplug.core.models import TextChunk


class Recorder:
    """A stream callback that keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[TextChunk, dict]] = []

    def __call__(self, chunk: TextChunk, raw: dict) -> None:
        self.calls.append((chunk, raw))

    @property
    def text(self) -> str:
        return "".join(str(c) for c, _ in self.calls)

    @property
    def refusal(self) -> str:
        """The refusal pieces joined (``TextChunk.refusal``)."""
        return "".join(c.refusal or "" for c, _ in self.calls)
