"""What the server accepts and how it says no.

Bodies are parsed here rather than by FastAPI's body injection so that every refusal (wrong content
type, bad JSON, a bad field) has one shape, the OpenAI error body, and names the field at fault.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from accelctl.schema import MAX_SEED, Prompt

# OpenAI's limit for dall-e-2 prompts; CLIP reads only 77 tokens, so longer text is a client mistake.
MAX_PROMPT_CHARS = 1000
MAX_REQUEST_STEPS = 100  # a request's steps; builds and flags take up to schema.MAX_STEPS
MAX_IMAGES = 10  # OpenAI's bound on n
MAX_BODY_BYTES = 64 * 1024
# Nesting deeper than any request of ours needs; json.loads would recurse to a RecursionError (a 500)
# on 20,000 levels, which fit well inside MAX_BODY_BYTES.
MAX_JSON_DEPTH = 32


class ApiError(Exception):
    """A refusal the client can act on, rendered as {"error": {message, type, param, code}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: Prompt = Field(max_length=MAX_PROMPT_CHARS, description="text to draw")
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        strict=True,
        description="same build, prompt and seed give the same image; random if absent",
    )


class GenImageRequest(_Request):
    """The paper's API: POST /genimage."""

    steps: int | None = Field(
        default=None,
        ge=1,
        le=MAX_REQUEST_STEPS,
        strict=True,
        description="denoising steps; the build's default if absent",
    )


class OpenAIImagesRequest(_Request):
    """The subset of OpenAI's POST /v1/images/generations one static-shape build can honour."""

    model: str | None = Field(default=None, description="accepted and ignored: one server serves one model")
    n: int = Field(default=1, ge=1, le=MAX_IMAGES, strict=True)
    size: str | None = Field(default=None, description="WIDTHxHEIGHT; must be the build's shape")
    response_format: Literal["b64_json", "url"] = "b64_json"
    user: str | None = Field(default=None, description="accepted and ignored, as OpenAI's end-user id")

    @field_validator("n")
    @classmethod
    def _seeds_fit(cls, n: int, info: ValidationInfo) -> int:
        # Images i = 0..n-1 use seed + i: the last one must still be a valid seed.
        seed = info.data.get("seed")
        if seed is not None and seed + n - 1 > MAX_SEED:
            raise ValueError(
                f"seed + n - 1 must be at most {MAX_SEED}; with n={n} use a seed up to {MAX_SEED - n + 1}"
            )
        return n


def _field(loc: tuple) -> str | None:
    return ".".join(str(p) for p in loc) or None


class ClientGone(Exception):
    """The client closed the connection before its request body arrived: nobody to answer."""


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in `body`, counted without parsing it (strings skipped)."""
    depth = deepest = 0
    for byte in _STRING.sub(b'""', body):
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


async def read_body(request, timeout_s: float) -> bytes:
    """The body, at most MAX_BODY_BYTES, read within `timeout_s`; ApiError 413/408 or ClientGone."""
    from starlette.requests import ClientDisconnect

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        # Refused before reading a byte: a 10 GB Content-Length is not worth waiting for.
        raise ApiError(
            413,
            f"body is larger than {MAX_BODY_BYTES} bytes",
            param="body",
            code="body_too_large",
            headers={"Connection": "close"},
        )
    body = bytearray()

    async def read() -> None:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BODY_BYTES:
                raise ApiError(
                    413,
                    f"body is larger than {MAX_BODY_BYTES} bytes",
                    param="body",
                    code="body_too_large",
                    headers={"Connection": "close"},
                )

    try:
        await asyncio.wait_for(read(), timeout_s)
    except asyncio.TimeoutError:
        raise ApiError(
            408,
            f"the request body did not arrive within {timeout_s:g} s",
            param="body",
            code="body_timeout",
            headers={"Connection": "close"},
        ) from None
    except ClientDisconnect:
        raise ClientGone() from None
    return bytes(body)


async def read_json(request, model: type[BaseModel], body_timeout_s: float = 10.0) -> BaseModel:
    """The request body as `model`, or an ApiError naming what is wrong and how to fix it."""
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        raise ApiError(
            415,
            f"Content-Type must be application/json, got {ctype or 'none'!r}",
            param="Content-Type",
            code="unsupported_media_type",
        )
    body = await read_body(request, body_timeout_s)
    if json_depth(body) > MAX_JSON_DEPTH:
        raise ApiError(
            400, f"body nests deeper than {MAX_JSON_DEPTH} levels", param="body", code="invalid_json"
        )
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}", param="body", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object", param="body", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = _field(first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise ApiError(400, f"{field or 'body'}: {msg}", param=field, code=first["type"]) from None


_SIZE = re.compile(r"^(\d+)x(\d+)$")


def check_openai_shape(req: OpenAIImagesRequest, width: int, height: int) -> None:
    """A static-shape build draws one size only, and keeps no files to link to."""
    if req.response_format == "url":
        raise ApiError(
            400,
            "response_format 'url' is not supported: this server keeps no files; use 'b64_json'",
            param="response_format",
            code="unsupported_value",
        )
    if req.size is None:
        return
    m = _SIZE.match(req.size)
    if not m:
        raise ApiError(
            400,
            f"size {req.size!r} is not WIDTHxHEIGHT; this build draws {width}x{height}",
            param="size",
            code="invalid_value",
        )
    if (int(m.group(1)), int(m.group(2))) != (width, height):
        raise ApiError(
            400,
            f"size {req.size} is not this build's static shape; use {width}x{height}",
            param="size",
            code="unsupported_value",
        )
