"""Many threads sharing an engine, an FAQ set and principals, as the C ABI allows (the GIL is
released during calls: ctypes.CDLL)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import PASSWORD, SHOP_JSON, THRESHOLD

QUERIES = {
    "where is my package": "track-order",
    "refund status": "refund-time",
    "can I pay with paypal": "payment-methods",
    "forgot my password": "reset-password",
    "update shipping address": "change-address",
    "send something back": "return-item",
}


def test_search_from_threads(engine):
    faqs = engine.load_faqs(SHOP_JSON)
    expected = {q: faqs.search(q, threshold=THRESHOLD).hits for q in QUERIES}

    def work(i):
        q = list(QUERIES)[i % len(QUERIES)]
        r = faqs.search(q, threshold=THRESHOLD)
        return q, r

    with ThreadPoolExecutor(8) as pool:
        for q, r in pool.map(work, range(400)):
            assert r.hits == expected[q]
            assert r.best.id == QUERIES[q]


def test_chat_from_threads(engine, admin, bot_id, user):
    users = [user]
    for i in range(3):
        account = engine.register_user(bot_id, f"user{i}@example.com", PASSWORD)
        users.append(engine.principal(engine.issue_token(account)))
    errors = []

    def conversation(n):
        who = users[n % len(users)]
        session = f"s-{n}"
        try:
            for q, faq in list(QUERIES.items())[:3]:
                r = engine.chat(who, bot_id, q, session_id=session)
                assert r.session_id == session and r.sources[0].id == faq
            stream = engine.chat_stream(who, bot_id, "forgot my password", session_id=session)
            assert "".join(stream) == stream.reply.text
            assert len(engine.history(who, session)) == 8
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=conversation, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(len(engine.sessions(u, bot_id)) for u in users) == 12
    assert len(engine.sessions(admin, bot_id)) == 12


def test_calls_run_in_parallel_with_python(engine):
    # While one thread is inside a long library call (indexing a set), another thread keeps
    # running Python code: the GIL is released during the call.
    big = b"[" + b",".join(
        b'{"question": "question number %d about topic %d", "answer": "answer %d"}' % (i, i, i)
        for i in range(300)) + b"]"
    ticks = 0
    done = threading.Event()

    def load():
        engine.load_faqs(big)
        done.set()

    t = threading.Thread(target=load)
    start = time.monotonic()
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    elapsed = time.monotonic() - start
    if elapsed < 0.05:
        pytest.skip("the set indexed too fast to tell")
    assert ticks > 5


def test_close_waits_for_running_calls(engine, bot_id, user):
    # close() from one thread while others call: running calls finish, later ones fail cleanly.
    results = []

    def chat():
        try:
            results.append(engine.chat(user, bot_id, "where is my package").answered)
        except ValueError as e:
            results.append(str(e))

    threads = [threading.Thread(target=chat) for _ in range(6)]
    for t in threads:
        t.start()
    engine.close()
    for t in threads:
        t.join()
    assert len(results) == 6
    assert all(r is True or "closed" in r for r in results)
    with pytest.raises(ValueError, match="engine is closed"):
        engine.chat(user, bot_id, "hello")
