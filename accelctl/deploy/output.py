"""The output folder: replaced as a whole (never half-written), or compared with what would be written."""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from pathlib import Path

from accelctl.deploy.render import HEADER
from accelctl.errors import InputError

MARKER = "kustomization.yaml"


def existing(out: Path) -> dict[str, str]:
    """Files a previous render left in `out` (empty when there is none); refuses folders it did not write."""
    if not out.exists():
        return {}
    if not out.is_dir():
        raise InputError(f"--out {out}: is a file; give a folder")
    entries = list(out.iterdir())
    if not entries:
        return {}
    marker = out / MARKER
    if not (marker.is_file() and marker.read_text().startswith(HEADER)):
        raise InputError(
            f"--out {out}: holds files `accelctl deploy` did not write; give an empty or new folder"
        )
    return {p.relative_to(out).as_posix(): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()}


def write(files: dict[str, str], out: Path) -> None:
    """Write every file into a fresh folder beside `out`, then swap it in: readers see old or new,
    never a mix."""
    out = Path(out)
    existing(out)  # refuse before touching anything
    out.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
    try:
        for rel, text in files.items():
            path = fresh / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        fresh.chmod(0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.replace(out, old / "tree")
            try:
                os.replace(fresh, out)
            except OSError:
                os.replace(old / "tree", out)
                raise
            shutil.rmtree(old)
        else:
            os.replace(fresh, out)
    finally:
        if fresh.exists():
            shutil.rmtree(fresh)


def diff(files: dict[str, str], out: Path) -> tuple[list[str], dict[str, list[str]]]:
    """(unified diff lines, {"added"|"changed"|"removed": paths}) of `files` against the folder `out`."""
    old = existing(Path(out))
    lines: list[str] = []
    summary: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
    for rel in sorted(set(old) | set(files)):
        before, after = old.get(rel), files.get(rel)
        if before == after:
            continue
        summary["added" if before is None else "removed" if after is None else "changed"].append(rel)
        lines.extend(
            difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                (after or "").splitlines(keepends=True),
                fromfile=f"a/{rel}" if before is not None else "/dev/null",
                tofile=f"b/{rel}" if after is not None else "/dev/null",
            )
        )
    return lines, summary
