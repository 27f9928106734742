"""Request-body and parameter checks. Every refusal is a `BadRequest` whose message names the field.

Bodies are read strictly: bounded size, valid UTF-8 JSON, an object, no duplicate keys, no
NaN/Infinity, no unknown fields, each field of the declared type and size.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.api import BadRequest

MAX_BODY_BYTES = 16 * 1024


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BadRequest(f"{key[:64]}: appears more than once")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise BadRequest(f"body: {name} is not valid JSON")


def read_json_object(event: Mapping[str, Any], max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request body of an HTTP API (payload 2.0) event as a JSON object."""
    body = event.get("body")
    if body is None or body == "":
        raise BadRequest("body: required (a JSON object)")
    if not isinstance(body, str):
        raise BadRequest("body: must be JSON text")
    if len(body) > 2 * max_bytes:  # cheap bound before decoding anything
        raise BadRequest(f"body: larger than {max_bytes} bytes")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("body: not valid base64") from None
    else:
        raw = body.encode("utf-8", errors="surrogatepass")
    if len(raw) > max_bytes:
        raise BadRequest(f"body: larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except BadRequest:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("body: not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("body: must be a JSON object")
    return value


# --------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class Field:
    """One allowed body field: its check turns the raw value into the stored one or raises BadRequest."""

    name: str
    check: Callable[[str, Any], Any]
    required: bool = False


def text(max_length: int, *, min_length: int = 1, pattern: re.Pattern[str] | None = None) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise BadRequest(f"{name}: must be a string")
        if not min_length <= len(value) <= max_length:
            raise BadRequest(f"{name}: must be {min_length} to {max_length} characters long")
        if not all(ch.isprintable() or ch in "\n\t" for ch in value):
            raise BadRequest(f"{name}: must not contain control characters")
        if pattern is not None and not pattern.fullmatch(value):
            raise BadRequest(f"{name}: must match {pattern.pattern}")
        return value

    return check


def text_list(max_items: int, item: Callable[[str, Any], str]) -> Callable[[str, Any], list[str]]:
    def check(name: str, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise BadRequest(f"{name}: must be a list of strings")
        if len(value) > max_items:
            raise BadRequest(f"{name}: at most {max_items} entries")
        result = [item(f"{name}[{index}]", entry) for index, entry in enumerate(value)]
        if len(set(result)) != len(result):
            raise BadRequest(f"{name}: entries must be unique")
        return result

    return check


def json_object(max_bytes: int) -> Callable[[str, Any], dict[str, Any]]:
    def check(name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise BadRequest(f"{name}: must be a JSON object")
        if len(json.dumps(value, separators=(",", ":")).encode()) > max_bytes:
            raise BadRequest(f"{name}: larger than {max_bytes} bytes")
        return value

    return check


def validate_fields(body: Mapping[str, Any], fields: tuple[Field, ...]) -> dict[str, Any]:
    """The body's fields, checked; unknown fields and missing required ones are refused."""
    allowed = {field.name: field for field in fields}
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest(f"{unknown[0][:64]}: unknown field; allowed fields are {', '.join(allowed)}")
    result = {}
    for field in fields:
        if field.name not in body:
            if field.required:
                raise BadRequest(f"{field.name}: required")
            continue
        result[field.name] = field.check(field.name, body[field.name])
    return result


def query_integer(params: Mapping[str, str] | None, name: str, *, default: int, low: int, high: int) -> int:
    value = (params or {}).get(name)
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,6}", value) or not low <= int(value) <= high:
        raise BadRequest(f"{name}: must be a whole number from {low} to {high}")
    return int(value)
