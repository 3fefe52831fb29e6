"""What a client of `icchat serve` is told when a request fails: OpenAI's error JSON, one line."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer with an HTTP status and OpenAI's error body
    `{"error": {"message", "type", "param", "code"}}`; never a traceback."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind or ("server_error" if status >= 500 else "invalid_request_error")

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
