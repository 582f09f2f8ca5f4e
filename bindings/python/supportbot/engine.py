"""The engine: FAQ sets, accounts, bots, chat, sessions, summaries and analytics."""

from __future__ import annotations

import ctypes
import datetime as _dt
import json
import queue
import threading
from ctypes import byref, c_char_p, c_int, c_int64, c_size_t, c_void_p
from typing import Any, Dict, Iterator, List, Optional, Union

from . import _lib
from ._util import (
    INT64_MAX,
    Handle,
    PathOrBytes,
    TimeLike,
    cstr,
    data,
    fmt,
    fspath,
    is_bytes,
    load_options,
    to_datetime,
    to_ms,
)
from .errors import InvalidArgument, check
from .faqs import FaqSet
from .models import Bot, Message, Page, Reply, Session, Source, SummarizeCounts

LIB = _lib.LIB

_SESSION_STATUS = {0: "open", 1: "escalated", 2: "closed", 3: "agent"}
_ROLES = {0: "user", 1: "assistant", 2: "agent"}

# Engine options other than the three named parameters: name -> kind.
_OPTIONS = {
    "language": "str",
    "pool_size": "uint",
    "history_turns": "uint",
    "answer_threshold": "float",
    "escalation_threshold": "float",
    "max_unanswered": "uint",
    "llm_base_url": "str",
    "llm_model": "str",
    "llm_api_key": "str",
    "llm_connect_timeout_ms": "uint",
    "llm_timeout_ms": "uint",
    "llm_max_attempts": "uint",
    "llm_backoff_initial_ms": "uint",
    "llm_backoff_max_ms": "uint",
    "llm_deadline_ms": "uint",
    "access_token_minutes": "uint",
    "login_max_failures": "uint",
    "login_window_seconds": "uint",
}


def _opt_str(v: Optional[str]) -> Optional[str]:
    return v if v else None


class Principal:
    """Who acts: an account, verified from its access token by :meth:`Engine.principal`.

    Usable from any thread until its token expires. ``role`` is ``"admin"`` or ``"user"``;
    ``bot_id`` is the user's bot (None for an admin)."""

    def __init__(self, ptr: int, token: str):
        self._h = Handle(ptr, LIB.sb_principal_free, "principal")
        self.token = token
        info = _lib.PrincipalInfoC()
        check(LIB.sb_principal_get(ptr, byref(info)))
        self.account_id: str = _lib.text(info.account_id)
        self.role: str = {1: "admin", 2: "user", 3: "agent"}.get(info.role, "user")
        self.bot_id: Optional[str] = _opt_str(_lib.text(info.bot_id))
        self.email: str = _lib.text(info.email)
        self.expires_ms: int = info.expires_ms

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def expires(self) -> _dt.datetime:
        """When the token expires (an aware UTC datetime)."""
        return to_datetime(self.expires_ms)

    def close(self) -> None:
        """Frees the principal (it is freed when garbage-collected otherwise)."""
        self._h.close()

    def __enter__(self) -> "Principal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<supportbot.Principal {self.role} {self.email!r}>"


PrincipalLike = Union[Principal, str, None]

_END = object()


