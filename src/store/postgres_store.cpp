// PostgreSQL backend (libpqxx 6.4).
//
// A pool of up to StoreOptions::pool_size connections (at least 1; the first is opened and the
// schema migrated up front, the others when first needed). Every operation takes a connection
// from the pool (waiting when all are busy), runs one transaction on it and gives it back.
// A thread gets back the connection it used last when that one is idle (store/idle_list.hpp).
//
// Reconnecting: when an operation fails with pqxx::broken_connection (e.g. the server restarted),
// the connection is thrown away, a new one is opened and the operation is run once more. This is
// safe because a broken_connection means the transaction did not commit: libpqxx reports a
// connection lost *during* COMMIT as pqxx::in_doubt_error instead, which is never retried (it
// becomes SB_EDB). record_turn and the other writers are single transactions, so a retried one
// either applies entirely or not at all. When reconnecting fails, the operation throws SB_EDB with
// the server's message (the URL in messages has its password masked).
//
// Migrations run under a transaction-scoped advisory lock, one transaction per migration together
// with its version update, so several processes opening one database at once migrate it once.
//
// Every exception leaving this file is an sb::Error.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "store/idle_list.hpp"
#include "store/store.hpp"

#include "store/pqxx.hpp"

namespace sb {
namespace {

// Key of the advisory lock held while migrating ("sbschema" in ASCII).
constexpr std::int64_t kMigrationLockKey = 0x7362736368656d61;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The URL with any password replaced by "***": the userinfo part (user:password@host) and a
// password=... query parameter.
std::string redact_url(const std::string& url) {
    std::string out = url;
    const std::size_t scheme = out.find("://");
    if (scheme != std::string::npos) {
        const std::size_t start = scheme + 3;
        std::size_t end = out.find_first_of("/?#", start);
        if (end == std::string::npos) end = out.size();
        const std::size_t at = out.rfind('@', end);
        if (at != std::string::npos && at >= start) {
            const std::size_t colon = out.find(':', start);
            if (colon != std::string::npos && colon < at)
                out.replace(colon + 1, at - colon - 1, "***");
        }
    }
    for (std::size_t pos = out.find("password="); pos != std::string::npos;
         pos = out.find("password=", pos + 1)) {
        if (pos > 0 && out[pos - 1] != '?' && out[pos - 1] != '&' && out[pos - 1] != ' ') continue;
        const std::size_t value = pos + 9;
        std::size_t end = out.find_first_of("& ", value);
        if (end == std::string::npos) end = out.size();
        out.replace(value, end - value, "***");
    }
    return out;
}

// libpq messages end with a newline (and sometimes contain several lines).
std::string trim_message(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string what_of(const std::exception& e) {
    return trim_message(e.what());
}

// A float8 parameter as text: the shortest decimal that reads back as the same double. libpqxx
// 6.4 formats a double through a std::stringstream, a microsecond or more each (a turn has two).
std::string float8_text(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, ec == std::errc() ? end : buf);
}

constexpr const char* kBotColumns =
    "b.id, b.owner, b.name, b.created_ms, COALESCE(f.revision, 0), COALESCE(f.entry_count, 0)";
constexpr const char* kSessionColumns =
    "s.id, s.bot_id, s.user_id, s.created_ms, s.last_active_ms, s.status, s.escalation_reason, "
    "s.unanswered_streak, s.revision, s.escalated_ms, s.claimed_by, s.claimed_ms, s.wait_acked, "
    "s.handbacks, s.closed_by";
constexpr int kSessionColumnCount = 15;
// The tail of a session listing: each session's message count (column 15) and first user message
// (column 16), from sessions s.
constexpr const char* kSessionCountFrom =
    ", (SELECT count(*) FROM messages m WHERE m.session_id = s.id), "
    "COALESCE((SELECT m.text FROM messages m WHERE m.session_id = s.id AND m.role = 'user' "
    "ORDER BY m.id LIMIT 1), '') FROM sessions s";

// The condition and order of a page of sessions, after the scope's own condition: those after
// the key ($first = last_active_ms, then id) in the listing's order, at most $(first + 2) of
// them. Written so that the index (bot_id[, user_id], last_active_ms DESC, id) is read from the
// key on: the first term bounds the range, the second skips the key's own ties.
std::string session_page_sql(int first) {
    // Appended piece by piece: GCC 12 warns (-Wrestrict, wrongly) on a chain of operator+.
    std::string t = "$";
    t += std::to_string(first);
    std::string out = " AND s.last_active_ms <= ";
    out += t;
    out += " AND (s.last_active_ms < ";
    out += t;
    out += " OR s.id > $";
    out += std::to_string(first + 1);
    out += ") ORDER BY s.last_active_ms DESC, s.id LIMIT $";
    out += std::to_string(first + 2);
    return out;
}

// A row count for SQL's LIMIT: 0 (all) as no limit.
std::int64_t sql_limit(std::size_t limit) noexcept {
    constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
    return limit == 0 || limit > static_cast<std::size_t>(kMax) ? kMax
                                                                : static_cast<std::int64_t>(limit);
}
constexpr const char* kMessageColumns =
    "id, session_id, role, text, created_ms, faq_ids, confidence, escalated, escalation_reason, "
    "responder, latency_ms, error, fallback, prompt_tokens, completion_tokens, agent_id";

// ---- Session summaries and analytics (migration 3) ----
constexpr const char* kSummaryColumns =
    "ss.session_id, ss.bot_id, ss.summary, ss.main_issue, ss.resolved, ss.sentiment, ss.topics, "
    "ss.source, ss.fallback, ss.last_message_id, ss.created_ms, ss.updated_ms";
constexpr const char* kInRange = " s.bot_id = $1 AND s.created_ms >= $2 AND s.created_ms < $3";

// The two messages of a turn, inserted for the session row the statement's CTE `s` returns
// (none when the session did not exist: then nothing is inserted); placeholders from $first.
std::string turn_messages_sql(int first) {
    static const char* const kTypes[] = {"text",    "text",   "bigint", "text",   "float8",
                                         "boolean", "text",   "text",   "bigint", "boolean",
                                         "boolean", "bigint", "bigint"};
    constexpr int kCount = static_cast<int>(std::size(kTypes));
    std::string values;
    for (int m = 0; m < 2; ++m) {
        values += m ? ", (" : "(";
        values += std::to_string(m + 1);
        for (int i = 0; i < kCount; ++i) {
            values += ", $";
            values += std::to_string(first + kCount * m + i);
            values += "::";
            values += kTypes[i];
        }
        values += ')';
    }
    return "INSERT INTO messages (session_id, role, text, created_ms, faq_ids, confidence, "
           "escalated, escalation_reason, responder, latency_ms, error, fallback, prompt_tokens, "
           "completion_tokens) "
           "SELECT s.id, v.role, v.text, v.created_ms, v.faq_ids, v.confidence, v.escalated, "
           "v.escalation_reason, v.responder, v.latency_ms, v.error, v.fallback, v.prompt_tokens, "
           "v.completion_tokens FROM s, (VALUES " +
           values +
           ") AS v(n, role, text, created_ms, faq_ids, confidence, escalated, escalation_reason, "
           "responder, latency_ms, error, fallback, prompt_tokens, completion_tokens) ORDER BY v.n "
           "RETURNING id";
}

// The prepared statements, (re)prepared on every new connection.
const std::vector<std::pair<std::string, std::string>>& statements() {
    static const std::vector<std::pair<std::string, std::string>> all = {
        {"schema_version", "SELECT max(version) FROM schema_version"},
        {"insert_bot", "INSERT INTO bots (id, owner, name, created_ms) VALUES ($1, $2, $3, $4)"},
        {"insert_faq_set",
         "INSERT INTO faq_sets (bot_id, revision, entry_count, entries_json, synonyms_json, "
         "updated_ms) VALUES ($1, 1, $2, $3, $4, $5)"},
        {"replace_faqs",
         "UPDATE faq_sets SET revision = revision + 1, entry_count = $2, entries_json = $3, "
         "synonyms_json = $4, updated_ms = $5 WHERE bot_id = $1 RETURNING revision"},
        {"get_bot", std::string("SELECT ") + kBotColumns +
                        " FROM bots b LEFT JOIN faq_sets f ON f.bot_id = b.id WHERE b.id = $1"},
        {"list_bots", std::string("SELECT ") + kBotColumns +
                          " FROM bots b LEFT JOIN faq_sets f ON f.bot_id = b.id"
                          " ORDER BY b.created_ms, b.id"},
        {"list_bots_of_owner", std::string("SELECT ") + kBotColumns +
                                   " FROM bots b LEFT JOIN faq_sets f ON f.bot_id = b.id"
                                   " WHERE b.owner = $1 ORDER BY b.created_ms, b.id"},
        {"load_faqs",
         "SELECT f.entries_json, f.revision, f.entry_count, f.synonyms_json FROM bots b "
         "JOIN faq_sets f ON f.bot_id = b.id WHERE b.id = $1"},
        {"get_session",
         std::string("SELECT ") + kSessionColumns + " FROM sessions s WHERE s.id = $1"},
        {"list_sessions", std::string("SELECT ") + kSessionColumns + kSessionCountFrom +
                              " WHERE s.bot_id = $1 AND s.user_id = $2" + session_page_sql(3)},
        {"history_page", std::string("SELECT ") + kMessageColumns +
                             " FROM messages WHERE session_id = $1 AND id > $2 ORDER BY id "
                             "LIMIT $3"},
        {"history", std::string("SELECT ") + kMessageColumns + " FROM (SELECT " + kMessageColumns +
                        " FROM messages WHERE session_id = $1 ORDER BY id DESC LIMIT $2) AS last"
                        " ORDER BY id"},
        {"insert_session",
         "INSERT INTO sessions (id, bot_id, user_id, created_ms, last_active_ms, status, "
         "escalation_reason, unanswered_streak, escalated_ms, claimed_by, claimed_ms, wait_acked, "
         "handbacks, closed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
         "$14)"},
        {"update_session",
         "UPDATE sessions SET last_active_ms = $2, status = $3, escalation_reason = $4, "
         "unanswered_streak = $5, escalated_ms = $7, claimed_by = $8, claimed_ms = $9, "
         "wait_acked = $10, handbacks = $11, closed_by = $12, revision = revision + 1 "
         "WHERE id = $1 AND revision = $6"},
        {"insert_message",
         "INSERT INTO messages (session_id, role, text, created_ms, faq_ids, confidence, "
         "escalated, escalation_reason, responder, latency_ms, error, fallback, prompt_tokens, "
         "completion_tokens, agent_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
         "$13, $14, $15)"},
        // ---- The hand-over (migration 6) ----
        // Waiting sessions from the key ($2 = escalated_ms, $3 = id) on, in the order of the
        // index (bot_id, status, escalated_ms, id); with the count and the last user message.
        {"escalation_queue",
         std::string("SELECT ") + kSessionColumns +
             ", (SELECT count(*) FROM messages m WHERE m.session_id = s.id), "
             "COALESCE((SELECT m.text FROM messages m WHERE m.session_id = s.id AND m.role = "
             "'user' ORDER BY m.id DESC LIMIT 1), '') FROM sessions s "
             "WHERE s.bot_id = $1 AND s.status = 'escalated' AND s.escalated_ms >= $2 AND "
             "(s.escalated_ms > $2 OR s.id > $3) ORDER BY s.escalated_ms, s.id LIMIT $4"},
        {"list_accounts",
         "SELECT id, role, email, bot_id, password_hash, created_ms FROM accounts "
         "WHERE role = $1 AND bot_id = $2 ORDER BY created_ms, id"},
        // A whole ordinary turn (the session's row and two messages) as one statement: one round
        // trip instead of five, and atomic like any single statement.
        {"turn_create_session",
         "WITH s AS (INSERT INTO sessions (id, bot_id, user_id, created_ms, last_active_ms, "
         "status, escalation_reason, unanswered_streak, escalated_ms, claimed_by, claimed_ms, "
         "wait_acked, handbacks, closed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
         "$11, $12, $13, $14) ON CONFLICT (id) DO NOTHING RETURNING id) " +
             turn_messages_sql(15)},
        {"turn_update_session",
         "WITH s AS (UPDATE sessions SET last_active_ms = $2, status = $3, escalation_reason = $4, "
         "unanswered_streak = $5, escalated_ms = $7, claimed_by = $8, claimed_ms = $9, "
         "wait_acked = $10, handbacks = $11, closed_by = $12, revision = revision + 1 "
         "WHERE id = $1 AND revision = $6 RETURNING id) " +
             turn_messages_sql(13)},
        // ---- Session summaries and analytics (migration 3) ----
        {"summary_upsert",
         "INSERT INTO session_summaries (session_id, bot_id, summary, main_issue, resolved, "
         "sentiment, topics, source, fallback, last_message_id, created_ms, updated_ms) "
         "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM sessions "
         "WHERE id = $1 AND bot_id = $2 "
         "ON CONFLICT (session_id) DO UPDATE SET summary = excluded.summary, "
         "main_issue = excluded.main_issue, resolved = excluded.resolved, "
         "sentiment = excluded.sentiment, topics = excluded.topics, source = excluded.source, "
         "fallback = excluded.fallback, last_message_id = excluded.last_message_id, "
         "updated_ms = excluded.updated_ms "
         "WHERE session_summaries.last_message_id <= excluded.last_message_id RETURNING 1"},
        {"summary_get", std::string("SELECT ") + kSummaryColumns +
                            " FROM session_summaries ss WHERE ss.session_id = $1"},
        {"summaries_list", std::string("SELECT ") + kSummaryColumns +
                               " FROM session_summaries ss JOIN sessions s ON s.id = "
                               "ss.session_id WHERE" +
                               kInRange + " ORDER BY s.created_ms, s.id"},
        {"summary_backlog",
         "SELECT id, last, covered, fallback FROM (SELECT s.id, s.created_ms, (SELECT max(m.id) "
         "FROM messages m WHERE m.session_id = s.id) AS last, COALESCE(ss.last_message_id, 0) AS "
         "covered, COALESCE(ss.fallback, '') AS fallback FROM sessions s LEFT JOIN "
         "session_summaries ss ON ss.session_id = s.id WHERE "
         "s.bot_id = $1) AS b WHERE last IS NOT NULL ORDER BY created_ms, id"},
        {"activity_sessions",
         std::string("SELECT count(*), count(*) FILTER (WHERE s.closed_by <> ''), "
                     "COALESCE(sum(s.handbacks), 0)::bigint FROM sessions s WHERE") +
             kInRange},
        {"activity_messages",
         std::string("SELECT count(*) FILTER (WHERE m.role = 'user'), "
                     "count(*) FILTER (WHERE m.role = 'assistant'), "
                     "count(*) FILTER (WHERE m.role = 'assistant' AND m.faq_ids <> '[]' AND "
                     "m.responder <> 'clarification'), "
                     "count(*) FILTER (WHERE m.escalated), "
                     "count(DISTINCT m.session_id) FILTER (WHERE m.escalated), "
                     "count(*) FILTER (WHERE m.fallback), count(*) FILTER (WHERE m.error), "
                     "count(*) FILTER (WHERE m.prompt_tokens + m.completion_tokens > 0), "
                     "COALESCE(sum(m.prompt_tokens), 0)::bigint, "
                     "COALESCE(sum(m.completion_tokens), 0)::bigint "
                     "FROM messages m JOIN sessions s ON s.id = m.session_id WHERE") +
             kInRange},
        {"activity_reasons",
         std::string("SELECT m.escalation_reason, count(*) FROM messages m JOIN sessions s ON "
                     "s.id = m.session_id WHERE") +
             kInRange + " AND m.escalated GROUP BY 1 ORDER BY 2 DESC, 1"},
        {"activity_days",
         std::string("SELECT s.created_ms / 86400000 AS day, count(*) FROM sessions s WHERE") +
             kInRange + " GROUP BY 1 ORDER BY 1"},
        {"bot_messages", "SELECT " + qualified_columns(kMessageColumns, "m.") +
                             " FROM messages m JOIN sessions s ON s.id = m.session_id WHERE" +
                             kInRange + " ORDER BY s.created_ms, s.id, m.id"},
        // Accounts and failed logins (migration 4).
        {"insert_account",
         "INSERT INTO accounts (id, role, email, bot_id, password_hash, created_ms) "
         "VALUES ($1, $2, $3, $4, $5, $6)"},
        {"get_account",
         "SELECT id, role, email, bot_id, password_hash, created_ms FROM accounts WHERE id = $1"},
        {"find_account",
         "SELECT id, role, email, bot_id, password_hash, created_ms FROM accounts "
         "WHERE role = $1 AND bot_id = $2 AND email = $3"},
        {"set_password_hash", "UPDATE accounts SET password_hash = $2 WHERE id = $1"},
        {"delete_account", "DELETE FROM accounts WHERE id = $1"},
        // The two-key form, so that it never meets the migration lock's one-key space.
        {"lock_login_scope", "SELECT pg_advisory_xact_lock(1397506383, hashtext($1))"},
        // Expired attempts of every scope; rows another login is pruning are skipped, not waited
        // for, so that two logins of different scopes (each holding its scope's advisory lock)
        // never deadlock on each other's rows.
        {"prune_login_failures",
         "DELETE FROM login_failures WHERE ctid IN (SELECT ctid FROM login_failures "
         "WHERE at_ms <= $1 FOR UPDATE SKIP LOCKED)"},
        {"insert_login_failure", "INSERT INTO login_failures (scope, at_ms) VALUES ($1, $2)"},
        {"count_login_failures",
         "SELECT count(*) FROM login_failures WHERE scope = $1 AND at_ms > $2"},
        {"clear_login_failures", "DELETE FROM login_failures WHERE scope = $1"},
        {"list_bot_sessions", std::string("SELECT ") + kSessionColumns + kSessionCountFrom +
                                  " WHERE s.bot_id = $1" + session_page_sql(2)},
    };
    return all;
}

SessionSummary summary_from(const pqxx::row& r) {
    SessionSummary x;
    x.session_id = r[0].as<std::string>();
    x.bot_id = r[1].as<std::string>();
    x.summary = r[2].as<std::string>();
    x.main_issue = r[3].as<std::string>();
    x.resolved = r[4].as<bool>();
    x.sentiment = r[5].as<std::string>();
    x.topics = strings_from_json(r[6].as<std::string>());
    x.source = r[7].as<std::string>();
    x.fallback = r[8].as<std::string>();
    x.last_message_id = r[9].as<std::int64_t>();
    x.created_ms = r[10].as<std::int64_t>();
    x.updated_ms = r[11].as<std::int64_t>();
    return x;
}

AccountRecord account_from(const pqxx::row& r) {
    AccountRecord a;
    a.id = r[0].as<std::string>();
    a.role = r[1].as<std::string>();
    a.email = r[2].as<std::string>();
    a.bot_id = r[3].as<std::string>();
    a.password_hash = r[4].as<std::string>();
    a.created_ms = r[5].as<std::int64_t>();
    return a;
}

BotRecord bot_from(const pqxx::row& r) {
    BotRecord b;
    b.id = r[0].as<std::string>();
    b.owner = r[1].as<std::string>();
    b.name = r[2].as<std::string>();
    b.created_ms = r[3].as<std::int64_t>();
    b.faq_revision = r[4].as<int>();
    b.faq_count = static_cast<std::size_t>(std::max(0, r[5].as<int>()));
    return b;
}

SessionRecord session_from(const pqxx::row& r) {
    SessionRecord s;
    s.id = r[0].as<std::string>();
    s.bot_id = r[1].as<std::string>();
    s.user_id = r[2].as<std::string>();
    s.created_ms = r[3].as<std::int64_t>();
    s.last_active_ms = r[4].as<std::int64_t>();
    s.status = session_status_from(r[5].as<std::string>());
    s.escalation_reason = r[6].as<std::string>();
    s.unanswered_streak = r[7].as<int>();
    s.revision = r[8].as<std::int64_t>();
    s.escalated_ms = r[9].as<std::int64_t>();
    s.claimed_by = r[10].as<std::string>();
    s.claimed_ms = r[11].as<std::int64_t>();
    s.wait_acked = r[12].as<bool>();
    s.handbacks = r[13].as<int>();
    s.closed_by = r[14].as<std::string>();
    return s;
}

MessageRecord message_from(const pqxx::row& r) {
    MessageRecord m;
    m.id = r[0].as<std::int64_t>();
    m.session_id = r[1].as<std::string>();
    m.role = role_from(r[2].as<std::string>());
    m.text = r[3].as<std::string>();
    m.created_ms = r[4].as<std::int64_t>();
    m.faq_ids = strings_from_json(r[5].as<std::string>());
    m.confidence = r[6].as<double>();
    m.escalated = r[7].as<bool>();
    m.escalation_reason = r[8].as<std::string>();
    m.responder = r[9].as<std::string>();
    m.latency_ms = r[10].as<std::int64_t>();
    m.error = r[11].as<bool>();
    m.fallback = r[12].as<bool>();
    m.prompt_tokens = r[13].as<std::int64_t>();
    m.completion_tokens = r[14].as<std::int64_t>();
    m.agent_id = r[15].as<std::string>();
    return m;
}

// Every row of r, read by read (one of the *_from above).
template <class Read>
auto read_rows(const pqxx::result& r, Read read) {
    std::vector<decltype(read(r[0]))> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back(read(row));
    return out;
}

// The rows of a session listing: the session's columns, then its message count (column 15) and
// first user message (column 16; the escalation queue: the last user message).
std::vector<SessionRecord> sessions_with_count(const pqxx::result& r, bool last = false) {
    return read_rows(r, [last](const pqxx::row& row) {
        SessionRecord s = session_from(row);
        s.message_count = static_cast<std::size_t>(row[kSessionColumnCount].as<std::int64_t>());
        (last ? s.last_message : s.first_message) = row[kSessionColumnCount + 1].as<std::string>();
        return s;
    });
}

class PostgresStore final : public Store {
  public:
    PostgresStore(std::string url, const StoreOptions& options)
        : url_(std::move(url)),
          safe_url_(redact_url(url_)),
          max_connections_(std::max<std::size_t>(1, options.pool_size)) {
        idle_.reserve(max_connections_);
        auto first = connect();
        migrate(*first);
        idle_.put(std::move(first));
        open_count_ = 1;
    }

