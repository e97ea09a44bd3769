"""The hook specifications: the contract of every llmplug plugin.

A plugin is a module or object with functions marked ``@llmplug.hookimpl``
whose names are the hook names below. Hooks are always called with keyword
arguments. "Pick one" hooks are ``firstresult``: the first non-``None`` answer
wins, and the built-in answers are ``trylast`` so any plugin can take over.
A ``hookwrapper`` may wrap any hook (add a header, log, swap auth).

The hooks about one provider's call reach only the plugins that registered a
provider of its family, and those that registered none (wrappers): a family's
plugin needs no guard on ``provider.family``.

Call order for one API call (see :mod:`llmplug.core.dispatch`)::

    [llmplug_structured_output, llmplug_function_tool: once, for typed outputs and tools]
    llmplug_build_request -> llmplug_authenticate -> transport.send
        -> llmplug_parse_response (-> llmplug_next_page) | llmplug_stream_parser | llmplug_parse_error
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

__all__ = [
    "hookimpl",
    "hookspec",
    "llmplug_authenticate",
    "llmplug_batch_format",
    "llmplug_build_request",
    "llmplug_create_transport",
    "llmplug_function_tool",
    "llmplug_next_page",
    "llmplug_parse_error",
    "llmplug_parse_response",
    "llmplug_register_providers",
    "llmplug_register_transports",
    "llmplug_stream_parser",
    "llmplug_structured_output",
    "PROJECT",
]

if TYPE_CHECKING:
    from .errors import APIStatusError
    from .http import Request, Response, Transport
    from .specs import ProviderSpec, TransportSpec
    from .sse import SSEEvent
    from .batch_jobs import BatchFormat
    from .structured import FunctionTool, OutputFormat

PROJECT = "llmplug"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def llmplug_register_providers(register: Callable[..., None]) -> None:
    """Register provider names.

    Called once per plugin manager, the first time a provider is looked up
    (``llmplug.new``, ``llmplug.providers()``); the table is then cached.

    :param register: call ``register(ProviderSpec(...), ...)`` with one spec per
        name (one call or several). Two plugins that register the same name make
        the lookup fail with both plugin names.

    .. versionadded:: 0.1
    """


@hookspec
def llmplug_register_transports(register: Callable[..., None]) -> None:
    """Register HTTP transports by name.

    Called once per plugin manager, the first time a transport is looked up;
    the table is then cached.

    :param register: call ``register(TransportSpec(name, factory, requires=...,
        priority=...), ...)``, one spec per name. ``requires`` names the modules the transport imports;
        the default transport is the importable one with the highest ``priority``.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def llmplug_create_transport(spec: TransportSpec, options: dict[str, Any], asynchronous: bool) -> Transport | None:
    """Build the transport ``spec`` for one client. Called once per client, when
    ``transport=`` is a name or ``None``. When no plugin answers, the client calls
    ``spec.factory(**options)`` (``spec.async_factory`` for an async client).

    :param spec: the transport chosen by name, or the default one.
    :param options: client settings for the transport (``verify``...).
    :param asynchronous: an :class:`AsyncTransport` is wanted (``llmplug.new_async``).

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def llmplug_build_request(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request | None:
    """URL mapping and request encoding: turn ``operation`` (``"chat.create"``,
    ``"embeddings.create"``...) and its ``params`` into a :class:`Request` (method,
    URL, headers, body) for ``provider``. Called once per attempt of every call.
    Return ``None`` to let another plugin answer (a hook is called only for the
    families its plugin registered, see the module docstring). Raise
    ``UnsupportedOperationError`` for an operation the provider has no
    equivalent for. Must not do I/O.

    :param provider: the client's provider, ``base_url`` and ``options`` resolved.
    :param operation: the operation name, or ``"request"`` for ``client.request()``.
    :param params: the call's API parameters (do not keep a reference).

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def llmplug_authenticate(provider: ProviderSpec, request: Request, api_key: str | None) -> Request | None:
    """Put credentials on ``request`` (e.g. ``Authorization: Bearer``) and return it.
    Called once per attempt, after :func:`llmplug_build_request`. With no
    ``api_key`` send no credential header. Return ``None`` to pass.

    :param provider: the client's provider.
    :param request: the mapped request, client headers already added.
    :param api_key: the key given to the client or found in the environment.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def llmplug_parse_response(
    provider: ProviderSpec, operation: str, data: Any, response: Response, params: dict[str, Any]
) -> Any:
    """Response normalisation: turn a decoded 2xx JSON ``data`` into the core model
    of ``operation``. Called once per successful call that is not a stream.
    Return ``None`` to let another plugin answer. An implementation may take
    only the arguments it needs (pluggy passes those it names).

    :param data: the decoded JSON body.
    :param response: the response (status, headers), body already read.
    :param params: the call's API parameters, as sent (defaults applied).

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``params``.
    """


@hookspec(firstresult=True)
def llmplug_next_page(provider: ProviderSpec, operation: str, params: dict[str, Any], result: Any) -> dict[str, Any] | None:
    """For a paginated list (``models.list``...): the params of the page after
    ``result``, or ``None`` when it was the last. The client follows the pages
    and returns one list holding every item. Must not do I/O.

    :param params: the params that fetched ``result``.
    :param result: the normalised page (its ``.raw`` is the provider's JSON).

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def llmplug_stream_parser(provider: ProviderSpec, operation: str) -> Callable[[SSEEvent], Any] | None:
    """Return the function that turns each Server-Sent Event of a streaming
    ``operation`` into a core model. Called once per stream, so the per-event
    path has no hook overhead; a wrapper may wrap the returned function.

    The function returns :data:`llmplug.core.streaming.SKIP` to drop an event
    that carries nothing (a keep-alive), :data:`llmplug.core.streaming.DONE`
    when the event ends the stream (OpenAI's ``[DONE]``), and raises
    ``StreamError`` for a payload that is not JSON or an ``error`` event.
    A stream that ends without DONE is an error unless the operation's events
    show it finished (every choice has a finish reason, ``response.completed``)
    or the parser says otherwise (see ``streaming.Terminated``: OpenAI's
    chat streams end only at ``[DONE]``, others may end with the body).

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def llmplug_parse_error(provider: ProviderSpec, operation: str, response: Response, body: Any) -> APIStatusError | None:
    """Turn a non-2xx response into a typed :class:`APIStatusError` carrying the
    server's message. Called once per failed attempt; dispatch raises (or, with
    ``raise_for_status=False``, returns) what it gives. When no plugin answers,
    the client builds one from the server's message, the subclass by status.

    :param response: the response, body already read.
    :param body: the decoded JSON, or the text when it is not JSON.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def llmplug_structured_output(provider: ProviderSpec, operation: str, output: OutputFormat) -> dict[str, Any] | None:
    """The API params that ask ``provider`` for a reply of the type the caller
    gave (``response_format=T``, ``text_format=T``). Called once per call, before
    :func:`llmplug_build_request`; the params returned are merged into the
    call's (a dict value merged key by key, so ``text={"verbosity": ...}``
    stays). Must not do I/O.

    When no plugin answers, the JSON schema is sent as the OpenAI-style params
    every built-in mapping takes: ``response_format={"type": "json_schema",
    "json_schema": {"name", "schema"}}`` for ``"chat.create"``, ``text={"format":
    {"type": "json_schema", "name", "schema"}}`` for ``"responses.create"``
    (:meth:`OutputFormat.default_params`).

    :param operation: ``"chat.create"`` or ``"responses.create"``.
    :param output: the type (``.type``), its name (``.name``), its JSON schema
        (``.schema``, shared: do not change it), ``.strict_schema()`` for servers
        with OpenAI's strict rules (a root that is no object is wrapped in
        ``{"value": ...}``, which parsing then unwraps), ``.enum_values`` when the
        type is a bare Enum or Literal.

    .. versionadded:: 0.3
    """