class ChatStream:
    """The reply of one chat turn as it is written: iterate to get its text in pieces (str).

    The turn runs on a worker thread; pieces come out as the library hands them over (an LLM
    provider streams; the offline responder gives the whole reply in one piece). Once the
    iteration is exhausted, :attr:`reply` is the final :class:`Reply` (whose ``text`` is what to
    show when ``reply.fallback`` says the LLM failed midway), and an error of the turn is raised
    by the iteration. :meth:`close` (or leaving a ``with`` block) stops the LLM's stream: the turn
    keeps the text received so far."""

    def __init__(self, engine: "Engine", principal: PrincipalLike, bot_id: str, message: str,
                 session_id: Optional[str]):
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._stop = threading.Event()
        self._reply: Optional[Reply] = None
        self._error: Optional[BaseException] = None
        self._done = False
        self._pieces: List[str] = []

        def on_text(_user_data: Optional[int], ptr: Optional[int], n: int) -> int:
            # Called on the worker thread, inside sb_chat_send (ctypes holds the GIL here). No
            # exception may escape into the library: any failure stops the stream instead.
            try:
                if ptr and n:
                    self._queue.put(ctypes.string_at(ptr, n).decode("utf-8", errors="replace"))
                return 1 if self._stop.is_set() else 0
            except BaseException:  # noqa: BLE001 - nothing may cross back into C
                return 1

        self._callback = _lib.ON_TEXT(on_text)  # kept alive for as long as the call runs
        args = (principal, bot_id, message, session_id)
        self._thread = threading.Thread(target=self._run, args=(engine,) + args,
                                        name="supportbot-chat-stream", daemon=True)
        self._thread.start()

    def _run(self, engine: "Engine", principal: PrincipalLike, bot_id: str, message: str,
             session_id: Optional[str]) -> None:
        try:
            self._reply = engine._chat(principal, bot_id, message, session_id, self._callback)
        except BaseException as e:  # noqa: BLE001 - re-raised on the iterating thread
            self._error = e
        finally:
            self._queue.put(_END)

    def __iter__(self) -> "ChatStream":
        return self

    def __next__(self) -> str:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self._finish()
            raise StopIteration
        self._pieces.append(item)
        return item

    def _finish(self) -> None:
        self._done = True
        self._thread.join()
        if self._error is not None:
            e, self._error = self._error, None
            raise e

    @property
    def reply(self) -> Optional[Reply]:
        """The final reply once the iteration is exhausted (None before)."""
        return self._reply if self._done else None

    @property
    def text(self) -> str:
        """The text streamed so far."""
        return "".join(self._pieces)

    def close(self) -> None:
        """Stops the stream and waits for the turn to end (its reply is then :attr:`reply`).
        Errors of the turn are not raised."""
        self._stop.set()
        while not self._done:
            item = self._queue.get()
            if item is _END:
                self._done = True
                self._thread.join()
                self._error = None
            else:
                self._pieces.append(item)

    def __enter__(self) -> "ChatStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()


