#!/usr/bin/env python3
"""End-to-end tests of supportbot-server: the real binary on a loopback port, driven over HTTP.

  python3 tests/http/test_server.py --server build/examples/http_server/supportbot-server \
      --faqs faqs.json [--postgres] [-k NAME]

Without --postgres: the whole flow on SQLite, bad input on every route, the OpenAPI document
against the route table, and SIGTERM with a request in flight. With --postgres (under
tests/pg/with-postgres.sh, which sets SB_TEST_PG_URL): the flow on PostgreSQL, and two server
processes sharing it. Python 3 standard library only. Exit status 0 when every case passed.
"""
import argparse
import csv
import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid

SECRET = "test-secret-key-of-at-least-32-bytes-0123456789"
PASSWORD = "Passw0rd-test"
ARGS = None


class Server:
    """One supportbot-server process on a free loopback port."""

    def __init__(self, db_url, extra_env=None, cwd=None):
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "SECRET_KEY", "LLM_PROVIDER", "GEMINI_API_KEY")}
        env.update({"PORT": "0", "HOST": "127.0.0.1", "SECRET_KEY": SECRET,
                    "DATABASE_URL": db_url, "WORKER_THREADS": "4"})
        env.update(extra_env or {})
        self.proc = subprocess.Popen([ARGS.server], env=env, cwd=cwd or tempfile.gettempdir(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     errors="replace")
        self.lines = []
        self.err_lines = []
        first = self.proc.stdout.readline()
        m = re.search(r"http://([\d.]+):(\d+)", first)
        if not m:
            self.proc.kill()
            raise AssertionError("server did not start: %r %s" % (first, self.proc.stderr.read()))
        self.host, self.port = m.group(1), int(m.group(2))
        self._out = threading.Thread(target=self._drain, args=(self.proc.stdout, self.lines))
        self._err = threading.Thread(target=self._drain, args=(self.proc.stderr, self.err_lines))
        self._out.daemon = self._err.daemon = True
        self._out.start()
        self._err.start()

    @staticmethod
    def _drain(stream, into):
        for line in stream:
            into.append(line)

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("server did not exit within 30 s of SIGTERM")
        self._out.join(5)
        self._err.join(5)
        return rc

    def request(self, method, path, body=None, headers=None, token=None, timeout=60):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        if body is None and method in ("POST", "PUT", "PATCH", "DELETE"):
            body = b""
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        resp = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        check_common_headers(path, resp)
        return resp


SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def check_common_headers(path, resp):
    """Every response carries the security headers; the API's (and errors) are no-store, the
    page's files no-cache (revalidated)."""
    for k, v in SECURITY_HEADERS.items():
        assert resp.headers.get(k) == v, (path, k, resp.headers)
    page = resp.status == 200 and not path.startswith(("/api/", "/health", "/metrics"))
    want = "no-cache" if page else "no-store"
    assert resp.headers.get("cache-control") == want, (path, resp.status, resp.headers)


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.body[:300])


def expect(resp, status, detail_re=None):
    assert resp.status == status, "expected %d, got %r" % (status, resp)
    if status >= 400 and resp.body:
        d = resp.json()
        assert isinstance(d, dict) and isinstance(d.get("detail"), str), resp
        if detail_re:
            assert re.search(detail_re, d["detail"], re.I), (detail_re, resp)
    return resp


def multipart(fields, files, boundary=None):
    boundary = boundary or "----sbtest" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n" % (boundary, name)).encode())
        out.write(value if isinstance(value, bytes) else value.encode())
        out.write(b"\r\n")
    for name, (filename, content) in files.items():
        out.write(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                   "Content-Type: application/octet-stream\r\n\r\n" % (boundary, name, filename)).encode())
        out.write(content)
        out.write(b"\r\n")
    out.write(("--%s--\r\n" % boundary).encode())
    return out.getvalue(), "multipart/form-data; boundary=" + boundary


def form(**kw):
    return urllib.parse.urlencode(kw)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def load_faqs():
    with open(ARGS.faqs, encoding="utf-8") as f:
        d = json.load(f)
    return d["faqs"] if isinstance(d, dict) else d


def faqs_json(entries):
    return json.dumps(entries).encode()


def faqs_csv(entries):
    s = io.StringIO()
    w = csv.writer(s)
    w.writerow(["id", "question", "answer", "category", "alternates"])
    for e in entries:
        w.writerow([e["id"], e["question"], e["answer"], e.get("category", ""),
                    "|".join(e.get("alternates", []))])
    return s.getvalue().encode()


# ---- helpers over the API ------------------------------------------------------------------

def register(srv, email, bot=None, password=PASSWORD):
    path = "/api/v1/auth/%s/register" % (bot or "admin")
    return srv.request("POST", path, {"email": email, "password": password})


def login(srv, email, bot=None, password=PASSWORD):
    path = "/api/v1/auth/%s/login" % (bot or "admin")
    return srv.request("POST", path, form(username=email, password=password), FORM)


def token_of(srv, email, bot=None):
    r = expect(login(srv, email, bot), 200)
    j = r.json()
    assert j["token_type"] == "bearer" and j["access_token"], j
    return j["access_token"]


def create_bot(srv, token, name, filename, content):
    body, ct = multipart({"name": name}, {"file": (filename, content)})
    return srv.request("POST", "/api/v1/bots/", body, {"Content-Type": ct}, token)


def chat(srv, token, bot, message, session=None):
    body = {"message": message}
    if session is not None:
        body["session_id"] = session
    return srv.request("POST", "/api/v1/chat/" + bot, body, token=token)


def follow_pages(srv, token, path, limit):
    """All rows of a paged list, following Link: rel=next; returns (rows, number of pages)."""
    rows, pages = [], 0
    url = path + ("&" if "?" in path else "?") + "limit=%d" % limit
    while url:
        r = expect(srv.request("GET", url, token=token), 200)
        page = r.json()
        assert isinstance(page, list) and len(page) <= limit, page
        rows += page
        pages += 1
        link = r.headers.get("link")
        url = None
        if link:
            m = re.match(r'<([^>]+)>;\s*rel="next"', link)
            assert m, link
            u = urllib.parse.urlsplit(m.group(1))
            url = u.path + "?" + u.query
        assert pages < 1000
    return rows, pages


def parse_sse(body):
    events = []
    for block in body.decode().split("\n\n"):
        if not block.strip():
            continue
        ev, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                ev = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        events.append((ev, json.loads("\n".join(data))))
    return events


def sqlite_url(tmp, name="sb.db"):
    return "sqlite://" + os.path.join(tmp, name)


# ---- the whole flow --------------------------------------------------------------------------

