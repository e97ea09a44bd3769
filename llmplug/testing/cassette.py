"""Record and replay: test LLM code offline against what the real API once said.

``Cassette(path, mode="once")`` is given as a client's ``transport=``
(``llmplug.new(..., transport=Cassette("tests/cassettes/chat.yaml"))``, or
``llmplug.new_async``). Recording, it sends each request through the inner
transport (``inner=``: a transport name or instance; the default one
otherwise) and writes the exchange; replaying, it answers from the file and
sends nothing. Modes:

- ``"once"``: replay the file if it exists, else record it;
- ``"record"`` (alias ``"all"``): always send, and write the file anew;
- ``"replay"`` (alias ``"none"``): never send; a missing file or a request
  with no recorded match is a :class:`CassetteError`.

What is kept: method, URL (secret query values and any password removed), the
request headers that shape the answer (``Content-Type``, ``Accept``, Google's
upload protocol), the body as JSON (as sent; matched with its keys sorted),
text or base64; the status, the response headers (``Set-Cookie``, those about
the wire and those that change on every call, such as ``Date``, left out) and
the body. A streamed body
(Server-Sent Events) is kept as its chunks, so a replay delivers the same
events in the same pieces (``gaps=True`` keeps, and replays, the time between
them). A transport error (a refused connection, a timeout, a stream broken
mid-way) is kept and raised again on replay; retries replay as the exchanges
they were (a 429, then a 200).

Secrets never reach the file: ``Authorization``, ``x-api-key``,
``x-goog-api-key``, ``api-key`` and cookies are not written (nor the
response headers about the wire: ``Content-Length``, ``Transfer-Encoding``...), secret query
values (``key=``...) are removed, and every key value seen in those headers is
replaced by ``[REDACTED]`` wherever it appears. ``redact=`` is a function of
each interaction (a dict) for more (user ids in bodies...).

Requests match on ``match_on`` (default: method, path and body); a request
repeated is answered by the recordings of it in order. One file per cassette:
YAML when PyYAML is installed (or the path ends ``.yaml``/``.yml``), JSON
otherwise (or ``.json``), keys in a fixed order, with a ``version`` field.
"""

from __future__ import annotations

import base64
import difflib
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from llmplug.core import errors as llmplug_errors
from llmplug.core.errors import APIConnectionError, APIError, ConfigurationError
from llmplug.core.http import (
    REDACTED, SENSITIVE_HEADERS, SENSITIVE_QUERY_PARAMS, AsyncTransport, Headers, Request, Response, Transport,
)

__all__ = ["Cassette", "CassetteError", "FORMAT_VERSION", "MODES"]

FORMAT_VERSION = 1
#: Mode names, pytest-recording's (``all``, ``none``) included.
MODES = {"once": "once", "record": "record", "all": "record", "replay": "replay", "none": "replay"}
MATCHERS = ("method", "scheme", "host", "path", "query", "body", "headers")
#: Request headers that shape the answer, kept and (with ``"headers"`` in ``match_on``) matched.
_KEPT_HEADERS = ("content-type", "accept")
#: Response headers left out: about the wire (a replayed body is whole and decoded), or
#: different on every call (so a re-recording changes only what changed).
_WIRE_HEADERS = frozenset({
    "set-cookie", "content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive",
    "date", "openai-processing-ms", "server-timing", "x-envoy-upstream-service-time", "cf-ray", "alt-svc",
})


class CassetteError(ConfigurationError):
    """A replay found no recording for a request (the message shows the nearest
    recorded one and how the bodies differ), or the cassette cannot be used."""


