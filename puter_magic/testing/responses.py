"""JSON answers the way Puter's Express backend writes them: compact, ``application/json; charset=utf-8``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse, Response

from puter_magic.testing.encoding import weak_etag
from puter_magic.wire.jsontext import dumps

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class PuterJSONResponse(JSONResponse):
    """Starlette already renders compact, non-ASCII-escaped JSON; Express adds the charset parameter and a weak
    ETag."""

    media_type = JSON_CONTENT_TYPE

    def render(self, content: Any) -> bytes:
        return dumps(content, escape_surrogates=True)  # a lone surrogate escaped, as JSON.stringify writes it

    def __init__(self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(content, status_code=status_code, headers=headers)
        self.headers["etag"] = weak_etag(self.body)


def html_response(text: str, status: int = 200) -> Response:
    """A ``res.send(string)`` answer: ``text/html; charset=utf-8`` with its ETag."""
    response = Response(text, status_code=status, media_type="text/html; charset=utf-8")
    response.headers["etag"] = weak_etag(response.body)
    return response


def json_response(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> PuterJSONResponse:
    return PuterJSONResponse(content, status_code=status, headers=headers)


class ApiError(Exception):
    """An error answer: ``{"error":message,"message":message,"code":code, …extra}`` with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        *,
        headers: Mapping[str, str] | None = None,
        v1: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})
        self.v1 = dict(v1 or {})  # overrides (message, code, status, extra fields) for the v1-era error object
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "message": self.message, "code": self.code, **self.extra}

    def v1_envelope(self) -> dict[str, Any]:
        """The [A]/[B]-era driver error: HTTP 200 ``{"success":false,"error":{…APIError…}}``."""
        fields = dict(self.v1)
        message = fields.pop("message", self.message)
        code = fields.pop("code", self.code)
        status = fields.pop("status", self.status)
        error = {"message": message, "code": code, "$": "heyputer:api/APIError", "status": status, **fields}
        return {"success": False, "error": error}

    def response(self) -> PuterJSONResponse:
        return json_response(self.body(), self.status, self.headers)


def not_found() -> PuterJSONResponse:
    return ApiError(404, "Not Found", "not_found").response()
