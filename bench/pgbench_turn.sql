-- The writes of one chat turn, for pgbench: the PostgreSQL ceiling of bench/chat_run.sh (see
-- bench/README.md, "Chat turns per second"). The store's record_turn writes an ordinary turn as
-- ONE statement (src/store/postgres_store.cpp, turn_create_session / turn_update_session): the
-- session row (INSERT on a session's first turn, UPDATE after that) in a CTE, and the user's
-- message and the reply inserted for it. The ceiling does the same writes the same way.
--
-- Like sb_chat_bench, each client keeps its own sessions and starts a new one every
-- :session_turns turns, so 1 turn in 20 inserts a session and the others update it. The keys are
-- as long as the library's, since every update of a session writes them into four indexes:
-- session ids 'bench-<run>-0000000000000-t0-p0-u<client>-s<n>' with n = turn / :session_turns
-- (about 42 characters; the library's 'bench-<pid>-<ms>-t<threads>-p<pass>-u<thread>-s<n>' are
-- about 39), and user ids of 36 characters, as the library's account ids (UUIDs) are. Until
-- 2026-12-03 they were 17 and 14 characters long, and the script ran about 3% faster (one core,
-- four rounds alternating with this one).
-- Client variables persist from one transaction to the next, which makes :turn a per-client
-- counter. Needs, from the command line (fewer than 10 clients):
--   -D bot=<an existing bot id> -D run=<a number unique to this run> -D session_turns=20
--   -D turn=0
\set sn :turn / :session_turns
\set first (:turn % :session_turns) = 0
\set turn :turn + 1
\if :first
WITH s AS (INSERT INTO sessions (id, bot_id, user_id, created_ms, last_active_ms, status, escalation_reason, unanswered_streak) VALUES ('bench-' || CAST(:run AS text) || '-0000000000000-t0-p0-u' || CAST(:client_id AS text) || '-s' || CAST(:sn AS text), :bot, '00000000-0000-4000-8000-00000000000' || CAST(:client_id AS text), CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint), CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint), 'open', '', 0) ON CONFLICT (id) DO NOTHING RETURNING id)
INSERT INTO messages (session_id, role, text, created_ms, faq_ids, confidence, escalated, escalation_reason, responder, latency_ms, error, fallback, prompt_tokens, completion_tokens) SELECT s.id, v.role, v.text, v.created_ms, v.faq_ids, v.confidence, v.escalated, v.escalation_reason, v.responder, v.latency_ms, v.error, false, 0, 0 FROM s, (VALUES (1, 'user', 'how long does shipping take to canada', CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint), '[]', 0::float8, false, '', '', 0::bigint, false), (2, 'assistant', 'Orders placed before 2 p.m. ET on a business day ship the same day; others ship the next business day. Standard shipping then takes 3 to 5 business days and Express takes 1 to 2 business days within the contiguous U.S.; Alaska and Hawaii take 5 to 8 business days.', CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint), '["shipping-times"]', 0.8::float8, false, '', 'offline', 1::bigint, false)) AS v(n, role, text, created_ms, faq_ids, confidence, escalated, escalation_reason, responder, latency_ms, error) ORDER BY v.n RETURNING id;
\else
WITH s AS (UPDATE sessions SET last_active_ms = CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint), status = 'open', escalation_reason = '', unanswered_streak = 0, revision = revision + 1 WHERE id = 'bench-' || CAST(:run AS text) || '-0000000000000-t0-p0-u' || CAST(:client_id AS text) || '-s' || CAST(:sn AS text) RETURNING id)
INSERT INTO messages (session_id, role, text, created_ms, faq_ids, confidence, escalated, escalation_reason, responder, latency_ms, error, fallback, prompt_tokens, completion_tokens) SELECT s.id, v.role, v.text, v.created_ms, v.faq_ids, v.confidence, v.escalated, v.escalation_reason, v.responder, v.latency_ms, v.error, false, 0, 0 FROM s, (VALUES (1, 'user', 'how long does shipping take to canada', CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint), '[]', 0::float8, false, '', '', 0::bigint, false), (2, 'assistant', 'Orders placed before 2 p.m. ET on a business day ship the same day; others ship the next business day. Standard shipping then takes 3 to 5 business days and Express takes 1 to 2 business days within the contiguous U.S.; Alaska and Hawaii take 5 to 8 business days.', CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint), '["shipping-times"]', 0.8::float8, false, '', 'offline', 1::bigint, false)) AS v(n, role, text, created_ms, faq_ids, confidence, escalated, escalation_reason, responder, latency_ms, error) ORDER BY v.n RETURNING id;
\endif
