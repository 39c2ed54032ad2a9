"""One error type and one handler: JSON for the API and the tunnel, a page for people."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from quart import Quart, has_websocket_context, jsonify, render_template, request, websocket
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from .db import is_busy
from .wire import problems

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/auth/", "/ws", "/openapi.json")

HTTP_CODES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("not_authenticated", "Please log in."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "Nothing exists at this address."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The request body is larger than 1 MiB."),
    415: ("unsupported_media_type", "Send the body as application/json."),
    429: ("rate_limited", "Too many requests; try again later."),
    500: ("internal_error", "Something went wrong on our side."),
}
BUSY_RETRY_AFTER_S = 2


class APIError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict | None = None,
        headers: dict | None = None,
        extra: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message, **self.extra}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


def not_found(kind: str = "resource") -> APIError:
    return APIError(404, "not_found", f"No such {kind}.")


def forbidden(message: str = "You are not allowed to do this.") -> APIError:
    return APIError(403, "forbidden", message)


def validation_error(fields: dict[str, str], message: str = "Some fields are invalid.") -> APIError:
    return APIError(422, "validation_error", message, fields=fields)


def fields_from_validation(error) -> dict[str, str]:
    """A pydantic ValidationError as {"dotted.field": message}, read by the wire's one formatter."""
    found = problems(error) if isinstance(error, ValidationError) else {}
    return found or {"body": "is invalid"}


def busy(message: str = "The server is busy; try again shortly.", retry_after: int = 0):
    retry_after = retry_after or BUSY_RETRY_AFTER_S
    return APIError(503, "busy", message, headers={"Retry-After": str(retry_after)})


def from_exception(error: Exception) -> APIError:
    """Map anything raised while handling a request to the one error shape."""
    if isinstance(error, APIError):
        return error
    if is_busy(error):
        log.warning("busy on %s: %s", _where(), error)
        return busy()
    if isinstance(error, RequestSchemaValidationError):
        cause = error.validation_error
        if isinstance(cause, TypeError | ValueError) and not hasattr(cause, "errors"):
            return APIError(400, "bad_request", "The body must be a JSON object.")
        return validation_error(fields_from_validation(cause))
    if isinstance(error, UnicodeDecodeError):
        return APIError(400, "invalid_encoding", "The body is not valid UTF-8.")
    if isinstance(error, HTTPException):
        status = error.code or 500
        code, message = HTTP_CODES.get(status, ("http_error", error.description or "Error."))
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return APIError(status, code, message, headers=headers)
    log.exception("unhandled error on %s", _where())
    return APIError(500, *HTTP_CODES[500])


def _where() -> str:
    if has_websocket_context():
        return f"WEBSOCKET {websocket.path}"
    return f"{request.method} {request.path}"


def wants_json() -> bool:
    if has_websocket_context():
        return True  # a refused upgrade: the device reads the JSON body
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == (
        "application/json"
    )


async def render_error(error: APIError):
    if wants_json():
        response = jsonify(error.body())
    else:
        response = await render_template("error.html", error=error)
    return response, error.status, error.headers


async def _require_json_body() -> None:
    """API bodies are JSON; a form or text body gets a clear 415 instead of a confusing 422."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.path.startswith("/api/"):
        return
    # Test clients and HTTP/2 may send a body without Content-Length, so judge by its type.
    if request.mimetype and not request.is_json and request.content_length != 0:
        raise APIError(415, *HTTP_CODES[415])


def init_app(app: Quart) -> None:
    class Request(app.request_class):
        async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
            try:
                return await super().get_json(force=force, silent=silent, cache=cache)
            except RecursionError:
                # json.loads recurses per nesting level, so `[[[[…` under 1 MiB is too deep for
                # it; Quart only catches ValueError. Such a body is malformed input, not a crash.
                if silent:
                    return None
                return self.on_json_loading_failed(ValueError("nested too deeply"))

        def on_json_loading_failed(self, error: Exception):
            # Quart answers a bare 400 unless DEBUG is on; say what is wrong either way.
            raise APIError(400, "invalid_json", "The body is not valid JSON.")

    async def handle(error: Exception):
        return await render_error(from_exception(error))

    app.request_class = Request
    app.register_error_handler(Exception, handle)
    app.before_request(_require_json_body)
