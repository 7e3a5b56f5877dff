"""What the router runs with: backends (name, URL, weight, capacity pool) and its timing knobs."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from accelctl.errors import InputError
from accelctl.schema import Strict

# Weights are shares, not amounts: the controller writes 0..100, and a bound keeps the smooth
# round-robin's running scores small (10**29 was accepted once).
MAX_WEIGHT = 1000


class Backend(Strict):
    name: str = Field(min_length=1, description="unit name; the label on every per-backend metric")
    url: str = Field(description="base URL of the unit's server, e.g. http://127.0.0.1:8001")
    weight: int = Field(default=1, ge=0, le=MAX_WEIGHT, strict=True, description="integer share of traffic")
    pool: str | None = Field(default=None, description="capacity pool the unit draws on; default: its name")

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL; write it as http://host:port")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _own_pool(self) -> Backend:
        # Resolved once where the file enters, so every reader sees one pool name.
        if self.pool is None:
            self.pool = self.name
        return self


class RouterConfig(Strict):
    backends: list[Backend] = Field(min_length=1)
    health_interval_s: float = Field(
        default=1.0, gt=0, le=3600, description="period of the /readiness checks"
    )
    health_timeout_s: float = Field(default=1.0, gt=0, le=3600)
    connect_timeout_s: float = Field(default=2.0, gt=0, le=3600)
    request_timeout_s: float = Field(
        default=300.0, gt=0, le=3600, description="whole upstream request, per attempt"
    )
    retry_budget_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="seconds a request may spend being retried (waits for Retry-After included) "
        "before the client gets 503 + Retry-After",
    )
    max_attempts: int = Field(
        default=20, ge=1, le=1000, description="tries per request across backends, a bound beside the budget"
    )
    retry_backoff_s: float = Field(
        default=0.05, ge=0, le=60, description="least pause before a new round over backends already tried"
    )
    dead_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="seconds a backend that refused or reset a connection is skipped "
        "(passive health), unless a /readiness check answers 200 sooner",
    )
    admin_token: SecretStr | None = Field(
        default=None, description="bearer token the admin API requires; none: the admin API is open"
    )

    @model_validator(mode="after")
    def _unique(self) -> RouterConfig:
        names = [b.name for b in self.backends]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate backend name(s) {', '.join(dupes)}; give each backend its own name")
        return self


def parse_pairs(items: list[str], flag: str) -> dict[str, str]:
    """`name=value` flags into a dict; a malformed or repeated name is an InputError naming the flag."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise InputError(f"{flag} {item!r}: expected NAME=VALUE, e.g. {flag} cheap=http://127.0.0.1:8001")
        if name in out:
            raise InputError(f"{flag} {name!r} given twice; give each name once")
        out[name] = value
    return out


def config_from_flags(
    backends: list[str], weights: list[str], pools: list[str], **knobs: object
) -> RouterConfig:
    """RouterConfig from the CLI's repeated `--backend`, `--weights` and `--pool` flags."""
    urls = parse_pairs(backends, "--backend")
    if not urls:
        raise InputError("give at least one --backend NAME=URL")
    ws = parse_pairs(weights, "--weights")
    ps = parse_pairs(pools, "--pool")
    for flag, given in (("--weights", ws), ("--pool", ps)):
        unknown = sorted(set(given) - set(urls))
        if unknown:
            raise InputError(
                f"{flag} names unknown backend(s) {', '.join(unknown)}; known: {', '.join(urls)}"
            )
    parsed: dict[str, int] = {}
    for name, w in ws.items():
        try:
            parsed[name] = int(w)
        except ValueError:
            parsed[name] = -1
        if not 0 <= parsed[name] <= MAX_WEIGHT:
            raise InputError(
                f"--weights {name}={w}: weight must be a non-negative integer up to {MAX_WEIGHT}"
            )
    from pydantic import ValidationError

    from accelctl.files import validation_message

    try:
        return RouterConfig(
            backends=[
                Backend(name=n, url=u, weight=parsed.get(n, 1), pool=ps.get(n)) for n, u in urls.items()
            ],
            **knobs,
        )
    except ValidationError as err:
        raise InputError(validation_message("router flags", err)) from None
