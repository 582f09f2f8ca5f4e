// What both backends share: the schema migrations, enum names, JSON encodings, and opening a
// store by URL.
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "common/json.hpp"
#include "store/store.hpp"

namespace sb {

const char* to_string(SessionStatus s) noexcept {
    switch (s) {
        case SessionStatus::Open:
            return "open";
        case SessionStatus::Escalated:
            return "escalated";
        case SessionStatus::Closed:
            return "closed";
        case SessionStatus::Agent:
            return "agent";
    }
    return "open";
}

const char* to_string(Role r) noexcept {
    switch (r) {
        case Role::User:
            return "user";
        case Role::Assistant:
            return "assistant";
        case Role::Agent:
            return "agent";
    }
    return "user";
}

SessionStatus session_status_from(std::string_view s) {
    if (s == "open") return SessionStatus::Open;
    if (s == "escalated") return SessionStatus::Escalated;
    if (s == "closed") return SessionStatus::Closed;
    if (s == "agent") return SessionStatus::Agent;
    throw Error(SB_EDB, "unknown session status in the database: \"" + std::string(s) + "\"");
}

Role role_from(std::string_view s) {
    if (s == "user") return Role::User;
    if (s == "assistant") return Role::Assistant;
    if (s == "agent") return Role::Agent;
    throw Error(SB_EDB, "unknown message role in the database: \"" + std::string(s) + "\"");
}

const std::vector<Migration>& migrations() {
    // Version 1: bots, their FAQ sets (the parsed entries as JSON, so a restart rebuilds the
    // index without the original file), sessions and messages. Later versions add users and
    // summaries.
    static const std::vector<Migration> all = {
        {1, "bots, FAQ sets, sessions, messages",
         R"sql(
CREATE TABLE bots (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX bots_owner ON bots (owner, created_ms);
CREATE TABLE faq_sets (
  bot_id TEXT PRIMARY KEY REFERENCES bots (id) ON DELETE CASCADE,
  revision INTEGER NOT NULL,
  entry_count INTEGER NOT NULL,
  entries_json TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  bot_id TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  last_active_ms INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'escalated', 'closed')),
  escalation_reason TEXT NOT NULL DEFAULT '',
  unanswered_streak INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_bot_user ON sessions (bot_id, user_id, last_active_ms);
CREATE TABLE messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
  text TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  faq_ids TEXT NOT NULL DEFAULT '[]',
  confidence REAL NOT NULL DEFAULT 0,
  escalated INTEGER NOT NULL DEFAULT 0,
  escalation_reason TEXT NOT NULL DEFAULT '',
  responder TEXT NOT NULL DEFAULT '',
  latency_ms INTEGER NOT NULL DEFAULT 0,
  error INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_session ON messages (session_id, id);
)sql",
         R"sql(
CREATE TABLE bots (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX bots_owner ON bots (owner, created_ms);
CREATE TABLE faq_sets (
  bot_id TEXT PRIMARY KEY REFERENCES bots (id) ON DELETE CASCADE,
  revision INTEGER NOT NULL,
  entry_count INTEGER NOT NULL,
  entries_json TEXT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  bot_id TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  last_active_ms BIGINT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'escalated', 'closed')),
  escalation_reason TEXT NOT NULL DEFAULT '',
  unanswered_streak INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_bot_user ON sessions (bot_id, user_id, last_active_ms);
CREATE TABLE messages (
  id BIGSERIAL PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
  text TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  faq_ids TEXT NOT NULL DEFAULT '[]',
  confidence DOUBLE PRECISION NOT NULL DEFAULT 0,
  escalated BOOLEAN NOT NULL DEFAULT FALSE,
  escalation_reason TEXT NOT NULL DEFAULT '',
  responder TEXT NOT NULL DEFAULT '',
  latency_ms BIGINT NOT NULL DEFAULT 0,
  error BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX messages_session ON messages (session_id, id);
)sql"},
        {2, "session revisions (compare-and-set updates); LLM fallback and token usage",
         R"sql(
ALTER TABLE sessions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN fallback INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN completion_tokens INTEGER NOT NULL DEFAULT 0;
)sql",
         R"sql(
ALTER TABLE sessions ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN fallback BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE messages ADD COLUMN prompt_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN completion_tokens BIGINT NOT NULL DEFAULT 0;
)sql"},
        {3, "session summaries",
         R"sql(
CREATE TABLE session_summaries (
  session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
  bot_id TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  summary TEXT NOT NULL,
  main_issue TEXT NOT NULL,
  resolved INTEGER NOT NULL DEFAULT 0,
  sentiment TEXT NOT NULL CHECK (sentiment IN ('positive', 'neutral', 'negative')),
  topics TEXT NOT NULL DEFAULT '[]',
  source TEXT NOT NULL,
  fallback TEXT NOT NULL DEFAULT '',
  last_message_id INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX session_summaries_bot ON session_summaries (bot_id);
CREATE INDEX sessions_bot_created ON sessions (bot_id, created_ms);
)sql",
         R"sql(
CREATE TABLE session_summaries (
  session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
  bot_id TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
  summary TEXT NOT NULL,
  main_issue TEXT NOT NULL,
  resolved BOOLEAN NOT NULL DEFAULT FALSE,
  sentiment TEXT NOT NULL CHECK (sentiment IN ('positive', 'neutral', 'negative')),
  topics TEXT NOT NULL DEFAULT '[]',
  source TEXT NOT NULL,
  fallback TEXT NOT NULL DEFAULT '',
  last_message_id BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE INDEX session_summaries_bot ON session_summaries (bot_id);
CREATE INDEX sessions_bot_created ON sessions (bot_id, created_ms);
)sql"},
        // Version 4: accounts (admins with bot_id '', users of one bot; '' rather than NULL so a
        // plain unique index covers admins on both databases) and failed logins, in the database
        // so that every process sharing it applies one limit. Also sessions by bot alone, for an
        // owner listing all the sessions of its bot.
        {4, "accounts, failed logins, sessions by bot",
         R"sql(
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  email TEXT NOT NULL,
  bot_id TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  CHECK ((role = 'admin') = (bot_id = ''))
);
CREATE UNIQUE INDEX accounts_login ON accounts (role, bot_id, email);
CREATE TABLE login_failures (
  scope TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX login_failures_scope ON login_failures (scope, at_ms);
CREATE INDEX login_failures_at ON login_failures (at_ms);
CREATE INDEX sessions_bot ON sessions (bot_id, last_active_ms);
)sql",
         R"sql(
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  email TEXT NOT NULL,
  bot_id TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  CHECK ((role = 'admin') = (bot_id = ''))
);
CREATE UNIQUE INDEX accounts_login ON accounts (role, bot_id, email);
CREATE TABLE login_failures (
  scope TEXT NOT NULL,
  at_ms BIGINT NOT NULL
);
CREATE INDEX login_failures_scope ON login_failures (scope, at_ms);
CREATE INDEX login_failures_at ON login_failures (at_ms);
CREATE INDEX sessions_bot ON sessions (bot_id, last_active_ms);
)sql"},
        // Version 5: session listings read in pages with keyset cursors. Their order (most
        // recently active first, then by id) is the indexes' own, so a page is a range read
        // that stops at its limit however deep it starts; counts and first messages are read for
        // that page's rows only. They replace the indexes of migrations 1 and 4, which are their
        // prefixes.
        {5, "session listings in keyset order",
         R"sql(
CREATE INDEX sessions_bot_user_active ON sessions (bot_id, user_id, last_active_ms DESC, id);
DROP INDEX sessions_bot_user;
CREATE INDEX sessions_bot_active ON sessions (bot_id, last_active_ms DESC, id);
DROP INDEX sessions_bot;
)sql",
         R"sql(
CREATE INDEX sessions_bot_user_active ON sessions (bot_id, user_id, last_active_ms DESC, id);
DROP INDEX sessions_bot_user;
CREATE INDEX sessions_bot_active ON sessions (bot_id, last_active_ms DESC, id);
DROP INDEX sessions_bot;
)sql"},
        // Version 6: the hand-over to human agents. Sessions gain the status `agent` (an agent
        // claimed it) and what the queue needs; messages the role `agent` with its account id;
        // accounts the role `agent` (one bot's). SQLite cannot change a CHECK constraint in
        // place: the status and role columns are replaced by new ones (ADD, copy, DROP, RENAME,
        // which keeps every row and the foreign keys pointing at sessions), and the accounts
        // table, which nothing references, is rebuilt. Existing escalated sessions stay
        // escalated, waiting since their last escalated reply.
        {6, "hand-over to human agents: agent status, role and accounts, escalation queue",
         R"sql(
ALTER TABLE sessions ADD COLUMN status_v6 TEXT NOT NULL DEFAULT 'open' CHECK (status_v6 IN ('open', 'escalated', 'agent', 'closed'));
UPDATE sessions SET status_v6 = status;
ALTER TABLE sessions DROP COLUMN status;
ALTER TABLE sessions RENAME COLUMN status_v6 TO status;
ALTER TABLE sessions ADD COLUMN escalated_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN claimed_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN wait_acked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN handbacks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN closed_by TEXT NOT NULL DEFAULT '';
UPDATE sessions SET escalated_ms = COALESCE((SELECT MAX(m.created_ms) FROM messages m WHERE m.session_id = sessions.id AND m.escalated <> 0), last_active_ms) WHERE status = 'escalated';
CREATE INDEX sessions_bot_queue ON sessions (bot_id, status, escalated_ms, id);
ALTER TABLE messages ADD COLUMN role_v6 TEXT NOT NULL DEFAULT 'user' CHECK (role_v6 IN ('user', 'assistant', 'agent'));
UPDATE messages SET role_v6 = role;
ALTER TABLE messages DROP COLUMN role;
ALTER TABLE messages RENAME COLUMN role_v6 TO role;
ALTER TABLE messages ADD COLUMN agent_id TEXT NOT NULL DEFAULT '';
CREATE TABLE accounts_v6 (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('admin', 'user', 'agent')),
  email TEXT NOT NULL,
  bot_id TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  CHECK ((role = 'admin') = (bot_id = ''))
);
INSERT INTO accounts_v6 (id, role, email, bot_id, password_hash, created_ms) SELECT id, role, email, bot_id, password_hash, created_ms FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_v6 RENAME TO accounts;
CREATE UNIQUE INDEX accounts_login ON accounts (role, bot_id, email);
CREATE INDEX accounts_bot ON accounts (bot_id, role, created_ms);
)sql",
         R"sql(