def flow(srv, tag):
    """An admin and two users of two bots (plus a second admin): every route, shapes, rules."""
    faqs = load_faqs()
    a1, a2 = "admin1-%s@example.com" % tag, "Admin2-%s@Example.com" % tag
    r = expect(register(srv, a1), 201).json()
    assert r["email"] == a1 and r["id"] and r["role"] == "admin", r
    expect(register(srv, a1), 409)
    expect(register(srv, a2), 201)
    expect(login(srv, a1, password="wrong-Password-1"), 401)
    assert login(srv, a1, password="wrong-Password-1").headers.get("www-authenticate") == "Bearer"
    t1, t2 = token_of(srv, a1), token_of(srv, a2.lower())  # e-mails are case-folded
    me = expect(srv.request("GET", "/api/v1/auth/me", token=t1), 200).json()
    assert me["email"] == a1 and me["role"] == "admin" and me["bot_id"] is None, me

    # Bot A from JSON (admin 1), bot B from CSV (admin 2).
    ra = expect(create_bot(srv, t1, "Orders", "orders.json", faqs_json(faqs[0:10])), 200).json()
    rb = expect(create_bot(srv, t2, "Shipping", "shipping.csv", faqs_csv(faqs[9:19])), 200).json()
    for b, n in ((ra, "Orders"), (rb, "Shipping")):
        assert b["name"] == n and b["faq_count"] == 10 and b["faq_revision"] == 1 and b["id"], b
        assert re.match(r"\d{4}-\d\d-\d\dT", b["created_at"]), b
    A, B = ra["id"], rb["id"]
    bots1 = expect(srv.request("GET", "/api/v1/bots/", token=t1), 200).json()
    bots2 = expect(srv.request("GET", "/api/v1/bots/", token=t2), 200).json()
    assert [b["id"] for b in bots1] == [A] and [b["id"] for b in bots2] == [B], (bots1, bots2)
    assert expect(srv.request("GET", "/api/v1/bots/" + A, token=t1), 200).json()["id"] == A
    # One admin cannot see or change another's bot.
    assert srv.request("GET", "/api/v1/bots/" + B, token=t1).status in (403, 404)
    assert srv.request("PUT", "/api/v1/bots/%s/faqs" % B, faqs_json(faqs[0:10]),
                       {"Content-Type": "application/json"}, t1).status in (403, 404)
    expect(srv.request("GET", "/api/v1/bots/" + str(uuid.uuid4()), token=t1), 404)

    # Users: u1 of A, u2 of B.
    u1, u2 = "user1-%s@example.com" % tag, "user2-%s@example.com" % tag
    r = expect(register(srv, u1, A), 201).json()
    assert r["role"] == "user" and r["bot_id"] == A, r
    expect(register(srv, u2, B), 201)
    expect(register(srv, u1, str(uuid.uuid4())), 404)
    expect(login(srv, u1, B), 401)  # a user of A is no user of B
    k1, k2 = token_of(srv, u1, A), token_of(srv, u2, B)
    assert expect(srv.request("GET", "/api/v1/bots/", token=k1), 200).json()[0]["id"] == A

    # Chat: the seed's shape plus ours.
    s1 = "sess-" + tag
    c = expect(chat(srv, k1, A, "How can I track my order?", s1), 200).json()
    for key in ("response", "suggested_actions", "session_id", "escalated", "escalation_reason",
                "responder", "fallback", "sources"):
        assert key in c, (key, c)
    assert c["session_id"] == s1 and c["answered"] and not c["escalated"], c
    assert c["sources"][0]["id"] == "order-status" and 0 <= c["sources"][0]["confidence"] <= 1, c
    assert c["responder"] == "offline" and c["fallback"] is False, c
    assert isinstance(c["suggested_actions"], list) and c["escalation_reason"] is None, c
    c = expect(chat(srv, k1, A, "How do I cancel my order?", s1), 200).json()
    assert c["session_id"] == s1 and c["sources"][0]["id"] == "cancel-order", c
    # No session id: the library makes one.
    c = expect(chat(srv, k1, A, "Do you offer gift wrapping?"), 200).json()
    assert c["session_id"] and c["session_id"] != s1, c
    # The admin can try its own bot; a user of B cannot chat with A, nor use A's session.
    expect(chat(srv, t1, A, "Do you offer gift wrapping?"), 200)
    expect(chat(srv, k2, A, "How can I track my order?"), 403)
    expect(chat(srv, t2, A, "How can I track my order?"), 403)
    expect(chat(srv, k2, B, "How long does shipping take?", s1), 403)

    # Streaming: delta events that make the reply, then done with the whole JSON reply.
    r = expect(srv.request("POST", "/api/v1/chat/%s/stream" % A,
                           {"message": "Can I change my order after placing it?",
                            "session_id": s1}, token=k1), 200)
    assert r.headers["content-type"].startswith("text/event-stream"), r.headers
    events = parse_sse(r.body)
    assert events[-1][0] == "done", events
    text = "".join(e[1]["text"] for e in events if e[0] == "delta")
    assert text and text == events[-1][1]["response"], events
    assert events[-1][1]["session_id"] == s1 and events[-1][1]["sources"][0]["id"] == "change-order"
    # Escalated last: from then on the bot leaves s1 to a human agent (handover_flow).
    c = expect(chat(srv, k1, A, "I want to talk to a human agent please", s1), 200).json()
    assert c["escalated"] and c["escalation_reason"] == "user_requested", c
    expect(srv.request("POST", "/api/v1/chat/%s/stream" % A, {"message": "hi"}, token=k2), 403)
    expect(srv.request("POST", "/api/v1/chat/%s/stream" % str(uuid.uuid4()), {"message": "hi"},
                       token=k1), 404)

    # More sessions of u1, so that lists have pages.
    for i in range(3):
        expect(chat(srv, k1, A, "Do you offer bulk or business orders?", "%s-extra%d" % (s1, i)), 200)
    expect(chat(srv, k2, B, "How long does shipping take?", "b-" + s1), 200)

    # Sessions: the seed's keys plus ours; a user sees its own, the owner admin all of them.
    mine = expect(srv.request("GET", "/api/v1/chat/%s/sessions" % A, token=k1), 200).json()
    ids = [s["session_id"] for s in mine]
    assert s1 in ids and len(mine) == 5, mine
    for s in mine:
        for key in ("session_id", "first_message", "last_updated", "status", "message_count"):
            assert key in s, (key, s)
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", s["last_updated"]), s
        assert isinstance(s["message_count"], int) and s["status"] in ("open", "escalated", "closed"), s
    first = next(s for s in mine if s["session_id"] == s1)
    assert first["first_message"] == "How can I track my order?", first
    assert first["status"] == "escalated" and first["message_count"] == 8, first
    times = [s["last_updated"] for s in mine]
    assert times == sorted(times, reverse=True), times
    admin_view = expect(srv.request("GET", "/api/v1/chat/%s/sessions" % A, token=t1), 200).json()
    assert len(admin_view) == 6, admin_view  # the admin's own trial session too
    expect(srv.request("GET", "/api/v1/chat/%s/sessions" % A, token=k2), 403)
    expect(srv.request("GET", "/api/v1/chat/%s/sessions" % A, token=t2), 403)
    paged, pages = follow_pages(srv, k1, "/api/v1/chat/%s/sessions" % A, 2)
    assert [s["session_id"] for s in paged] == ids and pages == 3, (paged, pages)

    # History, whole and in pages.
    h = expect(srv.request("GET", "/api/v1/chat/history/" + s1, token=k1), 200).json()
    assert len(h) == 8 and [m["role"] for m in h] == ["user", "assistant"] * 4, h
    assert h[0]["message"] == "How can I track my order?" and re.match(r"\d{4}-", h[0]["timestamp"])
    assert h[1]["faq_ids"] == ["order-status"] or h[1]["faq_ids"][0] == "order-status", h[1]
    ph, pages = follow_pages(srv, k1, "/api/v1/chat/history/" + s1, 3)
    assert ph == h and pages == 3, (ph, pages)
    assert expect(srv.request("GET", "/api/v1/chat/history/" + s1, token=t1), 200).json() == h
    assert srv.request("GET", "/api/v1/chat/history/" + s1, token=k2).status in (403, 404)
    assert srv.request("GET", "/api/v1/chat/history/" + s1, token=t2).status in (403, 404)
    expect(srv.request("GET", "/api/v1/chat/history/no-such-session", token=k1), 404)

    # Summaries.
    sm = expect(srv.request("GET", "/api/v1/chat/summary/" + s1, token=k1), 200).json()
    assert sm["session_id"] == s1 and sm["summary"] and "resolved" in sm, sm
    assert srv.request("GET", "/api/v1/chat/summary/" + s1, token=k2).status in (403, 404)
    p = expect(srv.request("POST", "/api/v1/admin/bots/%s/process-summaries" % A, token=t1),
               200).json()
    assert p["processed"] == 5 and p["skipped"] == 1, p  # s1 was summarised above
    expect(srv.request("POST", "/api/v1/admin/bots/%s/process-summaries" % A, token=k1), 403)
    expect(srv.request("POST", "/api/v1/admin/bots/%s/process-summaries" % A, token=t2), 403)
    sums = expect(srv.request("GET", "/api/v1/admin/bots/%s/summaries" % A, token=t1), 200).json()
    assert len(sums) == 6 and all("summary" in s for s in sums), sums
    assert expect(srv.request("GET", "/api/v1/admin/bots/%s/summaries?from=2000-01-01&to=2000-12-31"
                              % A, token=t1), 200).json() == []
    now_ms = int(time.time() * 1000)
    ranged = expect(srv.request("GET", "/api/v1/admin/bots/%s/summaries?from=%d&to=%s" % (
        A, now_ms - 3600_000, "2999-01-01T00:00:00Z"), token=t1), 200).json()
    assert len(ranged) == 6, ranged

    an = expect(srv.request("GET", "/api/v1/admin/bots/%s/analytics" % A, token=t1), 200).json()
    for key in ("bot_name", "total_summaries_analyzed", "trending_topics", "unanswered_questions",
                "suggested_new_faqs", "sessions", "escalation", "top_faqs", "sessions_per_day"):
        assert key in an, (key, an)
    assert an["bot_name"] == "Orders" and an["total_summaries_analyzed"] == 6, an
    assert an["sessions"] == 6 and an["top_faqs"], an
    assert all(set(f) == {"question", "answer"} for f in an["suggested_new_faqs"]), an
    # The seed's keys read off the library's figures: the knowledge gaps are the unanswered
    # questions and the suggested FAQs' questions (no answer is made up); with no LLM, the
    # trending topics are the summaries' topics, most frequent first.
    gaps = [g["representative"] for g in an["knowledge_gaps"]["groups"]]
    assert an["unanswered_questions"] == gaps, an
    assert [f["question"] for f in an["suggested_new_faqs"]] == gaps, an
    assert all(f["answer"] == "" for f in an["suggested_new_faqs"]), an
    counts = {}
    for sm_ in sums:
        for topic in sm_.get("topics", []):
            counts[topic] = counts.get(topic, 0) + 1
    assert an["narrative"] is None and an["trending_topics"], an
    assert all(t in counts for t in an["trending_topics"]), (an["trending_topics"], counts)
    assert [counts[t] for t in an["trending_topics"]] == sorted(
        (counts[t] for t in an["trending_topics"]), reverse=True), (an["trending_topics"], counts)
    assert counts[an["trending_topics"][0]] == max(counts.values()), counts
    an0 = expect(srv.request("GET", "/api/v1/admin/bots/%s/analytics?to=2000-01-01" % A,
                             token=t1), 200).json()
    assert an0["sessions"] == 0, an0
    expect(srv.request("GET", "/api/v1/admin/bots/%s/analytics" % A, token=k1), 403)
    expect(srv.request("GET", "/api/v1/admin/bots/%s/analytics" % A, token=t2), 403)

    # Replace FAQs: JSON body, CSV body, multipart; only the owner.
    r = expect(srv.request("PUT", "/api/v1/bots/%s/faqs" % A, faqs_json(faqs[0:12]),
                           {"Content-Type": "application/json"}, t1), 200).json()
    assert r["faq_count"] == 12 and r["faq_revision"] == 2, r
    body, ct = multipart({}, {"file": ("a.csv", faqs_csv(faqs[0:11]))})
    r = expect(srv.request("PUT", "/api/v1/bots/%s/faqs" % A, body, {"Content-Type": ct}, t1),
               200).json()
    assert r["faq_count"] == 11 and r["faq_revision"] == 3, r
    expect(srv.request("PUT", "/api/v1/bots/%s/faqs" % A, faqs_json(faqs[0:10]),
                       {"Content-Type": "application/json"}, k1), 403)
    c = expect(chat(srv, k1, A, "How long does shipping take?", s1 + "-after"), 200).json()
    assert c["sources"][0]["id"] == "shipping-times" and c["answered"], c

    # Close a session: later messages are refused.
    r = expect(srv.request("POST", "/api/v1/chat/sessions/%s/close" % s1, token=k1), 200).json()
    assert r == {"session_id": s1, "status": "closed"}, r
    expect(chat(srv, k1, A, "How do I cancel my order?", s1), 409)
    r = expect(srv.request("POST", "/api/v1/chat/%s/stream" % A,
                           {"message": "How do I cancel my order?", "session_id": s1}, token=k1), 200)
    ev = parse_sse(r.body)
    assert len(ev) == 1 and ev[0][0] == "error" and ev[0][1]["status"] == 409 and ev[0][1]["detail"], ev
    assert srv.request("POST", "/api/v1/chat/sessions/%s/close" % ("b-" + s1), token=k1).status in (403, 404)

    # Service routes.
    hl = expect(srv.request("GET", "/health"), 200).json()
    assert hl["status"] == "ok" and hl["database"] == "ok", hl
    m = expect(srv.request("GET", "/metrics"), 200)
    assert m.headers["content-type"].startswith("text/plain"), m.headers
    text = m.body.decode()
    turns = int(re.search(r"^supportbot_chat_turns_total (\d+)$", text, re.M).group(1))
    assert turns >= 11, text
    assert re.search(r'^supportbot_chat_escalations_total\{reason="user_requested"\} \d+$', text, re.M)
    assert 'route="/api/v1/chat/{bot_id}",status="200"' in text, text
    assert re.search(r'^supportbot_http_request_duration_seconds_bucket\{route="/api/v1/chat/\{bot_id\}",le="\+Inf"\} \d+$', text, re.M)
    assert "supportbot_llm_fallbacks_total 0" in text

    # Delete accounts: an admin deletes a user of its bot; a user deletes itself.
    u3 = "user3-%s@example.com" % tag
    u3id = expect(register(srv, u3, A), 201).json()["id"]
    assert srv.request("DELETE", "/api/v1/auth/accounts/" + u3id, token=t2).status in (403, 404)
    expect(srv.request("DELETE", "/api/v1/auth/accounts/" + u3id, token=t1), 204)
    expect(login(srv, u3, A), 401)
    expect(srv.request("DELETE", "/api/v1/auth/me", token=k2), 204)
    r = expect(srv.request("GET", "/api/v1/auth/me", token=k2), 401)
    assert r.headers.get("www-authenticate") == "Bearer", r.headers
    return {"A": A, "B": B, "t1": t1, "t2": t2, "k1": k1, "s1": s1, "a1": a1}


