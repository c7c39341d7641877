"""The one shape of every error the service answers: `{"error": ..., "status": ...}` JSON.

Endpoints raise `RequestError`; the request guard answers requests that never reach an
endpoint; both build their bodies with `error_body`, so clients parse a single format.
"""

from __future__ import annotations

from typing import Any

from fakeimage.serving.settings import MB


class RequestError(Exception):
    """A problem with the request that the client can fix: answered as 4xx JSON, never 500."""

    def __init__(
        self, status: int, message: str, *, file: str | None = None, index: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.file = file
        self.index = index
        """Position of the bad file in a batch (0-based)."""

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, file=self.file, index=self.index)


def error_body(status: int, message: str, **details: Any) -> dict[str, Any]:
    """The JSON of an error answer; details that are None are left out."""
    body: dict[str, Any] = {"error": message, "status": status}
    body.update({key: value for key, value in details.items() if value is not None})
    return body


def about(name: str | None, message: str) -> str:
    """A message about one upload, prefixed with its name when it has one."""
    return f"{name}: {message}" if name else message


def megabytes(size: int) -> str:
    return f"{size / MB:.3g} MB"


def missing_upload_message(field_name: str) -> str:
    """How to send files to an endpoint whose multipart field is `field_name`."""
    batch = field_name == "images"
    files = ("a.jpg", "b.png") if batch else ("photo.jpg",)
    example = " ".join(f"-F {field_name}=@{file}" for file in files)
    return (
        f"no image: send the file{'s' if batch else ''} as multipart/form-data field "
        f"'{field_name}' (for example: curl {example} URL)"
    )


FEEDBACK_USAGE = (
    "send the report as multipart/form-data fields request_id and label, optionally source, "
    "and the image with consent=true (for example: curl -F request_id=ID -F label=FAKE URL)"
)


def feedback_problem(detail: object) -> str:
    """The first field problem BentoML's validation found in a /feedback form, in words."""
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        where = ".".join(str(part) for part in detail[0].get("loc", ()))
        return f"{where}: {detail[0].get('msg', 'invalid')}; {FEEDBACK_USAGE}"
    return FEEDBACK_USAGE