ALTER TABLE sessions DROP CONSTRAINT sessions_status_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_status_check CHECK (status IN ('open', 'escalated', 'agent', 'closed'));
ALTER TABLE sessions ADD COLUMN escalated_ms BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '',
  ADD COLUMN claimed_ms BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN wait_acked BOOLEAN NOT NULL DEFAULT FALSE,
  ADD COLUMN handbacks INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN closed_by TEXT NOT NULL DEFAULT '';
UPDATE sessions SET escalated_ms = COALESCE((SELECT max(m.created_ms) FROM messages m WHERE m.session_id = sessions.id AND m.escalated), last_active_ms) WHERE status = 'escalated';
CREATE INDEX sessions_bot_queue ON sessions (bot_id, status, escalated_ms, id);
ALTER TABLE messages DROP CONSTRAINT messages_role_check;
ALTER TABLE messages ADD CONSTRAINT messages_role_check CHECK (role IN ('user', 'assistant', 'agent'));
ALTER TABLE messages ADD COLUMN agent_id TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts DROP CONSTRAINT accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check CHECK (role IN ('admin', 'user', 'agent'));
CREATE INDEX accounts_bot ON accounts (bot_id, role, created_ms);
)sql"},
        // Version 8: the synonyms an FAQ file declares, kept with its entries (the JSON form's
        // "synonyms" object), so that every engine on the database builds the bot's index with
        // them. Sets stored before have none.
        {8, "FAQ sets' synonyms",
         R"sql(
ALTER TABLE faq_sets ADD COLUMN synonyms_json TEXT NOT NULL DEFAULT '{}';
)sql",
         R"sql(
