"""Bots, chat, sessions, history, summaries and analytics (offline responder)."""

import datetime as dt

import pytest

import supportbot
from conftest import PASSWORD, SHOP_CSV, SHOP_JSON


def test_bots(engine, admin, bot_id, user):
    bots = engine.bots(admin)
    assert len(bots) == 1
    b = bots[0]
    assert (b.id, b.name, b.owner, b.faq_count, b.faq_revision) == (
        bot_id, "Shop", admin.account_id, 6, 1)
    assert abs(b.created - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    assert b.created_ms > 0
    assert engine.bot(admin, bot_id) == b
    # A user sees its bot, without the owner.
    assert [x.id for x in engine.bots(user)] == [bot_id]
    assert engine.bot(user, bot_id).owner == ""

    second = engine.create_bot(admin, "Gifts", SHOP_CSV.read_bytes(), format="csv")
    assert sorted(x.name for x in engine.bots(admin)) == ["Gifts", "Shop"]
    assert engine.bot(admin, second).faq_count == 2

    engine.replace_faqs(admin, second, SHOP_JSON)
    replaced = engine.bot(admin, second)
    assert (replaced.faq_count, replaced.faq_revision) == (6, 2)
    engine.replace_faqs(admin, second, SHOP_CSV.read_bytes())
    assert engine.bot(admin, second).faq_revision == 3


def test_bot_refusals(engine, admin, bot_id, user):
    engine.register_admin("eve@example.com", PASSWORD)
    eve = engine.principal(engine.login_admin("eve@example.com", PASSWORD))
    with pytest.raises(supportbot.Forbidden) as e:
        engine.bot(eve, bot_id)
    assert e.value.status_name == "SB_EFORBIDDEN"
    with pytest.raises(supportbot.Forbidden):
        engine.replace_faqs(eve, bot_id, SHOP_CSV)
    with pytest.raises(supportbot.Forbidden):
        engine.replace_faqs(user, bot_id, SHOP_CSV)
    with pytest.raises(supportbot.Forbidden):
        engine.create_bot(user, "Mine", SHOP_CSV)
    with pytest.raises(supportbot.NotFound):
        engine.bot(admin, "no-such-bot")
    with pytest.raises(supportbot.NotFound):
        engine.replace_faqs(admin, "no-such-bot", SHOP_CSV)
    # Rejected whole: the bot keeps its set.
    with pytest.raises(supportbot.InvalidData) as e:
        engine.replace_faqs(admin, bot_id, b'[{"question": "only a question"}]')
    assert e.value.place == "entry 1"
    assert engine.bot(admin, bot_id).faq_revision == 1
    with pytest.raises(supportbot.ParseError):
        engine.create_bot(admin, "Broken", b"[", format="json")
    assert len(engine.bots(admin)) == 1


def test_chat_turns(engine, admin, bot_id, user):
    r = engine.chat(user, bot_id, "where is my package")
    assert isinstance(r, supportbot.Reply)
    assert r.answered and not r.escalated and r.escalation_reason is None
    assert "Account > Orders" in r.text
    assert r.session_id
    assert r.responder == "offline" and not r.fallback
    assert (r.prompt_tokens, r.completion_tokens) == (0, 0)
    assert r.sources[0].id == "track-order"
    assert r.sources[0].question == "How can I track my order?"
    assert 0 < r.sources[0].confidence <= 1 and r.confidence == pytest.approx(
        r.sources[0].confidence)
    assert r.suggestions and all(isinstance(s, str) and s for s in r.suggestions)
    assert r.latency_ms >= 0

    r2 = engine.chat(user, bot_id, "how long does a refund take", session_id=r.session_id)
    assert r2.session_id == r.session_id and r2.sources[0].id == "refund-time"

    human = engine.chat(user, bot_id, "I want to talk to a human agent", r.session_id)
    assert human.escalated and human.escalation_reason == "user_requested"

    mine = engine.chat(user, bot_id, "what is the meaning of life", session_id="my-own-id")
    assert mine.session_id == "my-own-id"
    assert not mine.answered and mine.escalated
    assert mine.escalation_reason == "low_confidence"

    # The owner admin tries its bot.
    assert engine.chat(admin, bot_id, "can I pay with paypal").sources[0].id == "payment-methods"


def test_chat_refusals(engine, admin, bot_id, user):
    engine.register_admin("eve@example.com", PASSWORD)
    eve = engine.principal(engine.login_admin("eve@example.com", PASSWORD))
    with pytest.raises(supportbot.Forbidden):
        engine.chat(eve, bot_id, "hello")
    with pytest.raises(supportbot.NotFound):
        engine.chat(user, "no-such-bot", "hello")
    with pytest.raises(supportbot.Unauthenticated):
        engine.chat(None, bot_id, "hello")
    engine.chat(user, bot_id, "hello", session_id="ann-session")
    # Another account's session id is refused without revealing anything.
    with pytest.raises(supportbot.Forbidden):
        engine.chat(admin, bot_id, "hello", session_id="ann-session")
    with pytest.raises(supportbot.LimitExceeded):
        engine.chat(user, bot_id, "hello", session_id="x" * 200)
    with pytest.raises(supportbot.InvalidArgument):
        engine.chat(user, bot_id, "hello", session_id="a\0b")
    with pytest.raises(TypeError):
        engine.chat(user, bot_id, 42)


def test_sessions_history_close(engine, admin, bot_id, user):
    a = engine.chat(user, bot_id, "where is my package").session_id
    engine.chat(user, bot_id, "refund status", session_id=a)
    b = engine.chat(user, bot_id, "I want to talk to a human", session_id="second").session_id

    sessions = engine.sessions(user, bot_id)
    assert isinstance(sessions, supportbot.Page) and sessions.next_cursor is None
    assert sorted(s.id for s in sessions) == sorted([a, b])
    actives = [s.last_active for s in sessions]
    assert actives == sorted(actives, reverse=True)  # most recently active first
    first = next(s for s in sessions if s.id == a)
    assert (first.bot_id, first.user_id, first.status, first.message_count) == (
        bot_id, user.account_id, "open", 4)
    assert first.created <= first.last_active
    assert first.first_message == "where is my package"
    second = next(s for s in sessions if s.id == b)
    assert second.status == "escalated" and second.escalation_reason == "user_requested"
    assert sorted(s.id for s in engine.sessions(admin, bot_id)) == sorted([a, b])

    history = engine.history(user, a)
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[0].text == "where is my package" and history[0].responder == ""
    reply = history[1]
    assert reply.faq_ids[0] == "track-order" and reply.responder == "offline"
    assert not reply.error and not reply.fallback and not reply.escalated
    assert history[0].id < history[1].id < history[2].id
    assert history[0].created <= history[3].created
    assert engine.history(admin, a) == history

    engine.close_session(user, a)
    engine.close_session(user, a)  # closing a closed session succeeds
    assert {s.id: s.status for s in engine.sessions(user, bot_id)}[a] == "closed"
    with pytest.raises(supportbot.Conflict):
        engine.chat(user, bot_id, "one more", session_id=a)

    engine.register_user(bot_id, "bob@example.com", PASSWORD)
    bob = engine.principal(engine.login_user(bot_id, "bob@example.com", PASSWORD))
    assert list(engine.sessions(bob, bot_id)) == []
    with pytest.raises(supportbot.Forbidden):
        engine.history(bob, a)
    with pytest.raises(supportbot.Forbidden):
        engine.close_session(bob, b)
    with pytest.raises(supportbot.NotFound):
        engine.history(user, "no-such-session")
    with pytest.raises(supportbot.NotFound):
        engine.sessions(user, "no-such-bot")


def test_summaries_and_analytics(engine, admin, bot_id, user):
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    a = engine.chat(user, bot_id, "where is my package").session_id
    engine.chat(user, bot_id, "I want to talk to a human", session_id="second")

    s = engine.summarize(user, a)
    assert s["session_id"] == a and s["bot_id"] == bot_id
    assert s["resolved"] is True and s["source"] == "offline"
    assert s["sentiment"] in ("positive", "neutral", "negative")
    assert isinstance(s["topics"], list) and s["summary"]

    counts = engine.summarize_sessions(admin, bot_id)
    assert counts == supportbot.SummarizeCounts(processed=1, skipped=1)
    assert engine.summarize_sessions(admin, bot_id) == (0, 2)
    with pytest.raises(supportbot.Forbidden):
        engine.summarize_sessions(user, bot_id)

    summaries = engine.summaries(admin, bot_id)
    assert sorted(x["session_id"] for x in summaries) == sorted([a, "second"])
    assert engine.summaries(admin, bot_id, since=start, until=start + dt.timedelta(hours=1))
    assert engine.summaries(admin, bot_id, until=start) == []
    assert engine.summaries(admin, bot_id, since=dt.date.today() + dt.timedelta(days=2)) == []

    stats = engine.analytics(admin, bot_id)
    assert stats["bot_id"] == bot_id and stats["sessions"] == 2
    assert stats["messages"]["user"] == 2 and stats["messages"]["assistant"] == 2
    assert stats["escalation"]["numerator"] == 1 and stats["escalation"]["denominator"] == 2
    assert stats["top_faqs"][0]["id"] == "track-order"
    assert stats["narrative"] is None
    # Datetimes, naive ones taken as UTC, and epoch seconds.
    naive = start.replace(tzinfo=None)
    assert engine.analytics(admin, bot_id, since=naive)["sessions"] == 2
    assert engine.analytics(admin, bot_id, since=start.timestamp())["from_ms"] == int(
        round(start.timestamp() * 1000))
    assert engine.analytics(admin, bot_id, until=start)["sessions"] == 0
    with pytest.raises(supportbot.InvalidArgument):
        engine.analytics(admin, bot_id, since=start, until=start - dt.timedelta(days=1))
    with pytest.raises(TypeError):
        engine.analytics(admin, bot_id, since="yesterday")
    with pytest.raises(supportbot.Forbidden):
        engine.analytics(user, bot_id)
    with pytest.raises(supportbot.NotFound):
        engine.summarize(user, "no-such-session")
