"""What both sessions share: options kept as attributes, per-call overrides,
Lua's "a function in place of opts is the callback", result checking, and
saving/resuming. Sessions talk only to ``llmplug.core``: no HTTP, no provider.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from llmplug.core.dispatch import ApiResult
from llmplug.core.errors import APIResponseValidationError, ConfigurationError, make_status_error
from llmplug.core.models import Model

from llmplug.core.plans import drive

Callback = Callable[..., Any]
S = TypeVar("S", bound="Session")


class InvalidMessageError(ConfigurationError):
    """A message or input item the API would reject; the message says what is wrong."""


def unwrap_model(value: Any) -> Any:
    """A copy of a model's JSON (``.raw``) for a model such as ``choices[0].message``,
    else ``value`` itself: sessions take models wherever the client does."""
    return copy.deepcopy(value.raw) if isinstance(value, Model) else value


def _noop(*_: Any) -> None:
    """A stream callback that ignores what it is given."""


def check_result(result: Any, model: type, client: Any) -> Any:
    """The body of a successful ``ApiResult``, else the typed error.

    With ``raise_for_status=False`` the client returns error statuses instead
    of raising; a session still raises, with the server's message.
    """
    if not isinstance(result, ApiResult):
        raise TypeError(f"expected an ApiResult from the client, got {type(result).__name__}")
    provider = getattr(getattr(client, "provider", None), "name", None)
    if not 200 <= result.status < 300:
        from llmplug.core.defaults import error_message  # only on this rare path

        raise make_status_error(
            error_message(result.body, f"HTTP {result.status}"),
            status_code=result.status,
            body=result.body,
            headers=result.headers,
            provider=provider,
        )
    if not isinstance(result.body, model):
        raise APIResponseValidationError(
            f"expected a {model.__name__} from the server, got {type(result.body).__name__}: {str(result.body)[:200]!r}",
            body=result.body,
            status_code=result.status,
            provider=provider,
        )
    return result.body


class Session:
    """Base of the sessions: API options kept as attributes plus ``params``.

    ``options`` names the parameters a session keeps as attributes (Lua's
    fields; change them between calls). Any other keyword is an API parameter
    kept in ``params`` and forwarded with every request. Per-call overrides win
    over both; an option whose value is ``None`` is not sent.
    """

    kind: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()
    #: The client method the session calls, checked at construction.
    client_method: ClassVar[str] = ""
    #: Runs a session method's plan (see :mod:`llmplug.sessions.plans`); the async sessions' is ``adrive``.
    _drive = staticmethod(drive)
    #: Whether the session needs an async client (the async sessions) or a sync one.
    _needs_async: ClassVar[bool] = False

    def __init__(self, client: Any, opts: dict[str, Any]) -> None:
        if not callable(getattr(client, self.client_method, None)):
            raise TypeError(f"{type(self).__name__} needs an llmplug client (llmplug.new(...)), not {type(client).__name__}")
        if getattr(client, "_asynchronous", False) != self._needs_async:
            want = "an async client (llmplug.new_async(...))" if self._needs_async else "a sync client (llmplug.new(...))"
            raise TypeError(f"{type(self).__name__} needs {want}: use client.new_chat_session(), which picks the session for the client")
        self.client = client
        for name in self.options:
            setattr(self, name, opts.pop(name, None))
        #: Other API parameters, forwarded with every request.
        self.params: dict[str, Any] = opts

    # ------------------------------------------------------------ request parameters

    def session_params(self) -> dict[str, Any]:
        """The parameters every request carries (before per-call overrides)."""
        return {**{name: getattr(self, name) for name in self.options}, **self.params}

    def request_params(self, overrides: Mapping[str, Any], callback: Callback | None) -> tuple[dict[str, Any], Callback | None]:
        """Session parameters with ``overrides`` over them, ``None`` values dropped,
        and the stream flag set from the callback (``stream=True`` alone streams too)."""
        merged = {**self.session_params(), **overrides}
        params = {key: value for key, value in merged.items() if value is not None}
        if callback is None and params.get("stream"):
            callback = _noop
        if callback is None:
            params.pop("stream", None)
            params.pop("stream_options", None)  # the API rejects it without stream
        else:
            params["stream"] = True
        return params, callback

    # ------------------------------------------------------------ save and resume

    def state(self) -> dict[str, Any]:
        """The conversation state beyond the options (subclasses add theirs)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """The session as plain JSON-able data; :meth:`from_dict` resumes it."""
        options = {key: value for key, value in self.session_params().items() if value is not None}
        return copy.deepcopy({"kind": self.kind, "options": options, **self.state()})

    @classmethod
    def from_dict(cls: type[S], client: Any, data: Mapping[str, Any]) -> S:
        """A session on ``client`` resumed from :meth:`to_dict`'s data."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{cls.__name__}.from_dict() needs the dict to_dict() made, not {type(data).__name__}")
        kind = data.get("kind", cls.kind)
        if kind != cls.kind:
            raise ConfigurationError(f"cannot resume a {kind!r} session as a {cls.__name__} (kind {cls.kind!r})")
        options = data.get("options") or {}
        if not isinstance(options, Mapping):
            raise ConfigurationError("from_dict(): 'options' must be a dict of session options")
        data = copy.deepcopy(dict(data))
        return cls._resume(client, copy.deepcopy(dict(options)), data)

    @classmethod
    def _resume(cls: type[S], client: Any, options: dict[str, Any], data: dict[str, Any]) -> S:
        return cls(client, **options)

    def __repr__(self) -> str:
        model = getattr(self, "model", None)
        return f"<{type(self).__name__} model={model!r}{self._repr_state()}>"

    def _repr_state(self) -> str:
        return ""
