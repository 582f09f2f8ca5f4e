"""Helpers shared by the modules: handles with a safe close, argument conversion, time."""

from __future__ import annotations

import datetime as _dt
import os
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Union

from . import _lib
from .errors import InvalidArgument

INT64_MAX = 2**63 - 1

TimeLike = Union[_dt.datetime, _dt.date, int, float]
PathOrBytes = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

_FORMATS = {"auto": 0, "json": 1, "csv": 2}


class Handle:
    """Owns one library object: calls run inside ``use()``, and ``close()`` frees the object once
    no call is using it any more, so that closing from one thread while another calls is safe
    (later calls raise ValueError)."""

    __slots__ = ("_ptr", "_free", "_what", "_cond", "_users")

    def __init__(self, ptr: int, free: Callable[[int], None], what: str):
        self._ptr: Optional[int] = ptr
        self._free = free
        self._what = what
        self._cond = threading.Condition()
        self._users = 0

    @property
    def closed(self) -> bool:
        return self._ptr is None

    @contextmanager
    def use(self) -> Iterator[int]:
        with self._cond:
            if self._ptr is None:
                raise ValueError(f"the {self._what} is closed")
            self._users += 1
            ptr = self._ptr
        try:
            yield ptr
        finally:
            with self._cond:
                self._users -= 1
                if self._users == 0:
                    self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            if self._ptr is None:
                return
            ptr, self._ptr = self._ptr, None
            while self._users:
                self._cond.wait()
        self._free(ptr)

    def __del__(self) -> None:
        # Nobody can be using it any more; at interpreter exit the library may be gone already.
        ptr = getattr(self, "_ptr", None)
        if ptr is not None:
            self._ptr = None
            try:
                self._free(ptr)
            except Exception:
                pass


def cstr(value: Optional[str], what: str) -> Optional[bytes]:
    """A str argument as NUL-terminated UTF-8 (None stays NULL)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        b = value
    elif isinstance(value, str):
        b = value.encode("utf-8")
    else:
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if b"\0" in b:
        raise InvalidArgument(f"{what} contains a NUL character")
    return b


def data(value: Union[str, bytes, bytearray, memoryview], what: str) -> bytes:
    """A text argument passed with its length (NUL characters allowed)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be a str or bytes, not {type(value).__name__}")


def fmt(format: str) -> int:
    try:
        return _FORMATS[format.lower()]
    except (KeyError, AttributeError):
        raise InvalidArgument(f"format must be one of {sorted(_FORMATS)}, not {format!r}")


def is_bytes(v: Any) -> bool:
    return isinstance(v, (bytes, bytearray, memoryview))


def fspath(v: Any, what: str) -> bytes:
    try:
        p = os.fsencode(v)
    except TypeError:
        raise TypeError(f"{what} must be a path (str or os.PathLike) or bytes, "
                        f"not {type(v).__name__}")
    if b"\0" in p:
        raise InvalidArgument(f"{what} contains a NUL character")
    return p


def load_options(max_bytes: int = 0, max_entries: int = 0, max_field_bytes: int = 0,
                 max_alternates: int = 0) -> "_lib.LoadOptions":
    o = _lib.LoadOptions()
    _lib.LIB.sb_load_options_init(o, _lib.SB_LOAD_OPTIONS_VERSION)
    for name, v in (("max_bytes", max_bytes), ("max_entries", max_entries),
                    ("max_field_bytes", max_field_bytes), ("max_alternates", max_alternates)):
        if not isinstance(v, int) or v < 0:
            raise InvalidArgument(f"{name} must be a non-negative int")
        setattr(o, name, v)
    return o


def to_datetime(ms: int) -> _dt.datetime:
    """Unix milliseconds as an aware UTC datetime."""
    return _dt.datetime.fromtimestamp(ms / 1000.0, tz=_dt.timezone.utc)


def to_ms(t: Optional[TimeLike], default: int, what: str) -> int:
    """A time as Unix milliseconds: an aware datetime, a naive one (taken as UTC), a date
    (midnight UTC), or a number of seconds since the epoch (as time.time() gives)."""
    if t is None:
        return default
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return int(round(t.timestamp() * 1000))
    if isinstance(t, _dt.date):
        return to_ms(_dt.datetime(t.year, t.month, t.day), default, what)
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return int(round(t * 1000))
    raise TypeError(f"{what} must be a datetime, a date or seconds since the epoch, "
                    f"not {type(t).__name__}")