class Engine:
    """A supportbot engine: the entry point to everything.

    ``Engine(database_url=None, secret_key=None, llm_provider=None, **options)``:

    - ``database_url``: ``"sqlite:///path/file.db"`` or ``"postgresql://..."`` (None:
      ``sqlite://supportbot.db`` in the working directory; opened at the first call needing it).
    - ``secret_key``: the HS256 key signing access tokens, at least 32 bytes (None: no accounts,
      and so no bots or chat).
    - ``llm_provider``: ``"offline"`` (None), ``"gemini"`` or ``"openai"``.
    - ``options``: any other field of ``sb_engine_options`` by name: ``language``, ``pool_size``,
      ``history_turns``, ``answer_threshold``, ``escalation_threshold``, ``max_unanswered``,
      ``llm_base_url``, ``llm_model``, ``llm_api_key``, ``llm_connect_timeout_ms``,
      ``llm_timeout_ms``, ``llm_max_attempts``, ``llm_backoff_initial_ms``,
      ``llm_backoff_max_ms``, ``llm_deadline_ms``, ``access_token_minutes``,
      ``login_max_failures``, ``login_window_seconds``.

    An engine may be used by many threads at once (the GIL is released during library calls).
    Use it as a context manager, or call :meth:`close`. Wherever a ``principal`` is taken, a
    :class:`Principal` or an access token (str) may be given.
    """

    def __init__(self, database_url: Optional[str] = None, secret_key: Optional[str] = None,
                 llm_provider: Optional[str] = None, **options: Any):
        o = _lib.EngineOptions()
        check(LIB.sb_engine_options_init(o, _lib.SB_ENGINE_OPTIONS_VERSION))
        o.database_url = cstr(database_url, "database_url")
        o.secret_key = cstr(secret_key, "secret_key")
        o.llm_provider = cstr(llm_provider, "llm_provider")
        for name, value in options.items():
            kind = _OPTIONS.get(name)
            if kind is None:
                raise TypeError(f"Engine() got an unknown option {name!r}")
            if value is None:
                continue
            if kind == "str":
                setattr(o, name, cstr(value, name))
            elif kind == "float":
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise TypeError(f"{name} must be a number")
                setattr(o, name, float(value))
            else:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise InvalidArgument(f"{name} must be a non-negative int")
                setattr(o, name, value)
        out = c_void_p()
        check(LIB.sb_engine_open(byref(out), byref(o)))
        self._h = Handle(out.value, LIB.sb_engine_close, "engine")

    # ---- Lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the engine, once the calls running in other threads have returned. FAQ sets
        and principals made through it stay usable."""
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> None:
        """Checks that the engine's database answers (opening it if no call has yet); raises
        :class:`DatabaseError` with the reason otherwise."""
        _need("sb_engine_ping")
        with self._h.use() as e:
            check(LIB.sb_engine_ping(e))

    # ---- FAQ sets ----------------------------------------------------------------------------

    def load_faqs(self, path_or_bytes: PathOrBytes, format: str = "auto", *, max_bytes: int = 0,
                  max_entries: int = 0, max_field_bytes: int = 0,
                  max_alternates: int = 0) -> FaqSet:
        """Loads, validates and indexes an FAQ set from a file (a str or os.PathLike path) or
        from bytes. ``format``: ``"auto"`` (by extension, else by content), ``"json"`` or
        ``"csv"``. The limits (0 = the library's default) bound the input. A set is accepted
        whole or rejected whole: :class:`ParseError`, :class:`InvalidData` (with ``.place``),
        :class:`LimitExceeded`, :class:`IOFailure`."""
        opts = load_options(max_bytes, max_entries, max_field_bytes, max_alternates)
        f = fmt(format)
        out = c_void_p()
        with self._h.use() as e:
            if is_bytes(path_or_bytes):
                b = bytes(path_or_bytes)
                check(LIB.sb_faqset_load(e, b, len(b), f, byref(opts), byref(out)))
            else:
                path = fspath(path_or_bytes, "path_or_bytes")
                check(LIB.sb_faqset_load_file(e, path, f, byref(opts), byref(out)))
        return FaqSet(out.value)

    # ---- Accounts ----------------------------------------------------------------------------

    def register_admin(self, email: str, password: str) -> str:
        """Registers an admin account; returns its id. :class:`Conflict` when the e-mail is
        registered already, :class:`InvalidArgument` for a malformed e-mail or a weak password."""
        out = c_void_p()
        with self._h.use() as e:
            check(LIB.sb_admin_register(e, cstr(email, "email"), cstr(password, "password"),
                                        byref(out)))
        return _lib.take_string(out) or ""

    def register_user(self, bot_id: str, email: str, password: str) -> str:
        """Registers a user of a bot; returns the account's id."""
        out = c_void_p()
        with self._h.use() as e:
            check(LIB.sb_user_register(e, cstr(bot_id, "bot_id"), cstr(email, "email"),
                                       cstr(password, "password"), byref(out)))
        return _lib.take_string(out) or ""

    def login_admin(self, email: str, password: str) -> str:
        """Logs an admin in; returns an access token. :class:`Unauthenticated` for a wrong
        e-mail or password, :class:`LimitExceeded` after too many failures."""
        out = c_void_p()
        with self._h.use() as e:
            check(LIB.sb_admin_login(e, cstr(email, "email"), cstr(password, "password"),
                                     byref(out)))
        return _lib.take_string(out) or ""

    def login_user(self, bot_id: str, email: str, password: str) -> str:
        """Logs a user of a bot in; returns an access token."""
        out = c_void_p()
        with self._h.use() as e:
            check(LIB.sb_user_login(e, cstr(bot_id, "bot_id"), cstr(email, "email"),
                                    cstr(password, "password"), byref(out)))
        return _lib.take_string(out) or ""

    def issue_token(self, account_id: str) -> str:
        """Mints a token for an account without its password: for the host only (never expose
        it to end users)."""
        out = c_void_p()
        with self._h.use() as e:
            check(LIB.sb_token_issue(e, cstr(account_id, "account_id"), byref(out)))
        return _lib.take_string(out) or ""

    def lookup_account(self, email: str, bot_id: Optional[str] = None) -> str:
        """The id of the admin (bot_id None) or of the user of a bot with this e-mail, for the
        host only. :class:`NotFound` when there is none."""
        out = c_void_p()
        with self._h.use() as e:
            check(LIB.sb_account_lookup(e, cstr(bot_id, "bot_id"), cstr(email, "email"),
                                        byref(out)))
        return _lib.take_string(out) or ""

    def principal(self, token: str) -> Principal:
        """Verifies an access token. :class:`Unauthenticated` when it is malformed, tampered
        with, expired or of a deleted account."""
        out = c_void_p()
        with self._h.use() as e:
            check(LIB.sb_principal_from_token(e, cstr(token, "token"), byref(out)))
        return Principal(out.value, token)

    def delete_account(self, principal: PrincipalLike, account_id: Optional[str] = None) -> None:
        """Deletes an account (the principal's own when ``account_id`` is None): an admin
        deletes itself or a user of its bots, a user itself."""
        with self._acting(principal) as (e, p, who):
            target = account_id if account_id is not None else (who.account_id if who else None)
            check(LIB.sb_account_delete(e, p, cstr(target, "account_id")))

    # ---- Bots --------------------------------------------------------------------------------

    def create_bot(self, principal: PrincipalLike, name: str, faqs: PathOrBytes,
                   format: str = "auto", **limits: int) -> str:
        """Creates a bot owned by the principal (an admin) from an FAQ file or bytes (validated
        as :meth:`load_faqs` does); returns the bot's id. ``limits``: as :meth:`load_faqs`."""
        opts = load_options(**limits)
        f = fmt(format)
        out = c_void_p()
        with self._acting(principal) as (e, p, _):
            if is_bytes(faqs):
                b = bytes(faqs)  # type: ignore[arg-type]
                check(LIB.sb_bot_create(e, p, cstr(name, "name"), b, len(b), f, byref(opts),
                                        byref(out)))
            else:
                check(LIB.sb_bot_create_from_file(e, p, cstr(name, "name"),
                                                  fspath(faqs, "faqs"), f, byref(opts),
                                                  byref(out)))
        return _lib.take_string(out) or ""

    def replace_faqs(self, principal: PrincipalLike, bot_id: str, faqs: PathOrBytes,
                     format: str = "auto", **limits: int) -> None:
        """Replaces a bot's FAQ set (its owner admin only); accepted whole or rejected whole."""
        opts = load_options(**limits)
        f = fmt(format)
        with self._acting(principal) as (e, p, _):
            if is_bytes(faqs):
                b = bytes(faqs)  # type: ignore[arg-type]
                check(LIB.sb_bot_replace_faqs(e, p, cstr(bot_id, "bot_id"), b, len(b), f,
                                              byref(opts)))
            else:
                check(LIB.sb_bot_replace_faqs_from_file(e, p, cstr(bot_id, "bot_id"),
                                                        fspath(faqs, "faqs"), f, byref(opts)))

    def bots(self, principal: PrincipalLike) -> List[Bot]:
        """The principal's bots: an admin's own, or a user's one bot."""
        out = c_void_p()
        with self._acting(principal) as (e, p, _):
            try:
                check(LIB.sb_bot_list(e, p, byref(out)))
                return _bots(out)
            finally:
                LIB.sb_bots_free(out)

    def bot(self, principal: PrincipalLike, bot_id: str) -> Bot:
        """One bot, for its owner admin or a user of it."""
        out = c_void_p()
        with self._acting(principal) as (e, p, _):
            try:
                check(LIB.sb_bot_get(e, p, cstr(bot_id, "bot_id"), byref(out)))
                return _bots(out)[0]
            finally:
                LIB.sb_bots_free(out)

    # ---- Chat --------------------------------------------------------------------------------

    def chat(self, principal: PrincipalLike, bot_id: str, message: str,
             session_id: Optional[str] = None) -> Reply:
        """One turn of a conversation: stores the message and the reply together and returns
        the reply. ``session_id``: any id up to 128 bytes (a new one starts a session), or None
        for a new session with an id the library makes (``reply.session_id``)."""
        return self._chat(principal, bot_id, message, session_id, None)

    def chat_stream(self, principal: PrincipalLike, bot_id: str, message: str,
                    session_id: Optional[str] = None) -> ChatStream:
        """As :meth:`chat`, streaming: returns a :class:`ChatStream`, an iterator over the
        reply's text as it is written, whose ``.reply`` is the final :class:`Reply` once it is
        exhausted::

            stream = engine.chat_stream(user, bot_id, "where is my parcel?")
            for piece in stream:
                print(piece, end="", flush=True)
            print(stream.reply.suggestions)
        """
        # Arguments are checked here, so that bad ones raise at the call rather than later.
        cstr(bot_id, "bot_id")
        cstr(session_id, "session_id")
        data(message, "message")
        return ChatStream(self, principal, bot_id, message, session_id)

    def _chat(self, principal: PrincipalLike, bot_id: str, message: str,
              session_id: Optional[str], on_text: Any) -> Reply:
        req = _lib.ChatRequest()
        req.version = _lib.SB_CHAT_REQUEST_VERSION
        req.bot_id = cstr(bot_id, "bot_id")
        req.session_id = cstr(session_id, "session_id")
        msg = data(message, "message")
        req.message = msg
        req.message_len = len(msg)
        if on_text is not None:
            req.on_text = on_text
        out = c_void_p()
        with self._acting(principal) as (e, p, _):
            req.principal = p
            try:
                check(LIB.sb_chat_send(e, byref(req), byref(out)))
                return _reply(out)
            finally:
                LIB.sb_reply_free(out)

    # ---- Sessions ----------------------------------------------------------------------------

    def sessions(self, principal: PrincipalLike, bot_id: str, *, limit: Optional[int] = None,
                 cursor: Optional[str] = None) -> Page[Session]:
        """Sessions with a bot, most recently active first: a user's own, or (for the bot's
        owner admin) every user's. With ``limit`` and/or ``cursor``, one page of them: pass the
        returned ``next_cursor`` as ``cursor`` for the next page (None after the last)."""
        out = c_void_p()
        paged = limit is not None or cursor is not None
        if paged:
            _need("sb_session_list_page")
            opts = _list_options(limit, cursor)
        with self._acting(principal) as (e, p, _):
            try:
                if paged:
                    check(LIB.sb_session_list_page(e, p, cstr(bot_id, "bot_id"), byref(opts),
                                                   byref(out)))
                else:
                    check(LIB.sb_session_list(e, p, cstr(bot_id, "bot_id"), byref(out)))
                return _sessions(out, paged)
            finally:
                LIB.sb_sessions_free(out)

    def iter_sessions(self, principal: PrincipalLike, bot_id: str,
                      page_size: int = 100) -> Iterator[Session]:
        """Every session with a bot (as :meth:`sessions`), read ``page_size`` at a time."""
        cursor: Optional[str] = None
        while True:
            page = self.sessions(principal, bot_id, limit=page_size, cursor=cursor)
            yield from page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def history(self, principal: PrincipalLike, session_id: str, *, limit: Optional[int] = None,
                cursor: Optional[str] = None) -> Page[Message]:
        """The messages of a session, oldest first (for its user, or its bot's owner admin);
        ``limit`` and ``cursor`` page them as in :meth:`sessions`."""
        out = c_void_p()
        paged = limit is not None or cursor is not None
        if paged:
            _need("sb_session_history_page")
            opts = _list_options(limit, cursor)
        with self._acting(principal) as (e, p, _):
            try:
                if paged:
                    check(LIB.sb_session_history_page(e, p, cstr(session_id, "session_id"),
                                                      byref(opts), byref(out)))
                else:
                    check(LIB.sb_session_history(e, p, cstr(session_id, "session_id"),
                                                 byref(out)))
                return _messages(out, paged)
            finally:
                LIB.sb_messages_free(out)

    def iter_history(self, principal: PrincipalLike, session_id: str,
                     page_size: int = 100) -> Iterator[Message]:
        """Every message of a session (as :meth:`history`), read ``page_size`` at a time."""
        cursor: Optional[str] = None
        while True:
            page = self.history(principal, session_id, limit=page_size, cursor=cursor)
            yield from page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def close_session(self, principal: PrincipalLike, session_id: str) -> None:
        """Closes a session: later messages to it raise :class:`Conflict`."""
        with self._acting(principal) as (e, p, _):
            check(LIB.sb_session_close(e, p, cstr(session_id, "session_id")))

    # ---- Summaries and analytics -------------------------------------------------------------

    def summarize(self, principal: PrincipalLike, session_id: str) -> Dict[str, Any]:
        """The summary of a session (made, stored, or reused when up to date), as a dict: keys
        ``session_id``, ``bot_id``, ``summary``, ``main_issue``, ``resolved``, ``sentiment``,
        ``topics``, ``source``, ``fallback``, ``last_message_id``, ``created_ms``,
        ``updated_ms``."""
        out = c_void_p()
        with self._acting(principal) as (e, p, _):
            check(LIB.sb_session_summarize(e, p, cstr(session_id, "session_id"), byref(out)))
        return json.loads(_lib.take_string(out) or "null")

    def summarize_sessions(self, principal: PrincipalLike, bot_id: str) -> SummarizeCounts:
        """The bot's owner admin summarises every session of the bot whose summary is missing
        or out of date; returns how many were processed and skipped."""
        processed, skipped = c_size_t(), c_size_t()
        with self._acting(principal) as (e, p, _):
            check(LIB.sb_bot_summarize_sessions(e, p, cstr(bot_id, "bot_id"), byref(processed),
                                                byref(skipped)))
        return SummarizeCounts(processed.value, skipped.value)

    def summaries(self, principal: PrincipalLike, bot_id: str, since: Optional[TimeLike] = None,
                  until: Optional[TimeLike] = None) -> List[Dict[str, Any]]:
        """The stored summaries of the bot's sessions created in [since, until), oldest first
        (the bot's owner admin only). Times: datetimes (naive ones are UTC), dates, or seconds
        since the epoch."""
        lo, hi = to_ms(since, 0, "since"), to_ms(until, INT64_MAX, "until")
        out = c_void_p()
        with self._acting(principal) as (e, p, _):
            check(LIB.sb_bot_summaries(e, p, cstr(bot_id, "bot_id"), lo, hi, byref(out)))
        return json.loads(_lib.take_string(out) or "[]")

    def analytics(self, principal: PrincipalLike, bot_id: str, since: Optional[TimeLike] = None,
                  until: Optional[TimeLike] = None) -> Dict[str, Any]:
        """The bot's analytics for sessions created in [since, until), as a dict (keys in
        README.md, "Summaries and analytics"); the bot's owner admin only."""
        lo, hi = to_ms(since, 0, "since"), to_ms(until, INT64_MAX, "until")
        out = c_void_p()
        with self._acting(principal) as (e, p, _):
            check(LIB.sb_bot_analytics(e, p, cstr(bot_id, "bot_id"), lo, hi, byref(out)))
        return json.loads(_lib.take_string(out) or "null")

    # ---- Internals ---------------------------------------------------------------------------

    def _acting(self, principal: PrincipalLike) -> "_Acting":
        return _Acting(self, principal)

    def __repr__(self) -> str:
        return f"<supportbot.Engine{' (closed)' if self.closed else ''}>"


class _Acting:
    """``with engine._acting(principal) as (engine_ptr, principal_ptr, principal_or_None)``:
    holds the engine and the principal open for the call; a token is verified for the call."""

    def __init__(self, engine: Engine, principal: PrincipalLike):
        self._engine = engine
        self._principal = principal
        self._owned: Optional[Principal] = None
        self._stack: List[Any] = []

    def __enter__(self):  # type: ignore[no-untyped-def]
        who: Optional[Principal]
        if isinstance(self._principal, str):
            who = self._owned = self._engine.principal(self._principal)
        elif isinstance(self._principal, Principal) or self._principal is None:
            who = self._principal
        else:
            raise TypeError("principal must be a Principal, a token (str) or None, not "
                            f"{type(self._principal).__name__}")
        try:
            ec = self._engine._h.use()
            e = ec.__enter__()
            self._stack.append(ec)
            p = None
            if who is not None:
                pc = who._h.use()
                p = pc.__enter__()
                self._stack.append(pc)
            return e, p, who
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *exc: object) -> None:
        while self._stack:
            self._stack.pop().__exit__(None, None, None)
        if self._owned is not None:
            self._owned.close()
            self._owned = None


