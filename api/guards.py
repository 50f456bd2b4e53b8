"""Raw input guard: body size caps and poison input, checked before a body is parsed or a caller authenticated.

One ASGI middleware, in front of routing, authentication and pydantic:
- the body is capped (settings.max_body_bytes; the bulk paths get settings.max_bulk_body_bytes): a too-large
  Content-Length is refused at once, a chunked body is counted while it streams; 413 either way;
- a JSON body may not hold a lone surrogate, a NUL (in a string or a key), nesting deeper than 32 levels or an
  integer outside the signed 64-bit range: 422 naming the field path (`events[3].metadata.x: ...`);
- the query string and the path may not hold a NUL or bytes that are not UTF-8 (a percent-encoded lone
  surrogate): 422 naming the parameter.
What passes reaches the app unchanged (a JSON body is buffered, checked and replayed; other bodies, such as a CSV
upload, stream through and are counted on the way), so nothing downstream has to check again.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settings import get_settings

MAX_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BULK_PATHS = frozenset({"/v1/events/batch", "/v1/events/import"})
_SURROGATE = re.compile("[\ud800-\udfff]")
# orjson refuses lone surrogates, raw control characters and invalid UTF-8 itself; what it lets through that we
# refuse is a NUL escape, and integers beyond 64 bits (it silently turns those into floats). A body without an
# escaped NUL and without a run of 19+ digits needs only the depth check on the fast path. (Both searched with
# memmem-speed bytes operations: a regex for the digit run was 10 times slower on a 1000-event batch.)
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0000000000")
_DIGIT_RUN = b"0" * 19


class PoisonInput(Exception):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def route_path(scope: Scope) -> str:
    """The path the routes see: without the mount prefix (e.g. /api inside the Streamlit server)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


def body_limit(path: str) -> int:
    settings = get_settings()
    return settings.max_bulk_body_bytes if path in BULK_PATHS else settings.max_body_bytes


# --- JSON poison -----------------------------------------------------------------------------------------------------


def _printable(text: str) -> str:
    """A field name safe to echo in an error message (NUL and lone surrogates escaped)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")


def _join(path: str, key: str) -> str:
    key = _printable(key)
    return f"{path}.{key}" if path else key


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "NUL character"
    if _SURROGATE.search(text):
        return "lone surrogate"
    return None


def _find_poison(node: Any, path: str, depth: int) -> None:
    """Raise PoisonInput for the first poisoned value below `node` (depth: containers enclosing `node`)."""
    kind = type(node)
    if kind is str:
        problem = _string_problem(node)
        if problem:
            raise PoisonInput(path or "body", problem)
    elif kind is int:
        if not INT64_MIN <= node <= INT64_MAX:
            raise PoisonInput(path or "body", "integer out of 64-bit range")
    elif kind is dict or kind is list:
        if depth >= MAX_DEPTH:
            raise PoisonInput(path or "body", f"nesting deeper than {MAX_DEPTH} levels")
        if kind is dict:
            for key, value in node.items():
                problem = _string_problem(key)
                if problem:
                    raise PoisonInput(_join(path, key), f"{problem} in a key")
                _find_poison(value, _join(path, key), depth + 1)
        else:
            for index, value in enumerate(node):
                _find_poison(value, f"{path}[{index}]", depth + 1)


def _too_deep(node: Any, depth: int) -> bool:
    """The fast path's only walk: containers only, no path bookkeeping."""
    values = node.values() if type(node) is dict else node
    for value in values:
        kind = type(value)
        if (kind is dict or kind is list) and (depth + 1 >= MAX_DEPTH or _too_deep(value, depth + 1)):
            return True
    return False


