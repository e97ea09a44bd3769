"""Where a download goes: a body written to a path or a binary file chunk by
chunk, never whole in memory (``client.file_content(id, destination)``).

A path is written to ``<path>.part`` and renamed when the body ended whole,
so a broken download never leaves a file that looks complete. Both drivers
write through :class:`Destination`; only their loops differ (``for`` and
``async for``).
"""

from __future__ import annotations

import os
import pathlib
from typing import IO, Any, Union

from .errors import ConfigurationError

__all__ = ["Destination", "Target"]

#: A path, or a file object opened for binary writing.
Target = Union[str, "os.PathLike[str]", IO[bytes]]


class Destination:
    """One download's destination: :meth:`write` each chunk, then :meth:`commit`
    (the body ended whole) or :meth:`abort` (it did not)."""

    def __init__(self, target: Any) -> None:
        self.size = 0
        if isinstance(target, (str, os.PathLike)):
            self.path: pathlib.Path | None = pathlib.Path(target)
            if self.path.is_dir():
                raise ConfigurationError(f"the destination {str(self.path)!r} is a directory: name a file")
            self.part = self.path.with_name(self.path.name + ".part")
            self.file: IO[bytes] = open(self.part, "wb")  # noqa: SIM115 (closed by commit/abort)
        elif hasattr(target, "write"):
            self.path = None
            self.file = target
        else:
            raise TypeError(f"a download's destination is a path or a binary file object, not {type(target).__name__}")

    def write(self, chunk: bytes) -> None:
        if chunk:
            self.file.write(chunk)
            self.size += len(chunk)

    def commit(self) -> Any:
        """The body ended whole: the path (renamed into place), or the file object given."""
        if self.path is None:
            return self.file
        self.file.close()
        os.replace(self.part, self.path)
        return self.path

    def abort(self) -> None:
        """The body broke off: the partial ``.part`` file is removed (a file object is left as it is)."""
        if self.path is not None:
            self.file.close()
            self.part.unlink(missing_ok=True)
