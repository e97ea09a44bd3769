"""Request checks of the fake OpenAI API, with OpenAI's error wording.

The JSON body (:func:`_body`), required parameters, types, allowed values,
integer ranges, booleans, the model, the stream flags, and the 400/404
:class:`~llmplug.testing.server.APIError` each mistake gets, as OpenAI words it.
"""

from __future__ import annotations

from typing import Any

from ..server import APIError, RecordedRequest


_JSON_PARSE_ERROR = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
    "If you have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _body(req: RecordedRequest) -> dict[str, Any]:
    """The JSON object body, or a 400 like OpenAI's."""
    if not req.body.strip():
        return {}
    if not isinstance(req.json, dict):
        if req.json is None and req.body.strip() != b"null":
            raise APIError(400, _JSON_PARSE_ERROR, type="invalid_request_error")
        raise APIError(
            400,
            f"Invalid type for request body: expected an object, but got {_type_name(req.json)} instead.",
            type="invalid_request_error",
            code="invalid_type",
        )
    return req.json


def _missing(param: str) -> APIError:
    return APIError(
        400,
        f"Missing required parameter: '{param}'.",
        type="invalid_request_error",
        param=param,
        code="missing_required_parameter",
    )


def _invalid_type(param: str, expected: str, value: Any) -> APIError:
    return APIError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        type="invalid_request_error",
        param=param,
        code="invalid_type",
    )


def _invalid_value(param: str, value: Any, allowed: list[str]) -> APIError:
    names = [f"'{a}'" for a in allowed]
    listed = ", ".join(names[:-1]) + f", and {names[-1]}" if len(names) > 1 else names[0]
    return APIError(
        400,
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        type="invalid_request_error",
        param=param,
        code="invalid_value",
    )


def _model(body: dict[str, Any], default: str | None = None) -> str:
    model = body.get("model", default)
    if model is None:
        raise APIError(400, "you must provide a model parameter", type="invalid_request_error")
    if not isinstance(model, str):
        raise _invalid_type("model", "a string", model)
    return model


def _model_call(req: RecordedRequest, default_model: str | None = None) -> tuple[dict[str, Any], str]:
    """The JSON body of a call to a model, and the model it names."""
    body = _body(req)
    return body, _model(body, default_model)


def _int(body: dict[str, Any], name: str, default: int | None, lo: int | None = None, hi: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid_type(name, "an integer", value)
    _in_range(name, value, lo, hi)
    return value


def _in_range(name: str, value: int, lo: int | None, hi: int | None) -> None:
    """OpenAI's 400 for an integer outside ``lo``..``hi`` (either may be ``None``)."""
    for bound, too_far, words, op, code in ((lo, lo is not None and value < lo, "below minimum", ">=", "below_min"),
                                            (hi, hi is not None and value > hi, "above maximum", "<=", "above_max")):
        if too_far:
            raise APIError(
                400,
                f"Invalid '{name}': integer {words} value. Expected a value {op} {bound}, but got {value} instead.",
                type="invalid_request_error",
                param=name,
                code=f"integer_{code}_value",
            )


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _invalid_type(name, "a boolean", value)
    return value


def _not_found(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(404, message, type="invalid_request_error", param=param, code=code)


def _choices_and_limit(body: dict[str, Any], *limit_names: str, least: int) -> tuple[int, int | None]:
    """How many choices a completion call asks for (``n``) and its token limit:
    the first of ``limit_names`` given, at least ``least``."""
    n = _int(body, "n", 1, 1, 128) or 1
    for name in limit_names:
        limit = _int(body, name, None, least)
        if limit is not None:
            return n, limit
    return n, None


def _stream_flags(body: dict[str, Any]) -> tuple[bool, bool, bool]:
    """(stream, include_usage, include_obfuscation)."""
    stream = _bool(body, "stream")
    options = body.get("stream_options")
    if options is not None and not stream:
        raise APIError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            type="invalid_request_error",
            param="stream_options",
        )
    if options is not None and not isinstance(options, dict):
        raise _invalid_type("stream_options", "an object", options)
    options = options or {}
    return stream, bool(options.get("include_usage")), options.get("include_obfuscation", True) is not False
