"""The fake API: :class:`FakeAPI`, its lifecycle, what it recorded and the
replies scripted with :meth:`FakeAPI.queue`, played before its services answer.

Its rooms: :mod:`.messages` (recorded requests, replies, their wire encoding),
:mod:`.routing` (a :class:`Service` per emulated API and its route table) and
:mod:`.http_server` (the threaded HTTP/1.1 server on loopback). Nothing here
knows about OpenAI: a service brings its own route table, auth check, error
shape and headers, so another API (Gemini's ``/v1beta``) is one more module.
Every name is importable from here, as before the split.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .batches import BatchClock, BatchSettings
from .http_server import FakeRequestHandler, FakeServer
from .messages import APIError, HeaderItems, Headers, RecordedRequest, Reply, UploadedFile, encode_event, encode_json
from .routing import RouteTable, Service, default_services, register_service

__all__ = [
    "APIError", "BatchClock", "BatchSettings", "FakeAPI", "Headers", "RecordedRequest", "Reply",
    "RouteTable", "Service", "UploadedFile", "register_service",
]


@dataclass
class _Scripted:
    reply: Reply
    remaining: int | None


class FakeAPI:
    """A fake LLM HTTP API on ``127.0.0.1`` with an ephemeral port.

    Use as a context manager (or ``start()``/``stop()``). Requests are
    recorded in ``requests``; ``queue()`` scripts replies that are played
    before the default behaviour of the services.

    Batch jobs (OpenAI's ``/v1/batches``, Gemini's ``:batchGenerateContent``)
    live by ``batch_clock`` (a :class:`~llmplug.testing.batches.BatchClock`:
    the real time when the server starts, then still until a test calls
    ``api.batch_clock.advance(seconds)``) and take the phase lengths of
    ``batch_settings`` (a :class:`~llmplug.testing.batches.BatchSettings`);
    both are shared by every service and restored by :meth:`reset`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        services: Sequence[Service] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        if services is None:
            services = default_services()
        if not services:
            raise ValueError("FakeAPI needs at least one Service")
        self.services: list[Service] = list(services)
        #: The time batch jobs live by; moves only with ``batch_clock.advance(seconds)``.
        self.batch_clock = BatchClock()
        #: Phase lengths and limits every new batch job copies.
        self.batch_settings = BatchSettings()
        for service in self.services:
            service.batch_clock = self.batch_clock
            service.batch_settings = self.batch_settings
        self.requests: list[RecordedRequest] = []
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._script: dict[tuple[str, str], deque[_Scripted]] = {}
        self._aborted = 0
        self._in_flight = 0
        #: Seconds every reply waits before it is sent (a slow server, for concurrency tests).
        self.latency = 0.0
        self._stopping = threading.Event()
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------
    def start(self) -> FakeAPI:
        """Bind and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeAPI is already running")
        self._stopping.clear()
        server = FakeServer((self._host, self._port), FakeRequestHandler, fake=self)
        self._server = server
        self.batch_clock.reset()
        for service in self.services:
            service.server_url = self.url
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name=f"FakeAPI:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and join the threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(5)
        server.join_handlers(5)
        self._server = self._thread = None

    def __enter__(self) -> FakeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeAPI is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (the first service's prefix)."""
        return self.url + self.services[0].prefix

    # -- recording -----------------------------------------------------
    @property
    def last_request(self) -> RecordedRequest | None:
        """The most recent request, or None."""
        with self._lock:
            return self.requests[-1] if self.requests else None

    @property
    def aborted_streams(self) -> int:
        """SSE replies whose client went away before the end."""
        with self._lock:
            return self._aborted

    def reset(self) -> None:
        """Forget requests, scripted replies, aborted-stream count and stores
        (files, batch jobs...); put the batch clock back to the real time and
        the batch settings back to their defaults."""
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self._aborted = 0
            self.latency = 0.0
        for service in self.services:
            service.reset()
        self.batch_clock.reset()
        self.batch_settings.reset()

    # -- scripting -----------------------------------------------------
    def queue(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        body: bytes | str | None = None,
        headers: HeaderItems | None = None,
        events: Iterable[Any] | None = None,
        content_type: str | None = None,
        times: int | None = 1,
        interval: float = 0.0,
        chunk_size: int | None = None,
    ) -> None:
        """Script the next reply to ``method path`` (path with ``/v1``).

        FIFO per (method, path); ``times=None`` repeats forever. A status
        >= 400 without ``json``/``body``/``events`` gets the service's error
        body. A raw ``body`` defaults to ``application/json``.
        """
        if sum(x is not None for x in (json, body, events)) > 1:
            raise ValueError("give at most one of json, body, events")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None (forever)")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        if headers is not None:
            headers = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        if json is not None:  # encode once: scripted replies may repeat thousands of times
            body, content_type = encode_json(json), content_type or "application/json"
        reply = Reply(
            status=status,
            body=body,
            headers=headers,
            content_type=content_type,
            events=[encode_event(e) for e in events] if events is not None else None,
            interval=interval,
            chunk_size=chunk_size,
        )
        key = (method.upper(), path.split("?", 1)[0])
        with self._lock:
            self._script.setdefault(key, deque()).append(_Scripted(reply, times))

    def _take_scripted(self, method: str, path: str, service: Service) -> Reply | None:
        with self._lock:
            pending = self._script.get((method, path))
            if not pending:
                return None
            entry = pending[0]
            if entry.remaining is not None:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    pending.popleft()
            reply = entry.reply
        if reply.status >= 400 and reply.json is None and reply.body is None and reply.events is None:
            canned = service.status_error(reply.status)
            reply = replace(reply, json=canned.json, content_type=reply.content_type or canned.content_type)
        return reply

    # -- called by the handler threads -----------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _arrive(self) -> int:
        """A request arrived: how many are in flight now, this one included."""
        with self._lock:
            self._in_flight += 1
            return self._in_flight

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _count_abort(self) -> None:
        if self._stopping.is_set():
            return
        with self._lock:
            self._aborted += 1

    def _service_for(self, path: str) -> Service:
        for service in self.services:
            if service.handles(path):
                return service
        return self.services[0]
