"""What the sync and async clients share: settings checked once, and one
method per endpoint, every one through dispatch (:class:`BaseClient`).

Methods keep the Lua library's names. Params are keyword arguments; a
positional dict of options is accepted too, and a function given in its place
is the stream callback, as in Lua. Per-call ``timeout``, ``max_retries`` and
``extra_headers`` are taken out of the params.
"""

from __future__ import annotations

import inspect
import os
import pathlib
from collections.abc import Callable, Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any, ClassVar

import attrs

from .dispatch import ApiResult, DriverBase
from .errors import ConfigurationError, MissingAPIKeyError
from .http import Timeout, Transport, redact_url
from .logs import configure_from_env
from .values import NOT_GIVEN, Secret

if TYPE_CHECKING:
    from .download import Target
from .models import ChatCompletionChunk
from .plugins import PluginManager, default_plugin_manager
from .retry import RetryPolicy
from .specs import ProviderSpec
from .streaming import Stream, text_chunk_relay

__all__ = ["BaseClient", "Callback", "split_call_args"]

_CALL_OPTIONS = ("timeout", "max_retries", "extra_headers")
#: The operations that take a type (``response_format=T``), typed tools and ``partial_callback``.
_TYPED_OPERATIONS = frozenset({"chat.create", "responses.create"})
_TYPED_KEYS = frozenset({"partial_callback", "on_refusal", "text_format"})


def _asks_typed(params: Mapping[str, Any]) -> bool:
    """Whether a call's params hold a type, a typed tool or a partial callback
    (checked without loading :mod:`llmplug.core.structured`)."""
    if not _TYPED_KEYS.isdisjoint(params):
        return True
    fmt = params.get("response_format")
    if fmt is not None and not isinstance(fmt, Mapping):
        return True
    tools = params.get("tools")
    return isinstance(tools, (list, tuple)) and any(not isinstance(tool, Mapping) for tool in tools)
Callback = Callable[..., Any]

configure_from_env()  # LLMPLUG_LOG, read when the first client module loads


def split_call_args(opts: Any, callback: Any, params: dict[str, Any]) -> tuple[dict[str, Any], Callback | None]:
    """Lua's calling convention: in the options slot a dict is options and a
    function is the stream callback. Keyword params win over the dict."""
    if callable(opts) and not isinstance(opts, Mapping):
        if callback is not None:
            raise TypeError("two stream callbacks given: pass one")
        opts, callback = None, opts
    if opts is not None and not isinstance(opts, Mapping):
        raise TypeError(f"expected a stream callback or a dict of API parameters, not {type(opts).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"the stream callback must be callable, not {type(callback).__name__}")
    return {**(opts or {}), **params}, callback


def _merge(opts: Any, callback: Callback | None, params: dict[str, Any]) -> tuple[dict[str, Any], Callback | None]:
    merged, callback = split_call_args(opts, callback, params)
    if callback is not None:
        if merged.get("stream") is False:
            raise TypeError("a stream callback was given with stream=False: drop one of them")
        merged.setdefault("stream", True)
    return merged, callback


_MISSING: Any = object()


def _require(value: Any, what: str, method: str) -> None:
    if value is None or (isinstance(value, str) and not value):
        raise ConfigurationError(f"{method}() needs {what}")


class _ById:
    """A client method that takes one id, e.g. ``client.file(file_id, **params)``:
    declared as ``file = _ById("files.retrieve", "file_id", doc)``, it becomes a
    plain method whose id goes into the operation's params under ``key``."""

    def __init__(self, operation: str, key: str, doc: str) -> None:
        self.operation, self.key, self.doc = operation, key, doc

    def __set_name__(self, owner: type, name: str) -> None:
        operation, key = self.operation, self.key
        what = "a model id" if key == "model" else "a " + key.replace("_", " ")

        def method(client: Any, value: Any = _MISSING, /, **params: Any) -> Any:
            if key in params:
                if value is not _MISSING:
                    raise TypeError(f"{name}() got two values for {key!r}: pass it once")
                value = params.pop(key)
            _require(None if value is _MISSING else value, what, name)
            return client.call(operation, {**params, key: value})

        method.__name__, method.__qualname__, method.__doc__ = name, f"{owner.__name__}.{name}", self.doc
        method.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter(key, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="str"),
            inspect.Parameter("params", inspect.Parameter.VAR_KEYWORD, annotation="Any"),
        ], return_annotation="ApiResult")
        setattr(owner, name, method)

    def __get__(self, client: Any, owner: type | None = None) -> Callable[..., ApiResult]:
        raise AttributeError(self.key)  # replaced by the method in __set_name__; typing only


