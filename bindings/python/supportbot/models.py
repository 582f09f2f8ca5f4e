"""The values the library returns, copied into plain Python objects (nothing here holds library
memory)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Generic, Iterator, List, NamedTuple, Optional, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class FaqEntry:
    """One FAQ of a set."""

    index: int
    id: str
    question: str
    answer: str
    category: str  # "" when none
    alternates: List[str] = field(default_factory=list)
    tags: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class Hit:
    """One ranked FAQ of a search."""

    index: int  # the entry's index in its set
    id: str
    question: str
    answer: str
    score: float  # the raw ranking score (not comparable across sets)
    confidence: float  # in [0, 1]: how likely this FAQ answers the query


@dataclass(frozen=True)
class SearchResult:
    """The FAQs ranked for a query. ``answered`` is True when the best one's confidence clears the
    threshold (answer it), False when the query is out of scope (hand it to a human)."""

    answered: bool
    hits: List[Hit]

    @property
    def best(self) -> Optional[Hit]:
        """The top hit, or None when nothing matched."""
        return self.hits[0] if self.hits else None

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __getitem__(self, i: int) -> Hit:
        return self.hits[i]


@dataclass(frozen=True)
class Bot:
    id: str
    owner: str  # the owner admin's account id; "" when a user asks
    name: str
    created: _dt.datetime
    faq_count: int
    faq_revision: int  # 1 when created, +1 on every FAQ replacement

    @property
    def created_ms(self) -> int:
        return int(round(self.created.timestamp() * 1000))


@dataclass(frozen=True)
class Source:
    """An FAQ a reply used (the first one when the reply answered)."""

    id: str
    question: str
    confidence: float


@dataclass(frozen=True)
class Reply:
    """The bot's reply to one chat turn."""

    text: str
    session_id: str
    answered: bool  # answered from an FAQ (sources[0])
    escalated: bool  # handed to a human
    # None, or "user_requested", "low_confidence", "repeated_unanswered", "model_requested"
    escalation_reason: Optional[str]
    responder: str  # "offline", "gemini" or "openai": who wrote the text
    confidence: float  # of the best FAQ
    latency_ms: int
    suggestions: List[str]
    sources: List[Source]
    fallback: bool  # the LLM failed and the offline responder answered instead
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Session:
    id: str
    bot_id: str
    user_id: str
    created: _dt.datetime
    last_active: _dt.datetime
    status: str  # "open", "escalated" or "closed"
    escalation_reason: Optional[str]
    message_count: int
    # The text of the session's first user message ("" when none; None when the library is
    # older than sb_sessions_first_message).
    first_message: Optional[str] = None


@dataclass(frozen=True)
class Message:
    """One stored message of a session."""

    id: int
    role: str  # "user" or "assistant"
    text: str
    created: _dt.datetime
    faq_ids: List[str]  # the FAQs the reply used
    confidence: float
    escalated: bool
    escalation_reason: Optional[str]
    responder: str  # "" for user messages
    latency_ms: int
    error: bool  # the turn failed and text is the error reply
    fallback: bool
    prompt_tokens: int
    completion_tokens: int


class Page(List[T], Generic[T]):
    """A list of rows, and ``next_cursor``: what to pass as ``cursor`` for the next page, or None
    when this page is the last."""

    def __init__(self, rows: List[T], next_cursor: Optional[str] = None):
        super().__init__(rows)
        self.next_cursor = next_cursor

    def __repr__(self) -> str:
        return f"Page({list.__repr__(self)}, next_cursor={self.next_cursor!r})"


class SummarizeCounts(NamedTuple):
    """What :meth:`Engine.summarize_sessions` did."""

    processed: int  # sessions summarised
    skipped: int  # sessions whose summary was up to date
