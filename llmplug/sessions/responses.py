"""ResponsesChatSession: a conversation kept server-side by the Responses API,
chained through ``previous_response_id``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from llmplug.core.base_client import split_call_args
from llmplug.core.convert import structure
from llmplug.core.models import Model, Response, ResponseStreamEvent, TextChunk

from .base import Callback, InvalidMessageError, Session, check_result, unwrap_model
from llmplug.core.plans import Plan

#: Roles a message item of the input may have.
INPUT_ROLES = ("user", "assistant", "system", "developer")


def check_input(value: Any) -> Any:
    """``value`` if the Responses API can take it as input (a string, or a list of
    messages and items), else :class:`InvalidMessageError` saying what is wrong.
    Item types other than messages and ``function_call_output`` pass as they are;
    a model item (``response.output[0]``) is taken as a copy of its ``.raw``."""
    if isinstance(value, str):
        if not value:
            raise InvalidMessageError("input is empty: give a string or a list of messages/items")
        return value
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidMessageError(
            f"input must be a string or a non-empty list of messages/items, not {value!r:.80}"
        )
    items = [unwrap_model(item) for item in value]
    for i, (item, given) in enumerate(zip(items, value)):
        label = f"input[{i}]"
        if not isinstance(item, Mapping):
            what = type(given).__name__ + (f" (whose JSON is a {type(item).__name__})" if isinstance(given, Model) else "")
            raise InvalidMessageError(f"{label} must be a dict (a message or an item), not {what}")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in INPUT_ROLES:
                found = "has no 'role'" if role is None else f"has role {role!r}"
                raise InvalidMessageError(f"{label} {found}; a message's role must be one of: {', '.join(INPUT_ROLES)}")
            if not isinstance(item.get("content"), (str, list)):
                raise InvalidMessageError(f"{label} (role {role!r}) needs 'content': a string or a list of content parts")
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str):
                raise InvalidMessageError(f"{label} (function_call_output) needs 'call_id': the call it answers")
            if "output" not in item:
                raise InvalidMessageError(f"{label} (function_call_output) needs 'output': the function's result")
    return items


class ResponsesChatSession(Session):
    """A Responses API conversation: each request names the previous response.

    ``ResponsesChatSession(client, model=..., instructions=..., tools=...,
    previous_response_id=..., **other_api_params)``. ``current_response_id``
    is the id the next request continues from; ``response_history`` the
    responses received. Every request carries ``previous_response_id``,
    ``instructions`` and ``tools``; per-call options win.
    """

    kind: ClassVar[str] = "responses"
    options: ClassVar[tuple[str, ...]] = ("model", "instructions", "tools")
    client_method: ClassVar[str] = "create_response"

    model: str | None
    instructions: Any
    tools: list[dict[str, Any]] | None

    def __init__(self, client: Any, **opts: Any) -> None:
        previous = opts.pop("previous_response_id", None)
        super().__init__(client, opts)
        #: The id of the latest response: the next request's ``previous_response_id``.
        self.current_response_id: str | None = previous
        #: Every response received, oldest first.
        self.response_history: list[Response] = []

    def session_params(self) -> dict[str, Any]:
        return {**super().session_params(), "previous_response_id": self.current_response_id}

    def send(self, input: Any, stream_callback: Any = None, **opts: Any) -> Response:
        """Send ``input`` (a string, or a list of messages/items) and return the
        :class:`~llmplug.core.models.Response`; streaming returns it too."""
        return self.create_response(input, stream_callback, **opts)

    def create_response(self, input: Any, opts: Any = None, stream_callback: Callback | None = None, **params: Any) -> Response:
        """Create the next response, as Lua's ``create_response(input, opts, callback)``.

        ``stream_callback(chunk, raw_event)`` gets each text delta (``str(chunk)``
        is the text, ``chunk.index`` the output item's index) and each refusal
        delta (in ``chunk.refusal``; ``str(chunk)`` is then ``""``). Only a completed
        response advances the session: on an error status, an ``error`` or
        ``response.failed`` event, or a stream cut short, the typed error is
        raised (a :class:`~llmplug.StreamError` carries ``.received``, the text so
        far) and the session is unchanged.
        """
        return self._drive(self._create(input, opts, stream_callback, params))

    def _create(self, input: Any, opts: Any, stream_callback: Callback | None, params: dict[str, Any]) -> Plan:
        input = check_input(input)
        overrides, callback = split_call_args(opts, stream_callback, params)
        params, callback = self.request_params(overrides, callback)
        relay = _relay(callback) if callback is not None else None
        result = yield lambda: self.client.create_response(input, params, relay)
        response = check_result(result, Response, self.client)
        self.response_history.append(response)
        self.current_response_id = response.id or self.current_response_id
        return response

    # ------------------------------------------------------------ save and resume

    def state(self) -> dict[str, Any]:
        return {
            "current_response_id": self.current_response_id,
            "response_history": [response.raw for response in self.response_history],
        }

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["options"].pop("previous_response_id", None)  # kept as current_response_id
        return data

    @classmethod
    def _resume(cls, client: Any, options: dict[str, Any], data: dict[str, Any]) -> ResponsesChatSession:
        options.setdefault("previous_response_id", data.get("current_response_id"))
        session = cls(client, **options)
        session.response_history = [structure(raw, Response) for raw in data.get("response_history") or []]
        return session

    def _repr_state(self) -> str:
        return f" current_response_id={self.current_response_id!r} responses={len(self.response_history)}"


def _relay(callback: Callback) -> Callback:
    """A stream callback that hands the user ``(TextChunk, raw_event)`` per text
    delta, and per refusal delta with the text in ``TextChunk.refusal``."""

    def on_event(event: Any) -> Any:  # the callback's outcome: awaited when it is a coroutine's
        if not isinstance(event, ResponseStreamEvent) or not isinstance(event.delta, str):
            return None
        if event.type == "response.output_text.delta":
            return callback(TextChunk(event.delta, event.output_index or 0), event.raw)
        if event.type == "response.refusal.delta" and event.delta:
            return callback(TextChunk("", event.output_index or 0, refusal=event.delta), event.raw)
        return None

    return on_event
