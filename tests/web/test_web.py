#!/usr/bin/env python3
"""End-to-end test of supportbot-server's web page in headless Chromium.

Starts the real supportbot-server on a free loopback port with a throwaway SQLite database and
drives the page at / with Selenium (Debian's python3-selenium, chromium and chromium-driver):

  an admin registers (after a refused login), logs out and in again, is refused a bad FAQ file,
  creates a bot by uploading one and sees it listed; a user registers to that bot, asks an FAQ
  question and sees the answer streamed in with its source, clicks a suggested question, asks
  something no FAQ covers, and asks for a human and sees the hand-over; the admin then sees the
  conversation in the bot's list, its history and summary, the stored summaries, and the
  analytics page with its charts.

Everything checked is what the page shows (DOM text and elements). Screenshots go to --artifacts.
Exits 77 (ctest's SKIP_RETURN_CODE) only when Chromium or its driver is not installed; anything
else that is wrong (Selenium missing included) fails.

Usage: test_web.py --server build/examples/http_server/supportbot-server --artifacts DIR
"""

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

SKIP = 77

# The bot's FAQs: the first entries of the project's faqs.json (small, so that the index builds in
# a fraction of a second, and with the alternates that make its confidences realistic).
FAQ_COUNT = 16


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The real supportbot-server, in a temp directory of its own (no .env from the repo)."""

    def __init__(self, binary, workdir, log_path, extra_env=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GEMINI_API_KEY")}
        env.update({
            "DATABASE_URL": "sqlite:///" + os.path.join(workdir, "web-test.db"),
            "SECRET_KEY": secrets.token_hex(32),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LLM_PROVIDER": "offline",
        })
        env.update(extra_env or {})
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(self.port)],
                                     cwd=workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.log_path = log_path

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"supportbot-server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"supportbot-server did not answer /health within {timeout} s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class FakeOpenAI:
    """An OpenAI-compatible /v1/chat/completions (as Ollama or llama.cpp's server) that writes the
    model's JSON reply as server-sent events in small pieces, a little apart, so that the page has
    time to show the reply growing."""

    def __init__(self, reply, suggestions, piece=9, delay=0.04):
        import http.server
        import threading
        model_text = json.dumps({"reply": reply, "suggestions": suggestions, "escalate": False})
        self.requests = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the stream ends when the connection closes

            def log_message(self, *_):
                pass

            def do_POST(self):
                fake.requests += 1
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if not body.get("stream"):
                    out = json.dumps({"object": "chat.completion", "choices": [{"index": 0, "message": {
                        "role": "assistant", "content": model_text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 50, "completion_tokens": 20}}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for at in range(0, len(model_text), piece):
                    chunk = {"object": "chat.completion.chunk", "choices": [
                        {"index": 0, "delta": {"content": model_text[at:at + piece]}, "finish_reason": None}]}
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                    self.wfile.flush()
                    time.sleep(delay)
                done = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                usage = {"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 20}}
                self.wfile.write(b"data: " + json.dumps(done).encode() + b"\n\n")
                self.wfile.write(b"data: " + json.dumps(usage).encode() + b"\n\ndata: [DONE]\n\n")
                self.wfile.flush()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def api_call(base, method, path, token=None, json_body=None, form=None, files=None):
    """A direct call of the REST API (to set up what the page is then used for)."""
    headers = {}
    data = None
    if token:
        headers["Authorization"] = "Bearer " + token
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif form is not None and files is None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif files is not None:
        boundary = "sbtest" + secrets.token_hex(8)
        parts = []
        for k, v in (form or {}).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
        for k, (name, content) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
                         f'Content-Type: application/json\r\n\r\n'.encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        data = b"".join(parts)
        headers["Content-Type"] = "multipart/form-data; boundary=" + boundary
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


class Page:
    """Selenium helpers: waits on what the page shows, screenshots."""

    def __init__(self, driver, artifacts):
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait
        self.d = driver
        self.artifacts = artifacts
        # Lists are redrawn as answers arrive: an element read while it is replaced is retried.
        self.wait = WebDriverWait(driver, 30, poll_frequency=0.05,
                                  ignored_exceptions=[StaleElementReferenceException])
        self.shots = 0
        self.t0 = time.time()

    def by_id(self, id_):
        from selenium.webdriver.common.by import By
        return self.d.find_element(By.ID, id_)

    def css(self, sel, root=None):
        from selenium.webdriver.common.by import By
        return (root or self.d).find_elements(By.CSS_SELECTOR, sel)

    def until(self, what, fn):
        try:
            return self.wait.until(lambda _d: fn())
        except Exception as e:  # TimeoutException, with what we waited for
            self.screenshot("FAILED-" + what.replace(" ", "-")[:40])
            raise AssertionError(f"timed out waiting for: {what}") from e

    def visible(self, id_):
        return self.until(f"#{id_} visible", lambda: self.by_id(id_).is_displayed() and self.by_id(id_))

    def text(self, id_):
        return self.by_id(id_).text

    def fill(self, id_, value):
        e = self.by_id(id_)
        e.clear()
        e.send_keys(value)

    def screenshot(self, name, full=True):
        self.shots += 1
        path = os.path.join(self.artifacts, f"{self.shots:02d}-{name}.png")
        size = self.d.get_window_size()
        try:
            if full:
                self.d.execute_script("window.scrollTo(0, 0)")
                h = self.d.execute_script(
                    "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
                self.d.set_window_size(size["width"], min(max(int(h) + 120, size["height"]), 4000))
            self.d.save_screenshot(path)
        finally:
            if full:
                self.d.set_window_size(size["width"], size["height"])
        print(f"screenshot: {path} ({time.time() - self.t0:.1f} s)")
        return path


def api_get(base, path, token):
    """The API's own answer, to compare with what the page shows."""
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def check_session_label(shown, session, expect_in_first):
    """A conversation in a list is named by its first message, or by its date when the API does
    not give the first message (the server needs the C ABI's sb_sessions_first_message)."""
    first = session.get("first_message")
    if first:
        assert expect_in_first in first, f"the API's first message: {first!r}"
        assert first[:30] in shown, f"the list shows the first message: {shown!r}"
    else:
        print("note: the API gives no first_message; the page names the conversation by its date")
        assert shown.startswith("Conversation of "), shown


A11Y_SCRIPT = """
const problems = [];
const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
for (const e of document.querySelectorAll('input, textarea, select')) {
  if (!visible(e) || e.type === 'hidden') continue;
  const labelled = (e.id && document.querySelector('label[for="' + e.id + '"]')) || e.closest('label') ||
                   e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
  if (!labelled) problems.push('unlabelled ' + e.tagName + '#' + e.id);
}
for (const e of document.querySelectorAll('button, a[href]')) {
  if (!visible(e)) continue;
  if (!(e.textContent.trim() || e.getAttribute('aria-label'))) problems.push('nameless ' + e.tagName + '#' + e.id);
}
for (const e of document.querySelectorAll('svg')) {
  if (!visible(e)) continue;
  if (e.getAttribute('aria-hidden') !== 'true' && !e.getAttribute('aria-label') && !e.querySelector('title'))
    problems.push('svg without a text alternative in ' + (e.parentElement.id || e.parentElement.className));
}
const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
for (const id of new Set(ids)) if (ids.indexOf(id) !== ids.lastIndexOf(id)) problems.push('duplicate id ' + id);
if (!document.documentElement.lang) problems.push('no lang');
if (document.querySelectorAll('h1:not([hidden])').length === 0) problems.push('no h1');
return problems;
"""


def check_a11y(page, where):
    """The basics a screen reader needs: labelled fields, named buttons and links, text for the
    charts, unique ids."""
    problems = page.d.execute_script(A11Y_SCRIPT)
    assert not problems, f"{where}: {problems}"


def last(items, what):
    assert items, f"no {what} on the page"
    return items[-1]


def run(args, page, base, workdir):
    p = page
    d = p.d
    admin_email = "admin@example.com"
    admin_password = "correct horse 42"
    user_email = "customer@example.com"
    user_password = "s3cret-pass"

    # ---- Admin: refused login, register, log out, log in ----
    d.get(base + "/#admin")
    p.visible("admin-auth")
    assert "Admin" in p.text("admin-auth-title")
    check_a11y(p, "the admin's login")
    p.fill("admin-email", admin_email)
    p.fill("admin-password", admin_password)
    p.by_id("admin-login").click()
    err = p.visible("admin-auth-error")
    assert err.text.strip(), "a refused login shows the API's detail"
    print("refused login shows:", err.text)

    p.by_id("admin-register").click()
    p.visible("admin-app")
    p.until("admin email shown", lambda: admin_email in p.text("admin-who"))
    p.until("a new admin has no bots", lambda: p.by_id("admin-bots-empty").is_displayed())
    def admin_token():
        return d.execute_script("return JSON.parse(sessionStorage.getItem('supportbot.admin')).token")
    token = admin_token()
    assert token and token.count(".") == 2, "the admin's token is kept in sessionStorage"

    p.by_id("admin-logout").click()
    p.visible("admin-auth")
    assert d.execute_script("return sessionStorage.getItem('supportbot.admin')") is None
    p.fill("admin-email", admin_email)
    p.fill("admin-password", admin_password)
    p.by_id("admin-login").click()
    p.visible("admin-app")

    # ---- Admin: a bad FAQ file is refused with the reason, then a bot is created ----
    bad = os.path.join(workdir, "bad.json")
    with open(bad, "w") as f:
        json.dump([{"question": "Half an entry"}], f)
    p.fill("bot-name", "Broken bot")
    p.by_id("bot-file").send_keys(bad)
    p.by_id("bot-create").click()
    err = p.visible("bot-create-error")
    assert err.text.strip(), "a refused upload shows the API's detail"
    print("refused upload shows:", err.text)
    assert not p.css("#admin-bots li"), "a refused upload creates no bot"

    with open(args.faqs, encoding="utf-8") as f:
        entries = json.load(f)
    entries = entries["faqs"] if isinstance(entries, dict) else entries
    faqs = os.path.join(workdir, "faqs.json")
    with open(faqs, "w", encoding="utf-8") as f:
        json.dump(entries[:FAQ_COUNT], f)
    bot_name = "Northwind <b>Help</b> & Co"  # markup in API data must show as text
    p.fill("bot-name", bot_name)
    p.by_id("bot-file").clear()
    p.by_id("bot-file").send_keys(faqs)
    p.by_id("bot-create").click()
    p.until("the new bot listed", lambda: any(e.text.startswith(bot_name) for e in p.css("#admin-bots .bot-name")))
    p.until("the new bot opened", lambda: p.by_id("bot-detail").is_displayed() and p.text("bot-title") == bot_name)
    assert not p.css("#bot-title b, #admin-bots b"), "the bot's name is shown as text, not markup"
    assert not p.by_id("bot-create-error").is_displayed()
    bot_id = p.text("bot-id").strip()
    assert len(bot_id) >= 8, f"bot id shown: {bot_id!r}"
    p.until("no conversations yet", lambda: p.by_id("sessions-empty").is_displayed())
    p.screenshot("admin-bot-created")

    # ---- User: register to the bot from its link, chat ----
    d.get(base + f"/?bot={bot_id}#chat")
    p.visible("chat-auth")
    assert p.by_id("chat-bot-id").get_attribute("value") == bot_id, "the bot id comes from the URL"
    p.fill("chat-email", user_email)
    p.fill("chat-password", "short")
    p.by_id("chat-register").click()
    err = p.visible("chat-auth-error")
    assert err.text.strip(), "a refused registration shows the API's detail"
    print("refused registration shows:", err.text)
    p.fill("chat-password", user_password)
    p.by_id("chat-register").click()
    p.visible("chat-app")
    p.until("user email shown", lambda: user_email in p.text("chat-who"))

    def ask(text=None, click=None):
        """Sends text (or clicks a suggestion button); returns the finished reply <li>."""
        earlier = p.css("#chat-log .msg.assistant")
        before = earlier[-1] if earlier else None
        if click is not None:
            click.click()
        else:
            box = p.by_id("chat-input")
            box.send_keys(text)
            from selenium.webdriver.common.keys import Keys
            box.send_keys(Keys.ENTER)
        p.until("a reply", lambda: p.css("#chat-log .msg.assistant") and p.css("#chat-log .msg.assistant")[-1] != before)
        li = p.css("#chat-log .msg.assistant")[-1]
        p.until("the reply finished", lambda: "pending" not in (li.get_attribute("class") or ""))
        assert "failed" not in li.get_attribute("class"), "reply failed: " + li.text
        return li

    # An FAQ question: the answer streams in (server-sent events), with its source.
    li = ask("where is my package? has it shipped")
    reply_text = p.css(".bubble-text", li)[0].text
    assert "Account > Orders" in reply_text and "tracking" in reply_text, reply_text
    assert li.get_attribute("data-delivery") == "stream", "the reply came as server-sent events"
    assert int(li.get_attribute("data-pieces")) >= 1, "at least one text piece was streamed"
    sources = p.css(".sources", li)
    assert sources, "the reply's sources are shown"
    main = p.css(".source-main", sources[0])
    assert main and "How can I track my order?" in main[0].text, "the FAQ it answered from is shown"
    assert "answered from" in sources[0].text.lower() and "% match" in main[0].text, sources[0].text
    mine = last(p.css("#chat-log .msg.user .bubble-text"), "user message")
    assert "where is my package" in mine.text
    assert not p.by_id("chat-handover").is_displayed()
    suggestions = p.css(".suggestion", li)
    assert suggestions, "suggested questions are shown as buttons"
    suggestion_texts = [s.text for s in suggestions]
    print("suggestions:", suggestion_texts)
    p.screenshot("chat-answer")

    # Click a suggested question: it is sent as the user's message and answered.
    chosen = suggestion_texts[0]
    li2 = ask(click=suggestions[0])
    assert last(p.css("#chat-log .msg.user .bubble-text"), "user message").text == chosen
    assert p.css(".bubble-text", li2)[0].text.strip(), "the suggestion got an answer"
    assert not p.css(".suggestion", li), "older suggestions are cleared"

    # Asking for a person: the hand-over is shown in the reply and above the conversation.
    li3 = ask("I want to talk to a human agent")
    note = p.css(".handover-note", li3)
    assert note, "the hand-over is shown in the reply"
    assert "Handed over to a person" in note[0].text and "You asked to talk to a person" in note[0].text
    banner = p.visible("chat-handover")
    assert "taking over" in banner.text
    assert "escalated" in li3.get_attribute("class")

    # While the conversation waits for a person the bot answers no FAQ: the message is kept for
    # the agent and acknowledged. It has markup in it: shown as text wherever it appears.
    odd = "do you repair <b>vintage</b> motorcycles"
    li4 = ask(odd)
    assert last(p.css("#chat-log .msg.user .bubble-text"), "user message").text == odd
    assert not p.css("#chat-log b"), "a message's markup is shown as text"
    assert "agent will be with you" in p.css(".bubble-text", li4)[0].text, "the wait is acknowledged"
    assert p.by_id("chat-handover").is_displayed(), "the hand-over stays shown while waiting"
    p.until("the conversation listed", lambda: len(p.css("#chat-sessions .session-item")) == 1)
    user_token = d.execute_script(f"return JSON.parse(sessionStorage.getItem('supportbot.user.{bot_id}')).token")
    api_sessions = api_get(base, f"/api/v1/chat/{bot_id}/sessions", user_token)
    assert len(api_sessions) == 1 and api_sessions[0]["status"] == "escalated", api_sessions
    check_session_label(p.css("#chat-sessions .session-item .session-first")[0].text, api_sessions[0],
                        "where is my package")
    assert "with a person" in p.css("#chat-sessions .session-item")[0].text
    p.screenshot("chat-handover")
    check_a11y(p, "the chat")

    # The conversation survives a reload (the history is read back from the API).
    user_msgs = [e.text for e in p.css("#chat-log .msg.user .bubble-text")]
    d.refresh()
    p.visible("chat-app")
    p.until("history reloaded", lambda: [e.text for e in p.css("#chat-log .msg.user .bubble-text")] == user_msgs)
    assert p.by_id("chat-handover").is_displayed(), "the hand-over is shown after a reload"

    # Narrow screen (a phone).
    size = d.get_window_size()
    d.set_window_size(390, 844)
    time.sleep(0.4)
    width = d.execute_script("return document.documentElement.scrollWidth")
    assert width <= 392, f"nothing sticks out sideways on a phone (scrollWidth {width})"
    p.screenshot("chat-phone", full=False)
    d.set_window_size(size["width"], size["height"])

    # ---- Admin: the conversation, its history and summary ----
    d.get(base + f"/#admin/{bot_id}/sessions")
    p.visible("bot-detail")
    p.until("the session listed", lambda: len(p.css("#sessions-body tr")) == 1)
    row = p.css("#sessions-body tr")[0]
    check_session_label(p.css("button.row-link", row)[0].text, api_sessions[0], "where is my package")
    assert "Escalated" in row.text, "the escalated status is shown: " + row.text
    assert row.text.strip().endswith("8"), "4 questions and 4 replies: " + row.text
    p.css("button.row-link", row)[0].click()
    p.visible("history-panel")
    p.until("the history shown", lambda: len(p.css("#history-log .msg")) == 8)
    hist = p.by_id("history-log").text
    for m in user_msgs:
        assert m in hist, f"history shows {m!r}"
    assert "Account > Orders" in hist
    assert "Handed over to a person" in hist and "Asked for a person" in hist
    p.by_id("history-summary").click()
    box = p.visible("history-summary-box")
    p.until("the summary shown", lambda: len(p.by_id("history-summary-box").text) > 20)
    print("summary:", box.text.replace("\n", " | "))
    p.screenshot("admin-history")
    check_a11y(p, "the admin's conversations")

    # ---- Admin: stored summaries ----
    p.by_id("tab-summaries").click()
    p.visible("pane-summaries")
    p.by_id("summaries-process").click()
    p.until("summaries processed", lambda: "summarised" in p.text("summaries-result") or "Done" in p.text("summaries-result"))
    p.until("a summary card", lambda: len(p.css("#summaries-list .summary-card")) == 1)
    print("process-summaries shows:", p.text("summaries-result"))
    card = p.css("#summaries-list .summary-card")[0].text
    assert "Not resolved" in card and "where is my package" in card, card
    p.screenshot("admin-summaries")

    # ---- Admin: analytics with charts ----
    p.by_id("tab-analytics").click()
    p.visible("pane-analytics")
    p.until("analytics shown", lambda: p.css("#analytics-body .stats"))
    stats = p.css("#analytics-body .stats")[0].text
    assert "Conversations\n1" in stats, stats
    assert "Handed to a person\n100%" in stats, stats
    charts = {e.find_element("css selector", "h3").text: e for e in p.css("#analytics-body figure.chart")}
    print("charts:", list(charts))
    for title in ("Conversations per day", "Why the bot handed over", "Most used FAQs", "Knowledge gaps"):
        assert title in charts, f"chart {title!r} shown"
    day = charts["Conversations per day"]
    p.until("the day chart drawn", lambda: p.css("svg rect.col", day))
    cols = p.css("svg rect.col", day)
    heights = [float(c.get_attribute("height")) for c in cols]
    assert len(cols) >= 7 and sum(h > 0 for h in heights) == 1, f"one day with sessions: {heights}"
    assert "1 in" in p.css("svg", day)[0].get_attribute("aria-label")
    reasons = charts["Why the bot handed over"].text
    assert "Asked for a person" in reasons, reasons
    top = charts["Most used FAQs"].text
    assert "How can I track my order?" in top, top
    assert p.css(".bar-fill", charts["Most used FAQs"]), "top FAQs drawn as bars"
    gaps = charts["Knowledge gaps"].text
    print("knowledge gaps:", gaps.replace("\n", " | "))
    # The message sent while the conversation waited for a person was for the agent: not a
    # question the bot failed to answer.
    assert odd not in gaps and "Knowledge gaps" in gaps, gaps
    assert not p.css("#analytics-body b"), "analytics show users' questions as text"
    p.screenshot("admin-analytics")
    check_a11y(p, "the analytics")

    # A date range with no conversations in it, then all of them again.
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    d.execute_script("document.getElementById('analytics-from').value = arguments[0]", tomorrow)
    p.css("#analytics-range button[type=submit]")[0].click()
    stats_text = lambda: "".join(e.text for e in p.css("#analytics-body .stats"))  # noqa: E731
    p.until("analytics of an empty range", lambda: "Conversations\n0" in stats_text())
    assert "No conversations in this range yet." in p.text("analytics-body")
    d.execute_script("document.getElementById('analytics-from').value = ''")
    p.css("#analytics-range button[type=submit]")[0].click()
    p.until("analytics of every day", lambda: "Conversations\n1" in stats_text())

    # The analytics on a phone: nothing sticks out sideways.
    d.set_window_size(390, 844)
    time.sleep(0.3)
    width = d.execute_script("return document.documentElement.scrollWidth")
    assert width <= 392, f"analytics fit a phone's width (scrollWidth {width})"
    p.screenshot("admin-analytics-phone")
    d.set_window_size(size["width"], size["height"])

    # ---- Admin: replace the FAQs (a bad file changes nothing), close the conversation ----
    p.by_id("tab-sessions").click()
    p.visible("pane-sessions")
    p.css("#bot-replace summary")[0].click()
    p.by_id("bot-replace-file").send_keys(bad)
    p.by_id("bot-replace-submit").click()
    err = p.visible("bot-replace-error")
    assert err.text.strip(), "a refused replacement shows the API's detail"
    assert re.search(rf"FAQs\W+{FAQ_COUNT}\b", p.text("bot-facts")), "nothing changed: " + p.text("bot-facts")
    more = os.path.join(workdir, "faqs-more.json")
    with open(more, "w", encoding="utf-8") as f:
        json.dump(entries[:FAQ_COUNT + 4], f)
    p.by_id("bot-replace-file").clear()
    p.by_id("bot-replace-file").send_keys(more)
    p.by_id("bot-replace-submit").click()
    p.until("the new FAQ count", lambda: re.search(rf"FAQs\W+{FAQ_COUNT + 4}\b", p.text("bot-facts")))
    p.until("the new FAQ count listed", lambda: f"{FAQ_COUNT + 4} FAQs" in p.text("admin-bots"))

    p.until("the session listed", lambda: len(p.css("#sessions-body tr")) == 1)
    p.css("#sessions-body button.row-link")[0].click()
    p.visible("history-panel")
    p.by_id("history-close").click()
    p.until("the session closed", lambda: "Closed" in p.css("#sessions-body tr")[0].text)
    assert not p.by_id("history-close").is_displayed()

    # ---- Admin: a long conversation is read in pages ("Load more" follows the Link header) ----
    long_id = "long-" + secrets.token_hex(6)
    turns = 26  # 52 messages: more than the page's first page of 50
    questions = ["how can I track my order", "how much does shipping cost"]
    for i in range(turns):
        api_call(base, "POST", f"/api/v1/chat/{bot_id}", token=user_token,
                 json_body={"message": f"{questions[i % 2]} ({i + 1})", "session_id": long_id})
    req = urllib.request.Request(f"{base}/api/v1/chat/history/{long_id}?limit=50",
                                 headers={"Authorization": "Bearer " + admin_token()})
    with urllib.request.urlopen(req, timeout=10) as r:
        paged = r.headers.get("Link") is not None
        first_page = len(json.loads(r.read()))
    d.refresh()
    p.visible("pane-sessions")
    p.until("two sessions listed", lambda: len(p.css("#sessions-body tr")) == 2)
    row = [r for r in p.css("#sessions-body tr") if r.get_attribute("data-session") == long_id][0]
    assert row.text.strip().endswith(str(2 * turns)), row.text
    p.css("button.row-link", row)[0].click()
    p.until("the first page", lambda: len(p.css("#history-log .msg")) == first_page)
    if paged:
        assert first_page == 50, first_page
        more_button = p.visible("history-more")
        more_button.click()
        p.until("the second page", lambda: len(p.css("#history-log .msg")) == 2 * turns)
        p.until("no more pages", lambda: not p.by_id("history-more").is_displayed())
    else:
        print("note: the server does not page histories yet (no Link header); all messages came at once")
        assert first_page == 2 * turns and not p.by_id("history-more").is_displayed()
    shown = [e.text for e in p.css("#history-log .msg.user .bubble-text")]
    assert shown == [f"{questions[i % 2]} ({i + 1})" for i in range(turns)], shown[:3]

    # ---- User: the closed conversation takes no more messages; the next one starts anew ----
    d.get(base + f"/?bot={bot_id}#chat")
    p.visible("chat-app")
    p.until("the closed conversation reopened", lambda: len(p.css("#chat-log .msg")) == 8)
    p.until("the closed and the long conversation listed", lambda: len(p.css("#chat-sessions .session-item")) == 2)
    li5 = ask("how much does shipping cost")
    note = p.css("#chat-log .system-note")
    assert note and "closed" in note[0].text, "the page says why a new conversation started"
    assert len(p.css("#chat-log .msg")) == 2, "the new conversation holds the new message only"
    assert p.css(".bubble-text", li5)[0].text.strip()
    assert not p.by_id("chat-handover").is_displayed()
    p.until("the new conversation listed", lambda: len(p.css("#chat-sessions .session-item")) == 3)
    assert "closed" in p.text("chat-sessions")

    # A token the server no longer takes: back to the login, saying why.
    d.execute_script("sessionStorage.setItem('supportbot.admin', JSON.stringify({token: 'not.a.token', email: 'x'}))")
    d.get(base + "/#admin")
    err = p.visible("admin-auth-error")
    assert "log in again" in err.text, err.text
    assert d.execute_script("return sessionStorage.getItem('supportbot.admin')") is None

    # No script errors in the browser (failed requests the test caused on purpose aside).
    try:
        logs = d.get_log("browser")
    except Exception:
        logs = []
    errors = [e for e in logs if e.get("level") == "SEVERE" and "Failed to load resource" not in e.get("message", "")]
    assert not errors, f"browser errors: {errors}"
    return entries


def run_llm_stream(args, page, workdir, entries):
    """With an LLM provider the reply streams in many pieces: the page shows it growing."""
    p = page
    d = p.d
    reply = ("You can follow your parcel under Account > Orders: pick the order and open its live "
             "tracking link. The first carrier scan can take up to a day to show.")
    suggestions = ["How much does shipping cost?", "How do I return an item?"]
    fake = FakeOpenAI(reply, suggestions)
    llm_dir = os.path.join(workdir, "llm")
    os.makedirs(llm_dir)
    server = Server(os.path.abspath(args.server), llm_dir, os.path.join(args.artifacts, "server-llm.log"),
                    {"LLM_PROVIDER": "openai", "LLM_BASE_URL": fake.base, "LLM_MODEL": "fake-model"})
    try:
        server.wait_ready()
        base = server.base
        api_call(base, "POST", "/api/v1/auth/admin/register", json_body={"email": "owner@example.com", "password": "owner-pass-1"})
        token = api_call(base, "POST", "/api/v1/auth/admin/login",
                         form={"username": "owner@example.com", "password": "owner-pass-1"})["access_token"]
        bot = api_call(base, "POST", "/api/v1/bots/", token=token, form={"name": "LLM shop"},
                       files={"file": ("faqs.json", json.dumps(entries[:FAQ_COUNT]).encode())})
        api_call(base, "POST", f"/api/v1/auth/{bot['id']}/register", json_body={"email": "buyer@example.com", "password": "buyer-pass-1"})

        # The user logs in on the page (the first part registered through it).
        d.get(base + "/#chat")
        p.visible("chat-auth")
        p.fill("chat-bot-id", bot["id"])
        p.fill("chat-email", "buyer@example.com")
        p.fill("chat-password", "buyer-pass-1")
        p.by_id("chat-login").click()
        p.visible("chat-app")
        p.until("the bot's name", lambda: p.text("chat-title") == "LLM shop")
        assert d.title == "LLM shop · supportbot", d.title

        # Record every length the reply's text has on screen while it streams.
        d.execute_script("""
            window.sbSeen = [];
            new MutationObserver(() => {
              const b = [...document.querySelectorAll('#chat-log .msg.assistant .bubble-text')].pop();
              if (b) window.sbSeen.push(b.textContent.length);
            }).observe(document.getElementById('chat-log'), {subtree: true, childList: true, characterData: true});
        """)
        from selenium.webdriver.common.keys import Keys
        box = p.by_id("chat-input")
        box.send_keys("where is my package")
        box.send_keys(Keys.ENTER)
        p.until("a reply", lambda: p.css("#chat-log .msg.assistant"))
        li = p.css("#chat-log .msg.assistant")[-1]
        p.until("the reply finished", lambda: "pending" not in (li.get_attribute("class") or ""))
        assert "failed" not in li.get_attribute("class"), li.text
        assert p.css(".bubble-text", li)[0].text == reply, p.css(".bubble-text", li)[0].text
        pieces = int(li.get_attribute("data-pieces"))
        seen = d.execute_script("return window.sbSeen")
        partial = sorted({n for n in seen if 0 < n < len(reply)})
        print(f"LLM stream: {pieces} pieces; partial lengths on screen: {partial[:12]}{'...' if len(partial) > 12 else ''}")
        assert li.get_attribute("data-delivery") == "stream" and pieces >= 5, f"{pieces} pieces"
        assert len(partial) >= 3, f"the reply grew on screen before it was complete: {seen}"
        assert [s.text for s in p.css(".suggestion", li)] == suggestions
        assert fake.requests >= 1
        p.screenshot("chat-llm-streamed")
    finally:
        rc = server.stop()
        fake.stop()
    assert rc == 0, f"the LLM server exited with {rc} after SIGTERM"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="the supportbot-server binary")
    ap.add_argument("--artifacts", required=True, help="where screenshots and the server log go")
    ap.add_argument("--faqs", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "faqs.json"),
                    help="FAQ file whose first entries make the bot (default: the project's faqs.json)")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--chromedriver", default=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    args = ap.parse_args()

    chromium = args.chromium if os.access(args.chromium, os.X_OK) else shutil.which("chromium")
    driver_bin = args.chromedriver if os.access(args.chromedriver, os.X_OK) else shutil.which("chromedriver")
    if not chromium:
        skip("chromium is not installed (Debian: apt-get install chromium)")
    if not driver_bin:
        skip("chromedriver is not installed (Debian: apt-get install chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        # Not a skip: scripts/install-deps.sh installs it with Chromium, so its absence (or a
        # python3 that is not Debian's) is a broken setup to fix, not a missing browser.
        print(f"FAIL: selenium is not importable by {sys.executable} (Debian: apt-get install python3-selenium)")
        return 1

    if not os.access(args.server, os.X_OK):
        print(f"FAIL: no server binary at {args.server}")
        return 1
    os.makedirs(args.artifacts, exist_ok=True)
    for f in os.listdir(args.artifacts):
        if f.endswith(".png") or f.endswith(".log"):
            os.remove(os.path.join(args.artifacts, f))

    workdir = tempfile.mkdtemp(prefix="sb-web-test-")
    server = Server(os.path.abspath(args.server), workdir, os.path.join(args.artifacts, "server.log"))
    driver = None
    ok = False
    try:
        server.wait_ready()
        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--window-size=1280,900", "--lang=en-US", "--no-first-run",
                  "--disable-extensions", "--disable-background-networking",
                  f"--user-data-dir={os.path.join(workdir, 'chromium-profile')}"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=driver_bin, log_path=os.devnull)
        driver = webdriver.Chrome(service=service, options=opts)
        page = Page(driver, args.artifacts)
        t0 = time.time()
        entries = run(args, page, server.base, workdir)
        run_llm_stream(args, page, workdir, entries)
        # The server sends Content-Security-Policy: default-src 'self'; frame-ancestors 'none':
        # the page must need nothing it forbids (no inline script or style, no other origin).
        blocked = [e.get("message") for e in driver.get_log("browser")
                   if "Content Security Policy" in (e.get("message") or "")]
        assert not blocked, "the page broke its Content-Security-Policy: %s" % blocked
        print(f"web page end to end: passed in {time.time() - t0:.1f} s; screenshots in {args.artifacts}")
        ok = True
    except Exception:
        traceback.print_exc()
        if driver is not None:
            try:
                driver.save_screenshot(os.path.join(args.artifacts, "FAILED-final.png"))
                for e in driver.get_log("browser"):
                    print("browser:", e.get("level"), e.get("message"))
            except Exception:
                pass
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:
                pass
        rc = server.stop()
        if rc not in (0, None):
            print(f"supportbot-server exited with {rc} after SIGTERM (expected 0); see {server.log_path}")
            ok = False
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
