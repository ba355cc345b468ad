"""An upload handler that stops a multipart body as soon as it is too big.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE leaves files out: without this, a 210 MB body is read
and spooled to disk before any view can refuse it (measured, see NOTES)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse

# Room for the form's other fields and the multipart framing around the file.
FORM_OVERHEAD_BYTES = 64 * 1024


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f}".removesuffix(".0") + " MB"  # as the limits are written: 5 MB


def upload_limit(path: str) -> int:
    """The most a file uploaded to `path` may be: UPLOAD_MAX_BYTES_BY_PATH's first matching
    prefix, else IMPORT_MAX_BYTES (the largest upload the product takes)."""
    for prefix, limit in settings.UPLOAD_MAX_BYTES_BY_PATH:
        if path.startswith(prefix):
            return limit
    return settings.IMPORT_MAX_BYTES


class SizeLimitUploadHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: refuses a body whose declared length is over the limit
    before reading it, and one that passes the limit while arriving (a chunked or lying
    client) at the chunk that does. Refusal is Django's RequestDataTooBig: a 400."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = upload_limit(self.request.path_info)
        self.received = 0
        if content_length and content_length > self.limit + FORM_OVERHEAD_BYTES:
            raise RequestDataTooBig(
                f"The upload is {_mb(content_length)}; the limit here is {_mb(self.limit)}."
            )

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            raise RequestDataTooBig(f"The upload is over the limit here, {_mb(self.limit)}.")
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handlers store the file


class UploadLimitMiddleware:
    """Reads a multipart body before anything else does, so an upload the handler above stops
    is answered with a 413 that names the limit (JSON for the API) rather than a bare 400."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.content_type == "multipart/form-data":
            try:
                request.POST  # noqa: B018 - parse now, through SizeLimitUploadHandler
            except RequestDataTooBig as exc:
                if request.path_info.startswith("/api/"):
                    return JsonResponse({"detail": str(exc)}, status=413)
                return HttpResponse(str(exc), status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