class Cassette:
    """One cassette file; give it as ``transport=`` (see the module docstring)."""

    name = "cassette"

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: str = "once",
        *,
        inner: Any = None,
        match_on: tuple[str, ...] = ("method", "path", "body"),
        redact: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        gaps: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ConfigurationError(f"a cassette's mode is one of {', '.join(MODES)}, not {mode!r}")
        unknown = [m for m in match_on if m not in MATCHERS]
        if unknown:
            raise ConfigurationError(f"match_on takes {', '.join(MATCHERS)}; not {', '.join(unknown)}")
        self.path = Path(path)
        self.mode = MODES[mode]
        self.inner = inner
        self.match_on = tuple(match_on)
        self.redact = redact
        self.gaps = gaps
        self.format = _format_of(self.path)
        self._lock = threading.Lock()
        self.recording = self.mode == "record" or (self.mode == "once" and not self.path.exists())
        if not self.recording and not self.path.exists():
            raise CassetteError(f"no cassette at {str(self.path)!r} to replay: record it first (mode='once' or 'record')")
        #: The interactions: recorded so far, or read from the file.
        self.interactions: list[dict[str, Any]] = [] if self.recording else self._load()
        self._played: set[int] = set()
        self._keys: list[tuple[Any, ...]] | None = None  # the recordings' match keys, made on the first replay
        self._secrets: set[str] = set()

    def __repr__(self) -> str:
        return f"<Cassette {str(self.path)!r} {'recording' if self.recording else 'replaying'} {len(self.interactions)}>"

    # ------------------------------------------------------------ as a transport

    def transport_for(self, asynchronous: bool, make: Callable[[Any], Any]) -> Transport | AsyncTransport:
        """The transport a client of that kind uses (core calls this for ``transport=cassette``);
        ``make(name)`` builds the inner transport from a name or ``None``."""
        inner = None
        if self.recording:
            kind = AsyncTransport if asynchronous else Transport
            if self.inner is not None and not isinstance(self.inner, (str, kind)):
                raise ConfigurationError(
                    f"this cassette wraps {self.inner!r}, which cannot serve {'an async' if asynchronous else 'a sync'} "
                    "client: give inner= a transport name, which serves both"
                )
            inner = self.inner if isinstance(self.inner, kind) else make(self.inner)
        return _AsyncCassetteTransport(self, inner) if asynchronous else _CassetteTransport(self, inner)

    # ------------------------------------------------------------ recording

    def _request_entry(self, request: Request) -> dict[str, Any]:
        """The recorded form of ``request`` (secrets noted, for scrubbing)."""
        for name, value in request.headers.items():
            if name.lower() in SENSITIVE_HEADERS and name.lower() not in ("cookie", "set-cookie"):
                secret = value.split(" ", 1)[1] if value.lower().startswith(("bearer ", "basic ")) else value
                if secret:
                    self._secrets.add(secret)
        for name, value in parse_qsl(urlsplit(request.url).query, keep_blank_values=True):
            if name.lower() in SENSITIVE_QUERY_PARAMS and value:
                self._secrets.add(value)
        return {
            "method": request.method.upper(),
            "url": _without_secrets(request.url),
            "headers": _kept(request.headers),
            "body": _body(request.content, request.headers.get("content-type", "")),
        }

    def _start(self, request: Request) -> dict[str, Any]:
        """A recording begins: the request's part of its interaction."""
        return {"request": self._request_entry(request)}

    def _failed(self, entry: dict[str, Any], exc: APIError) -> None:
        """The request got no response: record the error (the caller raises it on)."""
        self._finish({**entry, "error": _error_entry(exc)})

    def _watch(self, entry: dict[str, Any], response: Response, tee: type) -> Response:
        """``response`` with its body recorded as it is read (``tee``: the sync or async reader)."""
        response.stream = tee(response.stream, _Recorder(self, entry, response))
        return response

    def _replay(self, request: Request, *, asynchronous: bool) -> Response:
        """The recorded response to ``request`` (its recorded error raised)."""
        return _replayed(self._match(request), request, self.gaps, asynchronous=asynchronous)

    def _finish(self, entry: dict[str, Any]) -> None:
        """A recorded interaction is whole: scrub it, keep it, write the file."""
        entry = _scrub(entry, self._secrets)
        if self.redact is not None:
            entry = self.redact(entry)
        with self._lock:
            self.interactions.append(entry)
            self._save()

    def _save(self) -> None:
        data = {"version": FORMAT_VERSION, "interactions": self.interactions}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        part = self.path.with_name(self.path.name + ".part")
        with open(part, "w", encoding="utf-8") as out:
            if self.format == "yaml":
                import yaml

                yaml.safe_dump(data, out, sort_keys=False, allow_unicode=True, width=120)
            else:
                json.dump(data, out, indent=2, ensure_ascii=False)
                out.write("\n")
        os.replace(part, self.path)

    def _load(self) -> list[dict[str, Any]]:
        text = self.path.read_text(encoding="utf-8")
        try:
            if self.format == "yaml":
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as exc:  # yaml.YAMLError, ValueError
            raise CassetteError(f"{str(self.path)!r} cannot be read ({type(exc).__name__}: {exc}): record it again") from None
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise CassetteError(f"{str(self.path)!r} is not a version {FORMAT_VERSION} llmplug cassette: record it again")
        return list(data.get("interactions") or [])

    # ------------------------------------------------------------ replaying

    def _match(self, request: Request) -> dict[str, Any]:
        """The first recording of ``request`` not played yet; a CassetteError if none."""
        wanted = _scrub(self._request_entry(request), self._secrets)  # as it was written
        if self.redact is not None:  # on replay the hook sees the request (the response is {})
            wanted = self.redact({"request": wanted, "response": {}}).get("request", wanted)
        key = self._key(wanted)
        with self._lock:
            if self._keys is None:  # a replayed file does not change: each recording's key is made once
                self._keys = [self._key(entry["request"]) for entry in self.interactions]
            for index, recorded in enumerate(self._keys):
                if index not in self._played and recorded == key:
                    self._played.add(index)
                    return self.interactions[index]
        raise CassetteError(self._no_match(wanted))

    def _key(self, entry: dict[str, Any]) -> tuple[Any, ...]:
        parts = urlsplit(entry["url"])
        values = {
            "method": entry["method"], "scheme": parts.scheme, "host": parts.netloc, "path": parts.path,
            "query": sorted(parse_qsl(parts.query, keep_blank_values=True)),
            "body": _canonical(entry.get("body")), "headers": sorted((entry.get("headers") or {}).items()),
        }
        return tuple(json.dumps(values[name], sort_keys=True) for name in self.match_on)

    def _no_match(self, wanted: dict[str, Any]) -> str:
        played = "" if not self._played else f" ({len(self._played)} of {len(self.interactions)} already played)"
        head = f"no recording in {str(self.path)!r}{played} for {wanted['method']} {wanted['url']}"
        if not self.interactions:
            return head + ": the cassette is empty; record it again (mode='record')"
        target = _pretty(wanted.get("body"))

        def likeness(item: tuple[int, dict[str, Any]]) -> tuple[bool, bool, float]:
            request = item[1]["request"]
            same = request["method"] == wanted["method"]
            same_path = urlsplit(request["url"]).path == urlsplit(wanted["url"]).path
            return same and same_path, item[0] not in self._played, difflib.SequenceMatcher(
                None, _pretty(request.get("body")), target).ratio()

        index, nearest = max(enumerate(self.interactions), key=likeness)
        request = nearest["request"]
        diff = "\n".join(difflib.unified_diff(
            _pretty(request.get("body")).splitlines(), target.splitlines(), "recorded", "sent", lineterm="", n=2,
        ))
        state = "already played" if index in self._played else "not played"
        return (f"{head}; the nearest recording is #{index} ({state}): {request['method']} {request['url']}"
                + (f"\nbody diff (recorded -> sent):\n{diff}" if diff else ""))