ALTER TABLE faq_sets ADD COLUMN synonyms_json TEXT NOT NULL DEFAULT '{}';
)sql"},
    };
    return all;
}

std::string faqs_to_json(const std::vector<FaqEntry>& faqs) {
    std::string out = "[";
    for (std::size_t i = 0; i < faqs.size(); ++i) {
        const FaqEntry& e = faqs[i];
        if (i) out += ",\n";
        out += "{\"id\":";
        json_append_string(out, e.id);
        out += ",\"question\":";
        json_append_string(out, e.question);
        out += ",\"answer\":";
        json_append_string(out, e.answer);
        if (!e.category.empty()) {
            out += ",\"category\":";
            json_append_string(out, e.category);
        }
        if (!e.tags.empty()) {
            out += ",\"tags\":";
            out += strings_to_json(e.tags);
        }
        if (!e.alternates.empty()) {
            out += ",\"alternates\":";
            out += strings_to_json(e.alternates);
        }
        out += '}';
    }
    out += "]";
    return out;
}

StoredFaqs stored_faqs_from(const std::string& bot_id, std::string_view entries_json,
                            std::string_view synonyms_json, int revision, std::size_t count) {
    constexpr std::size_t kNoLimit = SIZE_MAX / 2;
    FaqLimits limits;
    limits.max_bytes = kNoLimit;
    limits.max_entries = kNoLimit;
    limits.max_field_bytes = kNoLimit;
    limits.max_alternates = kNoLimit;
    limits.max_synonyms = kNoLimit;
    StoredFaqs out;
    out.revision = revision;
    try {
        if (count != 0) out.entries = parse_faqs_json(entries_json, limits);
        if (synonyms_json != "{}") out.synonyms = parse_synonyms_json(synonyms_json, limits);
    } catch (const Error& e) {
        throw Error(SB_EDB,
                    "corrupt FAQ set in the database (bot \"" + bot_id + "\"): " + e.what());
    }
    return out;
}