class BaseClient:
    """What :class:`Client` and :class:`~llmplug.core.async_client.AsyncClient`
    share: the settings, and one method per endpoint that ends in :meth:`call`
    (a result for the sync client, an awaitable for the async one)."""

    #: Session classes by kind, filled in by :mod:`llmplug.sessions` (core imports no session).
    session_classes: ClassVar[dict[str, type]] = {}
    #: The driver, and whether the transport is an async one.
    _driver: ClassVar[type[DriverBase]]
    _asynchronous: ClassVar[bool] = False
    #: The methods that run a call (the async client makes each a coroutine function).
    CALLS = (
        "call", "create_chat_completion", "chat", "completion", "embedding", "moderation", "image_generation",
        "models", "model", "files", "file", "delete_file", "file_content", "upload_file",
        "create_response", "response", "delete_response", "cancel_response", "request",
        "create_batch", "batch", "batches", "cancel_batch", "delete_batch", "submit_batch", "batch_job",
    )

    def __init__(
        self,
        provider: str = "openai",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        transport: str | Transport | Any | None = None,
        timeout: Timeout | float | None = NOT_GIVEN,
        max_retries: int = 2,
        raise_for_status: bool = True,
        default_model: str | None = None,
        headers: Mapping[str, str] | None = None,
        verify: bool = True,
        plugins: PluginManager | None = None,
        retry: RetryPolicy | None = None,
        require_finish_reason: bool = True,
        **options: Any,
    ) -> None:
        if not isinstance(provider, str):
            raise TypeError(f"provider must be a name such as 'openai', not {type(provider).__name__}")
        _check_retries(max_retries)
        self.plugins = plugins.load() if plugins is not None else default_plugin_manager()
        spec = self.plugins.provider(provider)
        _check_options(spec, options)
        key = api_key if api_key is not None else _first_env(spec.api_key_env)
        if key is not None and not isinstance(key, str):
            raise TypeError(f"api_key must be a string, not {type(key).__name__}")
        if key and not (key.isascii() and key.isprintable() and " " not in key):
            raise ConfigurationError(
                f"the API key for {spec.name!r} holds a space, newline, control or non-ASCII character: "
                "check it was copied whole (e.g. no trailing newline from a file); the key is not shown"
            )
        if spec.requires_key and not key:
            where = " or ".join(spec.api_key_env) or "api_key"
            raise MissingAPIKeyError(
                f"provider {spec.name!r} needs an API key: pass api_key=... or set {where}"
            )
        url = _check_base_url(base_url or _first_env(spec.base_url_env) or spec.base_url, spec.name)
        self.provider: ProviderSpec = attrs.evolve(
            spec,
            base_url=url,
            default_model=default_model or spec.default_model,
            options={**spec.options, **_options_from_env(spec), **options},
        )
        policy = retry if retry is not None else RetryPolicy()
        self._closed = False
        self._dispatch: Any = self._driver(
            plugins=self.plugins,
            provider=self.provider,
            api_key=key or None,
            transport=self.plugins.create_transport(transport, {"verify": verify}, self._asynchronous),
            timeout=Timeout.coerce(timeout),
            retry=attrs.evolve(policy, max_retries=max_retries),
            raise_for_status=raise_for_status,
            headers=headers,
            require_finish_reason=require_finish_reason,
        )
        #: What builds this client's twin of the other kind (``Client.map`` runs on an async one).
        self._twin_options = {
            **options, "api_key": Secret(key or None), "base_url": url, "timeout": timeout, "max_retries": max_retries,
            "raise_for_status": raise_for_status, "default_model": default_model, "headers": headers, "verify": verify,
            "plugins": self.plugins, "retry": retry, "require_finish_reason": require_finish_reason,
            "transport": transport if transport is None or isinstance(transport, str) or hasattr(transport, "transport_for")
            else transport.name,
        }

    # ------------------------------------------------------------ plumbing

    @property
    def base_url(self) -> str:
        return self.provider.base_url or ""

    @property
    def default_model(self) -> str | None:
        return self.provider.default_model

    @property
    def transport(self) -> Any:
        return self._dispatch.transport

    @property
    def dispatcher(self) -> Any:
        return self._dispatch

    @staticmethod
    def _drive_plan(plan: Any) -> Any:
        """Run a plan (:mod:`llmplug.core.plans`): at once here, awaited on the async client."""
        from .plans import drive

        return drive(plan)

    def call(self, operation: str, params: dict[str, Any], callback: Callback | None = None, *, pages: bool = False) -> Any:
        """Run any operation through dispatch (what every method below does);
        ``pages=True`` follows every page of a listing."""
        return self._call(operation, params, callback, pages=pages)

    def _call(self, operation: str, params: dict[str, Any], callback: Callback | None = None, *, pages: bool = False,
              **driver: Any) -> Any:
        """:meth:`call`, with options for the driver (a bulk run's ``pacer``)."""
        if self._closed:
            raise ConfigurationError("this client is closed: make a new one with llmplug.new(...)")
        if operation in _TYPED_OPERATIONS and _asks_typed(params):
            from .structured import prepare_call  # loaded only for typed calls

            params, callback, driver["expectation"] = prepare_call(self.plugins, self.provider, operation, params, callback)
        call_opts = {name: params.pop(name) for name in _CALL_OPTIONS if name in params}
        if "max_retries" in call_opts:
            _check_retries(call_opts["max_retries"])
        if "extra_headers" in call_opts:
            call_opts["headers"] = call_opts.pop("extra_headers")
        if pages:
            return self._dispatch.call_pages(operation, params, **call_opts)
        return self._dispatch.call(operation, params, callback=callback, **call_opts, **driver)

    def __repr__(self) -> str:
        return (
            f"<llmplug.{type(self).__name__} provider={self.provider.name!r} base_url={redact_url(self.base_url)!r} "
            f"transport={self.transport.name!r}>"
        )

    # ------------------------------------------------------------ chat completions

    def create_chat_completion(
        self, messages: list[Any], opts: Any = None, chunk_callback: Callback | None = None, **params: Any
    ) -> ApiResult | Stream[ChatCompletionChunk]:
        """POST /chat/completions. With ``stream=True``: the callback gets each chunk
        and the result's body is the assembled completion; without a callback, a Stream."""
        params, callback = _merge(opts, chunk_callback, params)
        _check_messages(messages, "create_chat_completion")
        return self.call("chat.create", {**params, "messages": messages}, callback)

    def chat(self, messages: list[Any], opts: Any = None, chunk_callback: Callback | None = None, **params: Any) -> Any:
        """Legacy alias of :meth:`create_chat_completion`; a stream callback gets
        ``(chunk, raw_event)``: a :class:`~llmplug.core.models.TextChunk` whose
        ``str()`` is the text one choice adds (``chunk.refusal``: the refusal
        text it adds), and the chunk's decoded JSON."""
        params, callback = _merge(opts, chunk_callback, params)
        if callback is None:
            return self.create_chat_completion(messages, params)
        return self.create_chat_completion(messages, params, text_chunk_relay(callback))

    def completion(self, prompt: Any, opts: Any = None, chunk_callback: Callback | None = None, **params: Any) -> Any:
        """POST /completions (legacy text completions)."""
        params, callback = _merge(opts, chunk_callback, params)
        _require(prompt, "a prompt", "completion")
        return self.call("completions.create", {**params, "prompt": prompt}, callback)

    # ------------------------------------------------------------ embeddings, moderation, images

    def embedding(self, input: Any, opts: Any = None, **params: Any) -> ApiResult:
        """POST /embeddings for one string or a list of strings."""
        params, _ = _merge(opts, None, params)
        _require(input, "input: a string or a list of strings", "embedding")
        return self.call("embeddings.create", {**params, "input": input})

    def moderation(self, input: Any, opts: Any = None, **params: Any) -> ApiResult:
        """POST /moderations."""
        params, _ = _merge(opts, None, params)
        _require(input, "input: a string or a list of strings", "moderation")
        return self.call("moderations.create", {**params, "input": input})

    def image_generation(self, params: Mapping[str, Any] | None = None, **kwargs: Any) -> ApiResult:
        """POST /images/generations (``prompt``, ``n``, ``size``...)."""
        merged, _ = _merge(params, None, kwargs)
        _require(merged.get("prompt"), "prompt=...", "image_generation")
        return self.call("images.generate", merged)

    # ------------------------------------------------------------ models and files

    def models(self, **params: Any) -> ApiResult:
        """GET /models: every page, where the provider pages its list."""
        return self.call("models.list", params, pages=True)

    model = _ById("models.retrieve", "model", "GET /models/{id}.")
    def files(self, **params: Any) -> ApiResult:
        """GET /files (``purpose=``, ``limit=``... become the query)."""
        return self.call("files.list", params)

    file = _ById("files.retrieve", "file_id", "GET /files/{id}.")
    delete_file = _ById("files.delete", "file_id", "DELETE /files/{id}.")
    def file_content(self, file_id: str, destination: Target | None = None, **params: Any) -> ApiResult:
        """GET /files/{id}/content: the body is the bytes; with ``destination`` (a
        path or a binary file object) the content is written there chunk by
        chunk, never whole in memory, and the body is the destination (a path
        is written as ``<path>.part`` and renamed once whole)."""
        _require(file_id, "a file id", "file_content")
        params = {**params, "file_id": file_id}
        if destination is None:
            return self.call("files.content", params)
        return self._call("files.content", params, download=destination)

    def upload_file(
        self,
        file: str | pathlib.Path | bytes | IO[bytes],
        purpose: str,
        *,
        filename: str | None = None,
        **params: Any,
    ) -> ApiResult:
        """POST /files as multipart: ``file`` is a path, bytes or a binary file object."""
        _require(purpose, "purpose=... (e.g. 'assistants', 'batch', 'user_data')", "upload_file")
        content, name = _read_upload(file, filename)
        return self.call("files.create", {**params, "file": (name, content), "purpose": purpose})

    # ------------------------------------------------------------ Responses API

    def create_response(
        self, input: Any, opts: Any = None, stream_callback: Callback | None = None, **params: Any
    ) -> Any:
        """POST /responses. ``input`` is a string or a list of messages/items."""
        params, callback = _merge(opts, stream_callback, params)
        _require(input, "input: a string or a list of messages", "create_response")
        return self.call("responses.create", {**params, "input": input}, callback)

    response = _ById("responses.retrieve", "response_id", "GET /responses/{id}.")
    delete_response = _ById("responses.delete", "response_id", "DELETE /responses/{id}.")
    cancel_response = _ById("responses.cancel", "response_id", "POST /responses/{id}/cancel.")

    # ------------------------------------------------------------ batches

    def create_batch(
        self,
        input_file_id: str | None = None,
        endpoint: str | None = None,
        completion_window: str = "24h",
        metadata: Mapping[str, str] | None = None,
        **params: Any,
    ) -> ApiResult:
        """POST /batches: a job on the provider's batch engine over the uploaded
        ``input_file_id`` (``upload_file(..., purpose="batch")``), each line a
        request to ``endpoint`` (``"/v1/chat/completions"``...). The body is a
        :class:`~llmplug.core.models.Batch`."""
        batch = {key: value for key, value in (("input_file_id", input_file_id), ("endpoint", endpoint)) if value}
        params = {**params, **batch, "completion_window": completion_window}
        if metadata is not None:
            params["metadata"] = dict(metadata)
        return self.call("batches.create", params)

    batch = _ById("batches.retrieve", "batch_id", "GET /batches/{id}: the job's :class:`~llmplug.core.models.Batch`.")

    def batches(self, **params: Any) -> ApiResult:
        """GET /batches: one page of jobs, newest first (``limit=``, ``after=``:
        the last id of the page before; ``has_more`` says whether one follows)."""
        return self.call("batches.list", params)

    cancel_batch = _ById("batches.cancel", "batch_id", "POST /batches/{id}/cancel: the job stops; what was done is kept.")
    delete_batch = _ById("batches.delete", "batch_id", "Delete a finished job (where the provider has deletion).")

    def submit_batch(self, requests: Iterable[Any], endpoint: str = "chat.create", **options: Any) -> Any:
        """Run ``requests`` on the provider's batch engine: ``(custom_id, params)``
        pairs or Batch API lines (``{"custom_id", "body"}``, as ``llmplug bulk``
        reads them). Every line is checked first (ids unique, one endpoint, a
        model, the engine's limits), with an error naming the line, before
        anything is sent; then the input is uploaded (a file) or sent inline,
        and the job created. ``options`` go to ``create_batch``
        (``metadata=``, ``completion_window=``...). The
        :class:`~llmplug.core.batch_jobs.BatchJob`."""
        from .batch_jobs import submit_plan

        return self._drive_plan(submit_plan(self, requests, endpoint, options))

    def batch_job(self, batch_id: str) -> Any:
        """The :class:`~llmplug.core.batch_jobs.BatchJob` of a job submitted
        before (by this process or another), as it stands now."""
        from .batch_jobs import attach_plan

        _require(batch_id, "a batch id", "batch_job")
        return self._drive_plan(attach_plan(self, batch_id))

    # ------------------------------------------------------------ anything else

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
        stream: bool = False,
        callback: Callback | None = None,
        **options: Any,
    ) -> Any:
        """Call any other endpoint (``path`` relative to the base URL) with the
        client's auth, retries and timeouts; the body is the decoded JSON."""
        _require(method, "an HTTP method", "request")
        _require(path, "a path such as '/batches'", "request")
        params = {"method": method.upper(), "path": path, "json": json, "query": dict(query or {}), **options}
        if stream or callback is not None:
            params["stream"] = True
        return self.call("request", params, callback)

    # ------------------------------------------------------------ sessions

    def new_chat_session(self, **opts: Any) -> Any:
        """A ChatSession (Chat Completions) bound to this client."""
        return self._session("chat")(self, **opts)

    def new_responses_chat_session(self, **opts: Any) -> Any:
        """A ResponsesChatSession (Responses API) bound to this client."""
        return self._session("responses")(self, **opts)

    def _session(self, kind: str) -> type:
        try:
            return self.session_classes[kind]
        except KeyError:
            raise ConfigurationError(f"no {kind!r} session class is registered; import llmplug.sessions") from None