# ---------------------------------------------------------------- the transports


class _CassetteTransport(Transport):
    name = "cassette"

    def __init__(self, cassette: Cassette, inner: Transport | None) -> None:
        self.cassette = cassette
        self.inner = inner

    def send(self, request: Request) -> Response:
        cassette = self.cassette
        if not cassette.recording:
            return cassette._replay(request, asynchronous=False)
        entry = cassette._start(request)
        try:
            response = self.inner.send(request)  # type: ignore[union-attr]  # recording: there is one
        except APIError as exc:
            cassette._failed(entry, exc)
            raise
        return cassette._watch(entry, response, _SyncTee)

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()


class _AsyncCassetteTransport(AsyncTransport):
    name = "cassette"

    def __init__(self, cassette: Cassette, inner: AsyncTransport | None) -> None:
        self.cassette = cassette
        self.inner = inner

    async def send(self, request: Request) -> Response:
        cassette = self.cassette
        if not cassette.recording:
            return cassette._replay(request, asynchronous=True)
        entry = cassette._start(request)
        try:
            response = await self.inner.send(request)  # type: ignore[union-attr]  # recording: there is one
        except APIError as exc:
            cassette._failed(entry, exc)
            raise
        return cassette._watch(entry, response, _AsyncTee)

    async def aclose(self) -> None:
        if self.inner is not None:
            await self.inner.aclose()


