"""Everything the library allocates is freed by the bindings: every allocating call of the C ABI
is wrapped to record the objects it hands out, every *_free to record what is released, and a
scenario over the whole surface (successes and failures, streaming, threads) must end with
nothing outstanding."""

import gc
import threading

import pytest

import supportbot
from supportbot import _lib
from conftest import PASSWORD, SECRET, SHOP_CSV, SHOP_JSON, THRESHOLD

# Allocating calls, with the position of their out-parameter.
ALLOCATORS = {
    "sb_engine_open": 0, "sb_faqset_load": -1, "sb_faqset_load_file": -1,
    "sb_faqset_search": -1, "sb_admin_register": -1, "sb_user_register": -1,
    "sb_admin_login": -1, "sb_user_login": -1, "sb_token_issue": -1, "sb_account_lookup": -1,
    "sb_principal_from_token": -1, "sb_bot_create": -1, "sb_bot_create_from_file": -1,
    "sb_bot_get": -1, "sb_bot_list": -1, "sb_chat_send": -1, "sb_session_list": -1,
    "sb_session_history": -1, "sb_session_summarize": -1, "sb_bot_summaries": -1,
    "sb_bot_analytics": -1, "sb_session_list_page": -1, "sb_session_history_page": -1,
}
FREERS = ["sb_engine_close", "sb_faqset_free", "sb_results_free", "sb_principal_free",
          "sb_bots_free", "sb_reply_free", "sb_sessions_free", "sb_messages_free",
          "sb_string_free"]


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.live = {}
        self.allocated = 0
        self.double_frees = []

    def allocator(self, name, f, at):
        def call(*args):
            status = f(*args)
            p = args[at]._obj.value
            if p:
                with self.lock:
                    self.live[p] = name
                    self.allocated += 1
            return status
        return call

    def freer(self, name, f):
        def call(p):
            value = p.value if hasattr(p, "value") else p
            if value:
                with self.lock:
                    if self.live.pop(value, None) is None:
                        self.double_frees.append((name, value))
            return f(p)
        return call


@pytest.fixture
def ledger(monkeypatch):
    led = Ledger()
    for name, at in ALLOCATORS.items():
        if _lib.has(name):
            monkeypatch.setattr(_lib.LIB, name, led.allocator(name, getattr(_lib.LIB, name), at))
    for name in FREERS:
        monkeypatch.setattr(_lib.LIB, name, led.freer(name, getattr(_lib.LIB, name)))
    return led


def scenario(tmp_path):
    engine = supportbot.Engine(f"sqlite://{tmp_path / 'm.db'}", SECRET, answer_threshold=THRESHOLD)
    faqs = engine.load_faqs(SHOP_JSON)
    engine.load_faqs(SHOP_CSV.read_bytes())  # dropped at once: freed by the garbage collector
    for q in ("where is my package", "refund status", "   "):
        faqs.search(q)
    with pytest.raises(supportbot.InvalidData):
        engine.load_faqs(b'[{"question": "q"}]')
    admin_id = engine.register_admin("owner@example.com", PASSWORD)
    admin = engine.principal(engine.login_admin("owner@example.com", PASSWORD))
    with pytest.raises(supportbot.Unauthenticated):
        engine.login_admin("owner@example.com", "Wrong-password-1")
    bot = engine.create_bot(admin, "Shop", SHOP_JSON)
    engine.create_bot(admin, "Gifts", SHOP_CSV.read_bytes())
    engine.replace_faqs(admin, bot, SHOP_JSON.read_bytes())
    engine.bots(admin)
    engine.bot(admin, bot)
    with pytest.raises(supportbot.NotFound):
        engine.bot(admin, "nope")
    user_id = engine.register_user(bot, "ann@example.com", PASSWORD)
    user_token = engine.login_user(bot, "ann@example.com", PASSWORD)
    engine.lookup_account("ann@example.com", bot)
    engine.principal(engine.issue_token(admin_id)).close()
    r = engine.chat(user_token, bot, "where is my package")  # a token as the principal
    with pytest.raises(supportbot.NotFound):
        engine.chat(user_token, "nope", "hello")
    stream = engine.chat_stream(user_token, bot, "refund status", r.session_id)
    assert "".join(stream) == stream.reply.text
    with engine.chat_stream(user_token, bot, "send something back", r.session_id) as s:
        pass
    assert s.reply is not None

    def chat(e, who, n):
        e.chat(who, bot, "can I pay with paypal", session_id=f"t{n}")

    threads = [threading.Thread(target=chat, args=(engine, admin, n)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.sessions(admin, bot)
    engine.history(admin, r.session_id)
    if _lib.has("sb_session_list_page"):
        list(engine.iter_sessions(admin, bot, page_size=2))
        list(engine.iter_history(admin, r.session_id, page_size=3))
    engine.summarize(admin, r.session_id)
    engine.summarize_sessions(admin, bot)
    engine.summaries(admin, bot)
    engine.analytics(admin, bot)
    engine.close_session(admin, r.session_id)
    engine.delete_account(admin, user_id)
    with pytest.raises(supportbot.Unauthenticated):
        engine.chat(user_token, bot, "hello")
    faqs.close()
    engine.close()
    del admin, faqs, engine, threads


def test_everything_allocated_is_freed(ledger, tmp_path):
    scenario(tmp_path)
    gc.collect()
    assert ledger.allocated > 30  # the scenario did allocate, through the wrapped calls
    assert ledger.live == {}
    assert ledger.double_frees == []