    int schema_version() override {
        return run("reading the schema version", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);  // one statement: no BEGIN/COMMIT round trips
            const pqxx::result r = w.exec_prepared("schema_version");
            w.commit();
            return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<int>();
        });
    }

    void create_bot(const BotRecord& bot, const std::vector<FaqEntry>& faqs,
                    const std::vector<SynonymGroup>& synonyms) override {
        const std::string json = faqs_to_json(faqs);
        const std::string synonyms_json = synonyms_to_json(synonyms);
        run("creating bot \"" + bot.id + "\"", [&](pqxx::connection& c) {
            pqxx::work w(c);
            try {
                w.exec_prepared("insert_bot", bot.id, bot.owner, bot.name, bot.created_ms);
            } catch (const pqxx::unique_violation&) {
                throw Error(SB_ECONFLICT, "a bot with id \"" + bot.id + "\" exists already");
            }
            w.exec_prepared("insert_faq_set", bot.id, static_cast<std::int64_t>(faqs.size()), json,
                            synonyms_json, now_ms());
            w.commit();
        });
    }

    int replace_faqs(const std::string& bot_id, const std::vector<FaqEntry>& faqs,
                     const std::vector<SynonymGroup>& synonyms) override {
        const std::string json = faqs_to_json(faqs);
        const std::string synonyms_json = synonyms_to_json(synonyms);
        return run("replacing the FAQs of bot \"" + bot_id + "\"", [&](pqxx::connection& c) {
            pqxx::work w(c);
            const pqxx::result r =
                w.exec_prepared("replace_faqs", bot_id, static_cast<std::int64_t>(faqs.size()),
                                json, synonyms_json, now_ms());
            if (r.empty()) throw Error(SB_ENOTFOUND, "no bot with id \"" + bot_id + "\"");
            const int revision = r[0][0].as<int>();
            w.commit();
            return revision;
        });
    }