def _need(name: str) -> None:
    if not _lib.has(name):
        raise NotImplementedError(
            f"the loaded libsupportbot ({_lib.PATH}) has no {name}: it is older than these "
            "bindings need for this call")


def _list_options(limit: Optional[int], cursor: Optional[str]) -> "_lib.ListOptions":
    o = _lib.ListOptions()
    check(LIB.sb_list_options_init(o, _lib.SB_LIST_OPTIONS_VERSION))
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidArgument("limit must be a positive int")
        o.limit = limit
    o.cursor = cstr(cursor, "cursor")
    return o


def _reason(b: Optional[bytes]) -> Optional[str]:
    return _opt_str(_lib.text(b))


def _bots(bots: c_void_p) -> List[Bot]:
    n = c_size_t()
    check(LIB.sb_bots_count(bots, byref(n)))
    out = []
    b = _lib.BotInfoC()
    for i in range(n.value):
        check(LIB.sb_bots_at(bots, i, byref(b)))
        out.append(Bot(_lib.text(b.id), _lib.text(b.owner), _lib.text(b.name),
                       to_datetime(b.created_ms), b.faq_count, b.faq_revision))
    return out


def _reply(r: c_void_p) -> Reply:
    info = _lib.ReplyInfoC()
    check(LIB.sb_reply_get(r, byref(info)))
    s = c_char_p()
    suggestions = []
    for i in range(info.suggestion_count):
        check(LIB.sb_reply_suggestion(r, i, byref(s)))
        suggestions.append(_lib.text(s.value))
    sources = []
    f = _lib.ReplyFaqC()
    for i in range(info.faq_count):
        check(LIB.sb_reply_faq_at(r, i, byref(f)))
        sources.append(Source(_lib.text(f.id), _lib.text(f.question), f.confidence))
    fallback, prompt, completion = c_int(), c_int64(), c_int64()
    check(LIB.sb_reply_usage(r, byref(fallback), byref(prompt), byref(completion)))
    return Reply(
        text=_lib.text(info.text),
        session_id=_lib.text(info.session_id),
        answered=bool(info.answered),
        escalated=bool(info.escalated),
        escalation_reason=_reason(info.escalation_reason),
        responder=_lib.text(info.responder),
        confidence=info.confidence,
        latency_ms=info.latency_ms,
        suggestions=suggestions,
        sources=sources,
        fallback=bool(fallback.value),
        prompt_tokens=prompt.value,
        completion_tokens=completion.value,
    )


