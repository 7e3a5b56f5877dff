"""The exceptions users see. Each carries a one-line message and the exit code the CLI uses."""

from __future__ import annotations


class AccelctlError(Exception):
    """A failure the user can act on; the CLI prints its message on one line and exits 1."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = " ".join(message.split())


class InputError(AccelctlError):
    """Bad input: a file, field, flag or name the user gave. Exit 2."""

    exit_code = 2


class MissingDependency(InputError):
    """An optional package or device this command needs is not here. Exit 2."""


class IntegrityError(AccelctlError):
    """An artifact does not match the hash recorded for it."""