    std::optional<BotRecord> get_bot(const std::string& bot_id) override {
        return run("reading bot \"" + bot_id + "\"",
                   [&](pqxx::connection& c) -> std::optional<BotRecord> {
                       pqxx::nontransaction w(c);  // one statement: no BEGIN/COMMIT round trips
                       const pqxx::result r = w.exec_prepared("get_bot", bot_id);
                       w.commit();
                       if (r.empty()) return std::nullopt;
                       return bot_from(r[0]);
                   });
    }

    std::vector<BotRecord> list_bots(const std::optional<std::string>& owner) override {
        return run("listing bots", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);  // one statement: no BEGIN/COMMIT round trips
            const pqxx::result r = owner ? w.exec_prepared("list_bots_of_owner", *owner)
                                         : w.exec_prepared("list_bots");
            w.commit();
            return read_rows(r, bot_from);
        });
    }

    StoredFaqs load_faqs(const std::string& bot_id) override {
        auto [json, revision, count, synonyms_json] =
            run("loading the FAQs of bot \"" + bot_id + "\"", [&](pqxx::connection& c) {
                pqxx::nontransaction w(c);  // one statement: no BEGIN/COMMIT round trips
                const pqxx::result r = w.exec_prepared("load_faqs", bot_id);
                w.commit();
                if (r.empty()) throw Error(SB_ENOTFOUND, "no bot with id \"" + bot_id + "\"");
                return std::tuple<std::string, int, int, std::string>(
                    r[0][0].as<std::string>(), r[0][1].as<int>(), r[0][2].as<int>(),
                    r[0][3].as<std::string>());
            });
        return stored_faqs_from(bot_id, json, synonyms_json, revision,
                                static_cast<std::size_t>(count));
    }

    std::optional<SessionRecord> get_session(const std::string& session_id) override {
        return run("reading session \"" + session_id + "\"",
                   [&](pqxx::connection& c) -> std::optional<SessionRecord> {
                       pqxx::nontransaction w(c);  // one statement: no BEGIN/COMMIT round trips
                       const pqxx::result r = w.exec_prepared("get_session", session_id);
                       w.commit();
                       if (r.empty()) return std::nullopt;
                       return session_from(r[0]);
                   });
    }

    std::vector<SessionRecord> list_sessions_page(const std::string& bot_id,
                                                  const std::optional<std::string>& user_id,
                                                  const std::optional<SessionKey>& after,
                                                  std::size_t limit) override {
        // The first page starts after a key above every row.
        const std::int64_t t =
            after ? after->last_active_ms : std::numeric_limits<std::int64_t>::max();
        const std::string empty;
        const std::string& id = after ? after->id : empty;
        const std::int64_t n = sql_limit(limit);
        return run(user_id ? "listing sessions" : "listing the sessions of a bot",
                   [&](pqxx::connection& c) {
                       pqxx::nontransaction w(c);  // one statement: no BEGIN/COMMIT round trips
                       const pqxx::result r =
                           user_id ? w.exec_prepared("list_sessions", bot_id, *user_id, t, id, n)
                                   : w.exec_prepared("list_bot_sessions", bot_id, t, id, n);
                       w.commit();
                       return sessions_with_count(r);
                   });
    }

    std::vector<MessageRecord> history_page(const std::string& session_id, std::int64_t after_id,
                                            std::size_t limit) override {
        const std::int64_t n = sql_limit(limit);
        return run(
            "reading the history of session \"" + session_id + "\"", [&](pqxx::connection& c) {
                pqxx::nontransaction w(c);  // one statement: no BEGIN/COMMIT round trips
                const pqxx::result r = w.exec_prepared("history_page", session_id, after_id, n);
                w.commit();
                return read_rows(r, message_from);
            });
    }

    // A trivial query on a pooled connection. An idle connection whose server went away (a
    // restart, a failover) fails it with pqxx::broken_connection: run() then opens a new one and
    // asks again, so the answer is the server's as it is now, and SB_EDB with the reason when
    // it cannot be reached.
    void ping() override {
        run("checking that the database answers", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);
            w.exec("SELECT 1");
            w.commit();
        });
    }

    std::vector<MessageRecord> history(const std::string& session_id, std::size_t limit) override {
        const std::int64_t n = sql_limit(limit);
        return run("reading the history of session \"" + session_id + "\"",
                   [&](pqxx::connection& c) {
                       pqxx::nontransaction w(c);  // one statement: no BEGIN/COMMIT round trips
                       const pqxx::result r = w.exec_prepared("history", session_id, n);
                       w.commit();
                       return read_rows(r, message_from);
                   });
    }

    void record_turn(const TurnRecord& turn) override {
        const SessionRecord& s = turn.session;
        std::vector<std::string> faq_ids_json;
        faq_ids_json.reserve(turn.messages.size());
        for (const auto& m : turn.messages) faq_ids_json.push_back(strings_to_json(m.faq_ids));
        // The usual shape, a session row and two messages of that session: one statement.
        // (Agent messages, which carry an account id, take the general path.)
        if (turn.messages.size() == 2 && turn.messages[0].session_id == s.id &&
            turn.messages[1].session_id == s.id && turn.messages[0].agent_id.empty() &&
            turn.messages[1].agent_id.empty()) {
            const MessageRecord& a = turn.messages[0];
            const MessageRecord& b = turn.messages[1];
            run("recording a turn of session \"" + s.id + "\"", [&](pqxx::connection& c) {
                pqxx::nontransaction w(c);  // a single statement is atomic by itself
                pqxx::result r;
                try {
                    const std::string status = to_string(s.status);
                    const std::string role_a = to_string(a.role), role_b = to_string(b.role);
                    if (turn.create_session) {
                        r = w.exec_prepared(
                            "turn_create_session", s.id, s.bot_id, s.user_id, s.created_ms,
                            s.last_active_ms, status, s.escalation_reason, s.unanswered_streak,
                            s.escalated_ms, s.claimed_by, s.claimed_ms, s.wait_acked, s.handbacks,
                            s.closed_by, role_a, a.text, a.created_ms, faq_ids_json[0],
                            float8_text(a.confidence), a.escalated, a.escalation_reason,
                            a.responder, a.latency_ms, a.error, a.fallback, a.prompt_tokens,
                            a.completion_tokens, role_b, b.text, b.created_ms, faq_ids_json[1],
                            float8_text(b.confidence), b.escalated, b.escalation_reason,
                            b.responder, b.latency_ms, b.error, b.fallback, b.prompt_tokens,
                            b.completion_tokens);
                    } else {
                        r = w.exec_prepared(
                            "turn_update_session", s.id, s.last_active_ms, status,
                            s.escalation_reason, s.unanswered_streak, s.revision, s.escalated_ms,
                            s.claimed_by, s.claimed_ms, s.wait_acked, s.handbacks, s.closed_by,
                            role_a, a.text, a.created_ms, faq_ids_json[0],
                            float8_text(a.confidence), a.escalated, a.escalation_reason,
                            a.responder, a.latency_ms, a.error, a.fallback, a.prompt_tokens,
                            a.completion_tokens, role_b, b.text, b.created_ms, faq_ids_json[1],
                            float8_text(b.confidence), b.escalated, b.escalation_reason,
                            b.responder, b.latency_ms, b.error, b.fallback, b.prompt_tokens,
                            b.completion_tokens);
                    }
                } catch (const pqxx::unique_violation&) {
                    throw Error(SB_ECONFLICT, "session \"" + s.id + "\" exists already");
                } catch (const pqxx::foreign_key_violation&) {
                    throw Error(SB_ENOTFOUND, "creating session \"" + s.id +
                                                  "\": no bot with id \"" + s.bot_id + "\"");
                }
                if (r.size() != 2) {
                    // Creating: ON CONFLICT DO NOTHING, the id is taken (and the server logs no
                    // error for it).
                    if (turn.create_session)
                        throw Error(SB_ECONFLICT, "session \"" + s.id + "\" exists already");
                    // Updating: no row matched, the session is gone or changed since it was read.
                    const pqxx::result e = w.exec_prepared("get_session", s.id);
                    if (e.empty()) throw Error(SB_ENOTFOUND, "no session with id \"" + s.id + "\"");
                    throw Error(
                        SB_ECONFLICT,
                        "session \"" + s.id + "\" was changed by another writer since it was read");
                }
            });
            return;
        }
        // Any other shape: one transaction, retried as a whole after a broken connection (it did
        // not commit).
        run("recording a turn of session \"" + s.id + "\"", [&](pqxx::connection& c) {
            pqxx::work w(c);
            if (turn.create_session) {
                try {
                    w.exec_prepared("insert_session", s.id, s.bot_id, s.user_id, s.created_ms,
                                    s.last_active_ms, std::string(to_string(s.status)),
                                    s.escalation_reason, s.unanswered_streak, s.escalated_ms,
                                    s.claimed_by, s.claimed_ms, s.wait_acked, s.handbacks,
                                    s.closed_by);
                } catch (const pqxx::unique_violation&) {
                    throw Error(SB_ECONFLICT, "session \"" + s.id + "\" exists already");
                } catch (const pqxx::foreign_key_violation&) {
                    throw Error(SB_ENOTFOUND, "creating session \"" + s.id +
                                                  "\": no bot with id \"" + s.bot_id + "\"");
                }
            } else {
                const pqxx::result r = w.exec_prepared(
                    "update_session", s.id, s.last_active_ms, std::string(to_string(s.status)),
                    s.escalation_reason, s.unanswered_streak, s.revision, s.escalated_ms,
                    s.claimed_by, s.claimed_ms, s.wait_acked, s.handbacks, s.closed_by);
                if (r.affected_rows() == 0) {
                    if (w.exec_prepared("get_session", s.id).empty())
                        throw Error(SB_ENOTFOUND, "no session with id \"" + s.id + "\"");
                    throw Error(
                        SB_ECONFLICT,
                        "session \"" + s.id + "\" was changed by another writer since it was read");
                }
            }
            for (std::size_t i = 0; i < turn.messages.size(); ++i) {
                const MessageRecord& m = turn.messages[i];
                try {
                    w.exec_prepared("insert_message", m.session_id, std::string(to_string(m.role)),
                                    m.text, m.created_ms, faq_ids_json[i],
                                    float8_text(m.confidence), m.escalated, m.escalation_reason,
                                    m.responder, m.latency_ms, m.error, m.fallback, m.prompt_tokens,
                                    m.completion_tokens, m.agent_id);
                } catch (const pqxx::foreign_key_violation&) {
                    throw Error(SB_ENOTFOUND,
                                "storing a message: no session with id \"" + m.session_id + "\"");
                }
            }
            w.commit();
        });
    }

    // ---- Session summaries and analytics (migration 3) ----
    void save_summary(const SessionSummary& x) override {
        const std::string topics = strings_to_json(x.topics);
        run("storing the summary of session \"" + x.session_id + "\"", [&](pqxx::connection& c) {
            pqxx::work w(c);
            const pqxx::result r =
                w.exec_prepared("summary_upsert", x.session_id, x.bot_id, x.summary, x.main_issue,
                                x.resolved, x.sentiment, topics, x.source, x.fallback,
                                x.last_message_id, x.created_ms, x.updated_ms);
            if (r.empty()) {
                // Nothing written: no such session (for this bot), or the stored summary covers
                // a later message and is kept.
                const pqxx::result e = w.exec_prepared("get_session", x.session_id);
                if (e.empty() || e[0][1].as<std::string>() != x.bot_id)
                    throw Error(SB_ENOTFOUND, "storing a summary: no session \"" + x.session_id +
                                                  "\" of bot \"" + x.bot_id + "\"");
            }
            w.commit();
        });
    }

    std::optional<SessionSummary> get_summary(const std::string& session_id) override {
        return run("reading the summary of session \"" + session_id + "\"",
                   [&](pqxx::connection& c) -> std::optional<SessionSummary> {
                       pqxx::nontransaction w(c);
                       const pqxx::result r = w.exec_prepared("summary_get", session_id);
                       w.commit();
                       if (r.empty()) return std::nullopt;
                       return summary_from(r[0]);
                   });
    }

    std::vector<SessionSummary> list_summaries(const std::string& bot_id, std::int64_t from_ms,
                                               std::int64_t to_ms) override {
        return run("listing the summaries of bot \"" + bot_id + "\"", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);
            const pqxx::result r = w.exec_prepared("summaries_list", bot_id, from_ms, to_ms);
            w.commit();
            return read_rows(r, summary_from);
        });
    }

    SummaryBacklog summary_backlog(const std::string& bot_id, bool redo_fallbacks) override {
        return run("listing the sessions of bot \"" + bot_id + "\" to summarise",
                   [&](pqxx::connection& c) {
                       pqxx::nontransaction w(c);
                       const pqxx::result r = w.exec_prepared("summary_backlog", bot_id);
                       w.commit();
                       SummaryBacklog out;
                       for (const auto& row : r) {
                           const auto last = row[1].as<std::int64_t>();
                           if (summary_due(last, row[2].as<std::int64_t>(),
                                           row[3].as<std::string>(), redo_fallbacks)) {
                               out.due.push_back({row[0].as<std::string>(), last});
                           } else {
                               ++out.up_to_date;
                           }
                       }
                       return out;
                   });
    }

    BotActivity bot_activity(const std::string& bot_id, std::int64_t from_ms,
                             std::int64_t to_ms) override {
        return run("aggregating the activity of bot \"" + bot_id + "\"", [&](pqxx::connection& c) {
            // One snapshot for the four aggregates.
            pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(c);
            BotActivity a;
            const pqxx::result sr = w.exec_prepared("activity_sessions", bot_id, from_ms, to_ms);
            a.sessions = sr[0][0].as<std::int64_t>();
            a.resolved_by_agents = sr[0][1].as<std::int64_t>();
            a.handbacks = sr[0][2].as<std::int64_t>();
            const pqxx::result m = w.exec_prepared("activity_messages", bot_id, from_ms, to_ms);
            std::int64_t* fields[] = {&a.user_messages,      &a.assistant_messages,
                                      &a.answered_replies,   &a.escalated_replies,
                                      &a.escalated_sessions, &a.fallback_replies,
                                      &a.error_replies,      &a.llm_replies,
                                      &a.prompt_tokens,      &a.completion_tokens};
            for (std::size_t i = 0; i < std::size(fields); ++i)
                *fields[i] = m[0][static_cast<int>(i)].as<std::int64_t>();
            for (const auto& row : w.exec_prepared("activity_reasons", bot_id, from_ms, to_ms))
                a.escalation_reasons.emplace_back(row[0].as<std::string>(),
                                                  row[1].as<std::int64_t>());
            for (const auto& row : w.exec_prepared("activity_days", bot_id, from_ms, to_ms))
                a.sessions_per_day.emplace_back(row[0].as<std::int64_t>(),
                                                row[1].as<std::int64_t>());
            w.commit();
            return a;
        });
    }

    std::vector<MessageRecord> bot_messages(const std::string& bot_id, std::int64_t from_ms,
                                            std::int64_t to_ms) override {
        return run("reading the messages of bot \"" + bot_id + "\"", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);
            const pqxx::result r = w.exec_prepared("bot_messages", bot_id, from_ms, to_ms);
            w.commit();
            return read_rows(r, message_from);
        });
    }

    // Accounts and failed logins (migration 4).
    void create_account(const AccountRecord& a) override {
        run("creating an account", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);
            try {
                w.exec_prepared("insert_account", a.id, a.role, a.email, a.bot_id, a.password_hash,
                                a.created_ms);
            } catch (const pqxx::unique_violation&) {
                throw Error(SB_ECONFLICT, "an account with this e-mail is registered already");
            }
            w.commit();
        });
    }

    std::optional<AccountRecord> get_account(const std::string& id) override {
        return run("reading an account", [&](pqxx::connection& c) -> std::optional<AccountRecord> {
            pqxx::nontransaction w(c);
            const pqxx::result r = w.exec_prepared("get_account", id);
            w.commit();
            if (r.empty()) return std::nullopt;
            return account_from(r[0]);
        });
    }

    std::optional<AccountRecord> find_account(const std::string& role, const std::string& bot_id,
                                              const std::string& email) override {
        return run("finding an account", [&](pqxx::connection& c) -> std::optional<AccountRecord> {
            pqxx::nontransaction w(c);
            const pqxx::result r = w.exec_prepared("find_account", role, bot_id, email);
            w.commit();
            if (r.empty()) return std::nullopt;
            return account_from(r[0]);
        });
    }

    void set_password_hash(const std::string& id, const std::string& hash) override {
        run("updating a password hash", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);
            w.exec_prepared("set_password_hash", id, hash);
            w.commit();
        });
    }

    bool delete_account(const std::string& id) override {
        return run("deleting an account", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);
            const pqxx::result r = w.exec_prepared("delete_account", id);
            w.commit();
            return r.affected_rows() > 0;
        });
    }

    bool admit_login_attempt(const std::string& scope, std::int64_t at_ms,
                             std::int64_t forget_before_ms, std::size_t limit) override {
        return run("recording a login attempt", [&](pqxx::connection& c) {
            pqxx::work w(c);
            // Attempts of one scope take turns (a transaction-level advisory lock on the scope's
            // hash; another scope with the same hash only waits), so that the count and the
            // insert are one step for every connection and process. Under READ COMMITTED each
            // statement after the lock sees the attempts committed before it was granted.
            w.exec_prepared("lock_login_scope", scope);
            w.exec_prepared("prune_login_failures", forget_before_ms);
            const pqxx::result r = w.exec_prepared("count_login_failures", scope, forget_before_ms);
            const bool admitted = static_cast<std::size_t>(r[0][0].as<std::int64_t>()) < limit;
            if (admitted) w.exec_prepared("insert_login_failure", scope, at_ms);
            w.commit();
            return admitted;
        });
    }

    std::size_t count_login_failures(const std::string& scope, std::int64_t since_ms) override {
        return run("counting failed logins", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);
            const pqxx::result r = w.exec_prepared("count_login_failures", scope, since_ms);
            w.commit();
            return static_cast<std::size_t>(r[0][0].as<std::int64_t>());
        });
    }

    void clear_login_failures(const std::string& scope) override {
        run("clearing failed logins", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);
            w.exec_prepared("clear_login_failures", scope);
            w.commit();
        });
    }

    // ---- The hand-over (migration 6) ----
    std::vector<SessionRecord> escalation_queue(const std::string& bot_id,
                                                const std::optional<QueueKey>& after,
                                                std::size_t limit) override {
        const std::int64_t t =
            after ? after->escalated_ms : std::numeric_limits<std::int64_t>::min();
        const std::string empty;
        const std::string& id = after ? after->id : empty;
        const std::int64_t n = sql_limit(limit);
        return run("listing the escalation queue", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);
            const pqxx::result r = w.exec_prepared("escalation_queue", bot_id, t, id, n);
            w.commit();
            return sessions_with_count(r, true);
        });
    }

    std::vector<AccountRecord> list_accounts(const std::string& role,
                                             const std::string& bot_id) override {
        return run("listing accounts", [&](pqxx::connection& c) {
            pqxx::nontransaction w(c);
            const pqxx::result r = w.exec_prepared("list_accounts", role, bot_id);
            w.commit();
            return read_rows(r, account_from);
        });
    }

  private:
    using ConnPtr = std::unique_ptr<pqxx::connection>;

    // A connection taken from the pool; given back (or, when broken, dropped) on destruction.
    class Lease {
      public:
        explicit Lease(PostgresStore& store) : store_(store), conn_(store.acquire()) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() { store_.release(std::move(conn_)); }
        pqxx::connection& conn() { return *conn_; }
        // Replaces the connection by a new one; throws SB_EDB (keeping no connection) on failure.
        void reconnect() {
            conn_.reset();
            conn_ = store_.connect();
        }

      private:
        PostgresStore& store_;
        ConnPtr conn_;
    };

    ConnPtr connect() {
        ConnPtr c;
        try {
            c = std::make_unique<pqxx::connection>(url_);
        } catch (const std::exception& e) {
            throw Error(SB_EDB, "cannot connect to PostgreSQL at " + safe_url_ + ": " + what_of(e));
        }
        try {
            for (const auto& [name, sql] : statements()) c->prepare(name, sql);
        } catch (const std::exception& e) {
            throw Error(SB_EDB,
                        "preparing statements on PostgreSQL at " + safe_url_ + ": " + what_of(e));
        }
        return c;
    }

    // Takes an idle connection, or opens a new one while under the pool size, or waits.
    ConnPtr acquire() {
        std::unique_lock<std::mutex> lock(mutex_);
        available_.wait(lock, [&] { return !idle_.empty() || open_count_ < max_connections_; });
        if (!idle_.empty()) return idle_.take();
        ++open_count_;  // reserve the slot, then connect without holding the lock
        lock.unlock();
        try {
            return connect();
        } catch (...) {
            lock.lock();
            --open_count_;
            lock.unlock();
            available_.notify_one();
            throw;
        }
    }

    // Gives a connection back; a missing or closed one frees its slot instead.
    void release(ConnPtr c) noexcept {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (c && c->is_open()) {
                idle_.put(std::move(c));
            } else {
                --open_count_;
            }
        }
        available_.notify_one();
        // A closed connection (if any) is destroyed here, outside the lock.
    }

    // Runs f(connection) with a pooled connection; after a broken connection, reconnects and
    // runs it once more. Maps every non-sb exception to SB_EDB "<what>: <message>".
    template <class F>
    auto run(const std::string& what, F&& f) -> decltype(f(std::declval<pqxx::connection&>())) {
        Lease lease(*this);
        for (int attempt = 0;; ++attempt) {
            try {
                if (!lease.conn().is_open()) lease.reconnect();
                return f(lease.conn());
            } catch (const Error&) {
                throw;
            } catch (const pqxx::broken_connection& e) {
                if (attempt > 0) throw Error(SB_EDB, what + ": " + what_of(e));
            } catch (const std::exception& e) {
                throw Error(SB_EDB, what + ": " + what_of(e));
            } catch (...) {
                throw Error(SB_EDB, what + ": unknown error");
            }
            // Broken connection: the transaction did not commit; open a new one and retry.
            try {
                lease.reconnect();
            } catch (const Error& e) {
                throw Error(SB_EDB, what + ": connection lost; " + e.what());
            }
        }
    }

    void migrate(pqxx::connection& c) {
        const auto& all = migrations();
        const int newest = all.empty() ? 0 : all.back().version;
        const std::string lock_sql =
            "SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")";
        // The recorded version, or -1 when schema_version has no row.
        auto read_version = [](pqxx::work& w) {
            const pqxx::result r = w.exec("SELECT max(version) FROM schema_version");
            return r.empty() || r[0][0].is_null() ? -1 : r[0][0].as<int>();
        };
        try {
            int version = 0;
            {
                pqxx::work w(c);
                w.exec(lock_sql);
                w.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
                version = read_version(w);
                if (version < 0) {
                    w.exec("INSERT INTO schema_version (version) VALUES (0)");
                    version = 0;
                }
                w.commit();
            }
            if (version > newest) {
                throw Error(SB_EVERSION, "the database at " + safe_url_ + " has schema version " +
                                             std::to_string(version) +
                                             ", newer than this library supports (" +
                                             std::to_string(newest) + "); upgrade the library");
            }
            for (const Migration& m : all) {
                if (m.version <= version) continue;
                pqxx::work w(c);
                w.exec(lock_sql);
                version = read_version(w);  // another process may have migrated meanwhile
                if (version >= m.version) continue;
                w.exec(m.postgres_sql);
                w.exec("UPDATE schema_version SET version = " + std::to_string(m.version));
                w.commit();
                version = m.version;
            }
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {
            throw Error(SB_EDB, "migrating the database at " + safe_url_ + ": " + what_of(e));
        }
    }

    const std::string url_;
    const std::string safe_url_;
    const std::size_t max_connections_;
    std::mutex mutex_;
    std::condition_variable available_;
    IdleList<ConnPtr> idle_;      // connections not leased
    std::size_t open_count_ = 0;  // idle + leased (+ being opened)
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const std::string& url, const StoreOptions& options) {
    try {
        return std::make_unique<PostgresStore>(url, options);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw Error(SB_EDB, "opening PostgreSQL at " + redact_url(url) + ": " + what_of(e));
    }
}

}  // namespace sb
