"""One error shape for every API answer: `{"error": {"code", "message"}}`, plus `errors` on 400."""

from __future__ import annotations

from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response


def error_body(code: str, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if errors is not None:
        body["errors"] = errors
        if errors and errors[0].get("field"):
            # Where OpenAI's clients look for the parameter an error is about (BadRequestError.param).
            body["error"]["param"] = errors[0]["field"]
    return body


def flatten_validation_errors(detail: Any, path: str = "") -> list[dict[str, Any]]:
    """Turn DRF's nested error detail into a flat list of `{field, message, code}`.

    >>> flatten_validation_errors({"input": ["This field is required."]})
    [{'field': 'input', 'message': 'This field is required.', 'code': 'invalid'}]
    """
    if isinstance(detail, dict):
        out: list[dict[str, Any]] = []
        for key, value in detail.items():
            if isinstance(key, int):  # a list serializer's errors, keyed by item index
                child = f"{path}[{key}]"
            elif key == "non_field_errors":
                child = path
            else:
                child = str(key) if not path else f"{path}.{key}"
            out.extend(flatten_validation_errors(value, child))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [{"field": path, "message": str(item), "code": getattr(item, "code", "invalid")} for item in detail]
        out = []
        for index, item in enumerate(detail):
            out.extend(flatten_validation_errors(item, f"{path}[{index}]"))
        return out
    return [{"field": path, "message": str(detail), "code": getattr(detail, "code", "invalid")}]


class ApiError(exceptions.APIException):
    """An error a service raises with its own code; views let it propagate."""

    def __init__(
        self,
        *,
        code: str,
        message: str,
        status_code: int = 400,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.errors = errors
        self.headers = headers or {}


T = TypeVar("T")


def found_or_404(found: T | None, message: str) -> T:
    """What a lookup found, or the API's 404 saying what is missing.

    >>> found_or_404("row", "no such row")
    'row'
    """
    if found is None:
        raise ApiError(code="not_found", message=message, status_code=404)
    return found


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Imported here: rest_framework.views imports the authentication classes, which import this module.
    from rest_framework.views import exception_handler

    if isinstance(exc, RequestDataTooBig):
        exc = ApiError(
            code="too_large",
            message=f"the request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes",
            status_code=413,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, exceptions.PermissionDenied):
        refund = getattr(context.get("request"), "rate_limit_refund", None)  # set by API-key authentication
        if callable(refund):
            refund()  # a refused call does not spend the key's rate limit
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, ApiError):
        response.data = error_body(exc.error_code, str(exc.detail), exc.errors)
        for name, value in exc.headers.items():
            response[name] = value
    elif isinstance(exc, exceptions.ValidationError):
        errors = flatten_validation_errors(exc.detail)
        first = errors[0]["message"] if errors else "Invalid input."
        field = errors[0]["field"] if errors else ""
        message = f"{field}: {first}" if field else first
        response.data = error_body("invalid", message, errors)
    else:
        code = exc.get_codes()
        response.data = error_body(code if isinstance(code, str) else exc.default_code, _message(exc.detail))
    return response


def _message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return str(detail[0])
    if isinstance(detail, dict) and detail:
        return str(next(iter(detail.values())))
    return str(detail)


def json_error(request: HttpRequest, code: str, message: str, status_code: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(request, "not_found", "Not found.", status.HTTP_404_NOT_FOUND)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return json_error(request, "too_large", "The request body is too large.", 413)
    return json_error(request, "bad_request", "Bad request.", status.HTTP_400_BAD_REQUEST)


def handler500(request: HttpRequest) -> JsonResponse:
    return json_error(request, "server_error", "Internal server error.", status.HTTP_500_INTERNAL_SERVER_ERROR)
