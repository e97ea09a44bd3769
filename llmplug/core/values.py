"""Small values the client passes around: a credential that never shows itself,
and the default of an option whose ``None`` means something."""

from __future__ import annotations

from typing import Any

__all__ = ["NOT_GIVEN", "Secret"]


class _NotGiven:
    """The default of an option whose ``None`` means something (``timeout=None``: no limit)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()


class Secret:
    """A credential that never shows itself in a repr, str or log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def reveal(self) -> str | None:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('[REDACTED]')" if self._value else "Secret(None)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a llmplug Secret cannot be pickled")