std::string strings_to_json(const std::vector<std::string>& values) {
    std::string out = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out += ',';
        json_append_string(out, values[i]);
    }
    out += ']';
    return out;
}

std::vector<std::string> strings_from_json(std::string_view json) {
    try {
        return json_string_array(json);
    } catch (const Error& e) {
        throw Error(SB_EDB, std::string("corrupt list in the database: ") + e.what());
    }
}

std::unique_ptr<Store> Store::open(const std::string& url, const StoreOptions& options) {
    if (url.empty()) return open_sqlite_store("supportbot.db", options);
    const std::string_view u(url);
    if (u.rfind("sqlite://", 0) == 0) {
        std::string path(u.substr(9));
        if (path.empty()) throw Error(SB_EINVAL, "database URL \"" + url + "\" names no file");
        return open_sqlite_store(path, options);
    }
    if (u.rfind("postgresql://", 0) == 0 || u.rfind("postgres://", 0) == 0)
        return open_postgres_store(url, options);
    throw Error(SB_EINVAL, "unsupported database URL \"" + url +
                               "\": use sqlite:///path/to/file.db or postgresql://...");
}

std::string qualified_columns(std::string_view columns, std::string_view prefix) {
    std::string out;
    for (std::size_t start = 0; start <= columns.size();) {
        std::size_t end = columns.find(", ", start);
        if (end == std::string_view::npos) end = columns.size();
        if (!out.empty()) out += ", ";
        out += prefix;
        out += columns.substr(start, end - start);
        start = end + 2;
    }
    return out;
}

}  // namespace sb
