"""Uploads are cut off while they arrive, not after the whole body was read (issue 17)."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import LimitedStream
from django.test import RequestFactory

from revops.permissions import Role

MB = 1024 * 1024


class CountingStream(io.BytesIO):
    """The client's body, counting what the server has read of it."""

    taken = 0

    def read(self, size=-1):
        data = super().read(size)
        self.taken += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.taken += len(data)
        return data


def upload_request(path: str, size: int):
    request = RequestFactory().post(
        path, {"note": "x", "attachment": SimpleUploadedFile("big.csv", b"a,b\n" * (size // 4))}
    )
    length = int(request.META["CONTENT_LENGTH"])
    body = CountingStream(request.environ["wsgi.input"].read(length))
    request._stream = LimitedStream(body, length)
    return request, body


@pytest.mark.parametrize(
    ("path", "size"), [("/api/v1/disputes/", 40 * MB), ("/disputes/new/", 40 * MB)]
)
def test_a_dispute_attachment_over_its_limit_is_refused_before_the_body_is_read(path, size):
    request, body = upload_request(path, size)
    with pytest.raises(RequestDataTooBig):
        request.POST  # noqa: B018
    assert body.taken < 1 * MB


def test_an_import_over_the_limit_is_refused_before_the_body_is_read(settings):
    settings.IMPORT_MAX_BYTES = 10 * MB
    request, body = upload_request("/api/v1/imports/", 30 * MB)
    with pytest.raises(RequestDataTooBig):
        request.POST  # noqa: B018
    assert body.taken < 1 * MB


def test_an_upload_within_the_limit_arrives_whole(settings):
    request, _ = upload_request("/api/v1/disputes/", 1 * MB)
    assert request.FILES["attachment"].size == 1 * MB


@pytest.mark.django_db
def test_an_attachment_over_the_limit_is_a_413_naming_the_limit(client_as):
    client = client_as(Role.SALES_LEAD)
    big = {"metric": "mqls", "attachment": SimpleUploadedFile("big.csv", b"a,b\n" * (2 * MB))}
    api = client.post("/api/v1/disputes/", big)
    assert api.status_code == 413
    assert "the limit here is 5 MB" in api.json()["detail"]
    big["attachment"].seek(0)
    page = client.post("/disputes/new/", big)
    assert page.status_code == 413
    assert "the limit here is 5 MB" in page.text