def _sessions(sessions: c_void_p, paged: bool) -> Page[Session]:
    n = c_size_t()
    check(LIB.sb_sessions_count(sessions, byref(n)))
    rows = []
    s = _lib.SessionInfoC()
    first = c_char_p()
    has_first = _lib.has("sb_sessions_first_message")
    for i in range(n.value):
        check(LIB.sb_sessions_at(sessions, i, byref(s)))
        first_message = None
        if has_first:
            check(LIB.sb_sessions_first_message(sessions, i, byref(first)))
            first_message = _lib.text(first.value)
        rows.append(Session(_lib.text(s.id), _lib.text(s.bot_id), _lib.text(s.user_id),
                            to_datetime(s.created_ms), to_datetime(s.last_active_ms),
                            _SESSION_STATUS.get(s.status, str(s.status)),
                            _reason(s.escalation_reason), s.message_count, first_message))
    cursor = None
    if paged:
        c = c_char_p()
        check(LIB.sb_sessions_next_cursor(sessions, byref(c)))
        cursor = c.value.decode("utf-8") if c.value is not None else None
    return Page(rows, cursor)


def _messages(messages: c_void_p, paged: bool) -> Page[Message]:
    n = c_size_t()
    check(LIB.sb_messages_count(messages, byref(n)))
    rows = []
    m = _lib.MessageInfoC()
    s = c_char_p()
    fallback, prompt, completion = c_int(), c_int64(), c_int64()
    for i in range(n.value):
        check(LIB.sb_messages_at(messages, i, byref(m)))
        faq_ids = []
        for j in range(m.faq_count):
            check(LIB.sb_messages_faq_id(messages, i, j, byref(s)))
            faq_ids.append(_lib.text(s.value))
        check(LIB.sb_messages_usage(messages, i, byref(fallback), byref(prompt),
                                    byref(completion)))
        rows.append(Message(
            id=m.id,
            role=_ROLES.get(m.role, str(m.role)),
            text=_lib.text(m.text),
            created=to_datetime(m.created_ms),
            faq_ids=faq_ids,
            confidence=m.confidence,
            escalated=bool(m.escalated),
            escalation_reason=_reason(m.escalation_reason),
            responder=_lib.text(m.responder),
            latency_ms=m.latency_ms,
            error=bool(m.error),
            fallback=bool(fallback.value),
            prompt_tokens=prompt.value,
            completion_tokens=completion.value,
        ))
    cursor = None
    if paged:
        c = c_char_p()
        check(LIB.sb_messages_next_cursor(messages, byref(c)))
        cursor = c.value.decode("utf-8") if c.value is not None else None
    return Page(rows, cursor)


__all__ = ["Engine", "Principal", "ChatStream"]
