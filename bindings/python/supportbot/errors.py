"""supportbot's exceptions: one class per status code of the C ABI, all under :class:`Error`."""

from __future__ import annotations

import re
from typing import Dict, Optional, Type

from . import _lib


class Error(Exception):
    """A call into libsupportbot failed.

    Attributes:
        status: the C status code (negative), e.g. -6.
        status_name: its constant's name, e.g. ``"SB_ENOTFOUND"``.
        message: ``sb_last_error()``'s message for the failed call.
    """

    status: int = -1

    def __init__(self, message: str, status: Optional[int] = None, status_name: str = ""):
        if status is not None:
            self.status = status
        self.status_name = status_name or _status_name(self.status)
        self.message = message
        super().__init__(f"{self.status_name}: {message}" if message else self.status_name)


class InternalError(Error):
    """SB_ERROR: an unexpected internal error."""

    status = -1


class InvalidArgument(Error, ValueError):
    """SB_EINVAL: an argument is invalid (a bad option, a password the policy refuses, an
    engine without a secret_key asked for accounts, ...)."""

    status = -2


class OutOfMemory(Error):
    """SB_ENOMEM: out of memory."""

    status = -3


class ParseError(Error, ValueError):
    """SB_EPARSE: the input could not be parsed (JSON, CSV, UTF-8)."""

    status = -4


class LimitExceeded(Error):
    """SB_ELIMIT: the input is over a configured limit, or too many failed logins."""

    status = -5


class NotFound(Error, LookupError):
    """SB_ENOTFOUND: the bot, session, account or FAQ asked for does not exist."""

    status = -6


class IOFailure(Error):
    """SB_EIO: a file could not be read or written."""

    status = -7


class VersionError(Error):
    """SB_EVERSION: an options struct's version is not supported by the library."""

    status = -8


_PLACE = re.compile(r"^((?:entry|line|row) \d+(?:, column \d+)?)")


class InvalidData(Error, ValueError):
    """SB_EINVALID_DATA: the input parsed but is not valid (a missing field, a duplicate id, ...).

    ``place`` is where, when the message names it (``"entry 3"``, ``"line 4, column 2"``), else
    None."""

    status = -9

    def __init__(self, message: str, status: Optional[int] = None, status_name: str = ""):
        super().__init__(message, status, status_name)
        m = _PLACE.match(message)
        self.place: Optional[str] = m.group(1) if m else None


class OutOfRange(Error, IndexError):
    """SB_ERANGE: an index is out of range."""

    status = -10


class DatabaseError(Error):
    """SB_EDB: the database failed (unreachable, I/O error, corrupt data, ...)."""

    status = -11


class Conflict(Error):
    """SB_ECONFLICT: the request conflicts with the current state (an e-mail registered
    already, a message to a closed session, ...)."""

    status = -12


class Forbidden(Error):
    """SB_EFORBIDDEN: the thing exists but is not the caller's (nothing more is revealed)."""

    status = -13


class ProviderError(Error):
    """SB_EPROVIDER: the LLM provider failed (after its retries)."""

    status = -14


class Unauthenticated(Error):
    """SB_EUNAUTHENTICATED: no valid token (missing, malformed, tampered with, expired, or of a
    deleted account), or a wrong e-mail or password."""

    status = -15


_BY_STATUS: Dict[int, Type[Error]] = {
    cls.status: cls
    for cls in (
        InternalError,
        InvalidArgument,
        OutOfMemory,
        ParseError,
        LimitExceeded,
        NotFound,
        IOFailure,
        VersionError,
        InvalidData,
        OutOfRange,
        DatabaseError,
        Conflict,
        Forbidden,
        ProviderError,
        Unauthenticated,
    )
}


def _status_name(status: int) -> str:
    return _lib.LIB.sb_status_name(status).decode("ascii", errors="replace")


def error_class(status: int) -> Type[Error]:
    """The exception class of a status code (:class:`Error` itself for an unknown one)."""
    return _BY_STATUS.get(status, Error)


def from_status(status: int) -> Error:
    """The exception for a failed call, with this thread's sb_last_error(). Call it on the
    thread that made the call, before any other call into the library."""
    message = _lib.LIB.sb_last_error().decode("utf-8", errors="replace")
    return error_class(status)(message, status)


def check(status: int) -> None:
    """Raises the exception of a non-zero status."""
    if status != 0:
        raise from_status(status)
