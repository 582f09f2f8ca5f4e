"""chat_stream: the offline responder's one piece, and an LLM's real stream (a fake
OpenAI-compatible server streaming server-sent events)."""

import threading

import pytest

import supportbot
from conftest import PASSWORD, SECRET, SHOP_JSON, THRESHOLD, model_json

REPLY = "You can follow your parcel under Account > Orders, where each order has a tracking link."
SUGGESTIONS = ["How do I return an item?", "How long does a refund take?"]


def test_offline_stream_is_one_piece(engine, bot_id, user):
    stream = engine.chat_stream(user, bot_id, "where is my package")
    assert stream.reply is None
    pieces = list(stream)
    assert len(pieces) == 1
    assert stream.reply is not None
    assert pieces[0] == stream.reply.text == stream.text
    assert stream.reply.answered and stream.reply.sources[0].id == "track-order"
    assert list(stream) == []  # exhausted
    # The turn was stored like any other.
    history = engine.history(user, stream.reply.session_id)
    assert history[-1].text == pieces[0]


def test_stream_errors_are_raised_by_the_iteration(engine, bot_id, user):
    stream = engine.chat_stream(user, "no-such-bot", "hello")
    with pytest.raises(supportbot.NotFound) as e:
        list(stream)
    assert e.value.message
    assert stream.reply is None
    with pytest.raises(supportbot.Unauthenticated):
        for _ in engine.chat_stream(None, bot_id, "hello"):
            pass
    # Bad arguments raise at the call.
    with pytest.raises(supportbot.InvalidArgument):
        engine.chat_stream(user, bot_id, "hello", session_id="a\0b")


@pytest.fixture
def llm_engine(tmp_path, fake_llm):
    with supportbot.Engine(f"sqlite://{tmp_path / 'llm.db'}", SECRET, "openai",
                           llm_base_url=fake_llm.base_url, llm_model="test-model",
                           llm_max_attempts=1, llm_timeout_ms=20000,
                           answer_threshold=THRESHOLD) as e:
        admin = e.principal(e.issue_token(e.register_admin("owner@example.com", PASSWORD)))
        bot = e.create_bot(admin, "Shop", SHOP_JSON)
        user = e.principal(e.issue_token(e.register_user(bot, "ann@example.com", PASSWORD)))
        yield e, bot, user


def test_llm_stream_arrives_in_pieces(llm_engine, fake_llm):
    e, bot, user = llm_engine
    fake_llm.text = model_json(REPLY, SUGGESTIONS)
    fake_llm.parts = 8
    stream = e.chat_stream(user, bot, "where is my package")
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces) == REPLY  # only the reply's text, never the JSON around it
    r = stream.reply
    assert r.text == REPLY and r.responder == "openai" and not r.fallback
    assert r.suggestions == SUGGESTIONS
    assert (r.prompt_tokens, r.completion_tokens) == (90, 25)
    request = fake_llm.requests[-1]
    assert request["stream"] is True and request["model"] == "test-model"
    stored = e.history(user, r.session_id)[-1]
    assert stored.text == REPLY and stored.prompt_tokens == 90


def test_llm_pieces_come_before_the_call_returns(llm_engine, fake_llm):
    # The server sends its first event, then holds the rest until the gate opens: the first
    # piece must reach the iterating thread while the turn is still running.
    e, bot, user = llm_engine
    fake_llm.text = model_json(REPLY, SUGGESTIONS)
    fake_llm.parts = 4
    fake_llm.gate = threading.Event()
    fake_llm.before_gate = 2
    stream = e.chat_stream(user, bot, "where is my package")
    first = next(stream)
    assert first and REPLY.startswith(first) and first != REPLY
    assert stream.reply is None  # the turn has not returned
    assert not fake_llm.gate.is_set()
    fake_llm.gate.set()
    rest = list(stream)
    assert first + "".join(rest) == REPLY
    assert stream.reply.text == REPLY


def test_closing_a_stream_stops_it(llm_engine, fake_llm):
    e, bot, user = llm_engine
    fake_llm.text = model_json(REPLY, SUGGESTIONS)
    fake_llm.parts = 4
    fake_llm.gate = threading.Event()
    fake_llm.before_gate = 2
    with e.chat_stream(user, bot, "where is my package") as stream:
        first = next(stream)
        fake_llm.gate.set()
    # The turn keeps what was received before the stop (the piece that the stop answered may
    # be in too).
    r = stream.reply
    assert r is not None and r.text.startswith(first) and REPLY.startswith(r.text)
    assert e.history(user, r.session_id)[-1].text == r.text


def test_llm_chat_without_stream(llm_engine, fake_llm):
    e, bot, user = llm_engine
    fake_llm.text = model_json(REPLY, SUGGESTIONS)
    r = e.chat(user, bot, "where is my package")
    assert r.text == REPLY and r.responder == "openai" and r.suggestions == SUGGESTIONS
    assert fake_llm.requests[-1].get("stream") is not True


def test_llm_failure_falls_back(llm_engine, fake_llm):
    e, bot, user = llm_engine
    fake_llm.text = "this is not the JSON the prompt asks for"
    stream = e.chat_stream(user, bot, "where is my package")
    text = "".join(stream)
    r = stream.reply
    assert r.fallback and r.responder == "offline"
    assert "Account > Orders" in r.text
    # Nothing was streamed before the failure: the fallback arrives in one piece.
    assert text == r.text