def check_json_body(body: bytes) -> None:
    """Raise PoisonInput if the JSON `body` holds poison; bodies that are not JSON are left to the app's parser."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None  # invalid JSON, or poison orjson refuses (lone surrogates, depth > 1024): the slow path
    else:
        if b"\\u0000" not in body and _DIGIT_RUN not in body.translate(_DIGITS_AS_ZERO):
            if type(parsed) in (dict, list) and _too_deep(parsed, 0):
                _slow_check(body)  # to name the path
            return
    _slow_check(body)


def _slow_check(body: bytes) -> None:
    """Python's json keeps what orjson refuses (lone surrogates, exact big integers), so the walk can name it."""
    try:
        parsed = json.loads(body)
    except RecursionError:
        raise PoisonInput("body", f"nesting deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError:
        return  # not JSON: the app answers 400 invalid_json
    except ValueError:  # an integer literal longer than Python converts (4300 digits)
        raise PoisonInput("body", "integer out of 64-bit range") from None
    _find_poison(parsed, "", 0)


# --- query string and path -------------------------------------------------------------------------------------------


def _bad_text(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8 (a lone surrogate?)"
    return "NUL character" if "\x00" in text else None


def check_query(query_string: bytes) -> None:
    if not query_string or _bad_text(unquote_to_bytes(query_string)) is None:
        return
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        raw_name = unquote_to_bytes(name.replace(b"+", b" "))
        label = _printable(raw_name.decode("utf-8", "replace"))
        problem = _bad_text(raw_name)
        if problem:
            raise PoisonInput(f"query parameter {label}", f"{problem} in the name")
        problem = _bad_text(unquote_to_bytes(value.replace(b"+", b" ")))
        if problem:
            raise PoisonInput(f"query parameter {label}", problem)


def check_path(scope: Scope) -> None:
    raw: bytes | None = scope.get("raw_path")
    if raw is None:
        raw = scope["path"].encode("utf-8", "surrogatepass")
    raw = raw.split(b"?", 1)[0]
    root = scope.get("root_path", "").encode()
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    decoded = unquote_to_bytes(raw)
    if _bad_text(decoded) is None and "\x00" not in scope["path"]:
        return
    segments = raw.split(b"/")
    for position, segment in enumerate(segments):
        problem = _bad_text(unquote_to_bytes(segment))
        if problem:
            raise PoisonInput(_path_parameter(scope, segments, position), problem)
    raise PoisonInput("path", "NUL character")


def _path_parameter(scope: Scope, segments: list[bytes], position: int) -> str:
    """Name the path parameter at segment `position` ("path parameter lead_id") from the documented paths."""
    app = scope.get("app")
    openapi = getattr(app, "openapi", None)
    if callable(openapi):  # FastAPI builds the document once and keeps it
        parts = [unquote_to_bytes(segment).decode("utf-8", "replace") for segment in segments]
        templates: dict[str, Any] = openapi().get("paths", {})
        for template in templates:
            pieces = str(template).split("/")
            if len(pieces) != len(parts) or not pieces[position].startswith("{"):
                continue
            pairs = zip(pieces, parts, strict=True)
            if all(p == q or p.startswith("{") for i, (p, q) in enumerate(pairs) if i != position):
                return "path parameter " + pieces[position].strip("{}").split(":")[0]
    return f"path segment {position}"


# --- the middleware --------------------------------------------------------------------------------------------------


def _is_json(scope: Scope) -> bool:
    """FastAPI reads a body as JSON when its content type is JSON or missing."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class InputGuardMiddleware:
    """Caps and checks raw input before routing, authentication and parsing (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_path(scope)
            check_query(scope.get("query_string", b""))
        except PoisonInput as exc:
            await _refuse(scope, send, 422, "validation_error", str(exc))
            return
        path = route_path(scope)
        limit = body_limit(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, 413, "payload_too_large", _too_large(declared, limit, path))
            return
        if not _is_json(scope):  # a CSV upload, a form: streamed through, counted on the way
            await self._pass_counted(scope, receive, send, limit, path)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left before sending its body
                return
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    await _refuse(scope, send, 413, "payload_too_large", _too_large(None, limit, path))
                    return
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if body and _is_json(scope):
            try:
                check_json_body(body)
            except PoisonInput as exc:
                await _refuse(scope, send, 422, "validation_error", str(exc))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _pass_counted(self, scope: Scope, receive: Receive, send: Send, limit: int, path: str) -> None:
        """Let the app read the body as it streams; past `limit` its read fails and the answer is our 413."""
        size = 0
        too_large = answered = False

        async def counted() -> Message:
            nonlocal size, too_large
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def send_unless_refused(message: Message) -> None:
            nonlocal answered
            if too_large and not answered:
                return  # the app's answer to its failed read (a 400) is replaced by the 413 below
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, send_unless_refused)
        except Exception:
            if not too_large:
                raise
        if too_large and not answered:
            await _refuse(scope, send, 413, "payload_too_large", _too_large(None, limit, path))


class _BodyTooLarge(Exception):
    """Raised into the app when a streamed body passes its cap."""


def _too_large(declared: int | None, limit: int, path: str) -> str:
    if declared is None:
        return f"request body is over the limit of {limit} bytes for {path}"
    return f"request body is {declared} bytes; the limit for {path} is {limit} bytes"


async def _refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    request_id = scope.get("state", {}).get("request_id", "")
    body = orjson.dumps({"error": {"code": code, "message": message, "request_id": request_id}})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