def check_routes(srv, ids):
    """The OpenAPI document lists exactly the route table, and every route answers."""
    routes = subprocess.run([ARGS.server, "--print-routes"], capture_output=True, text=True,
                            check=True).stdout.split("\n")
    table = {tuple(l.split(" ", 1)) for l in routes if l.strip()}
    doc = expect(srv.request("GET", "/api/v1/openapi.json"), 200).json()
    assert doc["openapi"].startswith("3."), doc["openapi"]
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == table, (documented ^ table)
    for p, ops in doc["paths"].items():
        for m, op in ops.items():
            assert op.get("summary") and op.get("responses"), (p, m)
            names = re.findall(r"\{(\w+)\}", p)
            declared = [x["name"] for x in op.get("parameters", []) if x["in"] == "path"]
            assert names == declared, (p, names, declared)
    values = {"bot_id": ids["A"], "session_id": ids["s1"], "account_id": str(uuid.uuid4()),
              "asset": "index.html"}
    for method, path in sorted(table):
        if method == "DELETE" and path.endswith("/me"):
            continue  # would delete the admin; DELETE /auth/me is exercised in the flow
        url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
        r = srv.request(method, url, token=ids["t1"])
        assert r.status != 405, (method, path, r)
        if r.status == 404:
            assert r.json()["detail"] != "Not Found", (method, path, r)  # a resource, not a route
    expect(srv.request("GET", "/api/v1/nope", token=ids["t1"]), 404)
    r = expect(srv.request("DELETE", "/api/v1/bots/", token=ids["t1"]), 405)
    assert "GET" in r.headers["allow"] and "POST" in r.headers["allow"], r.headers
    # The web page.
    r = expect(srv.request("GET", "/"), 200)
    assert r.headers["content-type"].startswith("text/html"), r.headers
    assert b"<html" in r.body.lower()


# ---- cases -----------------------------------------------------------------------------------

