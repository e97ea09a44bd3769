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

One module per job: :mod:`.checks` (Google's parser) and :mod:`.turns`
(Gemini's rules on turns) check requests; :mod:`.generate` (generate, stream,
count tokens), :mod:`.embeddings`, :mod:`.models` and :mod:`.openai_compat`
serve the endpoints; :mod:`.scripted` holds scripted candidates;
:mod:`.common` the errors and helpers they share; the route table and the
service live in :mod:`.service`. Everything public is importable from here.
"""

from __future__ import annotations

from ..openai_api.embedding import embedding_vector
from .checks import ENUMS, MESSAGES, parse_body
from .common import JSON_TYPE, GeminiError
from .embeddings import batch_embed_contents, embed_content
from .generate import count_tokens, fake_thought_signature, generate_content, stream_generate_content
from .models import MODELS, get_model, list_models
from .openai_compat import openai_chat_completions, openai_embeddings, openai_get_model, openai_list_models
from .scripted import ScriptedCandidate
from .service import OPENAI_PREFIX, ROUTES, STATUS_NAMES, GeminiService, gemini_service

__all__ = ["GeminiError", "GeminiService", "MODELS", "ROUTES", "ScriptedCandidate", "fake_thought_signature",
           "gemini_service"]
