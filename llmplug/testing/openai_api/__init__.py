"""Default behaviour of the fake OpenAI API (everything under ``/v1``).

Deterministic rules, so tests can predict every answer:

- Chat/Responses text is ``"You said: <last user text>"``; after a tool
  result it is ``"Tool result: <content>"``. Choice ``i > 0`` of ``n`` gets
  the suffix ``" (choice i)"``.
- A function tool whose name appears (as a whole word) in the last message,
  when that message is the user's, is called with the first JSON object
  literal of that message as arguments (else ``"{}"``, or for a ``strict``
  tool an instance of its parameters' schema, as a strict model sends).
- A last user message that moderation would flag (see below) is refused,
  as OpenAI refuses: ``content`` null and ``refusal`` :data:`REFUSAL`
  (Chat Completions; streamed as ``refusal`` deltas after a first delta
  ``{"role": "assistant", "content": null, "refusal": ""}``), or a
  ``refusal`` content part (Responses API; streamed as
  ``response.refusal.delta``/``.done`` events).
- ``logprobs: true`` gives each text or refusal choice ``logprobs`` with one
  entry per word (``top_logprobs`` alternatives each), in ``content`` or in
  ``refusal``; streamed, each chunk carries its word's entry.
  :func:`chat_completion_events` and :func:`response_events` turn a body
  into the events OpenAI streams for it, to script a reply with ``queue()``.
- Structured outputs (:mod:`.formats`): a ``response_format`` (Chat
  Completions) or ``text.format`` (Responses API) of type ``json_schema``
  answers the JSON of :func:`~llmplug.testing.schemas.schema_instance`
  (strings are the reply text, numbers its word count, enums their first
  value, arrays of 2, ``$ref`` followed; ``", "`` separators so limits and
  streams cut it by words); ``json_object`` answers ``{"text": reply}`` and
  needs the word "json" in the prompt. The ``name`` must match
  ``^[a-zA-Z0-9_-]{1,64}$``. With ``strict: true`` the schema, like the
  ``parameters`` of a ``strict`` function tool, must keep strict mode's rules
  (:func:`~llmplug.testing.schemas.check_strict`: a ``type: "object"`` root,
  ``additionalProperties: false`` and every property ``required`` on every
  object, no keys beside a ``$ref``, formats from a short list): each broken
  rule is a 400 "Invalid schema for response_format 'name': In
  context=(...), ..." (or "... for function 'name': ..."). Refusals, tool
  calls, ``n``, ``stop`` and token limits work as for text.
- Tokens are whitespace-separated words: ``max_tokens`` keeps that many
  words; usage counts words.
- Embeddings are unit vectors from SHAKE-256 of the text (float32 values).
- Moderation flags words starting with "kill", "hate", "idiot", "suicide"...

One module per endpoint family: :mod:`.chat`, :mod:`.legacy_completions`,
:mod:`.responses`, :mod:`.embedding`, :mod:`.moderation`, :mod:`.files`,
:mod:`.images` and :mod:`.models`; shared rules in :mod:`.common` (ids, words),
:mod:`.validation` (request checks), :mod:`.formats` (response formats)
and :mod:`.tools` (which tools get called); the route table and the service
in :mod:`.service`. Everything public is importable from here.
"""

from __future__ import annotations

from .chat import Delta, chat_completion_events, chat_completions
from .embedding import embedding_vector, embeddings
from .files import FILE_PURPOSES, delete_file, file_content, get_file, list_files, upload_file
from .formats import OutputFormat, chat_output_format, check_strict_tools, responses_output_format
from .images import PNG_B64, PNG_BYTES, image_file, image_generations
from .legacy_completions import completions
from .models import MODELS, get_model, list_models
from .moderation import MODERATION_CATEGORIES, MODERATION_TRIGGERS, REFUSAL, moderations
from .responses import (
    cancel_response,
    create_response,
    delete_response,
    get_response,
    response_events,
    response_input_items,
)
from .service import ROUTES, OpenAIService

__all__ = ["REFUSAL", "ROUTES", "OpenAIService", "PNG_BYTES", "chat_completion_events", "embedding_vector", "response_events"]