def case_sqlite_flow(tmp):
    srv = Server(sqlite_url(tmp), {"LOGIN_MAX_FAILURES": "3", "LOGIN_WINDOW_SECONDS": "120"})
    try:
        ids = flow(srv, "sq")
        check_routes(srv, ids)
        # Login throttling: 429 with Retry-After, even with the right password.
        for _ in range(3):
            expect(login(srv, ids["a1"], password="wrong-Password-1"), 401)
        r = expect(login(srv, ids["a1"]), 429)
        assert r.headers.get("retry-after") == "120", r.headers
        # Tokens restored after a restart: the same SECRET_KEY verifies them.
    finally:
        rc = srv.stop()
    assert rc == 0, rc
    log = "".join(srv.lines)
    assert '"POST /api/v1/chat/' in log and " 200 " in log, log[-2000:]
    for secret in (PASSWORD, ids["t1"], ids["k1"], "track my order", "wrong-Password"):
        assert secret not in log and secret not in "".join(srv.err_lines), secret
    srv2 = Server(sqlite_url(tmp), {"LOGIN_MAX_FAILURES": "3"})
    try:
        expect(srv2.request("GET", "/api/v1/bots/" + ids["A"], token=ids["t1"]), 200)
    finally:
        assert srv2.stop() == 0


