"""The FastAPI app every deployment unit runs: the paper's /genimage, an OpenAI-style images route,
probes for the load balancer, and the metrics that watch and KEDA read.

The pipeline is passed in (anything with `.manifest`, `.path` and `.generate(prompt, seed, steps)`),
so the HTTP behaviour is the same whatever target the build was compiled for.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException

from accelctl.builds import png_bytes
from accelctl.serve import metrics as names
from accelctl.serve.admission import Admission, Full
from accelctl.serve.schemas import (
    MAX_SEED,
    ApiError,
    ClientGone,
    GenImageRequest,
    OpenAIImagesRequest,
    check_openai_shape,
    read_json,
)
from accelctl.serve.telemetry import MetricsMiddleware, ServerMetrics
from accelctl.units import DeploymentUnit

log = logging.getLogger("accelctl.serve")
WARMUP_PROMPT = "a warm-up image"


class Pipeline(Protocol):
    manifest: Any
    path: Any

    def generate(self, prompt: str, seed: int, steps: int | None = None): ...


@dataclass(frozen=True)
class ServeSettings:
    unit_name: str | None = None  # default: the deployment unit's name from model, instance type, target
    instance_type: str = "local"
    max_concurrency: int = 1  # model calls at once; one unless the pipeline is known to be thread-safe
    max_queue: int = 8  # admitted requests waiting for a model slot
    timeout_s: float = 60.0  # per request, queueing included
    retry_after_s: int = 1
    body_timeout_s: float = 10.0  # for the request body to arrive; a trickling client holds no slot longer


def model_name(manifest) -> str:
    """The build's model as people name it: a preset, hub id or folder."""
    model = manifest.model
    return str(getattr(model, "name", None) or getattr(model, "source", None) or model)


class ServerState:
    """What the probes report and the shutdown path changes; shared by routes and the runner."""

    def __init__(self, pipeline: Pipeline, settings: ServeSettings, metrics: ServerMetrics):
        self.pipeline = pipeline
        self.settings = settings
        self.metrics = metrics
        self.admission: Admission | None = None  # made at startup, inside the serving loop
        self.warm = False
        self.draining = False
        self.warmup_error: str | None = None

    @property
    def ready(self) -> bool:
        return self.warm and not self.draining

    @property
    def idle(self) -> bool:
        return self.admission is None or self.admission.busy == 0

    def begin_drain(self) -> None:
        """Readiness fails from now on; admitted requests still finish."""
        self.draining = True
        self.metrics.ready.labels(self.metrics.unit).set(0)

    async def warm_up(self) -> None:
        try:
            await self.admission.run(lambda: self.pipeline.generate(WARMUP_PROMPT, 0))
        except Exception as exc:  # a broken model: liveness fails so the orchestrator restarts it
            log.exception("warm-up inference failed")
            self.warmup_error = f"{type(exc).__name__}: {exc}"
            return
        self.warm = True
        if not self.draining:
            self.metrics.ready.labels(self.metrics.unit).set(1)
        log.info("warm-up done; ready")

    async def generate(self, prompt: str, seeds: list[int], steps: int | None) -> list[tuple[str, float]]:
        """(base64 PNG, seconds of model time) per seed, or an ApiError: overloaded, draining, timed out."""
        retry = {"Retry-After": str(self.settings.retry_after_s)}
        if self.draining:
            raise ApiError(
                503,
                "server is draining before shutdown; send to another replica",
                type="overloaded_error",
                code="draining",
                headers={**retry, "Connection": "close"},
            )

        def job() -> list[tuple[str, float]]:
            out = []
            for seed in seeds:
                t0 = time.perf_counter()
                png = png_bytes(self.pipeline.generate(prompt, seed, steps=steps))
                out.append((base64.b64encode(png).decode("ascii"), time.perf_counter() - t0))
            return out

        try:
            result = await asyncio.wait_for(self.admission.run(job), self.settings.timeout_s)
        except Full:
            raise ApiError(
                503,
                f"server is at capacity ({self.admission.capacity} requests running or "
                "queued); retry or send to another replica",
                type="overloaded_error",
                code="at_capacity",
                headers=retry,
            ) from None
        except asyncio.TimeoutError:
            raise ApiError(
                504,
                f"request took longer than the {self.settings.timeout_s:g} s timeout",
                type="timeout_error",
                code="timeout",
            ) from None
        except asyncio.CancelledError:
            if not self.draining:
                raise
            # The grace period ran out with this request still in the model: say so, rather than
            # leave the server's generic 500 as the last word before the process goes.
            raise ApiError(
                503,
                "server shut down before this image was ready; retry on another replica",
                type="overloaded_error",
                code="shutdown",
                headers={**retry, "Connection": "close"},
            ) from None
        except Exception as exc:
            log.exception("image generation failed")
            raise ApiError(
                500,
                f"image generation failed: {type(exc).__name__}: {exc}",
                type="server_error",
                code="generation_failed",
            ) from None
        self.metrics.images.labels(self.metrics.unit).inc(len(seeds))
        return result


