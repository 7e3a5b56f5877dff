"""Request shapes: how the load generator asks a server for one image.

A shape is a path plus a function building the JSON body from (prompt, seed, steps); new server APIs
register here by name, and `bench --url --request-shape NAME` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from accelctl.registry import Registry
from accelctl.serve.metrics import GENIMAGE_ROUTE, OPENAI_ROUTE


@dataclass(frozen=True)
class RequestShape:
    path: str
    body: Callable[[str, int, int | None], dict]


REQUEST_SHAPES: Registry[RequestShape] = Registry("request shape")


def _genimage(prompt: str, seed: int, steps: int | None) -> dict:
    body: dict = {"prompt": prompt, "seed": seed}
    if steps is not None:
        body["steps"] = steps
    return body


def _openai(prompt: str, seed: int, steps: int | None) -> dict:
    # The OpenAI images API has no steps field; the server's build decides them.
    return {"prompt": prompt, "n": 1, "response_format": "b64_json", "seed": seed}


REQUEST_SHAPES.register("genimage")(RequestShape(GENIMAGE_ROUTE, _genimage))
REQUEST_SHAPES.register("openai")(RequestShape(OPENAI_ROUTE, _openai))