def case_bad_input(tmp):
    srv = Server(sqlite_url(tmp, "bad.db"), {"MAX_UPLOAD_BYTES": "200000",
                                             "MAX_MESSAGE_BYTES": "2000"})
    try:
        faqs = load_faqs()
        expect(register(srv, "owner@example.com"), 201)
        t = token_of(srv, "owner@example.com")
        A = expect(create_bot(srv, t, "A", "a.json", faqs_json(faqs[0:8])), 200).json()["id"]
        expect(register(srv, "u@example.com", A), 201)
        k = token_of(srv, "u@example.com", A)
        expect(chat(srv, k, A, "How can I track my order?", "keep"), 200)
        # A session id that is also a word of a route is still a session id.
        expect(chat(srv, k, A, "How can I track my order?", "sessions"), 200)
        assert len(expect(srv.request("GET", "/api/v1/chat/history/sessions", token=k), 200).json()) == 2
        J = {"Content-Type": "application/json"}
        reg = "/api/v1/auth/admin/register"

        # Register: content type, JSON, UTF-8, fields, size.
        expect(srv.request("POST", reg, "email=x&password=y", FORM), 415)
        expect(srv.request("POST", reg, "{\"email\": ", J), 400)
        expect(srv.request("POST", reg, b'{"email": "bad\xff@example.com", "password": "Passw0rd-x"}', J), 400)
        expect(srv.request("POST", reg, {"email": "n1@example.com"}), 422, "password")
        expect(srv.request("POST", reg, {"email": 5, "password": PASSWORD}), 422, "email")
        expect(srv.request("POST", reg, [1, 2]), 422)
        # No Content-Type at all is read as JSON, as the seed (FastAPI) does; a wrong one is not.
        nct = json.dumps({"email": "no-type@example.com", "password": PASSWORD})
        expect(srv.request("POST", reg, nct, {"Content-Type": "text/plain"}), 415)
        assert expect(srv.request("POST", reg, nct), 201).json()["email"] == "no-type@example.com"
        expect(srv.request("POST", reg, {"email": "not-an-email", "password": PASSWORD}), 422)
        expect(srv.request("POST", reg, {"email": "weak@example.com", "password": "short"}), 422)
        expect(srv.request("POST", reg, {"email": "big@example.com", "password": "x" * 100000}), 413)
        for email in ("n1@example.com", "weak@example.com", "big@example.com", "not-an-email"):
            expect(login(srv, email), 401)
        expect(register(srv, "x@example.com", "no-such-bot"), 404)

        # Login: content type, fields, escapes.
        lg = "/api/v1/auth/admin/login"
        expect(srv.request("POST", lg, {"username": "owner@example.com", "password": PASSWORD}), 415)
        expect(srv.request("POST", lg, form(username="owner@example.com"), FORM), 422, "password")
        expect(srv.request("POST", lg, "username=%ZZ&password=x", FORM), 400)
        expect(srv.request("POST", lg, "username=%FF&password=x", FORM), 400)
        body, ct = multipart({"username": "owner@example.com", "password": PASSWORD}, {})
        expect(srv.request("POST", lg, body, {"Content-Type": ct}), 200)

        # Authentication.
        for h in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nonsense"},
                  {"Authorization": "Bearer " + t[:-3] + "abc"}):
            r = expect(srv.request("GET", "/api/v1/bots/", headers=h), 401)
            assert r.headers.get("www-authenticate") == "Bearer", r.headers

        # Bot upload: content types, fields, files, size, multipart.
        def bots():
            return expect(srv.request("GET", "/api/v1/bots/", token=t), 200).json()
        before = bots()
        expect(srv.request("POST", "/api/v1/bots/", {"name": "x"}, token=t), 415)
        body, ct = multipart({"name": "x"}, {})
        expect(srv.request("POST", "/api/v1/bots/", body, {"Content-Type": ct}, t), 422, "file")
        body, ct = multipart({}, {"file": ("a.json", faqs_json(faqs[0:5]))})
        expect(srv.request("POST", "/api/v1/bots/", body, {"Content-Type": ct}, t), 422, "name")
        body, ct = multipart({"name": "   "}, {"file": ("a.json", faqs_json(faqs[0:5]))})
        expect(srv.request("POST", "/api/v1/bots/", body, {"Content-Type": ct}, t), 422)
        body, ct = multipart({"name": "x", "file": "not a file"}, {})
        expect(srv.request("POST", "/api/v1/bots/", body, {"Content-Type": ct}, t), 422)
        expect(create_bot(srv, t, "x", "a.txt", faqs_json(faqs[0:5])), 422, "json or .csv")
        expect(create_bot(srv, t, "x", "a.json", b'[{"question": "q"'), 422)
        expect(create_bot(srv, t, "x", "a.json", b'[{"question": "q", "answer": 5}]'), 422)
        expect(create_bot(srv, t, "x", "a.json", b'[{"question": "caf\xe9", "answer": "a"}]'), 422)
        expect(create_bot(srv, t, "x", "a.csv", b'question,answer\n"unterminated,a\n'), 422)
        expect(create_bot(srv, t, "x", "a.json", b"[]"), 422)
        body, ct = multipart({"name": b"bad\xffname"}, {"file": ("a.json", faqs_json(faqs[0:5]))})
        expect(srv.request("POST", "/api/v1/bots/", body, {"Content-Type": ct}, t), 400)
        expect(create_bot(srv, t, "x", "a.json", b"[" + b" " * 300000 + b"]"), 413)
        body, _ = multipart({"name": "x"}, {"file": ("a.json", faqs_json(faqs[0:5]))})
        expect(srv.request("POST", "/api/v1/bots/", body,
                           {"Content-Type": "multipart/form-data; boundary=other"}, t), 400)
        expect(srv.request("POST", "/api/v1/bots/", b"garbage",
                           {"Content-Type": "multipart/form-data"}, t), 400)
        expect(create_bot(srv, k, "x", "a.json", faqs_json(faqs[0:5])), 403)
        # A chunked multipart upload must declare its length (its size could not be bounded).
        body, ct = multipart({"name": "x"}, {"file": ("a.json", faqs_json(faqs[0:5]))})
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        conn.request("POST", "/api/v1/bots/", body=iter([body[:100], body[100:]]),
                     headers={"Content-Type": ct, "Authorization": "Bearer " + t},
                     encode_chunked=True)
        r = conn.getresponse()
        expect(Resp(r.status, dict(r.getheaders()), r.read()), 411)
        conn.close()
        assert bots() == before, (before, bots())

        # Replace FAQs: nothing changes on bad input.
        rev = bots()[0]["faq_revision"]
        expect(srv.request("PUT", "/api/v1/bots/%s/faqs" % A, "x", {"Content-Type": "text/plain"}, t), 415)
        expect(srv.request("PUT", "/api/v1/bots/%s/faqs" % A, "[{", J, t), 422)
        expect(srv.request("PUT", "/api/v1/bots/%s/faqs" % A, b"question,answer\n\xff,a\n",
                           {"Content-Type": "text/csv"}, t), 422)
        assert bots()[0]["faq_revision"] == rev

        # Chat: fields, types, sizes, UTF-8, content type; nothing stored.
        def history():
            return expect(srv.request("GET", "/api/v1/chat/history/keep", token=k), 200).json()
        def sessions():
            return expect(srv.request("GET", "/api/v1/chat/%s/sessions" % A, token=k), 200).json()
        h0, s0 = history(), sessions()
        cp = "/api/v1/chat/" + A
        for path in (cp, cp + "/stream"):
            expect(srv.request("POST", path, {"session_id": "keep"}, token=k), 422, "message")
            expect(srv.request("POST", path, {"message": 5, "session_id": "keep"}, token=k), 422)
            expect(srv.request("POST", path, {"message": "   ", "session_id": "keep"}, token=k), 422)
            expect(srv.request("POST", path, {"message": "hi", "session_id": 7}, token=k), 422)
            expect(srv.request("POST", path, {"message": "hi", "session_id": "s" * 200}, token=k), 422)
            expect(srv.request("POST", path, {"message": "x" * 2001, "session_id": "keep"}, token=k), 413)
            expect(srv.request("POST", path, "message=hi", FORM, k), 415)
            expect(srv.request("POST", path, b'{"message": "\xc3\x28", "session_id": "keep"}', J, k), 400)
            expect(srv.request("POST", path, b'{"message": "hi", ', J, k), 400)
            expect(srv.request("POST", path, json.dumps({"message": "y" * 70000}), J, k), 413)
            expect(srv.request("POST", path, {"message": "hi"}), 401)
        assert history() == h0 and sessions() == s0
        r = expect(srv.request("POST", cp, json.dumps({"message": "How can I track my order?",
                                                       "session_id": "keep"}), token=k), 200)
        assert r.json()["session_id"] == "keep" and len(history()) == len(h0) + 2, r
        h0, s0 = history(), sessions()

        # Lists: limit and cursor, time ranges.
        sp = "/api/v1/chat/%s/sessions" % A
        for q in ("limit=0", "limit=abc", "limit=501", "limit=-1"):
            expect(srv.request("GET", sp + "?" + q, token=k), 422, "limit")
        expect(srv.request("GET", sp + "?cursor=garbage", token=k), 400)
        expect(srv.request("GET", "/api/v1/chat/history/keep?cursor=garbage", token=k), 400)
        for q in ("from=yesterday", "to=2026-13-01", "from=2026-02-30", "from=2026-01-03&to=2026-01-01"):
            expect(srv.request("GET", "/api/v1/admin/bots/%s/analytics?%s" % (A, q), token=t), 422)
            expect(srv.request("GET", "/api/v1/admin/bots/%s/summaries?%s" % (A, q), token=t), 422)

        # Paths and methods.
        expect(srv.request("GET", "/api/v1/chat/history/%FF%FE", token=k), 400)
        expect(srv.request("GET", "/api/v1/bots/" + "z" * 5000, token=t), 404)
        expect(srv.request("PATCH", "/api/v1/bots/", token=t), 405)
        expect(srv.request("GET", "/nothing/here"), 404)
        assert history() == h0 and sessions() == s0
        assert srv.request("GET", "/health").status == 200

        # Garbage of every kind on every route: no crash, no 5xx, nothing stored.
        import random
        rnd = random.Random(20)
        routes = subprocess.run([ARGS.server, "--print-routes"], capture_output=True, text=True,
                                check=True).stdout.split()
        table = list(zip(routes[0::2], routes[1::2]))
        bodies = [b"", b"\x00\xff\xfe", b"{}", b"[]", b"null", b'{"message": null}',
                  b'{"email": [], "password": {}}', bytes(rnd.randrange(256) for _ in range(3000)),
                  b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"]
        types = ["application/json", "multipart/form-data; boundary=x", FORM["Content-Type"],
                 "text/csv", "text/plain"]
        bots_before = bots()
        for method, path in table:
            if path.endswith("/me") and method == "DELETE":
                continue
            for body in bodies:
                for ct in types:
                    url = re.sub(r"\{\w+\}", lambda m: rnd.choice([A, "keep", "%FF", "x" * 300]), path)
                    r = srv.request(method, url, body, {"Content-Type": ct}, rnd.choice([t, k, None]))
                    assert r.status < 500 or r.status == 503 and path == "/health", (method, url, ct, body[:40], r)
                    if r.status >= 400:
                        assert "detail" in r.json(), r
        assert bots() == bots_before and history() == h0
        assert srv.request("GET", "/health").status == 200
    finally:
        rc = srv.stop()
    assert rc == 0, rc


def case_sigterm(tmp):
    """SIGTERM with requests in flight: a chat turn waiting on a slow LLM (a fake OpenAI server
    that answers after 3 s) and a bot being created; both complete, the server exits 0, and
    both are stored (whole) for the next process. The turn is known to be in flight when the
    signal is sent (the fake has its request), so the case costs no CPU to prove it."""
    url = sqlite_url(tmp, "term.db")
    fake = FakeOpenAI(delay=3.0)
    env = {"LLM_PROVIDER": "openai", "LLM_MODEL": "fake",
           "LLM_BASE_URL": "http://127.0.0.1:%d" % fake.port}
    srv = Server(url, env)
    try:
        faqs = load_faqs()
        expect(register(srv, "term@example.com"), 201)
        t = token_of(srv, "term@example.com")
        A = expect(create_bot(srv, t, "Small", "s.json", faqs_json(faqs[0:8])), 200).json()["id"]
        result = {}

        def run(key, fn):
            try:
                result[key] = fn()
            except Exception as e:  # noqa: BLE001
                result[key + "-error"] = e
        threads = [
            threading.Thread(target=run, args=("chat", lambda: chat(
                srv, t, A, "How can I track my order?", "term-1"))),
            threading.Thread(target=run, args=("bot", lambda: create_bot(
                srv, t, "Big", "faqs.json", faqs_json(faqs[0:24])))),
        ]
        threads[0].start()
        for _ in range(200):
            if fake.requests:
                break
            time.sleep(0.05)
        threads[1].start()
        # The upload is in hand (in flight: the turn, the upload and this /metrics) or done.
        for _ in range(200):
            if "bot" in result or metric(srv, "supportbot_http_requests_in_flight") >= 3:
                break
            time.sleep(0.02)
        assert fake.requests == 1 and "chat" not in result, result
        srv.proc.send_signal(signal.SIGTERM)
        print("  SIGTERM with the upload %s" % ("done" if "bot" in result else "in flight"))
        for th in threads:
            th.join(120)
        rc = srv.stop()
    finally:
        fake.close()
    assert rc == 0, rc
    assert not [k for k in result if k.endswith("-error")], result
    c = expect(result["chat"], 200).json()
    assert c["responder"] == "openai" and c["response"] == FakeOpenAI.REPLY, c
    expect(result["bot"], 200)
    srv2 = Server(url)
    try:
        bots = expect(srv2.request("GET", "/api/v1/bots/", token=t), 200).json()
        assert sorted((b["name"], b["faq_count"]) for b in bots) == [("Big", 24), ("Small", 8)], bots
        h = expect(srv2.request("GET", "/api/v1/chat/history/term-1", token=t), 200).json()
        assert [m["role"] for m in h] == ["user", "assistant"], h
        assert h[1]["message"] == FakeOpenAI.REPLY, h
    finally:
        assert srv2.stop() == 0


def case_config(tmp):
    """Settings: JWT_ALGORITHM other than HS256 is refused; .env is read; defaults start."""
    env = dict(os.environ, JWT_ALGORITHM="RS256", PORT="0")
    p = subprocess.run([ARGS.server], env=env, capture_output=True, text=True, timeout=30, cwd=tmp)
    assert p.returncode == 2 and "HS256" in p.stderr, (p.returncode, p.stderr)
    env = dict(os.environ, SECRET_KEY="short", PORT="0")
    p = subprocess.run([ARGS.server], env=env, capture_output=True, text=True, timeout=30, cwd=tmp)
    assert p.returncode == 2 and "32 bytes" in p.stderr, (p.returncode, p.stderr)
    d = os.path.join(tmp, "dotenv")
    os.mkdir(d)
    with open(os.path.join(d, ".env"), "w") as f:
        f.write("# settings\nDATABASE_URL=sqlite:///./from-dotenv.db\nACCESS_TOKEN_EXPIRE_MINUTES=7\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update({"PORT": "0"})
    proc = subprocess.Popen([ARGS.server], env=env, cwd=d, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r":(\d+)", line.split("//", 1)[-1])
    conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=30)
    conn.request("POST", "/api/v1/auth/admin/register",
                 body=json.dumps({"email": "e@example.com", "password": PASSWORD}),
                 headers={"Content-Type": "application/json"})
    assert conn.getresponse().status == 201
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=30)
    conn.request("POST", "/api/v1/auth/admin/login", body=form(username="e@example.com", password=PASSWORD),
                 headers=FORM)
    tok = json.loads(conn.getresponse().read())
    assert tok["expires_in"] == 7 * 60, tok
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    err = proc.stderr.read()
    assert "SECRET_KEY is not set" in err and "will not survive a restart" in err, err
    assert os.path.exists(os.path.join(d, "from-dotenv.db")), os.listdir(d)


