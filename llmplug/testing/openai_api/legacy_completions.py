"""``POST /v1/completions``: the legacy text completions endpoint.

Each prompt (a string, strings, or token arrays) gets ``n`` echoed choices,
cut by ``stop`` and ``max_tokens``, with ``echo`` honoured; streamed as one
chunk per word and a final chunk with the finish reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..server import RecordedRequest, Reply
from .common import ROUTES, _choice_text, _completion, _fingerprint, _pieces, _words
from .validation import _bool, _choices_and_limit, _invalid_type, _missing, _model_call, _stream_flags

if TYPE_CHECKING:
    from .service import OpenAIService


def _prompts(body: dict[str, Any]) -> list[str]:
    if "prompt" not in body or body["prompt"] is None:
        raise _missing("prompt")
    prompt = body["prompt"]
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            return [" ".join(map(str, prompt))]
        out = []
        for item in prompt:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, list) and all(isinstance(t, int) for t in item):
                out.append(" ".join(map(str, item)))
            else:
                raise _invalid_type("prompt", "a string or array", prompt)
        return out
    raise _invalid_type("prompt", "a string or array", prompt)


@ROUTES.route("POST", r"/v1/completions")
def completions(svc: OpenAIService, req: RecordedRequest) -> Reply:
    body, model = _model_call(req)
    prompts = _prompts(body)
    n, limit = _choices_and_limit(body, "max_tokens", least=0)
    echo = _bool(body, "echo")
    stream, include_usage, _ = _stream_flags(body)
    choices = []
    completion_tokens = 0
    for p_index, prompt in enumerate(prompts):
        for i in range(n):
            text, cut = _choice_text("You said: " + prompt, i, body, limit)
            completion_tokens += _words(text)
            choices.append(
                {
                    "text": (prompt + text) if echo else text,
                    "index": p_index * n + i,
                    "logprobs": None,
                    "finish_reason": "length" if cut else "stop",
                }
            )
    prompt_tokens = sum(_words(p) for p in prompts)
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    result = _completion("cmpl-", "text_completion", model, choices, {**usage, "total_tokens": prompt_tokens + completion_tokens})
    result["system_fingerprint"] = _fingerprint(model)
    if stream:
        return Reply(events=_completion_stream(result, include_usage))
    return Reply(json=result)


def _completion_stream(result: dict[str, Any], include_usage: bool) -> Iterator[Any]:
    base = {k: result[k] for k in ("id", "object", "created", "model", "system_fingerprint")}
    for choice in result["choices"]:
        for piece in _pieces(choice["text"]):
            chunk = dict(base)
            chunk["choices"] = [{"text": piece, "index": choice["index"], "logprobs": None, "finish_reason": None}]
            yield chunk
        chunk = dict(base)
        finish = choice["finish_reason"]
        chunk["choices"] = [{"text": "", "index": choice["index"], "logprobs": None, "finish_reason": finish}]
        yield chunk
    if include_usage:
        chunk = dict(base)
        chunk["choices"] = []
        chunk["usage"] = result["usage"]
        yield chunk
    yield "data: [DONE]\n\n"