@hookspec(firstresult=True)
def llmplug_function_tool(provider: ProviderSpec, operation: str, tool: FunctionTool) -> dict[str, Any] | None:
    """The ``tools`` entry that declares the typed function ``tool`` to ``provider``
    (``llmplug.function_tool(fn)``, or a function a session's ``run()`` was
    given). Called once per call for each such tool. Must not do I/O.

    When no plugin answers: ``{"type": "function", "function": {"name",
    "description", "parameters": tool.schema}}``, the shape every built-in
    mapping takes (:meth:`FunctionTool.default_declaration`).

    :param tool: ``.name``, ``.description``, ``.schema`` (the parameters' JSON
        schema, shared: do not change it) and ``.strict_schema()``.

    .. versionadded:: 0.3
    """


@hookspec(firstresult=True)
def llmplug_batch_format(provider: ProviderSpec) -> BatchFormat | None:
    """How ``provider``'s batch engine takes requests and gives results, for
    ``client.submit_batch`` and its job's ``results()``: a
    :class:`~llmplug.core.batch_jobs.BatchFormat` (its ``plan`` turns the
    checked ``(custom_id, params)`` lines into the engine's input, its
    ``outputs`` and ``entry`` read the results back). Called when a job is
    submitted or attached. Must not do I/O. When no plugin answers, the
    provider has no batch engine: ``submit_batch`` raises
    ``UnsupportedOperationError``.

    .. versionadded:: 0.3
    """
