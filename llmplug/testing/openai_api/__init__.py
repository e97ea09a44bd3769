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
- Files (``/v1/files``) are kept in memory (``svc.files``, ``svc.file_data``);
  ``GET /v1/files/{id}/content`` streams the stored bytes in 64 KiB pieces
  (chunked transfer encoding), so a 50 MB batch output goes out without a copy.

Batch API (``/v1/batches``, :mod:`.batches`): ``POST /v1/batches`` with an
uploaded file of purpose ``batch``, an ``endpoint`` of the spec's list
(``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/responses``,
``/v1/completions``, ``/v1/moderations``...), ``completion_window: "24h"``
and optional ``metadata``/``output_expires_after``; ``GET /v1/batches/{id}``,
``GET /v1/batches`` (newest first; ``limit`` 1-100, default 20, ``after``,
``has_more``, ``first_id``, ``last_id``) and ``POST /v1/batches/{id}/cancel``.
Jobs live by the server's batch clock, which only moves when the test says::

    batch = ...  # POST /v1/batches: status "validating", request_counts all 0
    api.batch_clock.advance(10)   # validate_seconds: "in_progress", total set
    api.batch_clock.advance(30)   # half of run_seconds (60): half the lines done
    api.batch_clock.advance(30)   # "finalizing"
    api.batch_clock.advance(10)   # finalize_seconds: "completed", output_file_id set

A job is brought up to the clock whenever it is read, each step keeping the
clock time it happened at (``in_progress_at``, ``finalizing_at``...).

- Each line is answered by its endpoint's own handler, so it gets what a
  synchronous call with that body gets (refusals, tool calls, JSON answers);
  the output file (purpose ``batch_output``) has a ``{"id": "batch_req_...",
  "custom_id", "response": {"status_code", "request_id", "body"}, "error":
  null}`` line per success, the error file one per line the endpoint refused
  (its 4xx status and error body, as OpenAI writes them). To make lines fail,
  give them a body the endpoint refuses (``"n": 0``, an unknown role...) or
  list them in ``openai_service(api).fail_batch_lines`` (``{custom_id:
  status}``: answered with the canned 500, 429... of that status). A file with
  no successes (or no failures) gets no output (or error) file id.
- Validation (after ``validate_seconds``) fails the batch (``status:
  "failed"``, ``errors: {object: "list", data: [{code, message, param,
  line}]}``) for lines that are not JSON (``invalid_json_line``), lack
  ``custom_id``/``method``/``url``/``body`` (``missing_required_parameter``),
  use another method (``invalid_value``) or URL than the batch's endpoint
  (``invalid_url``), repeat a ``custom_id`` (``duplicate_custom_id``), ask to
  stream (``streaming_unsupported``), lack ``body.model`` or the endpoint's
  main input (``invalid_request``) or name another model than the first line
  (``mismatched_model``); for an empty file (``empty_file``), more than
  ``max_requests`` (50,000) lines (``too_many_tasks``) or ``max_file_bytes``
  (200 MB, ``file_too_large``); and for an input file that does not exist
  (``invalid_request``, param ``file_id``), as OpenAI does. Bad create
  parameters, or an input file of another purpose than ``batch``, are 400s.
- Expiry: a job not done ``openai_window_seconds`` (24 h) after creation is
  ``expired``; the lines answered by then are in the output file, the others
  in the error file as ``{"response": null, "error": {"code": "batch_expired",
  ...}}``. Make a job slow enough with ``api.batch_settings.run_seconds =
  90_000`` before creating it (or on one job:
  ``openai_service(api).batches[id].settings``).
- Cancel: ``cancelling`` (lines answered so far kept, counts frozen), then
  ``cancelled`` ``cancel_seconds`` (1 s) later with those lines in the output
  file; cancelling a finished batch is a 409 "Cannot cancel a batch with
  status 'completed'.".
- ``usage`` sums the answered lines' token usage; ``model`` is the lines' model.

One module per endpoint family: :mod:`.chat`, :mod:`.legacy_completions`,
:mod:`.responses`, :mod:`.embedding`, :mod:`.moderation`, :mod:`.files`,
:mod:`.batches`, :mod:`.images` and :mod:`.models`; shared rules in
:mod:`.common` (ids, words), :mod:`.validation` (request checks),
:mod:`.formats` (response formats) and :mod:`.tools` (which tools get called);
the route table and the service in :mod:`.service`. Everything public is
importable from here.
"""

from __future__ import annotations

from .batches import BATCH_ENDPOINTS, OpenAIBatch, cancel_batch, create_batch, get_batch, list_batches
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
from .service import ROUTES, OpenAIService, openai_service

__all__ = ["REFUSAL", "ROUTES", "OpenAIBatch", "OpenAIService", "PNG_BYTES", "chat_completion_events", "embedding_vector",
           "openai_service", "response_events"]
