"""Routing in the fake API: a :class:`Service` per emulated API (path prefix,
route table, auth, error shape, headers) and the services every FakeAPI serves."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from .batches import BatchClock, BatchSettings
from .messages import APIError, RecordedRequest, Reply

__all__ = ["Handler", "RouteTable", "Service", "default_services", "register_service"]

Handler = Callable[..., Reply]


class RouteTable:
    """Ordered (method, path regex) → handler table.

    Handlers are called as ``handler(service, request, **groups)`` with the
    regex's named groups.
    """

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator: register ``handler`` for ``method`` and a full-path regex."""
        compiled = re.compile(pattern + r"\Z")

        def register(handler: Handler) -> Handler:
            self._routes.append((method.upper(), compiled, handler))
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler and path parameters for a request, or None."""
        for route_method, pattern, handler in self._routes:
            if route_method == method:
                found = pattern.match(path)
                if found:
                    return handler, found.groupdict()
        return None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((m, p.pattern[:-2]) for m, p, _ in self._routes)


class Service:
    """One emulated API: a path prefix, a route table, auth, errors, headers.

    Subclass it, set ``prefix`` and ``routes`` and override what differs.
    A FakeAPI creates its own instance, so state kept on ``self`` (stores)
    is per server.
    """

    prefix: str = ""
    routes: RouteTable = RouteTable()
    #: Set by FakeAPI.start(): ``http://127.0.0.1:PORT``.
    server_url: str = ""
    #: Set by FakeAPI to its shared ``batch_clock`` and ``batch_settings``
    #: (a service used alone gets its own on first use).
    batch_clock: BatchClock
    batch_settings: BatchSettings

    def __getattr__(self, name: str) -> object:
        # A service made outside a FakeAPI still has a batch clock and settings.
        if name == "batch_clock":
            self.batch_clock = BatchClock()
            return self.batch_clock
        if name == "batch_settings":
            self.batch_settings = BatchSettings()
            return self.batch_settings
        raise AttributeError(f"{type(self).__name__!s} object has no attribute {name!r}")

    def handles(self, path: str) -> bool:
        """Whether ``path`` belongs to this service."""
        p = self.prefix
        return not p or path == p or path.startswith(p + "/")

    def reset(self) -> None:
        """Forget stored state."""

    def authenticate(self, request: RecordedRequest, api_key: str) -> Reply | None:
        """An error reply when the request lacks ``api_key``; None when it is fine."""
        return None

    def error(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> Reply:
        """An error reply in this API's shape."""
        return Reply(status, json={"error": {"message": message, "type": type, "param": param, "code": code}})

    def status_error(self, status: int) -> Reply:
        """The canned error body for a scripted status given without a body."""
        return self.error(status, f"HTTP {status}")

    def not_found(self, request: RecordedRequest) -> Reply:
        """Reply for a path no route matches."""
        return self.error(404, f"Not found: {request.method} {request.path}")

    def response_headers(self, request: RecordedRequest, elapsed: float) -> list[tuple[str, str]]:
        """Headers this API puts on every reply (``elapsed`` in seconds)."""
        return []

    def dispatch(self, request: RecordedRequest) -> Reply:
        """Route a request to its handler."""
        found = self.routes.match(request.method, request.path)
        if found is None:
            return self.not_found(request)
        handler, params = found
        try:
            return handler(self, request, **params)
        except APIError as exc:
            return self.error(exc.status, exc.message, type=exc.type, param=exc.param, code=exc.code)

    def internal_error(self) -> Reply:
        """Reply when a handler crashed."""
        return self.error(500, "The fake server crashed while handling the request.")


_SERVICE_FACTORIES: list[Callable[[], Service]] = []


def register_service(factory: Callable[[], Service]) -> Callable[[], Service]:
    """Add a service (class or factory) to the ones every default FakeAPI serves."""
    if factory not in _SERVICE_FACTORIES:
        _SERVICE_FACTORIES.append(factory)
    return factory


def default_services() -> list[Service]:
    """A fresh instance of every registered service, in registration order."""
    return [factory() for factory in _SERVICE_FACTORIES]
