"""Client: the sync client, every method of :class:`BaseClient` run by the
sync driver (:mod:`llmplug.core.dispatch`).

Methods keep the Lua library's names. Params are keyword arguments; a
positional dict of options is accepted too, and a function given in its place
is the stream callback, as in Lua. Per-call ``timeout``, ``max_retries`` and
``extra_headers`` are taken out of the params.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from .base_client import BaseClient, Callback, split_call_args
from .dispatch import Dispatcher

__all__ = ["BaseClient", "Callback", "Client", "split_call_args"]


class Client(BaseClient):
    """A client for one provider. Build it with :func:`llmplug.new`."""

    session_classes: ClassVar[dict[str, type]] = {}
    _driver = Dispatcher

    def map(self, calls: Iterable[Any], **options: Any) -> list[Any]:
        """:meth:`AsyncClient.map <llmplug.core.async_client.AsyncClient.map>` from
        sync code: the calls run on an async twin of this client (same settings,
        the async twin of its transport), on an event loop of their own in a
        thread, so this works inside a running loop too. Results in input order,
        each the :class:`ApiResult` or the exception of its call. A transport with no
        async twin (``requests``) leaves the run to the default async transport."""
        from .async_client import map_on_async_twin  # loads asyncio: only for a bulk run

        twin = {**self._twin_options, "api_key": self._twin_options["api_key"].reveal()}
        named = isinstance(twin["transport"], str)  # not a transport maker (a cassette), which makes either kind
        if named and self.plugins.transport_spec(twin["transport"]).async_factory is None:
            twin["transport"] = None  # a sync-only transport (requests): the default async one
        return map_on_async_twin(self.provider.name, twin, calls, options)

    def close(self) -> None:
        """Close the transport's connections; the client cannot be used after."""
        self._closed = True
        self._dispatch.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
