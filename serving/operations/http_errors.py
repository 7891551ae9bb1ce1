"""One JSON error answer for the FastAPI apps of operations (inbox API, console API).

Every error leaves as ``common.errors.error_body``: ``{"error": {"kind", "message", "field"}}`` with the
status of its kind. Three sources are covered:

* our own errors (:class:`common.errors.WeimengError` and every package error below it);
* FastAPI's request validation (a body, path or query value of the wrong shape): ``bad_input``, 422,
  ``field`` naming the first offending value (``note``, ``alert_id``, ``items[0].kind``);
* Starlette's HTTP errors (an unknown route 404, a wrong method 405): the kind that status stands for.

A JSON-only app calls :func:`install_error_handlers`. An app that also serves HTML pages (the console)
keeps its own handlers and calls :func:`json_error` for its API requests::

    from serving.operations.http_errors import json_error
    async def _error(request, exc):
        if is_api(request):
            return json_error(exc)
        ...  # render the error page

Anything else is a bug: it is logged and answered 500 with a message that names the exception type only.
"""

from __future__ import annotations

import logging

from common.errors import WeimengError, error_body, error_response, kind_for_status, validation_body

__all__ = ["json_error", "install_error_handlers"]

log = logging.getLogger("weimeng.serving.operations.http")


def json_error(exc: BaseException):
    """A ``JSONResponse`` for any exception raised while answering a request."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    headers = None
    if isinstance(exc, RequestValidationError):
        status, body = 422, validation_body(list(exc.errors()))  # bad input: the kind's status
    elif isinstance(exc, HTTPException):
        kind = kind_for_status(exc.status_code)
        status, body, headers = exc.status_code, error_body(kind, str(exc.detail)), exc.headers
    else:
        if not isinstance(exc, WeimengError):
            log.error("unhandled error", exc_info=exc)
        status, body = error_response(exc)
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app) -> None:
    """Answer every error of a JSON-only FastAPI ``app`` with the one error body."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def _handler(_request, exc: BaseException):
        return json_error(exc)

    for cls in (WeimengError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(cls, _handler)
