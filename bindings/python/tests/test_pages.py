"""Pages of sessions and history (keyset cursors), and ping. These calls came with a later
minor version of ABI 2: with an older library they raise NotImplementedError."""

import pytest

import supportbot
from supportbot import _lib

HAS_PAGES = _lib.has("sb_session_list_page")
HAS_PING = _lib.has("sb_engine_ping")


@pytest.mark.skipif(not HAS_PAGES, reason="the library has no sb_session_list_page yet")
def test_session_pages(engine, admin, bot_id, user):
    ids = [engine.chat(user, bot_id, "where is my package", session_id=f"s{i}").session_id
           for i in range(5)]
    everything = engine.sessions(user, bot_id)
    first = engine.sessions(user, bot_id, limit=2)
    assert len(first) == 2 and first.next_cursor
    assert [s.id for s in first] == [s.id for s in everything[:2]]
    second = engine.sessions(user, bot_id, limit=2, cursor=first.next_cursor)
    assert [s.id for s in second] == [s.id for s in everything[2:4]]
    last = engine.sessions(user, bot_id, limit=2, cursor=second.next_cursor)
    assert [s.id for s in last] == [s.id for s in everything[4:]]
    assert last.next_cursor is None
    assert [s.id for s in engine.iter_sessions(admin, bot_id, page_size=2)] == [
        s.id for s in everything]
    assert sorted(ids) == sorted(s.id for s in everything)
    with pytest.raises(supportbot.InvalidArgument):
        engine.sessions(user, bot_id, limit=2, cursor="not-a-cursor")
    with pytest.raises(supportbot.InvalidArgument):
        engine.sessions(user, bot_id, limit=0)


@pytest.mark.skipif(not HAS_PAGES, reason="the library has no sb_session_history_page yet")
def test_history_pages(engine, bot_id, user):
    s = engine.chat(user, bot_id, "where is my package").session_id
    engine.chat(user, bot_id, "refund status", session_id=s)
    engine.chat(user, bot_id, "can I pay with paypal", session_id=s)
    everything = engine.history(user, s)
    assert len(everything) == 6
    page = engine.history(user, s, limit=4)
    assert page == everything[:4] and page.next_cursor
    rest = engine.history(user, s, limit=4, cursor=page.next_cursor)
    assert rest == everything[4:] and rest.next_cursor is None
    assert list(engine.iter_history(user, s, page_size=1)) == everything


def test_pages_need_a_newer_library(engine, bot_id, user, monkeypatch):
    # A library of ABI 2 from before the pages: the bindings say what is missing.
    monkeypatch.setattr(_lib, "has", lambda name: False)
    with pytest.raises(NotImplementedError, match="sb_session_list_page"):
        engine.sessions(user, bot_id, limit=2)
    with pytest.raises(NotImplementedError, match="sb_engine_ping"):
        engine.ping()
    assert engine.sessions(user, bot_id) == []  # the calls without pages still work


@pytest.mark.skipif(not HAS_PING, reason="the library has no sb_engine_ping yet")
def test_ping(engine, tmp_path):
    engine.ping()
    with supportbot.Engine(f"sqlite://{tmp_path / 'no-such-dir' / 'x.db'}") as broken:
        with pytest.raises(supportbot.DatabaseError) as e:
            broken.ping()
        assert e.value.status_name == "SB_EDB" and e.value.message