def case_postgres_flow(tmp):
    pg = os.environ["SB_TEST_PG_URL"]
    # The seed's SQLAlchemy form of the URL works too.
    srv = Server(pg.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        ids = flow(srv, "pg")
        check_routes(srv, ids)
    finally:
        rc = srv.stop()
    assert rc == 0, rc


def case_postgres_two_processes(tmp):
    pg = os.environ["SB_TEST_PG_URL"]
    s1, s2 = Server(pg), Server(pg)
    try:
        faqs = load_faqs()
        expect(register(s1, "two@example.com"), 201)
        t = token_of(s2, "two@example.com")  # registered on one, logs in on the other
        A = expect(create_bot(s1, t, "Two", "two.json", faqs_json(faqs[0:16])), 200).json()["id"]
        # A bot created on one answers on the other.
        assert [b["id"] for b in expect(s2.request("GET", "/api/v1/bots/", token=t), 200).json()] == [A]
        expect(register(s2, "two-user@example.com", A), 201)
        k = token_of(s1, "two-user@example.com", A)
        c = expect(chat(s2, k, A, "How long does shipping take?", "two-sess"), 200).json()
        assert c["answered"] and c["sources"][0]["id"] == "shipping-times", c
        # The conversation continues on the other process, with its context: the follow-up is
        # searched together with the previous question.
        c2 = expect(chat(s1, k, A, "and how much does it cost?", "two-sess"), 200).json()
        assert c2["session_id"] == "two-sess", c2
        assert c2["sources"][0]["id"] == "shipping-costs", c2
        h1 = expect(s1.request("GET", "/api/v1/chat/history/two-sess", token=k), 200).json()
        h2 = expect(s2.request("GET", "/api/v1/chat/history/two-sess", token=t), 200).json()
        assert h1 == h2 and len(h1) == 4, (h1, h2)
        # Replaced FAQs on one are used by the other.
        expect(s2.request("PUT", "/api/v1/bots/%s/faqs" % A, faqs_json(faqs[16:26]),
                          {"Content-Type": "application/json"}, t), 200)
        time.sleep(1.2)  # other processes re-read a bot's FAQ revision at most once a second
        c3 = expect(chat(s1, k, A, "What is your return policy?", "two-sess-2"), 200).json()
        assert c3["sources"][0]["id"] == "return-policy", c3
        for s in (s1, s2):
            assert expect(s.request("GET", "/health"), 200).json()["database"] == "ok"
    finally:
        rc1, rc2 = s1.stop(), s2.stop()
    assert rc1 == 0 and rc2 == 0, (rc1, rc2)


class FakeOpenAI:
    """An OpenAI-compatible /v1/chat/completions server: streams a fixed JSON reply in pieces,
    or fails with 500 while `failing` is set."""

    REPLY = "You can track your order from the link in your shipping e-mail, or in your account."

    def __init__(self, delay=0.0):
        import http.server
        fake = self
        self.failing = False
        self.requests = 0
        self.delay = delay  # seconds before each answer

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n) or b"{}")
                fake.requests += 1
                time.sleep(fake.delay)
                if fake.failing:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                text = json.dumps({"reply": FakeOpenAI.REPLY,
                                   "suggestions": ["How do I cancel my order?",
                                                   "Can I change my order after placing it?"],
                                   "escalate": False})
                if body.get("stream"):
                    out = ""
                    for i in range(0, len(text), 12):
                        out += "data: " + json.dumps({"object": "chat.completion.chunk", "choices": [
                            {"index": 0, "delta": {"content": text[i:i + 12]}, "finish_reason": None}]}) + "\n\n"
                    out += "data: " + json.dumps({"object": "chat.completion.chunk", "choices": [
                        {"index": 0, "delta": {}, "finish_reason": "stop"}]}) + "\n\n"
                    out += "data: " + json.dumps({"object": "chat.completion.chunk", "choices": [],
                                                  "usage": {"prompt_tokens": 50, "completion_tokens": 20}}) + "\n\ndata: [DONE]\n\n"
                    data = out.encode()
                    ctype = "text/event-stream"
                else:
                    data = json.dumps({"object": "chat.completion", "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 50, "completion_tokens": 20}}).encode()
                    ctype = "application/json"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def case_llm_stream(tmp):
    """With an LLM provider (a fake OpenAI server): the reply streams in several pieces; a failing
    provider falls back to the offline answer, which /metrics counts."""
    fake = FakeOpenAI()
    srv = Server(sqlite_url(tmp, "llm.db"), {"LLM_PROVIDER": "openai", "LLM_MODEL": "fake",
                                             "LLM_BASE_URL": "http://127.0.0.1:%d" % fake.port})
    try:
        faqs = load_faqs()
        expect(register(srv, "llm@example.com"), 201)
        t = token_of(srv, "llm@example.com")
        A = expect(create_bot(srv, t, "L", "l.json", faqs_json(faqs[0:8])), 200).json()["id"]
        r = expect(srv.request("POST", "/api/v1/chat/%s/stream" % A,
                               {"message": "How can I track my order?", "session_id": "llm-1"},
                               token=t), 200)
        events = parse_sse(r.body)
        deltas = [e[1]["text"] for e in events if e[0] == "delta"]
        done = events[-1]
        assert done[0] == "done" and len(deltas) >= 2, events
        assert "".join(deltas) == FakeOpenAI.REPLY == done[1]["response"], events
        assert done[1]["responder"] == "openai" and done[1]["fallback"] is False, done
        assert done[1]["suggested_actions"] == ["How do I cancel my order?",
                                                "Can I change my order after placing it?"], done
        fake.failing = True
        c = expect(chat(srv, t, A, "How do I cancel my order?", "llm-1"), 200).json()
        assert c["fallback"] is True and c["responder"] == "offline" and c["response"], c
        text = expect(srv.request("GET", "/metrics"), 200).body.decode()
        assert "supportbot_llm_fallbacks_total 1" in text, text
        assert re.search(r"^supportbot_chat_turns_total 2$", text, re.M), text
    finally:
        rc = srv.stop()
        fake.close()
    assert rc == 0, rc


def case_slow_clients(tmp):
    """Slow clients cannot hold the workers: with 2 workers and a 1 s read timeout, two
    connections that never finish their request are dropped, and a third client is served."""
    import socket
    srv = Server(sqlite_url(tmp, "slow.db"), {"WORKER_THREADS": "2", "READ_TIMEOUT_SECONDS": "1",
                                              "KEEP_ALIVE_SECONDS": "1"})
    try:
        idle = []
        for _ in range(2):
            s = socket.create_connection((srv.host, srv.port), timeout=10)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never end
            idle.append(s)
        start = time.time()
        r = expect(srv.request("GET", "/health", timeout=15), 200)
        assert time.time() - start < 10, time.time() - start
        for s in idle:
            data = s.recv(4096)  # closed by the server (maybe after an error status)
            assert data == b"" or data.startswith(b"HTTP/1.1 4"), data
            s.close()
    finally:
        rc = srv.stop()
    assert rc == 0, rc


def read_until_closed(sock, limit=1 << 20):
    """Everything the server sends on a raw socket until it closes it (socket.timeout if it
    does not)."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def parse_raw_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return Resp(status, headers, body)


def metric(srv, name):
    text = expect(srv.request("GET", "/metrics"), 200).body.decode()
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    assert m, (name, text[-2000:])
    return int(m.group(1))


def case_connection_limit(tmp):
    """Connections are bounded: WORKER_THREADS 2 + MAX_QUEUED_CONNECTIONS 2 = 4 open at once;
    the 5th and 6th idle connections are answered 503 (JSON detail, Retry-After) at once instead
    of waiting; while the server is full, idle connections are closed after ~1 s (not the 30 s
    keep-alive), so that a later request is served; a real request over the limit gets the same
    503; then the server serves."""
    import socket
    srv = Server(sqlite_url(tmp, "limit.db"),
                 {"WORKER_THREADS": "2", "MAX_QUEUED_CONNECTIONS": "2",
                  "KEEP_ALIVE_SECONDS": "30", "READ_TIMEOUT_SECONDS": "30"})
    socks = []
    try:
        for _ in range(6):
            socks.append(socket.create_connection((srv.host, srv.port), timeout=10))
        for s in socks[4:]:
            r = parse_raw_response(read_until_closed(s))  # socket.timeout if it waits
            expect(r, 503, "busy")
            assert r.headers.get("retry-after") == "1", r.headers
            assert r.headers.get("connection") == "close", r.headers
            for k, v in SECURITY_HEADERS.items():
                assert r.headers.get(k) == v, r.headers
        # Four idle connections fill the server; after ~1 s idle (the server full) they are
        # closed to make room, and the probe gets in.
        time.sleep(1.5)
        start = time.time()
        r = expect(srv.request("GET", "/health", timeout=20), 200)
        assert time.time() - start < 15, time.time() - start  # the keep-alive is 30 s
        assert metric(srv, "supportbot_http_connections_rejected_total") == 2
        for s in socks:
            s.close()
        socks = []
        for _ in range(100):  # the workers let the closed connections go (the 1 is /metrics)
            if metric(srv, "supportbot_http_connections_active") == 1:
                break
            time.sleep(0.1)
        assert metric(srv, "supportbot_http_connections_queued") == 0
        # Connections that are still sending (headers never end) are not closed to make room:
        # a real request beyond the 4 connections is answered 503 at once.
        import select
        for attempt in range(5):
            time.sleep(0.3)  # the /metrics connection above is let go too
            for _ in range(4):
                s = socket.create_connection((srv.host, srv.port), timeout=10)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            time.sleep(0.3)
            if not select.select(socks, [], [], 0)[0]:
                break  # all four held (none was answered)
            for s in socks:
                s.close()
            socks = []
        assert socks, "the four connections were never all held"
        r = expect(srv.request("GET", "/api/v1/bots/", timeout=10), 503, "busy")
        assert r.headers.get("retry-after") == "1", r.headers
        for s in socks:
            s.close()
        socks = []
        for _ in range(50):  # the workers notice the closed connections
            r = srv.request("GET", "/health", timeout=20)
            if r.status == 200:
                break
            time.sleep(0.1)
        expect(r, 200)
        assert metric(srv, "supportbot_http_connections_rejected_total") >= 3
    finally:
        for s in socks:
            s.close()
        rc = srv.stop()
    assert rc == 0, rc


def case_keepalive_holds_no_worker(tmp):
    """A kept-alive connection holds no worker between its requests: with WORKER_THREADS 1, a
    connection that made a request and stays open does not keep another connection waiting (the
    other is served three times over), and it is not closed to make room (the server is far from
    full): its next request is answered on the same connection."""
    import http.client
    srv = Server(sqlite_url(tmp, "keepalive.db"),
                 {"WORKER_THREADS": "1", "KEEP_ALIVE_SECONDS": "30", "READ_TIMEOUT_SECONDS": "30"})
    try:
        a = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        a.request("GET", "/health")
        r = a.getresponse()
        assert r.status == 200 and r.getheader("Connection") != "close", r.status
        r.read()
        a_sock = a.sock
        b = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
        for _ in range(3):
            time.sleep(0.5)  # 1.5 s in all: past the 1 s an idle connection gave way before
            b.request("GET", "/health")
            r = b.getresponse()  # socket.timeout if it waited for a's worker
            assert r.status == 200, r.status
            r.read()
        a.request("GET", "/health")
        r = a.getresponse()
        assert r.status == 200, r.status
        r.read()
        assert a.sock is a_sock  # the same connection, not a new one
        a.close()
        b.close()
        assert metric(srv, "supportbot_http_connections_rejected_total") == 0
    finally:
        rc = srv.stop()
    assert rc == 0, rc


def case_request_deadline(tmp):
    """A client that sends its request slowly, each piece within the read timeout, is cut off
    by the total deadline (REQUEST_TIMEOUT_SECONDS): 408 and the connection closed; a request
    sent slowly but within the deadline is served."""
    import socket
    srv = Server(sqlite_url(tmp, "deadline.db"),
                 {"REQUEST_TIMEOUT_SECONDS": "2", "READ_TIMEOUT_SECONDS": "5"})
    try:
        def trickle(first, piece, count):
            s = socket.create_connection((srv.host, srv.port), timeout=15)
            start = time.time()
            s.sendall(first)
            try:
                for _ in range(count):  # 20 s of trickling if nothing stops it
                    time.sleep(0.5)
                    s.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                pass
            data = read_until_closed(s)
            s.close()
            return data, time.time() - start
        # Headers that never end.
        data, took = trickle(b"GET /health HTTP/1.1\r\nHost: x\r\n", b"X-Slow: 1\r\n", 40)
        r = parse_raw_response(data)
        expect(r, 408)
        assert r.headers.get("connection") == "close", r.headers
        assert data.count(b"HTTP/1.1") == 1, data  # nothing after: the connection was closed
        # A body that comes too slowly.
        body = json.dumps({"email": "slow@example.com", "password": PASSWORD}).encode()
        head = ("POST /api/v1/auth/admin/register HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        data, took = trickle(head.encode() + body[:1], b" ", 40)
        expect(parse_raw_response(data), 408)
        # Slow but within the deadline: served (and nothing was registered above).
        s = socket.create_connection((srv.host, srv.port), timeout=15)
        for piece in (head.encode(), body[:10], body[10:]):
            s.sendall(piece)
            time.sleep(0.4)
        r = parse_raw_response(s.recv(65536))
        s.close()
        expect(r, 201)
        expect(register(srv, "slow@example.com"), 409)
        assert metric(srv, "supportbot_http_request_timeouts_total") == 2
    finally:
        rc = srv.stop()
    assert rc == 0, rc


def case_postgres_health(tmp):
    """/health says whether the database answers: 503 while PostgreSQL is down, 200 once back."""
    srv = Server(os.environ["SB_TEST_PG_URL"])
    try:
        assert expect(srv.request("GET", "/health"), 200).json()["database"] == "ok"
        expect(register(srv, "down@example.com"), 201)
        t = token_of(srv, "down@example.com")
        subprocess.run(os.environ["SB_TEST_PG_STOP"], shell=True, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            r = srv.request("GET", "/health")
            assert r.status == 503 and r.json()["database"] == "unavailable", r
            # A request that needs the database: 503, and nothing internal in the answer.
            r = expect(srv.request("GET", "/api/v1/bots/", token=t), 503)
            port = urllib.parse.urlsplit(os.environ["SB_TEST_PG_URL"]).port
            for leak in (str(port), "postgres", "sbtest", "connection", "SB_E"):
                assert leak not in r.json()["detail"], r
        finally:
            subprocess.run(os.environ["SB_TEST_PG_START"], shell=True, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            r = srv.request("GET", "/health")
            if r.status == 200:
                break
            time.sleep(0.2)
        assert r.status == 200 and r.json()["database"] == "ok", r
    finally:
        rc = srv.stop()
    assert rc == 0, rc


def handover_flow(srv, tag):
    """Escalation -> queue -> claim -> agent reply -> user (bot silent) -> hand back -> bot."""
    faqs = load_faqs()
    a1, a2 = "ho-owner1-%s@example.com" % tag, "ho-owner2-%s@example.com" % tag
    expect(register(srv, a1), 201)
    expect(register(srv, a2), 201)
    t1, t2 = token_of(srv, a1), token_of(srv, a2)
    A = expect(create_bot(srv, t1, "Orders", "o.json", faqs_json(faqs[0:10])), 200).json()["id"]
    B = expect(create_bot(srv, t2, "Other", "b.json", faqs_json(faqs[0:10])), 200).json()["id"]
    # Agents: the owner adds them; an agent logs in at its bot's agent login.
    sam, bea = "sam-%s@example.com" % tag, "bea-%s@example.com" % tag
    path = "/api/v1/admin/bots/%s/agents" % A
    r = expect(srv.request("POST", path, {"email": sam, "password": PASSWORD}, token=t1), 201)
    sam_id = r.json()["id"]
    assert r.json()["role"] == "agent" and r.json()["bot_id"] == A, r
    expect(srv.request("POST", path, {"email": bea, "password": PASSWORD}, token=t2), 403)
    expect(srv.request("POST", "/api/v1/admin/bots/%s/agents" % B,
                       {"email": bea, "password": PASSWORD}, token=t2), 201)
    listed = expect(srv.request("GET", path, token=t1), 200).json()
    assert [x["email"] for x in listed] == [sam], listed
    def agent_token(email, bot):
        r = srv.request("POST", "/api/v1/auth/%s/agent/login" % bot,
                        form(username=email, password=PASSWORD), FORM)
        return expect(r, 200).json()["access_token"]
    ta, tb = agent_token(sam, A), agent_token(bea, B)
    expect(srv.request("POST", "/api/v1/auth/%s/agent/login" % B,
                       form(username=sam, password=PASSWORD), FORM), 401)
    me = expect(srv.request("GET", "/api/v1/auth/me", token=ta), 200).json()
    assert me["role"] == "agent" and me["bot_id"] == A, me
    # An agent answers sessions and nothing else.
    expect(srv.request("GET", "/api/v1/admin/bots/%s/analytics" % A, token=ta), 403)
    assert srv.request("PUT", "/api/v1/bots/%s/faqs" % A, faqs_json(faqs[0:10]),
                       {"Content-Type": "application/json"}, ta).status == 403
    expect(chat(srv, ta, A, "hello"), 403)

    u = "ho-user-%s@example.com" % tag
    expect(register(srv, u, A), 201)
    tu = token_of(srv, u, A)
    s = expect(chat(srv, tu, A, "I want to talk to a human"), 200).json()
    sid = s["session_id"]
    assert s["escalated"] is True, s
    q = expect(srv.request("GET", "/api/v1/admin/bots/%s/escalations" % A, token=ta), 200).json()
    assert [x["session_id"] for x in q] == [sid], q
    assert q[0]["reason"] == "user_requested" and q[0]["last_message"] == "I want to talk to a human", q
    assert q[0]["wait_seconds"] >= 0 and re.match(r"\d{4}-", q[0]["escalated_at"]), q
    expect(srv.request("GET", "/api/v1/admin/bots/%s/escalations" % A, token=tb), 403)
    expect(srv.request("GET", "/api/v1/admin/bots/%s/escalations" % A, token=tu), 403)
    assert expect(srv.request("GET", "/api/v1/admin/bots/%s/escalations" % B, token=tb),
                  200).json() == []
    w1 = expect(chat(srv, tu, A, "How do I track my order?", sid), 200).json()
    assert "agent will be with you" in w1["response"], w1
    w2 = expect(chat(srv, tu, A, "hello?", sid), 200).json()
    assert w2["response"] == "", w2

    base = "/api/v1/admin/sessions/%s/" % sid
    expect(srv.request("POST", base + "messages", {"message": "hi"}, token=ta), 409)
    expect(srv.request("POST", base + "claim", token=tb), 403)
    assert expect(srv.request("POST", base + "claim", token=ta), 200).json()["status"] == "agent"
    expect(srv.request("POST", base + "claim", token=t1), 409)
    expect(srv.request("POST", base + "messages", {"nope": 1}, token=ta), 422)
    r = expect(srv.request("POST", base + "messages", {"message": "Sam here, looking now."},
                           token=ta), 201).json()
    assert r["role"] == "agent", r
    w3 = expect(chat(srv, tu, A, "How do I track my order?", sid), 200).json()
    assert w3["response"] == "", w3  # silent while with the agent
    hist = expect(srv.request("GET", "/api/v1/chat/history/" + sid, token=tu), 200).json()
    roles = [m["role"] for m in hist]
    assert roles == ["user", "assistant", "user", "assistant", "user", "agent", "user"], roles
    assert hist[5]["agent_id"] == sam_id and hist[5]["message"] == "Sam here, looking now.", hist
    sessions = expect(srv.request("GET", "/api/v1/chat/%s/sessions" % A, token=ta), 200).json()
    assert [x["status"] for x in sessions if x["session_id"] == sid] == ["agent"], sessions
    expect(srv.request("POST", base + "release", token=tb), 403)
    assert expect(srv.request("POST", base + "release", token=ta), 200).json()["status"] == "open"
    expect(srv.request("POST", base + "release", token=ta), 409)
    back = expect(chat(srv, tu, A, "How do I track my order?", sid), 200).json()
    assert back["response"] and back["escalated"] is False, back
    an = expect(srv.request("GET", "/api/v1/admin/bots/%s/analytics" % A, token=t1), 200).json()
    ho = an["handover"]
    assert ho["agent_messages"] == 1 and ho["handbacks"] == 1 and ho["first_agent_reply_ms"]["count"] == 1, ho
    assert {"question": "How do I track my order?", "answer": "Sam here, looking now."} in \
        an["suggested_new_faqs"], an["suggested_new_faqs"]
    # A second wait, closed by the owner acting as agent; users close elsewhere.
    assert expect(chat(srv, tu, A, "human please", sid), 200).json()["escalated"] is True
    expect(srv.request("POST", base + "close", token=tu), 403)
    assert expect(srv.request("POST", base + "close", token=t1), 200).json()["status"] == "closed"
    expect(chat(srv, tu, A, "hello", sid), 409)
    expect(srv.request("POST", "/api/v1/admin/sessions/%s/claim" % uuid.uuid4(), token=ta), 404)
    # Removing the agent ends its access.
    expect(srv.request("DELETE", "%s/%s" % (path, sam_id), token=t2), 403)
    expect(srv.request("DELETE", "%s/%s" % (path, sam_id), token=t1), 204)
    expect(srv.request("GET", "/api/v1/admin/bots/%s/escalations" % A, token=ta), 401)


def case_sqlite_handover(tmp):
    srv = Server(sqlite_url(tmp))
    try:
        handover_flow(srv, "sq")
    finally:
        rc = srv.stop()
    assert rc == 0, rc


def case_postgres_handover(tmp):
    srv = Server(os.environ["SB_TEST_PG_URL"])
    try:
        handover_flow(srv, "pg")
    finally:
        rc = srv.stop()
    assert rc == 0, rc


SQLITE_CASES = [case_slow_clients, case_connection_limit, case_keepalive_holds_no_worker, case_request_deadline, case_sqlite_flow, case_bad_input, case_config, case_sigterm, case_llm_stream, case_sqlite_handover]
PG_CASES = [case_postgres_flow, case_postgres_handover, case_postgres_two_processes, case_postgres_health]


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--faqs", required=True)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("-k", default="")
    ARGS = ap.parse_args()
    ARGS.server = os.path.abspath(ARGS.server)
    ARGS.faqs = os.path.abspath(ARGS.faqs)
    if ARGS.postgres and not os.environ.get("SB_TEST_PG_URL"):
        print("SB_TEST_PG_URL is not set: run under tests/pg/with-postgres.sh", file=sys.stderr)
        return 1
    cases = [c for c in (PG_CASES if ARGS.postgres else SQLITE_CASES) if ARGS.k in c.__name__]
    if not cases:
        print("no case matches", file=sys.stderr)
        return 1
    failed = 0
    for case in cases:
        start = time.time()
        with tempfile.TemporaryDirectory(prefix="sb-http-") as tmp:
            try:
                case(tmp)
                print("PASS %s (%.1fs)" % (case.__name__, time.time() - start), flush=True)
            except Exception:  # noqa: BLE001
                failed += 1
                print("FAIL %s (%.1fs)" % (case.__name__, time.time() - start), flush=True)
                traceback.print_exc()
    print("%d of %d cases passed" % (len(cases) - failed, len(cases)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