class _Recorder:
    """The body of one recorded response as it is read; written once it ends."""

    def __init__(self, cassette: Cassette, entry: dict[str, Any], response: Response) -> None:
        self.cassette = cassette
        self.entry = entry
        self.response = response
        self.chunks: list[bytes] = []
        self.gaps: list[float] = []
        self.last = time.monotonic()
        self.done = False

    def add(self, chunk: bytes) -> None:
        now = time.monotonic()
        self.gaps.append(round(now - self.last, 4))
        self.last = now
        self.chunks.append(chunk)

    def end(self, error: APIError | None = None) -> None:
        if self.done:
            return
        self.done = True
        response = self.response
        ctype = response.headers.get("content-type", "")
        recorded: dict[str, Any] = {
            "status": response.status_code,
            "headers": [[str(name), str(value)] for name, value in response.headers.items()  # plain str (aiohttp's istr)
                        if name.lower() not in _WIRE_HEADERS],
        }
        if "event-stream" in ctype:
            recorded["chunks"] = [_text_or_base64(chunk) for chunk in self.chunks]
            if self.cassette.gaps:
                recorded["gaps"] = self.gaps
        else:
            recorded["body"] = _body(b"".join(self.chunks), ctype)
        entry = {**self.entry, "response": recorded}
        if error is not None:
            entry["error"] = _error_entry(error)
        self.cassette._finish(entry)


class _Tee:
    """A response body read through, chunk by chunk, into its recorder (the
    sync and async readers differ only in ``for`` and ``async for``)."""

    def __init__(self, stream: Any, recorder: _Recorder) -> None:
        self.stream = stream
        self.recorder = recorder


class _SyncTee(_Tee):
    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.stream:
                self.recorder.add(chunk)
                yield chunk
        except APIError as exc:
            self.recorder.end(exc)
            raise
        self.recorder.end()

    def close(self) -> None:
        self.stream.close()
        self.recorder.end()


class _AsyncTee(_Tee):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.stream:
                self.recorder.add(chunk)
                yield chunk
        except APIError as exc:
            self.recorder.end(exc)
            raise
        self.recorder.end()

    async def aclose(self) -> None:
        await self.stream.aclose()
        self.recorder.end()


def _replayed(entry: dict[str, Any], request: Request, gaps: bool, *, asynchronous: bool) -> Response:
    """The recorded response of ``entry`` (or its recorded error, raised)."""
    recorded = entry.get("response")
    error = entry.get("error")
    if recorded is None:  # the request never got a response
        raise _error_of(error, request)
    if "chunks" in recorded:
        chunks = [_bytes_of(chunk) for chunk in recorded["chunks"]]
    else:
        body = _bytes_of_body(recorded.get("body"))
        chunks = [body] if body else []
    waits = recorded.get("gaps") if gaps else None
    failure = _error_of(error, request) if error else None
    stream = _AsyncReplay(chunks, waits, failure) if asynchronous else _SyncReplay(chunks, waits, failure)
    headers = Headers([(name, value) for name, value in recorded.get("headers") or []])
    return Response(int(recorded["status"]), headers, stream, request)


class _Replay:
    """A recorded body: its chunks (with the gaps between them), then its error, if it broke."""

    def __init__(self, chunks: list[bytes], gaps: list[float] | None, failure: APIError | None) -> None:
        self.chunks, self.gaps, self.failure = chunks, gaps, failure