def _options_from_env(spec: ProviderSpec) -> dict[str, str]:
    """The options the spec reads from the environment (``options_env``) that are set."""
    found = {name: _first_env(names) for name, names in spec.options_env.items()}
    return {name: value for name, value in found.items() if value}


def _check_options(spec: ProviderSpec, options: Mapping[str, Any]) -> None:
    if spec.user_options is None:
        return
    for name in options:
        if name not in spec.user_options:
            known = [*spec.user_options, *inspect.signature(BaseClient.__init__).parameters]
            import difflib  # only to suggest a fix for a misspelt option

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            accepted = ", ".join(spec.user_options) or "none"
            raise ConfigurationError(
                f"unknown option {name!r} for provider {spec.name!r}{hint} (its extra options: {accepted})"
            )


def _check_base_url(url: str | None, provider: str) -> str:
    """``url`` without surrounding spaces or a trailing slash, or a ConfigurationError."""
    url = (url or "").strip()
    if not url:
        raise ConfigurationError(f"provider {provider!r} needs base_url=..., e.g. 'http://127.0.0.1:11434/v1'")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise ConfigurationError(f"base_url must be an http:// or https:// URL, not {redact_url(url)!r}")
    if "?" in rest or "#" in rest:
        raise ConfigurationError(
            f"base_url must not carry a query string or fragment ({redact_url(url)!r}): "
            "pass query parameters per call or through the provider's options"
        )
    return f"{scheme.lower()}://{rest}".rstrip("/")


def _check_retries(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"max_retries must be a whole number >= 0, not {value!r}")


def _first_env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _check_messages(messages: Any, method: str) -> None:
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ConfigurationError(f"{method}() needs messages: a non-empty list of {{'role': ..., 'content': ...}} dicts")


def _read_upload(file: Any, filename: str | None) -> tuple[bytes, str]:
    if isinstance(file, (str, pathlib.Path)):
        path = pathlib.Path(file)
        if not path.is_file():
            raise ConfigurationError(f"upload_file(): no such file {str(path)!r}")
        return path.read_bytes(), filename or path.name
    if isinstance(file, (bytes, bytearray)):
        return bytes(file), filename or "upload.bin"
    if hasattr(file, "read"):
        data = file.read()
        if not isinstance(data, bytes):
            raise TypeError("upload_file() needs a file opened in binary mode ('rb')")
        return data, filename or os.path.basename(getattr(file, "name", "") or "upload.bin")
    raise TypeError(f"upload_file() takes a path, bytes or a binary file object, not {type(file).__name__}")
