"""FAQ sets: loaded, validated and indexed by the library; searched from any number of threads."""

from __future__ import annotations

import ctypes
from ctypes import byref, c_char_p, c_double, c_size_t, c_void_p
from typing import Iterator, List, Optional, Union

from . import _lib
from ._util import Handle, cstr, data
from .errors import InvalidArgument, NotFound, check
from .models import FaqEntry, Hit, SearchResult

LIB = _lib.LIB


class FaqSet:
    """An indexed FAQ set, made by :meth:`Engine.load_faqs`.

    ``len(faqs)`` is its number of entries; iterating yields :class:`FaqEntry` objects;
    ``faqs[i]`` is the entry at index ``i`` and ``faqs["some-id"]`` the entry with that id. A set
    may be searched by many threads at once, and stays valid after its engine is closed. Free it
    with :meth:`close` (or a ``with`` block); otherwise it is freed when garbage-collected.
    """

    def __init__(self, ptr: int):
        self._h = Handle(ptr, LIB.sb_faqset_free, "FAQ set")
        with self._h.use() as p:
            n = c_size_t()
            check(LIB.sb_faqset_count(p, byref(n)))
            self._count = n.value

    def close(self) -> None:
        """Frees the set (waiting for searches in other threads to finish)."""
        self._h.close()

    def __enter__(self) -> "FaqSet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[FaqEntry]:
        for i in range(self._count):
            yield self.entry(i)

    def __getitem__(self, key: Union[int, str]) -> FaqEntry:
        if isinstance(key, str):
            return self.entry(self.find(key))
        if not isinstance(key, int):
            raise TypeError("an FAQ set is indexed by an int (index) or a str (id)")
        if key < 0:
            key += self._count
        if not 0 <= key < self._count:
            raise IndexError(f"FAQ index {key} out of range (the set has {self._count})")
        return self.entry(key)

    def __contains__(self, faq_id: object) -> bool:
        if not isinstance(faq_id, str):
            return False
        try:
            self.find(faq_id)
            return True
        except NotFound:
            return False

    def __repr__(self) -> str:
        return f"<supportbot.FaqSet of {self._count} entries>"

    @property
    def default_threshold(self) -> float:
        """The answer threshold in effect by default (calibrated when the set was indexed)."""
        with self._h.use() as p:
            out = c_double()
            check(LIB.sb_faqset_default_threshold(p, byref(out)))
            return out.value

    def find(self, faq_id: str) -> int:
        """The index of the entry with this id; raises :class:`NotFound` when there is none."""
        with self._h.use() as p:
            out = c_size_t()
            check(LIB.sb_faqset_find(p, cstr(faq_id, "faq_id"), byref(out)))
            return out.value

    def entry(self, index: int) -> FaqEntry:
        """The entry at ``index`` (0-based)."""
        with self._h.use() as p:
            e = _lib.FaqEntryC()
            check(LIB.sb_faqset_entry(p, index, byref(e)))
            s = c_char_p()
            alternates: List[str] = []
            for a in range(e.alternate_count):
                check(LIB.sb_faqset_entry_alternate(p, index, a, byref(s)))
                alternates.append(_lib.text(s.value))
            tags: List[str] = []
            for t in range(e.tag_count):
                check(LIB.sb_faqset_entry_tag(p, index, t, byref(s)))
                tags.append(_lib.text(s.value))
            return FaqEntry(index, _lib.text(e.id), _lib.text(e.question), _lib.text(e.answer),
                            _lib.text(e.category), alternates, tags)

    def search(self, query: str, k: int = 5, threshold: Optional[float] = None) -> SearchResult:
        """Ranks the entries for ``query``: the ``k`` best, and whether the best answers it
        (``threshold``: the confidence needed, in [0, 1]; None = the set's calibrated default).
        An empty query (nothing searchable in it) gives no hits and is not answered."""
        if not isinstance(k, int) or k < 1:
            raise InvalidArgument("k must be a positive int")
        q = data(query, "query")
        opts = _lib.SearchOptions()
        LIB.sb_search_options_init(opts, _lib.SB_SEARCH_OPTIONS_VERSION)
        opts.k = k
        opts.threshold = -1.0 if threshold is None else float(threshold)
        with self._h.use() as p:
            res = c_void_p()
            try:
                check(LIB.sb_faqset_search(p, q, len(q), byref(opts), byref(res)))
                n = c_size_t()
                check(LIB.sb_results_count(res, byref(n)))
                answered = ctypes.c_int()
                check(LIB.sb_results_answered(res, byref(answered)))
                hits = []
                r = _lib.ResultC()
                e = _lib.FaqEntryC()
                for i in range(n.value):
                    check(LIB.sb_results_get(res, i, byref(r)))
                    check(LIB.sb_faqset_entry(p, r.index, byref(e)))
                    hits.append(Hit(r.index, _lib.text(r.id), _lib.text(e.question),
                                    _lib.text(e.answer), r.score, r.confidence))
                return SearchResult(bool(answered.value), hits)
            finally:
                LIB.sb_results_free(res)
