"""Passes a Cognito API call the issuer does not answer itself on to moto, with only the headers moto reads."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterable

FORWARDED_HEADERS = ("content-type", "x-amz-target", "authorization", "x-amz-date", "x-amz-security-token")
RETURNED_HEADERS = ("content-type", "x-amzn-requestid", "x-amzn-errortype")


def forward_to_moto(
    moto_url: str, headers: Iterable[tuple[str, str]], body: bytes
) -> tuple[int, bytes, list[tuple[str, str]]]:
    """moto's answer to the API call: status, body and the headers a Cognito client reads."""
    target = urllib.parse.urlsplit(moto_url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    forwarded = {name: value for name, value in headers if name.lower() in FORWARDED_HEADERS}
    try:
        connection.request("POST", "/", body=body, headers=forwarded)
        response = connection.getresponse()
        payload = response.read()
        returned = [(name, value) for name, value in response.getheaders() if name.lower() in RETURNED_HEADERS]
        return response.status, payload, returned
    finally:
        connection.close()
