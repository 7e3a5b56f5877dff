"""Reading and writing the files users give: validated on load, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from accelctl.errors import InputError

M = TypeVar("M", bound=BaseModel)


def field_path(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def validation_message(path: Path | str, err: ValidationError) -> str:
    first = err.errors()[0]
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    msg = first["msg"].removeprefix("Value error, ")
    # A check across fields (a model validator) names its fields in its message.
    where = f"field '{field_path(first['loc'])}': " if first["loc"] else ""
    return f"{path}: {where}{msg}{more}"


def read_yaml(path: Path | str) -> object:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file; check the path")
    try:
        return yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError(f"{p}: not valid YAML{where}; fix the syntax") from None


def load_model(path: Path | str, model: type[M]) -> M:
    """Load a YAML file into a pydantic model; errors name the file and the field."""
    data = read_yaml(path)
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InputError(validation_message(path, err)) from None


def dump_yaml(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def save_model(path: Path | str, obj: BaseModel) -> Path:
    return atomic_write(path, dump_yaml(obj.model_dump(mode="json", exclude_none=True)))


def atomic_write(path: Path | str, data: str | bytes) -> Path:
    """Write to a temp file beside the target, then rename: readers never see half a file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