class _SyncReplay(_Replay):
    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if self.gaps and index < len(self.gaps):
                time.sleep(self.gaps[index])
            yield chunk
        if self.failure is not None:
            raise self.failure

    def close(self) -> None:
        """Nothing to release."""


class _AsyncReplay(_Replay):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        import asyncio

        for index, chunk in enumerate(self.chunks):
            if self.gaps and index < len(self.gaps):
                await asyncio.sleep(self.gaps[index])
            yield chunk
        if self.failure is not None:
            raise self.failure

    async def aclose(self) -> None:
        """Nothing to release."""


# ---------------------------------------------------------------- the recorded form


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    import importlib.util

    if importlib.util.find_spec("yaml") is None:
        if suffix in (".yaml", ".yml"):
            raise ConfigurationError(f"{str(path)!r} is YAML, and PyYAML is not installed: pip install pyyaml, "
                                     "or name the cassette .json")
        return "json"
    return "yaml"


def _without_secrets(url: str) -> str:
    """``url`` without secret query parameters or a password."""
    parts = urlsplit(url)
    if parts.password is not None:
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    if parts.query:
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                 if k.lower() not in SENSITIVE_QUERY_PARAMS]
        parts = parts._replace(query=urlencode(query))
    return urlunsplit(parts)


def _kept(headers: Headers) -> dict[str, str]:
    kept = {
        str(name).lower(): str(value) for name, value in headers.items()
        if name.lower() in _KEPT_HEADERS or name.lower().startswith("x-goog-upload-")
    }
    ctype = kept.get("content-type", "")
    if ctype.lower().startswith("multipart/") and "boundary=" in ctype:  # fresh each time: normalised, as in the body
        kept["content-type"] = ctype.split("boundary=", 1)[0] + "boundary=BOUNDARY"
    return kept


def _body(content: bytes | None, ctype: str) -> Any:
    """A body as it is written: ``{"json": value}``, ``{"text": str}`` or ``{"base64": str}``."""
    if not content:
        return None
    if ctype.lower().startswith("multipart/") and "boundary=" in ctype:
        boundary = ctype.split("boundary=", 1)[1].split(";", 1)[0].strip('"').encode()
        content = content.replace(boundary, b"BOUNDARY")  # a fresh boundary each time must not break matching
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(content).decode("ascii")}
    if "json" in ctype.lower() or text[:1] in "{[":
        try:
            return {"json": json.loads(text)}
        except ValueError:
            pass
    return {"text": text}


def _bytes_of_body(body: Any) -> bytes:
    if not body:
        return b""
    if "json" in body:
        return json.dumps(body["json"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if "text" in body:
        return body["text"].encode("utf-8")
    return base64.b64decode(body["base64"])


def _text_or_base64(chunk: bytes) -> Any:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:  # a chunk may end mid-character
        return {"base64": base64.b64encode(chunk).decode("ascii")}


def _bytes_of(chunk: Any) -> bytes:
    return chunk.encode("utf-8") if isinstance(chunk, str) else base64.b64decode(chunk["base64"])


def _canonical(body: Any) -> Any:
    return json.dumps(body, sort_keys=True, ensure_ascii=False) if body is not None else None


def _pretty(body: Any) -> str:
    if not body:
        return ""
    if "json" in body:
        return json.dumps(body["json"], sort_keys=True, indent=2, ensure_ascii=False)
    return str(body.get("text") or body.get("base64") or "")


def _scrub(value: Any, secrets: set[str]) -> Any:
    """``value`` with every secret replaced by ``[REDACTED]``, in every string."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    return value


def _error_entry(exc: APIError) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": exc.message}


def _error_of(error: Any, request: Request) -> APIError:
    """The exception a recorded ``error`` stands for (an llmplug transport error)."""
    error = error or {}
    cls = getattr(llmplug_errors, str(error.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, APIConnectionError)):  # what a transport raises
        cls = APIConnectionError
    return cls(str(error.get("message") or "a recorded transport error"), request=request)
