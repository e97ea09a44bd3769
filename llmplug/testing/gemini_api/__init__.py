"""Default behaviour of the fake Gemini API (everything under ``/v1beta``).

Native endpoints: ``models/{m}:generateContent``, ``:streamGenerateContent``
(``?alt=sse``: Server-Sent Events with ``\\r\\n`` line ends and no ``[DONE]``,
each event a whole ``GenerateContentResponse`` carrying only the new parts;
without ``alt``: one JSON array), ``:embedContent``, ``:batchEmbedContents``,
``:countTokens``, ``GET models`` (``pageSize``/``pageToken``) and
``GET models/{m}``. Gemini's OpenAI-compatible endpoint is served under
``/v1beta/openai`` with its quirks (see :func:`openai_chat_completions`).

Bodies are checked as Google's JSON parser checks them: unknown field names
(camelCase or snake_case) and wrongly typed values are 400 ``INVALID_ARGUMENT``
with Google's wording; so are Gemini's own rules on turns (roles, empty
parts, a function response turn right after its call turn, as many responses
as calls) and, for ``gemini-3*`` models, thought signatures on the calls of
the current turn. Errors are ``{"error": {"code", "message", "status"}}``
(a list of those on the OpenAI-compatible endpoint). With ``FakeAPI(api_key=...)``
the key must come as ``x-goog-api-key`` (or ``?key=``).

Deterministic rules, the same as the OpenAI fake's:

- the reply is ``"You said: <text of the last user turn>"``; after a
  ``functionResponse`` it is ``"Tool result: <response>"`` (``output`` or
  ``result`` if that is the only key, else the response's JSON);
- a declared function whose name appears in the last user turn's text is
  called (all that appear, in declaration order) with the first JSON object
  literal of that text as ``args``; ``functionCallingConfig`` modes
  ``NONE``/``ANY`` and ``allowedFunctionNames`` are honoured;
- thinking models report ``thoughtsTokenCount``, put a ``thoughtSignature`` on
  their first function call, and add a thought part when
  ``thinkingConfig.includeThoughts`` is true;
- tokens are whitespace-separated words; ``maxOutputTokens`` keeps that many
  (``finishReason: MAX_TOKENS``); ``stopSequences`` cut the text;
  ``candidateCount`` gives candidates ``i > 0`` the suffix ``" (choice i)"``;
- ``responseMimeType: application/json`` answers JSON: the
  :func:`~llmplug.testing.schemas.schema_instance` of ``responseJsonSchema``
  or ``responseSchema`` (strings are the reply, numbers its word count, enums
  their first value, ``$ref`` followed...), else ``{"text": reply}``;
  ``text/x.enum`` answers the schema's first ``enum`` value, bare. Setting
  both schemas, a schema with another MIME type, or ``text/x.enum`` with a
  schema that has no ``enum`` is a 400. ``responseJsonSchema`` takes any JSON
  Schema (``$defs``/``$ref``, ``anyOf``, ``additionalProperties``, type lists);
  ``responseSchema`` and a declaration's ``parameters`` are Google's
  ``Schema`` message, so the parser refuses ``$ref``, ``$defs``,
  ``additionalProperties`` ("Unknown name ... Cannot find field") and type
  lists ("Proto field is not repeating");
- embeddings are the OpenAI fake's vectors (:func:`embedding_vector`).

Scripted answers: :meth:`GeminiService.script_reply` (reach the service of a
``FakeAPI`` with :func:`gemini_service`) queues the parts of the next
candidate, any parts Gemini sends (thoughts with ``thoughtSignature``, a
signature on a final empty text part, ``executableCode`` /
``codeExecutionResult``, server-side ``toolCall`` / ``toolResponse``...) with
its ``finishReason`` and ``finishMessage``. The request is checked and recorded
as usual, and the candidate is served whole by ``generateContent`` or cut into
events by ``streamGenerateContent`` (text a few words at a time, a part's
signature on its last piece, every other part whole).

Files API (:mod:`.files`): the resumable upload python-genai does (``POST
/upload/v1beta/files`` with ``X-Goog-Upload-Protocol: resumable`` and
``X-Goog-Upload-Command: start`` answers an ``X-Goog-Upload-URL`` on the fake;
``POST`` the bytes there with ``X-Goog-Upload-Command: upload, finalize`` and
``X-Goog-Upload-Offset: 0``, or in chunks of 8 MiB (``svc.upload_granularity``)
with ``upload`` first, to get ``{"file": File}``), ``GET /v1beta/files/{id}``,
``GET /v1beta/files`` (paged), ``DELETE /v1beta/files/{id}`` and the bytes at
``GET /download/v1beta/files/{id}:download?alt=media`` (or under
``/v1beta/files/{id}:download``). The service claims ``/upload/v1beta`` and
``/download/v1beta`` as well as ``/v1beta``; the upload URL needs no API key.
Files expire 48 h after upload on the batch clock.

Batch mode (:mod:`.batches`): ``POST /v1beta/models/{m}:batchGenerateContent``
with ``{"batch": {"displayName", "inputConfig": {"requests": {"requests":
[{"request": GenerateContentRequest, "metadata": {...}}]}}}}`` or
``"inputConfig": {"fileName": "files/..."}`` (a JSONL file of ``{"key",
"request"}`` lines; snake_case is accepted everywhere, as by Google's parser;
a body over 20 MB is a 400 "Request payload size exceeds the limit"), then
``GET /v1beta/batches/{id}``, ``GET /v1beta/batches`` (``operations``,
paged), ``POST /v1beta/batches/{id}:cancel`` and ``DELETE
/v1beta/batches/{id}``. Every answer is the long-running ``Operation`` Google
sends: ``metadata`` (``@type ...v1main.GenerateContentBatch``, ``model``,
``displayName``, ``createTime``/``updateTime``/``endTime``, ``batchStats``
with int64-string counts, ``state`` ``BATCH_STATE_PENDING``/``RUNNING``/
``SUCCEEDED``/``FAILED``/``CANCELLED``/``EXPIRED``, and ``output`` once
succeeded), ``done: true`` once done, and ``response`` (``@type
...v1main.GenerateContentBatchOutput`` with ``inlinedResponses:
{inlinedResponses: [{response | error, metadata}]}`` or ``responsesFile:
"files/batch-<id>"``, a generated JSONL file of ``{"key", "response" |
"error"}`` lines) or ``error``. Each request is answered by ``generateContent``'s
own code (so :meth:`GeminiService.script_reply` scripts batch answers too, in
request order); one it refuses is that line's ``error`` (a google.rpc.Status).
Jobs live by the server's batch clock: ``PENDING`` for ``validate_seconds``,
``RUNNING`` for ``run_seconds`` (``pendingRequestCount`` falling as requests
are answered) plus ``finalize_seconds``, then ``SUCCEEDED``::

    api.batch_clock.advance(10)   # RUNNING
    api.batch_clock.advance(70)   # SUCCEEDED, output in the Operation

``api.batch_settings.run_seconds = 200_000`` before creating one makes it
``EXPIRED`` (no results) at 48 h; a cancel ends it ``CANCELLED`` at once
(``error.code`` 1, no results); a file line that is not JSON makes it
``FAILED``; ``gemini_service(api).fail_batch_lines = {"key": 503}`` fails
chosen requests (by ``metadata.key`` or file ``key``) with that status.

One module per job: :mod:`.checks` (Google's parser) and :mod:`.turns`
(Gemini's rules on turns) check requests; :mod:`.generate` (generate, stream,
count tokens), :mod:`.embeddings`, :mod:`.models`, :mod:`.files`,
:mod:`.batches` and :mod:`.openai_compat` serve the endpoints; :mod:`.scripted`
holds scripted candidates; :mod:`.common` the errors and helpers they share;
the route table and the service live in :mod:`.service`. Everything public is
importable from here.
"""

from __future__ import annotations

from ..openai_api.embedding import embedding_vector
from .batches import BATCH_TYPE, OUTPUT_TYPE, GeminiBatch, batch_generate_content
from .checks import ENUMS, MESSAGES, parse_body
from .common import JSON_TYPE, GeminiError
from .embeddings import batch_embed_contents, embed_content
from .files import download_file, get_file, list_files, new_file, upload
from .generate import count_tokens, fake_thought_signature, generate_content, stream_generate_content
from .models import MODELS, get_model, list_models
from .openai_compat import openai_chat_completions, openai_embeddings, openai_get_model, openai_list_models
from .scripted import ScriptedCandidate
from .service import OPENAI_PREFIX, ROUTES, STATUS_NAMES, GeminiService, gemini_service

__all__ = ["GeminiBatch", "GeminiError", "GeminiService", "MODELS", "ROUTES", "ScriptedCandidate",
           "fake_thought_signature", "gemini_service"]
