"""Finding libsupportbot and declaring the C ABI (include/supportbot/supportbot.h) for ctypes.

Nothing here is public: the rest of the package calls ``LIB.sb_...`` with the prototypes below.
Every prototype is declared, so that ctypes converts and checks the arguments (and, for
``char**`` results, the library's pointer is kept as an integer so that it can be freed).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_int,
    c_int64,
    c_size_t,
    c_uint,
    c_void_p,
)
from pathlib import Path
from typing import List, Optional, Tuple

#: The ABI (SONAME number) these bindings were written for: include/supportbot/supportbot.h's
#: SB_ABI_VERSION.
ABI_VERSION = 2
SONAME = f"libsupportbot.so.{ABI_VERSION}"


class LibraryError(ImportError):
    """libsupportbot could not be found or loaded, or its ABI is not the one these bindings
    were written for."""


# ---- Structs (the versions these bindings were written for) -----------------------------------

SB_ENGINE_OPTIONS_VERSION = 3
SB_LOAD_OPTIONS_VERSION = 1
SB_SEARCH_OPTIONS_VERSION = 1
SB_CHAT_REQUEST_VERSION = 2
SB_LIST_OPTIONS_VERSION = 1


class EngineOptions(Structure):
    _fields_ = [
        ("version", c_uint),
        ("language", c_char_p),
        ("database_url", c_char_p),
        ("pool_size", c_size_t),
        ("history_turns", c_size_t),
        ("answer_threshold", c_double),
        ("escalation_threshold", c_double),
        ("max_unanswered", c_uint),
        ("llm_provider", c_char_p),
        ("llm_base_url", c_char_p),
        ("llm_model", c_char_p),
        ("llm_api_key", c_char_p),
        ("llm_connect_timeout_ms", ctypes.c_long),
        ("llm_timeout_ms", ctypes.c_long),
        ("llm_max_attempts", c_uint),
        ("llm_backoff_initial_ms", ctypes.c_long),
        ("llm_backoff_max_ms", ctypes.c_long),
        ("llm_deadline_ms", ctypes.c_long),
        ("secret_key", c_char_p),
        ("access_token_minutes", c_uint),
        ("login_max_failures", c_uint),
        ("login_window_seconds", c_uint),
    ]


class LoadOptions(Structure):
    _fields_ = [
        ("version", c_uint),
        ("max_bytes", c_size_t),
        ("max_entries", c_size_t),
        ("max_field_bytes", c_size_t),
        ("max_alternates", c_size_t),
    ]


class SearchOptions(Structure):
    _fields_ = [("version", c_uint), ("k", c_size_t), ("threshold", c_double)]


class FaqEntryC(Structure):
    _fields_ = [
        ("id", c_char_p),
        ("question", c_char_p),
        ("answer", c_char_p),
        ("category", c_char_p),
        ("alternate_count", c_size_t),
        ("tag_count", c_size_t),
    ]


class ResultC(Structure):
    _fields_ = [
        ("index", c_size_t),
        ("id", c_char_p),
        ("score", c_double),
        ("confidence", c_double),
    ]


class PrincipalInfoC(Structure):
    _fields_ = [
        ("account_id", c_char_p),
        ("role", c_int),
        ("bot_id", c_char_p),
        ("email", c_char_p),
        ("expires_ms", c_int64),
    ]


class BotInfoC(Structure):
    _fields_ = [
        ("id", c_char_p),
        ("owner", c_char_p),
        ("name", c_char_p),
        ("created_ms", c_int64),
        ("faq_count", c_size_t),
        ("faq_revision", c_int),
    ]


ON_TEXT = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)


class ChatRequest(Structure):
    _fields_ = [
        ("version", c_uint),
        ("bot_id", c_char_p),
        ("principal", c_void_p),
        ("session_id", c_char_p),
        ("message", c_char_p),
        ("message_len", c_size_t),
        ("on_text", ON_TEXT),
        ("user_data", c_void_p),
    ]


class ReplyInfoC(Structure):
    _fields_ = [
        ("session_id", c_char_p),
        ("text", c_char_p),
        ("answered", c_int),
        ("escalated", c_int),
        ("escalation_reason", c_char_p),
        ("responder", c_char_p),
        ("confidence", c_double),
        ("latency_ms", c_int64),
        ("suggestion_count", c_size_t),
        ("faq_count", c_size_t),
    ]


class ReplyFaqC(Structure):
    _fields_ = [("id", c_char_p), ("question", c_char_p), ("confidence", c_double)]


class SessionInfoC(Structure):
    _fields_ = [
        ("id", c_char_p),
        ("bot_id", c_char_p),
        ("user_id", c_char_p),
        ("created_ms", c_int64),
        ("last_active_ms", c_int64),
        ("status", c_int),
        ("escalation_reason", c_char_p),
        ("message_count", c_size_t),
    ]


class MessageInfoC(Structure):
    _fields_ = [
        ("id", c_int64),
        ("role", c_int),
        ("text", c_char_p),
        ("created_ms", c_int64),
        ("faq_count", c_size_t),
        ("confidence", c_double),
        ("escalated", c_int),
        ("escalation_reason", c_char_p),
        ("responder", c_char_p),
        ("latency_ms", c_int64),
        ("error", c_int),
    ]


class ListOptions(Structure):
    _fields_ = [("version", c_uint), ("limit", c_size_t), ("cursor", c_char_p)]


# ---- Prototypes --------------------------------------------------------------------------------

_p = c_void_p  # every opaque handle
_pp = POINTER(c_void_p)  # sb_x** out-parameters, and char** ones (kept as integers to be freed)
_size_out = POINTER(c_size_t)
_str_out = POINTER(c_char_p)  # const char** (borrowed) out-parameters

_PROTOTYPES: List[Tuple[str, object, list]] = [
    ("sb_version", c_char_p, []),
    ("sb_abi_version", c_int, []),
    ("sb_last_error", c_char_p, []),
    ("sb_last_status", c_int, []),
    ("sb_status_name", c_char_p, [c_int]),
    ("sb_engine_options_init", c_int, [POINTER(EngineOptions), c_uint]),
    ("sb_engine_open", c_int, [_pp, POINTER(EngineOptions)]),
    ("sb_engine_close", None, [_p]),
    ("sb_string_free", None, [c_void_p]),
    ("sb_load_options_init", c_int, [POINTER(LoadOptions), c_uint]),
    ("sb_faqset_load", c_int, [_p, c_char_p, c_size_t, c_int, POINTER(LoadOptions), _pp]),
    ("sb_faqset_load_file", c_int, [_p, c_char_p, c_int, POINTER(LoadOptions), _pp]),
    ("sb_faqset_free", None, [_p]),
    ("sb_faqset_count", c_int, [_p, _size_out]),
    ("sb_faqset_entry", c_int, [_p, c_size_t, POINTER(FaqEntryC)]),
    ("sb_faqset_entry_alternate", c_int, [_p, c_size_t, c_size_t, _str_out]),
    ("sb_faqset_entry_tag", c_int, [_p, c_size_t, c_size_t, _str_out]),
    ("sb_faqset_find", c_int, [_p, c_char_p, _size_out]),
    ("sb_faqset_default_threshold", c_int, [_p, POINTER(c_double)]),
    ("sb_search_options_init", c_int, [POINTER(SearchOptions), c_uint]),
    ("sb_faqset_search", c_int, [_p, c_char_p, c_size_t, POINTER(SearchOptions), _pp]),
    ("sb_results_count", c_int, [_p, _size_out]),
    ("sb_results_get", c_int, [_p, c_size_t, POINTER(ResultC)]),
    ("sb_results_answered", c_int, [_p, POINTER(c_int)]),
    ("sb_results_free", None, [_p]),
    ("sb_admin_register", c_int, [_p, c_char_p, c_char_p, _pp]),
    ("sb_user_register", c_int, [_p, c_char_p, c_char_p, c_char_p, _pp]),
    ("sb_admin_login", c_int, [_p, c_char_p, c_char_p, _pp]),
    ("sb_user_login", c_int, [_p, c_char_p, c_char_p, c_char_p, _pp]),
    ("sb_token_issue", c_int, [_p, c_char_p, _pp]),
    ("sb_account_lookup", c_int, [_p, c_char_p, c_char_p, _pp]),
    ("sb_principal_from_token", c_int, [_p, c_char_p, _pp]),
    ("sb_principal_free", None, [_p]),
    ("sb_principal_get", c_int, [_p, POINTER(PrincipalInfoC)]),
    ("sb_account_delete", c_int, [_p, _p, c_char_p]),
    ("sb_bot_create", c_int, [_p, _p, c_char_p, c_char_p, c_size_t, c_int, POINTER(LoadOptions), _pp]),
    ("sb_bot_create_from_file", c_int, [_p, _p, c_char_p, c_char_p, c_int, POINTER(LoadOptions), _pp]),
    ("sb_bot_replace_faqs", c_int, [_p, _p, c_char_p, c_char_p, c_size_t, c_int, POINTER(LoadOptions)]),
    ("sb_bot_replace_faqs_from_file", c_int, [_p, _p, c_char_p, c_char_p, c_int, POINTER(LoadOptions)]),
    ("sb_bot_get", c_int, [_p, _p, c_char_p, _pp]),
    ("sb_bot_list", c_int, [_p, _p, _pp]),
    ("sb_bots_count", c_int, [_p, _size_out]),
    ("sb_bots_at", c_int, [_p, c_size_t, POINTER(BotInfoC)]),
    ("sb_bots_free", None, [_p]),
    ("sb_chat_send", c_int, [_p, POINTER(ChatRequest), _pp]),
    ("sb_reply_get", c_int, [_p, POINTER(ReplyInfoC)]),
    ("sb_reply_suggestion", c_int, [_p, c_size_t, _str_out]),
    ("sb_reply_faq_at", c_int, [_p, c_size_t, POINTER(ReplyFaqC)]),
    ("sb_reply_free", None, [_p]),
    ("sb_reply_usage", c_int, [_p, POINTER(c_int), POINTER(c_int64), POINTER(c_int64)]),
    ("sb_session_list", c_int, [_p, _p, c_char_p, _pp]),
    ("sb_sessions_count", c_int, [_p, _size_out]),
    ("sb_sessions_at", c_int, [_p, c_size_t, POINTER(SessionInfoC)]),
    ("sb_sessions_free", None, [_p]),
    ("sb_session_close", c_int, [_p, _p, c_char_p]),
    ("sb_session_history", c_int, [_p, _p, c_char_p, _pp]),
    ("sb_messages_count", c_int, [_p, _size_out]),
    ("sb_messages_at", c_int, [_p, c_size_t, POINTER(MessageInfoC)]),
    ("sb_messages_faq_id", c_int, [_p, c_size_t, c_size_t, _str_out]),
    ("sb_messages_usage", c_int, [_p, c_size_t, POINTER(c_int), POINTER(c_int64), POINTER(c_int64)]),
    ("sb_messages_free", None, [_p]),
    ("sb_session_summarize", c_int, [_p, _p, c_char_p, _pp]),
    ("sb_bot_summarize_sessions", c_int, [_p, _p, c_char_p, _size_out, _size_out]),
    ("sb_bot_summaries", c_int, [_p, _p, c_char_p, c_int64, c_int64, _pp]),
    ("sb_bot_analytics", c_int, [_p, _p, c_char_p, c_int64, c_int64, _pp]),
]

# Declared in the header of ABI 2 but added in a later minor version: the bindings use them when
# the library has them and say so clearly when it does not.
_OPTIONAL: List[Tuple[str, object, list]] = [
    ("sb_engine_ping", c_int, [_p]),
    ("sb_sessions_first_message", c_int, [_p, c_size_t, _str_out]),
    ("sb_list_options_init", c_int, [POINTER(ListOptions), c_uint]),
    ("sb_session_list_page", c_int, [_p, _p, c_char_p, POINTER(ListOptions), _pp]),
    ("sb_sessions_next_cursor", c_int, [_p, _str_out]),
    ("sb_session_history_page", c_int, [_p, _p, c_char_p, POINTER(ListOptions), _pp]),
    ("sb_messages_next_cursor", c_int, [_p, _str_out]),
]


def _candidates() -> List[Tuple[str, str]]:
    """(what to dlopen, where it came from), in the order tried."""
    env = os.environ.get("SUPPORTBOT_LIBRARY")
    if env:
        # An explicit choice: nothing else is tried, so a wrong path is an error, not a surprise.
        return [(env, "SUPPORTBOT_LIBRARY")]
    out = []
    here = Path(__file__).resolve().parent
    for name in (SONAME, "libsupportbot.so"):
        if (here / name).exists():
            out.append((str(here / name), "the package folder"))
    out.append((SONAME, "the system's library paths"))
    found = ctypes.util.find_library("supportbot")
    if found and found != SONAME:
        out.append((found, "ctypes.util.find_library"))
    return out


def _load() -> ctypes.CDLL:
    tried = []
    for what, origin in _candidates():
        try:
            lib = ctypes.CDLL(what)
        except OSError as e:
            tried.append(f"{what} ({origin}): {e}")
            continue
        try:
            abi = lib.sb_abi_version
        except AttributeError:
            raise LibraryError(f"{what} ({origin}) is not libsupportbot: it has no sb_abi_version")
        abi.restype = c_int
        abi.argtypes = []
        found_abi = abi()
        if found_abi != ABI_VERSION:
            raise LibraryError(
                f"{what} ({origin}) has ABI version {found_abi}, but these supportbot bindings "
                f"were written for ABI version {ABI_VERSION} ({SONAME}): install the matching "
                "library or bindings, or point SUPPORTBOT_LIBRARY at the right file"
            )
        return lib
    raise LibraryError(
        f"cannot find {SONAME}: set SUPPORTBOT_LIBRARY to its path, put it next to the "
        "supportbot package, or install it where the system finds libraries (ldconfig, "
        "LD_LIBRARY_PATH). Tried: " + "; ".join(tried)
    )


def _declare(lib: ctypes.CDLL) -> None:
    for name, restype, argtypes in _PROTOTYPES:
        try:
            f = getattr(lib, name)
        except AttributeError:
            raise LibraryError(f"{lib._name} lacks {name}: it is not a complete libsupportbot")
        f.restype = restype
        f.argtypes = argtypes
    for name, restype, argtypes in _OPTIONAL:
        f = getattr(lib, name, None)
        if f is not None:
            f.restype = restype
            f.argtypes = argtypes


LIB = _load()
_declare(LIB)
PATH: str = LIB._name


def has(name: str) -> bool:
    """Whether the loaded library exports this function (for the optional ones)."""
    return getattr(LIB, name, None) is not None


def take_string(p: c_void_p) -> Optional[str]:
    """Reads a string the library allocated (a char** out-parameter) and frees it."""
    if not p.value:
        return None
    try:
        return ctypes.string_at(p.value).decode("utf-8")
    finally:
        LIB.sb_string_free(p.value)
        p.value = None


def text(b: Optional[bytes]) -> str:
    """A borrowed const char* from a struct: "" for NULL."""
    return b.decode("utf-8", errors="replace") if b else ""


__all__ = ["LIB", "ABI_VERSION", "SONAME", "LibraryError", "PATH", "has", "take_string"]

