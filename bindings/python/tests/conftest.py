"""Fixtures of the supportbot Python tests.

The library under test is the one SUPPORTBOT_LIBRARY names (ctest passes the build's
libsupportbot.so.2); the package is imported from this source tree unless
SUPPORTBOT_TEST_INSTALLED is set.
"""

from __future__ import annotations

import http.server
import json
import os
import socketserver
import sys
import threading
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent  # bindings/python
REPO = PACKAGE_ROOT.parent.parent
DATA = HERE / "data"
SHOP_JSON = DATA / "shop.json"
SHOP_CSV = DATA / "shop.csv"
SECRET = "test-secret-key-of-at-least-32-bytes!!"
PASSWORD = "Password-123"

if not os.environ.get("SUPPORTBOT_TEST_INSTALLED"):
    sys.path.insert(0, str(PACKAGE_ROOT))

import supportbot  # noqa: E402

# The tests pin the answer threshold (and so the escalation one, a quarter of it) so that what they
# check does not hang on the calibration of their small set; test_faqs checks the default.
THRESHOLD = 0.02


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[supportbot.Engine]:
    with supportbot.Engine(f"sqlite://{tmp_path / 'bot.db'}", SECRET,
                           answer_threshold=THRESHOLD) as e:
        yield e


@pytest.fixture
def admin(engine: supportbot.Engine) -> supportbot.Principal:
    # A minted token saves a login's password hash (test_accounts logs in for real).
    return engine.principal(engine.issue_token(engine.register_admin("owner@example.com",
                                                                     PASSWORD)))


@pytest.fixture
def bot_id(engine: supportbot.Engine, admin: supportbot.Principal) -> str:
    return engine.create_bot(admin, "Shop", SHOP_JSON)


@pytest.fixture
def user(engine: supportbot.Engine, bot_id: str) -> supportbot.Principal:
    return engine.principal(engine.issue_token(engine.register_user(bot_id, "ann@example.com",
                                                                    PASSWORD)))


# ---- A fake OpenAI-compatible LLM server --------------------------------------------------------


def model_json(reply: str, suggestions: List[str], escalate: bool = False) -> str:
    """What the model writes: the JSON object the library's prompt asks for."""
    return json.dumps({"reply": reply, "suggestions": suggestions, "escalate": escalate})


def openai_sse(text: str, parts: int) -> List[bytes]:
    """The server-sent events of a streamed chat.completion carrying `text` in `parts` pieces."""
    step = max(1, -(-len(text) // parts))
    events = []
    for at in range(0, len(text), step):
        chunk = {"object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": {"content": text[at:at + step]},
                              "finish_reason": None}]}
        events.append(f"data: {json.dumps(chunk)}\n\n".encode())
    events.append(b'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{},'
                  b'"finish_reason":"stop"}]}\n\n')
    events.append(b'data: {"object":"chat.completion.chunk","choices":[],"usage":'
                  b'{"prompt_tokens":90,"completion_tokens":25}}\n\ndata: [DONE]\n\n')
    return events


class FakeLlm:
    """An OpenAI-compatible /v1/chat/completions server on 127.0.0.1 that streams `text` as SSE
    events. When `gate` is set, it sends the first `before_gate` events, then waits for the gate
    before the rest (so a test can see pieces arrive while the call is still running)."""

    def __init__(self) -> None:
        self.text = model_json("Hello", [])
        self.parts = 4
        self.gate: Optional[threading.Event] = None
        self.before_gate = 1
        self.requests: List[dict] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.requests.append(json.loads(body))
                stream = fake.requests[-1].get("stream", False)
                if not stream:
                    out = json.dumps({"object": "chat.completion", "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": fake.text},
                         "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 90, "completion_tokens": 25}}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i, event in enumerate(openai_sse(fake.text, fake.parts)):
                    if fake.gate is not None and i == fake.before_gate:
                        fake.gate.wait(30)
                    self.wfile.write(event)
                    self.wfile.flush()

            def log_message(self, *args: object) -> None:
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm() -> Iterator[FakeLlm]:
    f = FakeLlm()
    yield f
    f.stop()
