"""supportbot: an embeddable AI customer-support bot, from Python.

The bindings call libsupportbot's C ABI through ctypes (nothing to compile). The library is found
through the SUPPORTBOT_LIBRARY environment variable (a path), next to this package, or in the
system's library paths; its ABI version must be the one these bindings were written for
(:data:`ABI_VERSION`), else importing raises :class:`LibraryError`.

    import supportbot

    with supportbot.Engine() as engine:
        faqs = engine.load_faqs("faqs.json")
        result = faqs.search("where is my parcel")
        if result.answered:
            print(result.hits[0].question, result.hits[0].confidence)
"""

from __future__ import annotations

from . import _lib
from ._lib import ABI_VERSION, LibraryError
from .engine import ChatStream, Engine, Principal
from .errors import (
    Conflict,
    DatabaseError,
    Error,
    Forbidden,
    InternalError,
    InvalidArgument,
    InvalidData,
    IOFailure,
    LimitExceeded,
    NotFound,
    OutOfMemory,
    OutOfRange,
    ParseError,
    ProviderError,
    Unauthenticated,
    VersionError,
    error_class,
)
from .faqs import FaqSet
from .models import (
    Bot,
    FaqEntry,
    Hit,
    Message,
    Page,
    Reply,
    SearchResult,
    Session,
    Source,
    SummarizeCounts,
)

__version__ = "0.2.0"

#: Where the loaded library came from (a path, or the name the system resolved).
library_path: str = _lib.PATH


def library_version() -> str:
    """The loaded library's version string, e.g. ``"0.2.0"``."""
    return _lib.LIB.sb_version().decode("ascii")


def library_abi_version() -> int:
    """The loaded library's ABI version (equal to :data:`ABI_VERSION`)."""
    return int(_lib.LIB.sb_abi_version())


__all__ = [
    "ABI_VERSION",
    "Bot",
    "ChatStream",
    "Conflict",
    "DatabaseError",
    "Engine",
    "Error",
    "FaqEntry",
    "FaqSet",
    "Forbidden",
    "Hit",
    "IOFailure",
    "InternalError",
    "InvalidArgument",
    "InvalidData",
    "LibraryError",
    "LimitExceeded",
    "Message",
    "NotFound",
    "OutOfMemory",
    "OutOfRange",
    "Page",
    "ParseError",
    "Principal",
    "ProviderError",
    "Reply",
    "SearchResult",
    "Session",
    "Source",
    "SummarizeCounts",
    "Unauthenticated",
    "VersionError",
    "error_class",
    "library_path",
    "library_version",
    "library_abi_version",
]
