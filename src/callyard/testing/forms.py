"""Encode form fields exactly as PHP's curl does for `CURLOPT_POSTFIELDS`."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

FormValue = object


def php_multipart(fields: Mapping[str, FormValue]) -> tuple[bytes, str]:
    """Body and Content-Type of a PHP array posted with curl: multipart/form-data,
    one part per field, no per-part Content-Type."""
    boundary = "------------------------" + secrets.token_hex(8)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + str(value).encode()
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
