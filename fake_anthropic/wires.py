"""How each provider carries the Messages API: its paths, auth, body, framing and errors.

- Anthropic: `POST /v1/messages`, `x-api-key` (or a bearer token), SSE, the
  error shape of the errors page, `anthropic-ratelimit-*` headers and
  `retry-after`.
- Bedrock (`InvokeModel` / `InvokeModelWithResponseStream`, the Bedrock Runtime
  API reference): `POST /model/{modelId}/invoke[-with-response-stream]`, signed
  with SigV4 (the fake checks the signature with the credentials it was given,
  and that its scope names the region and the `bedrock` service), the model in
  the path and not in the body, `anthropic_version` in the body (Claude on
  Amazon Bedrock page), the AWS event-stream framing
  (`application/vnd.amazon.eventstream`, see `eventstream.py`), errors as
  `{"message": ...}` with `x-amzn-ErrorType` (throttling: 429
  `ThrottlingException`), no Anthropic rate-limit headers.
- Vertex (`rawPredict` / `streamRawPredict`, the Claude on Vertex AI page):
  `POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict`,
  a bearer token (the fake issues them at `POST /token`, an OAuth 2.0 token
  endpoint taking google-auth's service-account JWT grant), `anthropic_version` in the body and no
  `model`, SSE as the API's own; quota errors in Google's shape (429
  `RESOURCE_EXHAUSTED`), no Anthropic rate-limit headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .eventstream import chunk_event, exception_event
from .sse import Event, frame
from .validation import APIError, invalid

SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request,\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass
class ProviderConfig:
    """The credentials and places the fake's Bedrock and Vertex wires accept."""

    aws_region: str = "us-east-1"
    aws_access_key_id: str = "AKIAFAKEFAKEFAKE0000"
    aws_secret_access_key: str = "fake-secret-access-key-0000000000000000000"
    vertex_project: str = "fake-project"
    vertex_region: str = "us-east5"
    # The service account whose signed JWTs /token exchanges for bearer tokens.
    service_account_email: str = "computer-use@fake-project.iam.gserviceaccount.com"
    issued_tokens: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _key: Any = None

    def _private_key(self) -> Any:
        from cryptography.hazmat.primitives.asymmetric import rsa

        with self.lock:
            if self._key is None:
                self._key = rsa.generate_private_key(
                    public_exponent=65537, key_size=2048
                )
            return self._key

    def service_account_info(self, token_uri: str) -> dict[str, str]:
        """A service-account key file (what GOOGLE_APPLICATION_CREDENTIALS names)
        whose token endpoint is the fake's: google-auth signs a JWT with the key
        and exchanges it there, as it would at oauth2.googleapis.com."""
        from cryptography.hazmat.primitives import serialization

        pem = self._private_key().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "type": "service_account",
            "project_id": self.vertex_project,
            "private_key_id": "fake-key-1",
            "private_key": pem.decode(),
            "client_email": self.service_account_email,
            "client_id": "100000000000000000000",
            "token_uri": token_uri,
        }

    def assertion_is_ours(self, assertion: str, now: float) -> bool:
        """RFC 7523's JWT bearer grant: signed (RS256) by our key, issued by our
        service account for Google's token audience, not expired."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            head, payload, signature = assertion.split(".")
            claims = json.loads(_b64url(payload))
            self._private_key().public_key().verify(
                _b64url(signature),
                f"{head}.{payload}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (ValueError, InvalidSignature):
            return False
        return (
            claims.get("iss") == self.service_account_email
            and claims.get("aud") == GOOGLE_TOKEN_AUDIENCE
            and float(claims.get("exp", 0)) > now
        )

    def issue_token(self) -> str:
        token = f"ya29.fake-{secrets.token_urlsafe(24)}"
        with self.lock:
            self.issued_tokens.add(token)
        return token

    def knows_token(self, token: str) -> bool:
        with self.lock:
            return token in self.issued_tokens


GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ErrorReply:
    status: int
    body: Any
    headers: dict[str, str]


class Wire:
    """The Anthropic API's own wire."""

    name = "anthropic"
    media_type = "text/event-stream"
    rate_limit_headers = True

    def authenticate(self, request: Any, raw: bytes, config: Any) -> None:
        """Raises an APIError when the request's credentials are not good."""
        del request, raw, config  # the API key check runs in check_headers

    def to_messages_body(self, body: Any, params: dict[str, str]) -> Any:
        return body

    def frame(self, event: Event) -> bytes:
        return frame(event)

    def stream_error(self, error_type: str, message: str) -> bytes:
        error = {"type": "error", "error": {"type": error_type, "message": message}}
        return f"event: error\ndata: {json.dumps(error)}\n\n".encode()

    def error(self, error: APIError) -> ErrorReply:
        return ErrorReply(error.status, error.body(), {})


# Bedrock Runtime API reference, InvokeModelWithResponseStream "Errors".
_BEDROCK_ERRORS = {
    400: (400, "ValidationException"),
    401: (403, "UnrecognizedClientException"),
    403: (403, "AccessDeniedException"),
    404: (404, "ResourceNotFoundException"),
    413: (400, "ValidationException"),
    429: (429, "ThrottlingException"),
    500: (500, "InternalServerException"),
    529: (503, "ServiceUnavailableException"),
}
_BEDROCK_MESSAGES = {
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
}


