"""attrs models of normalised results, and the cattrs converter that builds them.

Every model keeps the decoded JSON it came from in ``.raw``: fields the models
do not name are never lost (``model["new_field"]`` and ``model.new_field`` read
them), and a body of an unexpected shape still yields a model, with the data
in ``.raw``. A model also reads as a read-only mapping over ``.raw``
(``"usage" in body``, ``dict(body)``, ``keys()``, ``items()``); it has no
``len()``, so it is always true. Models hold no serialisation code.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Any

import attrs

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "Batch",
    "BatchList",
    "BatchRequestCounts",
    "ChatMessage",
    "Choice",
    "ChunkChoice",
    "ChunkDelta",
    "Completion",
    "CompletionChoice",
    "Deleted",
    "Embedding",
    "EmbeddingList",
    "FileList",
    "FileObject",
    "FunctionCall",
    "FunctionCallDelta",
    "Image",
    "ImagesResponse",
    "Model",
    "ModelInfo",
    "ModelList",
    "Moderation",
    "ModerationResult",
    "OutputContent",
    "OutputItem",
    "Response",
    "ResponseStreamEvent",
    "ResponseUsage",
    "TextChunk",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]


#: How every model class is declared: slotted, keyword-only. ``__repr__`` and
#: ``__eq__`` are :class:`Model`'s, written once, not generated per class
#: (which halves the cost of defining the models at import).
_model = attrs.define(slots=True, kw_only=True, repr=False, eq=False)


def _derived() -> Any:
    """A field the client fills in after the JSON (``parsed``): not read from the
    JSON, not compared, not shown."""
    return attrs.field(default=None, eq=False, repr=False, metadata={"derived": True})


@_model
class Model:
    """Base of every result model: attribute access plus the raw JSON.

    Dict access (``model["choices"]``, ``in``, ``keys()``...) reads the JSON in
    the normalised (OpenAI) shape, the same on every provider: ``.raw`` itself,
    or, for a provider whose own JSON has another shape (a native, non-OpenAI API),
    ``.shaped``, while ``.raw`` keeps exactly what that server sent. An
    attribute that is no field falls back to ``.raw`` (the provider's fields).
    """

    raw: Any = attrs.field(factory=dict, repr=False, eq=False)
    #: The normalised JSON when ``.raw`` is a provider's own shape; else ``None``.
    shaped: Any = attrs.field(default=None, repr=False, eq=False)

    def _json(self) -> Any:
        shaped = self.shaped
        return self.raw if shaped is None else shaped

    def __getitem__(self, key: Any) -> Any:
        """Dict-style access to the (normalised) JSON, as in the Lua library."""
        return self._json()[key]

    def get(self, key: str, default: Any = None) -> Any:
        data = self._json()
        return data.get(key, default) if isinstance(data, dict) else default

    # A read-only mapping over ``.raw`` (a sequence when ``.raw`` is a list). No
    # ``__len__`` on purpose: it would make a model with an empty body falsy.

    def __contains__(self, key: object) -> bool:
        """``key in model``: a key of the JSON (an element, when it is a list)."""
        data = self._json()
        return key in data if isinstance(data, (dict, list)) else False

    def __iter__(self) -> Iterator[Any]:
        """The keys of the JSON (its elements, when it is a list)."""
        data = self._json()
        return iter(data) if isinstance(data, (dict, list)) else iter(())

    def keys(self) -> KeysView[Any]:
        """The keys of ``.raw`` (none when it is not a dict), so ``dict(model)`` works."""
        return self._mapping().keys()

    def values(self) -> ValuesView[Any]:
        """The values of ``.raw`` (none when it is not a dict)."""
        return self._mapping().values()

    def items(self) -> ItemsView[Any, Any]:
        """The ``(key, value)`` pairs of ``.raw`` (none when it is not a dict)."""
        return self._mapping().items()

    def _mapping(self) -> dict[Any, Any]:
        data = self._json()
        return data if isinstance(data, dict) else {}

    def __getattr__(self, name: str) -> Any:
        # Only reached when no attribute of that name exists: fall back to raw JSON.
        # The provider's own fields (``.raw``): a native API's extra keys read as attributes.
        if name.startswith("_") or name in ("raw", "shaped"):
            raise AttributeError(name)
        try:
            raw = object.__getattribute__(self, "raw")
        except AttributeError:
            raise AttributeError(name) from None
        if isinstance(raw, dict) and name in raw:
            return raw[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def to_dict(self) -> Any:
        """The JSON the model was built from."""
        return self.raw

    def __repr__(self) -> str:
        shown = ", ".join(f"{a.name}={getattr(self, a.name)!r}" for a in attrs.fields(type(self)) if a.repr)
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        """Equal when of the same class with equal fields (``.raw`` and ``.shaped`` aside)."""
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, a.name) == getattr(other, a.name) for a in attrs.fields(type(self)) if a.eq)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the attrs classes it replaces


# ---------------------------------------------------------------- chat completions


@_model
class FunctionCall(Model):
    name: str | None = None
    arguments: str = ""


@_model
class ToolCall(Model):
    id: str | None = None
    type: str = "function"
    function: FunctionCall = attrs.field(factory=FunctionCall)


@_model
class Usage(Model):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    #: Tokens spent on hidden reasoning (``completion_tokens_details.reasoning_tokens``).
    reasoning_tokens: int | None = None
    #: Prompt tokens served from cache (``prompt_tokens_details.cached_tokens``).
    cached_tokens: int | None = None


@_model
class ChatMessage(Model):
    role: str = "assistant"
    content: Any = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    refusal: str | None = None
    #: Reasoning text a provider returned apart from the content (thoughts, reasoning summaries...).
    reasoning: str | None = None
    #: The content as an instance of the ``response_format`` type asked for (``None`` without one).
    parsed: Any = _derived()

    def __str__(self) -> str:
        return self.content if isinstance(self.content, str) else ""


@_model
class _Choice(Model):
    """What every choice carries: its ``index``, why it ended, its logprobs."""

    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None


@_model
class _Completion(Model):
    """What every completion body carries, whole or streamed, chat or text."""

    id: str | None = None
    created: int | None = None
    model: str | None = None
    usage: Usage | None = None
    system_fingerprint: str | None = None


@_model
class Choice(_Choice):
    message: ChatMessage = attrs.field(factory=ChatMessage)


@_model
class ChatCompletion(_Completion):
    object: str = "chat.completion"
    choices: list[Choice] = attrs.field(factory=list)

    @property
    def content(self) -> str | None:
        """The text of choice 0, or ``None``."""
        return self.choices[0].message.content if self.choices else None

    @property
    def parsed(self) -> Any:
        """Choice 0's ``message.parsed``: the ``response_format`` type's instance, or ``None``."""
        return self.choices[0].message.parsed if self.choices else None

    @property
    def refusal(self) -> str | None:
        """Choice 0's refusal, or ``None``."""
        return self.choices[0].message.refusal if self.choices else None

    def __str__(self) -> str:
        content = self.content
        return content if isinstance(content, str) else ""


@_model
class FunctionCallDelta(Model):
    name: str | None = None
    arguments: str | None = None


@_model
class ToolCallDelta(Model):
    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


@_model
class ChunkDelta(Model):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    function_call: FunctionCallDelta | None = None
    refusal: str | None = None
    reasoning: str | None = None


@_model
class ChunkChoice(_Choice):
    delta: ChunkDelta = attrs.field(factory=ChunkDelta)


@_model
class ChatCompletionChunk(_Completion):
    object: str = "chat.completion.chunk"
    choices: list[ChunkChoice] = attrs.field(factory=list)

    def __str__(self) -> str:
        """The text this chunk adds to choice 0."""
        for choice in self.choices:
            if choice.index == 0:
                return choice.delta.content or ""
        return ""


# ---------------------------------------------------------------- legacy completions


@_model
class CompletionChoice(_Choice):
    text: str = ""


@_model
class Completion(_Completion):
    object: str = "text_completion"
    choices: list[CompletionChoice] = attrs.field(factory=list)

    def __str__(self) -> str:
        return self.choices[0].text if self.choices else ""


# ---------------------------------------------------------------- embeddings, moderation


@_model
class Embedding(Model):
    index: int = 0
    #: Floats, or a base64 string when ``encoding_format="base64"`` was asked for.
    embedding: Any = attrs.field(factory=list)
    object: str = "embedding"


@_model
class EmbeddingList(Model):
    object: str = "list"
    data: list[Embedding] = attrs.field(factory=list)
    model: str | None = None
    usage: Usage | None = None

    @property
    def vectors(self) -> list[Any]:
        """The embeddings in input order."""
        return [item.embedding for item in sorted(self.data, key=lambda e: e.index)]


@_model
class ModerationResult(Model):
    flagged: bool = False
    categories: dict[str, Any] = attrs.field(factory=dict)
    category_scores: dict[str, Any] = attrs.field(factory=dict)


@_model
class Moderation(Model):
    id: str | None = None
    model: str | None = None
    results: list[ModerationResult] = attrs.field(factory=list)

    @property
    def flagged(self) -> bool:
        return any(result.flagged for result in self.results)


# ---------------------------------------------------------------- models, files, images


@_model
class ModelInfo(Model):
    id: str = ""
    object: str = "model"
    created: int | None = None
    owned_by: str | None = None
    #: A human name, where the provider gives one (a display name).
    display_name: str | None = None


@_model
class ModelList(Model):
    object: str = "list"
    data: list[ModelInfo] = attrs.field(factory=list)

    @property
    def ids(self) -> list[str]:
        return [model.id for model in self.data]


@_model
class FileObject(Model):
    id: str = ""
    object: str = "file"
    bytes: int | None = None
    created_at: int | None = None
    filename: str | None = None
    purpose: str | None = None
    status: str | None = None


@_model
class FileList(Model):
    object: str = "list"
    data: list[FileObject] = attrs.field(factory=list)
    has_more: bool = False
    first_id: str | None = None
    #: What ``files(after=...)`` takes for the next page (the last id; Gemini's page token).
    last_id: str | None = None


@_model
class Deleted(Model):
    id: str = ""
    object: str | None = None
    deleted: bool = False


@_model
class Image(Model):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


@_model
class ImagesResponse(Model):
    created: int | None = None
    data: list[Image] = attrs.field(factory=list)
    usage: Any = None


# ---------------------------------------------------------------- batches


#: Every status of a normalised :class:`Batch`, in the order a job goes through them.
BATCH_STATUSES = (
    "validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled",
)


@_model
class BatchRequestCounts(Model):
    total: int = 0
    completed: int = 0
    failed: int = 0


@_model
class Batch(Model):
    """A batch job on the provider's engine, in OpenAI's shape whatever the
    provider: ``status`` is one of :data:`BATCH_STATUSES` (a provider's own
    state is mapped onto it and kept in ``.raw``); times are Unix seconds."""

    id: str = ""
    object: str = "batch"
    endpoint: str | None = None
    status: str | None = None
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    completion_window: str | None = None
    request_counts: BatchRequestCounts | None = None
    errors: Any = None
    metadata: Any = None
    model: str | None = None
    created_at: int | None = None
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None

    @property
    def done(self) -> bool:
        """Whether the job ended (completed, failed, expired or cancelled)."""
        return self.status in ("completed", "failed", "expired", "cancelled")


@_model
class BatchList(Model):
    object: str = "list"
    data: list[Batch] = attrs.field(factory=list)
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None


# ---------------------------------------------------------------- Responses API


@_model
class OutputContent(Model):
    """A content part of an output message (``output_text``, ``refusal``, or newer)."""

    type: str = "output_text"
    text: str | None = None
    refusal: str | None = None
    annotations: list[Any] = attrs.field(factory=list)


@_model
class OutputItem(Model):
    """An output item of any type; ``.raw`` holds all it carries.

    ``message`` items have ``role`` and ``content``; ``function_call`` items
    ``call_id``, ``name`` and ``arguments``; ``image_generation_call`` items
    ``result`` (base64). Types this model does not know (``reasoning``,
    ``web_search_call``, future ones) are kept as they came.
    """

    type: str = ""
    id: str | None = None
    status: str | None = None
    role: str | None = None
    content: list[OutputContent] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    result: str | None = None


@_model
class ResponseUsage(Model):
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


@_model
class Response(Model):
    """A Responses API response."""

    id: str | None = None
    object: str = "response"
    created_at: float | None = None
    status: str | None = None
    model: str | None = None
    output: list[OutputItem] = attrs.field(factory=list)
    usage: ResponseUsage | None = None
    error: Any = None
    incomplete_details: Any = None
    instructions: Any = None
    previous_response_id: str | None = None
    #: The output text as an instance of the ``text_format`` type asked for (``None`` without one).
    output_parsed: Any = _derived()

    def get_output_text(self) -> str:
        """All ``output_text`` parts of all message items, joined."""
        return "".join(
            part.text or ""
            for item in self.output
            if item.type == "message" and item.content
            for part in item.content
            if part.type == "output_text"
        )

    @property
    def output_text(self) -> str:
        return self.get_output_text()

    @property
    def refusal(self) -> str | None:
        """All ``refusal`` parts of all message items, joined; ``None`` when there are none."""
        parts = [
            part.refusal or ""
            for item in self.output
            if item.type == "message" and item.content
            for part in item.content
            if part.type == "refusal"
        ]
        return "".join(parts) if parts else None

    def get_images(self) -> list[dict[str, str]]:
        """The base64 results of ``image_generation_call`` items, as ``{"b64_json": ...}``."""
        return [{"b64_json": item.result} for item in self.output if item.type == "image_generation_call" and item.result]

    @property
    def function_calls(self) -> list[OutputItem]:
        """The ``function_call`` output items (``name``, ``arguments``, ``call_id``)."""
        return [item for item in self.output if item.type == "function_call"]

    def __str__(self) -> str:
        return self.get_output_text()


@_model
class ResponseStreamEvent(Model):
    """One Responses API stream event; ``type`` says which (``response.output_text.delta``...)."""

    type: str = ""
    sequence_number: int | None = None
    delta: Any = None
    text: str | None = None
    item_id: str | None = None
    output_index: int | None = None
    content_index: int | None = None
    item: OutputItem | None = None
    response: Response | None = None
    code: str | None = None
    message: str | None = None

    def __str__(self) -> str:
        return self.delta if self.type == "response.output_text.delta" and isinstance(self.delta, str) else ""


@attrs.frozen(slots=True)
class TextChunk:
    """What a session's or ``chat()``'s stream callback gets: the text a chunk adds.

    - ``content``: the reply text it adds (``""`` when it adds none);
    - ``index``: the choice (Chat Completions) or output item (Responses API);
    - ``tool_calls``: the tool-call deltas it carries, if any;
    - ``refusal``: the refusal text it adds, or ``None``. A refusal streams in
      chunks whose ``content`` is ``""`` and ``refusal`` a piece of the
      refusal; joined, the pieces are the message's ``refusal``.

    ``str(chunk)`` is ``content`` only, never the refusal: printing ``str(chunk)``
    shows the answer; check ``chunk.refusal`` to show a refusal too.
    """

    content: str = ""
    index: int = 0
    tool_calls: list[ToolCallDelta] | None = None
    refusal: str | None = None

    def __str__(self) -> str:
        return self.content