def _plain(versions) -> dict:
    dump = getattr(versions, "model_dump", None)
    return dump(exclude_none=True) if dump else dict(versions)


def body_doc(model) -> dict:
    """OpenAPI text for a body the route parses itself (see schemas.read_json)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _seed(seed: int | None) -> int:
    return secrets.randbelow(MAX_SEED + 1) if seed is None else seed


def create_app(pipeline: Pipeline, settings: ServeSettings = ServeSettings()) -> FastAPI:
    man = pipeline.manifest
    model = model_name(man)
    unit = (
        settings.unit_name
        or DeploymentUnit(model=model, instance_type=settings.instance_type, target=man.target).name
    )
    metrics = ServerMetrics(unit, model, man.target, settings.instance_type)
    state = ServerState(pipeline, settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.admission = Admission(settings.max_concurrency, settings.max_queue)
        metrics.watch(lambda: state.admission.running, lambda: state.admission.waiting)
        warm = asyncio.create_task(state.warm_up())
        try:
            yield
        finally:
            warm.cancel()
            state.admission.close()

    app = FastAPI(title="accelctl serve", summary=f"deployment unit {unit}", lifespan=lifespan)
    app.state.server = state
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(exc.body(), exc.status, headers=exc.headers)

    @app.exception_handler(ClientGone)
    async def _client_gone(request: Request, exc: ClientGone):
        # Nobody reads this answer; its status labels the request in the metrics as the client's doing,
        # not a server error that alerts and KEDA would count.
        log.info(
            "client closed the connection before sending its body: %s %s", request.method, request.url.path
        )
        return Response(status_code=names.CLIENT_CLOSED_STATUS)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        code = "not_found" if exc.status_code == 404 else "http_error"
        err = ApiError(exc.status_code, str(exc.detail), code=code, headers=dict(exc.headers or {}))
        return JSONResponse(err.body(), exc.status_code, headers=err.headers)

    @app.post(names.GENIMAGE_ROUTE, openapi_extra=body_doc(GenImageRequest))
    async def genimage(request: Request):
        req = await read_json(request, GenImageRequest, settings.body_timeout_s)
        seed = _seed(req.seed)
        [(image, latency)] = await state.generate(req.prompt, [seed], req.steps)
        return JSONResponse({"prompt": req.prompt, "image": image, "latency": latency, "seed": seed})

    @app.post(names.OPENAI_ROUTE, openapi_extra=body_doc(OpenAIImagesRequest))
    async def openai_images(request: Request):
        req = await read_json(request, OpenAIImagesRequest, settings.body_timeout_s)
        check_openai_shape(req, man.width, man.height)
        seed = _seed(req.seed)
        # n images from consecutive seeds: reproducible as a set, distinct within it
        images = await state.generate(req.prompt, [seed + i for i in range(req.n)], None)
        return JSONResponse({"created": int(time.time()), "data": [{"b64_json": b64} for b64, _ in images]})

    @app.get("/health")
    async def health():
        if state.warmup_error:
            return JSONResponse({"status": "failed", "reason": f"warm-up failed: {state.warmup_error}"}, 503)
        return {"status": "ok"}

    @app.get("/readiness")
    async def readiness():
        if state.ready:
            return {"ready": True}
        reason = "draining" if state.draining else ("warm-up failed" if state.warmup_error else "warming up")
        return JSONResponse({"ready": False, "reason": reason}, 503)

    @app.get("/")
    async def about():
        return {
            "unit": unit,
            "model": model,
            "instance_type": settings.instance_type,
            "target": man.target,
            "build": str(pipeline.path),
            "shapes": {"batch": man.batch, "height": man.height, "width": man.width},
            "dtype": man.dtype,
            "steps": man.steps,
            "versions": _plain(man.versions),
            "max_concurrency": settings.max_concurrency,
            "max_queue": settings.max_queue,
            "timeout_s": settings.timeout_s,
            "ready": state.ready,
        }

    @app.get("/metrics")
    async def prometheus_metrics():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
