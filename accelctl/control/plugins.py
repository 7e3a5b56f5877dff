"""What `accelctl watch --list` prints: every metric source and actuator with its options, generated
from the plug-ins' pydantic config models (names, types, defaults, constraints, descriptions), so the
list cannot drift from what `--source-opt` / `--actuator-opt` accept."""

from __future__ import annotations

import enum
import inspect
import sys
import types
import typing
from pathlib import PurePath

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

_CONSTRAINTS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "multiple_of": "multiple of"}


def type_name(t: object) -> str:
    """A type as a user writes its value: `str | null`, `dict[str, str]`, `'rps' | 'p95'`."""
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_name(a) for a in args)}]"
    if t is type(None):
        return "null"
    if isinstance(t, type) and issubclass(t, PurePath):
        return "path"
    return getattr(t, "__name__", str(t))


def _nested_models(t: object) -> list[type[BaseModel]]:
    if isinstance(t, type) and issubclass(t, BaseModel):
        return [t]
    return [m for a in typing.get_args(t) for m in _nested_models(a)]


def _jsonable(v: object) -> object:
    if isinstance(v, PurePath):
        return str(v)
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, BaseModel):
        return v.model_dump(mode="json")
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def _constraints(field) -> list[str]:
    out = []
    for meta in field.metadata:
        for attr, symbol in _CONSTRAINTS.items():
            value = getattr(meta, attr, None)
            if value is not None:
                out.append(f"{symbol} {value:g}" if isinstance(value, int | float) else f"{symbol} {value}")
        if getattr(meta, "pattern", None):
            out.append(f"matches {meta.pattern}")
        if getattr(meta, "min_length", None):
            out.append(f"at least {meta.min_length} entr{'y' if meta.min_length == 1 else 'ies'}")
        if getattr(meta, "allow_inf_nan", None) is False:
            out.append("finite")
    return out


def options(model: type[BaseModel]) -> list[dict]:
    """One row per option: name, type, required, default, constraints, description."""
    rows = []
    for name, field in model.model_fields.items():
        required = field.is_required()
        if required:
            default = None
        elif field.default_factory is not None:
            default = _jsonable(field.default_factory())
        else:
            default = _jsonable(None if field.default is PydanticUndefined else field.default)
        rows.append(
            {
                "name": name,
                "type": type_name(field.annotation),
                "required": required,
                "default": default,
                "constraints": _constraints(field),
                "description": field.description or "",
            }
        )
    return rows


def _summary(name: str, cls: type) -> str:
    doc = inspect.getdoc(sys.modules[cls.__module__]) or inspect.getdoc(cls) or ""
    return doc.split("\n\n")[0].replace("\n", " ").removeprefix(f"`{name}`: ")


def describe(registry) -> dict[str, dict]:
    """name -> {summary, options, models (nested option models by name)} for every plug-in of `registry`."""
    out = {}
    for name in registry.names():
        cls = registry.get(name)
        model = cls.config_model
        nested: dict[str, list[dict]] = {}
        todo = [m for f in model.model_fields.values() for m in _nested_models(f.annotation)]
        while todo:
            m = todo.pop()
            if m.__name__ not in nested:
                nested[m.__name__] = options(m)
                todo += [n for f in m.model_fields.values() for n in _nested_models(f.annotation)]
        out[name] = {"summary": _summary(name, cls), "options": options(model), "models": nested}
    return out


def catalog() -> dict[str, dict]:
    from accelctl.control.actuators import ACTUATORS
    from accelctl.control.sources import SOURCES

    return {"sources": describe(SOURCES), "actuators": describe(ACTUATORS)}


def _row(o: dict) -> str:
    kind = "required" if o["required"] else f"default {_show(o['default'])}"
    limits = f"; {', '.join(o['constraints'])}" if o["constraints"] else ""
    return f"    {o['name']} ({o['type']}; {kind}{limits}): {o['description']}"


def _show(v: object) -> str:
    import json

    return json.dumps(v)


def render_text(cat: dict[str, dict]) -> str:
    lines = []
    for family, flag in (("sources", "--source-opt"), ("actuators", "--actuator-opt")):
        lines.append(f"{family} (options as {flag} KEY=VALUE; a.b=VALUE sets a map entry or nested option)")
        for name, p in cat[family].items():
            lines += ["", f"  {name}: {p['summary']}"]
            lines += [_row(o) for o in p["options"]]
            for model, rows in p["models"].items():
                lines.append(f"    {model} (a value of the options above):")
                lines += ["  " + _row(o) for o in rows]
        lines.append("")
    return "\n".join(lines)
