"""The S3 protocol pieces of the emulator's ingestion endpoint: SigV4 checks, aws-chunked bodies, XML.

Enough of S3 for what boto3's ``upload_file``/``put_object`` and ``aws s3 cp`` send: PutObject,
HeadObject, and the multipart upload calls. Signatures are verified with the connection's secret,
so a wrong secret fails here the way it would at Celonis.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]+)"
)


class S3Error(Exception):
    """An S3 error response: HTTP status, S3 error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def xml(self, resource: str) -> bytes:
        """The S3 XML error document."""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>"
            f"<Resource>{escape(resource)}</Resource></Error>"
        ).encode()


def access_key_of(authorization: str | None) -> str:
    """The access key id named in a SigV4 ``Authorization`` header."""
    match = _AUTH.match(authorization or "")
    if not match:
        raise S3Error(403, "AccessDenied", "Requests must be signed with AWS Signature Version 4.")
    return match.group("key")


def _canonical_query(raw_query: str) -> str:
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        name, _, value = part.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def verify_signature(method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], secret: str) -> None:
    """Recompute the SigV4 signature of a request and compare; raise ``S3Error`` 403 on mismatch."""
    lowered = {k.lower(): v for k, v in headers.items()}
    match = _AUTH.match(lowered.get("authorization", ""))
    if not match:
        raise S3Error(403, "AccessDenied", "Requests must be signed with AWS Signature Version 4.")
    signed = match.group("signed").split(";")
    canonical_headers = "".join(f"{name}:{' '.join(lowered.get(name, '').split())}\n" for name in signed)
    payload_hash = lowered.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    canonical_request = "\n".join(
        [method, raw_path, _canonical_query(raw_query), canonical_headers, ";".join(signed), payload_hash]
    )
    amz_date = lowered.get("x-amz-date", "")
    scope = f"{match.group('date')}/{match.group('region')}/{match.group('service')}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (match.group("date"), match.group("region"), match.group("service"), "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group("signature")):
        raise S3Error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )


def decode_payload(body: bytes, headers: Mapping[str, str]) -> bytes:
    """The object bytes: undo ``aws-chunked`` encoding and check a signed payload hash."""
    lowered = {k.lower(): v for k, v in headers.items()}
    content_sha = lowered.get("x-amz-content-sha256", "")
    if content_sha.startswith("STREAMING-") or "aws-chunked" in lowered.get("content-encoding", ""):
        return _decode_aws_chunked(body)
    if re.fullmatch(r"[0-9a-f]{64}", content_sha) and hashlib.sha256(body).hexdigest() != content_sha:
        raise S3Error(400, "XAmzContentSHA256Mismatch", "The payload does not match x-amz-content-sha256.")
    return body


def _decode_aws_chunked(body: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            raise S3Error(400, "IncompleteBody", "Malformed aws-chunked body.")
        size = int(body[pos:end].split(b";", 1)[0], 16)
        pos = end + 2
        if size == 0:
            return bytes(out)
        out += body[pos : pos + size]
        pos += size + 2


def xml_document(root: str, fields: Mapping[str, str]) -> bytes:
    """A small S3 XML response document."""
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"{inner}</{root}>"
    ).encode()


def completed_part_numbers(body: bytes) -> list[int]:
    """The part numbers listed in a CompleteMultipartUpload request, in order."""
    return [int(n) for n in re.findall(rb"<PartNumber>\s*(\d+)\s*</PartNumber>", body)]