class BedrockWire(Wire):
    name = "bedrock"
    media_type = "application/vnd.amazon.eventstream"
    rate_limit_headers = False

    def authenticate(self, request: Any, raw: bytes, config: ProviderConfig) -> None:
        denied = APIError(
            403,
            "authentication_error",
            "The security token included in the request is invalid.",
        )
        header = request.headers.get("authorization") or ""
        match = SIGV4.match(header)
        if match is None:
            raise APIError(
                403,
                "authentication_error",
                "Authorization header requires 'Credential', 'Signature' and "
                "'SignedHeaders' parameters (AWS4-HMAC-SHA256).",
            )
        if match["key"] != config.aws_access_key_id:
            raise denied
        if match["service"] != "bedrock" or match["region"] != config.aws_region:
            raise APIError(
                403,
                "authentication_error",
                f"Credential should be scoped to a valid region and service: "
                f"expected {config.aws_region}/bedrock, got "
                f"{match['region']}/{match['service']}.",
            )
        if not _signature_matches(request, raw, match, config):
            raise APIError(
                403,
                "authentication_error",
                "The request signature we calculated does not match the signature "
                "you provided. Check your AWS Secret Access Key and signing method.",
            )

    def to_messages_body(self, body: Any, params: dict[str, str]) -> Any:
        if not isinstance(body, dict):
            return body
        if "model" in body:
            raise invalid(
                "Malformed input request: #: extraneous key [model] is not permitted"
            )
        if (
            not isinstance(body.get("anthropic_version"), str)
            or not body["anthropic_version"]
        ):
            raise invalid(
                "Malformed input request: #: required key [anthropic_version] not found"
            )
        shaped = {
            key: value
            for key, value in body.items()
            if key not in ("anthropic_version", "anthropic_beta")
        }
        shaped["model"] = params["model"]
        shaped["stream"] = params["action"] == "invoke-with-response-stream"
        return shaped

    def frame(self, event: Event) -> bytes:
        return chunk_event(event.data)

    def stream_error(self, error_type: str, message: str) -> bytes:
        kind = (
            "throttlingException"
            if error_type == "rate_limit_error"
            else "modelStreamErrorException"
        )
        return exception_event(kind, message)

    def error(self, error: APIError) -> ErrorReply:
        status, kind = _BEDROCK_ERRORS.get(
            error.status, (500, "InternalServerException")
        )
        message = _BEDROCK_MESSAGES.get(kind, error.message)
        return ErrorReply(
            status,
            {"message": message},
            {
                "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                "x-amzn-RequestId": str(uuid.uuid4()),
            },
        )


def _signature_matches(
    request: Any, raw: bytes, match: re.Match[str], config: ProviderConfig
) -> bool:
    """SigV4 (the AWS Signature Version 4 reference), recomputed from the
    request as received with the secret the fake handed out."""
    amz_date = request.headers.get("x-amz-date") or ""
    if not amz_date.startswith(match["date"]):
        return False
    names = match["signed"].split(";")
    canonical_headers = "".join(
        f"{name}:{' '.join((request.headers.get(name) or '').split())}\n"
        for name in names
    )
    path = request.scope.get("raw_path") or request.url.path.encode()
    canonical_uri = quote(path.decode(), safe="/~")
    query = request.url.query
    candidates = [hashlib.sha256(raw).hexdigest(), "UNSIGNED-PAYLOAD"]
    scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
    key = _hmac(f"AWS4{config.aws_secret_access_key}".encode(), match["date"])
    for part in (match["region"], match["service"], "aws4_request"):
        key = _hmac(key, part)
    for payload in candidates:
        canonical = "\n".join(
            [
                request.method,
                canonical_uri,
                query,
                canonical_headers,
                match["signed"],
                payload,
            ]
        )
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date,
                scope,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, match["signature"]):
            return True
    return False


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


# Google's error shape (google.rpc.Status) for what Vertex itself refuses.
_VERTEX_STATUS = {
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    529: "UNAVAILABLE",
}


class VertexWire(Wire):
    name = "vertex"
    rate_limit_headers = False

    def authenticate(self, request: Any, raw: bytes, config: ProviderConfig) -> None:
        del raw
        token = (
            (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        )
        if not token or not config.knows_token(token):
            raise APIError(
                401,
                "authentication_error",
                "Request had invalid authentication credentials. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential.",
            )

    def to_messages_body(self, body: Any, params: dict[str, str]) -> Any:
        if not isinstance(body, dict):
            return body
        if "model" in body:
            raise invalid("model: Extra inputs are not permitted")
        if (
            not isinstance(body.get("anthropic_version"), str)
            or not body["anthropic_version"]
        ):
            raise invalid("anthropic_version: Field required")
        shaped = {
            key: value for key, value in body.items() if key != "anthropic_version"
        }
        shaped["model"] = params["model"]
        if params["action"] == "streamRawPredict":
            shaped["stream"] = True
        return shaped

    def error(self, error: APIError) -> ErrorReply:
        status_name = _VERTEX_STATUS.get(error.status)
        if status_name is None or error.status in (400, 413):
            return ErrorReply(error.status, error.body(), {})  # the model's own refusal
        status = 503 if error.status == 529 else error.status
        message = error.message
        if error.status == 429:
            message = (
                "Resource exhausted. Please try again later. Please refer to "
                "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 "
                "for more details."
            )
        return ErrorReply(
            status,
            {"error": {"code": status, "message": message, "status": status_name}},
            {},
        )


ANTHROPIC = Wire()
BEDROCK = BedrockWire()
VERTEX = VertexWire()
