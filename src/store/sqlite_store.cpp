// SQLite backend: one connection per Store, guarded by a mutex (SQLite serialises writers anyway),
// WAL mode, writes and checkpoints as sqlite_writers.hpp says, and a busy timeout so that
// several processes can share the file. Every query is a
// statement prepared once and reused. Every SQLite failure becomes sb::Error(SB_EDB, "<what was
// being done>: <sqlite's message>").
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "store/idle_list.hpp"
#include "store/sqlite_writers.hpp"
#include "store/store.hpp"

namespace sb {

namespace {

struct DbClose {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;

struct StmtFinalize {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
    throw Error(SB_EDB, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

bool is_constraint(int rc, int extended) noexcept {
    return (rc & 0xff) == SQLITE_CONSTRAINT && (extended == 0 || rc == extended);
}

// One use of a prepared statement: binds parameters, steps, reads columns; the destructor resets
// the statement and clears its bindings so that it is ready for the next use. Text parameters are
// bound without copying (SQLITE_STATIC): the strings must outlive the Query, which is why binding
// a temporary std::string is not allowed.
class Query {
  public:
    Query(sqlite3* db, sqlite3_stmt* stmt, const char* what) : db_(db), stmt_(stmt), what_(what) {}
    ~Query() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    Query& text(int i, const std::string& s) { return text(i, std::string_view(s)); }
    Query& text(int i, std::string&&) = delete;
    Query& text(int i, std::string_view s) {
        check(sqlite3_bind_text64(stmt_, i, s.data(), static_cast<sqlite3_uint64>(s.size()),
                                  SQLITE_STATIC, SQLITE_UTF8));
        return *this;
    }
    Query& text(int i, const char* static_text) { return text(i, std::string_view(static_text)); }
    Query& int64(int i, std::int64_t v) {
        check(sqlite3_bind_int64(stmt_, i, v));
        return *this;
    }
    Query& real(int i, double v) {
        check(sqlite3_bind_double(stmt_, i, v));
        return *this;
    }

    // Steps once: true when a row is available, false when done; throws on any error.
    bool step() {
        const int rc = step_rc();
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail(db_, what_);
    }
    // Steps once and returns the (extended) result code, for callers that map constraint errors.
    int step_rc() noexcept {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
        return sqlite3_extended_errcode(db_);
    }
    // Steps to completion (for statements returning no rows, or RETURNING ones already read).
    void run() {
        while (step()) {
        }
    }
    [[noreturn]] void fail_now() const { fail(db_, what_); }

    std::int64_t col_int64(int i) const { return sqlite3_column_int64(stmt_, i); }
    int col_int(int i) const { return sqlite3_column_int(stmt_, i); }
    double col_real(int i) const { return sqlite3_column_double(stmt_, i); }
    bool col_bool(int i) const { return sqlite3_column_int64(stmt_, i) != 0; }
    std::size_t col_size(int i) const {
        const std::int64_t v = sqlite3_column_int64(stmt_, i);
        if (v < 0) throw Error(SB_EDB, std::string(what_) + ": negative count in the database");
        return static_cast<std::size_t>(v);
    }
    std::string col_text(int i) const {
        const unsigned char* p = sqlite3_column_text(stmt_, i);
        if (!p) {
            if (sqlite3_errcode(db_) == SQLITE_NOMEM) fail(db_, what_);
            return {};
        }
        const int n = sqlite3_column_bytes(stmt_, i);
        return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }

  private:
    void check(int rc) const {
        if (rc != SQLITE_OK) fail(db_, std::string(what_) + " (binding a parameter)");
    }

    sqlite3* db_;
    sqlite3_stmt* stmt_;
    const char* what_;
};

// Runs SQL text (possibly several statements) that returns nothing of interest.
void exec(sqlite3* db, const char* sql, const std::string& what) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
    if (rc != SQLITE_OK) {
        std::string text = msg ? msg : sqlite3_errmsg(db);
        sqlite3_free(msg);
        throw Error(SB_EDB, what + ": " + text);
    }
}

StmtPtr prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    StmtPtr out(s);
    if (rc != SQLITE_OK) fail(db, std::string("preparing \"") + sql + "\"");
    return out;
}

// How many more ROLLBACKs are to fail (sqlite_fail_next_rollbacks_for_testing); outside tests, 0
// and read once per ROLLBACK.
std::atomic<int> failing_rollbacks{0};

bool injected_rollback_failure() noexcept {
    int n = failing_rollbacks.load(std::memory_order_relaxed);
    while (n > 0 && !failing_rollbacks.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
    }
    return n > 0;
}

// Runs the connection's prepared ROLLBACK; true when the connection is out of its transaction
// afterwards. Prepared once per connection, because a ROLLBACK run as SQL text has to be parsed
// first, and that can fail (out of memory) just when a failure is being cleaned up. Never throws:
// it runs in destructors.
bool rollback(sqlite3* db, sqlite3_stmt* stmt) noexcept {
    const int rc = injected_rollback_failure() ? SQLITE_IOERR : sqlite3_step(stmt);
    sqlite3_reset(stmt);
    // A failed ROLLBACK may still have ended the transaction: on some errors (I/O, out of memory,
    // busy) SQLite rolls back by itself.
    return rc == SQLITE_DONE || sqlite3_get_autocommit(db) != 0;
}

// A write transaction (BEGIN IMMEDIATE, so the write lock is taken up front and waits under the
// busy timeout instead of failing at the first write), rolled back unless committed, with the
// connection's prepared ROLLBACK. Chat turns also pass prepared BEGIN and COMMIT statements: they
// run once a turn, and parsing them each time showed in the profile.
class Transaction {
  public:
    Transaction(sqlite3* db, sqlite3_stmt* rollback, const char* what,
                sqlite3_stmt* begin = nullptr, sqlite3_stmt* commit = nullptr)
        : db_(db), what_(what), rollback_(rollback), commit_(commit) {
        run(begin, "BEGIN IMMEDIATE", " (beginning a transaction)");
        open_ = true;
    }
    // A ROLLBACK that fails leaves the transaction open, holding SQLite's write lock; the
    // destructor cannot report that (it runs while an exception unwinds), but the pool checks
    // every connection given back to it and does not lend one still inside a transaction
    // (SqlitePool::give).
    ~Transaction() {
        if (open_ && !sqlite3_get_autocommit(db_)) rollback(db_, rollback_);
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit() {
        run(commit_, "COMMIT", " (committing)");
        open_ = false;
    }

  private:
    void run(sqlite3_stmt* stmt, const char* sql, const char* step) {
        if (!stmt) return exec(db_, sql, std::string(what_) + step);
        const int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE) fail(db_, std::string(what_) + step);
    }

    sqlite3* db_;
    const char* what_;
    sqlite3_stmt* rollback_;
    sqlite3_stmt* commit_;
    bool open_ = false;
};

constexpr const char* kBotColumns =
    "SELECT b.id, b.owner, b.name, b.created_ms, COALESCE(f.revision, 0), "
    "COALESCE(f.entry_count, 0) FROM bots b LEFT JOIN faq_sets f ON f.bot_id = b.id ";

constexpr const char* kSessionColumns =
    "SELECT s.id, s.bot_id, s.user_id, s.created_ms, s.last_active_ms, s.status, "
    "s.escalation_reason, s.unanswered_streak, s.revision, s.escalated_ms, s.claimed_by, "
    "s.claimed_ms, s.wait_acked, s.handbacks, s.closed_by";
constexpr int kSessionColumnCount = 15;

constexpr const char* kMessageColumns =
    "id, session_id, role, text, created_ms, faq_ids, confidence, escalated, escalation_reason, "
    "responder, latency_ms, error, fallback, prompt_tokens, completion_tokens, agent_id";

// The tail of a session listing: each session's message count (column 15) and first user message
// (column 16), from sessions s.
constexpr const char* kSessionCountFrom =
    ", (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id), "
    "COALESCE((SELECT m.text FROM messages m WHERE m.session_id = s.id AND m.role = 'user' "
    "ORDER BY m.id LIMIT 1), '') FROM sessions s ";

// The condition and order of a page of sessions, after the scope's own condition: those after
// the key (?3 = last_active_ms, ?4 = id) in the listing's order, at most ?5 of them. Written so
// that the index (bot_id[, user_id], last_active_ms DESC, id) is read from the key on: the first
// term bounds the range, the second skips the key's own ties.
constexpr const char* kSessionPage =
    " AND s.last_active_ms <= ?3 AND (s.last_active_ms < ?3 OR s.id > ?4) "
    "ORDER BY s.last_active_ms DESC, s.id LIMIT ?5";

// A row count for SQL's LIMIT: 0 (all) as no limit.
std::int64_t sql_limit(std::size_t limit) noexcept {
    return limit == 0 || limit > std::size_t{INT64_MAX} ? INT64_MAX
                                                        : static_cast<std::int64_t>(limit);
}

// updated_ms of a FAQ set replaced by replace_faqs (whose interface carries no time): now, in Unix
// milliseconds, by SQLite's clock.
#define SB_SQLITE_NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"

class SqliteStore final : public Store {
  public:
    // writers: those of the pool this connection belongs to.
    SqliteStore(const std::string& path, SqliteWriters& writers) : path_(path) {
        open_database();
        writer_.emplace(writers, db());
        rollback_ = prepare(db(), "ROLLBACK");  // before migrate(), whose transactions use it
        migrate();
        prepare_all();
        prepare_insights();
        prepare_accounts();
    }

    // Whether the connection is out of any transaction, after one more ROLLBACK when it is not.
    // Called by the pool on a connection given back to it, which nothing else uses meanwhile, so
    // mu_ is not needed. Never throws.
    bool end_transaction() noexcept {
        return sqlite3_get_autocommit(db()) != 0 || rollback(db(), rollback_.get());
    }

    int schema_version() override {
        std::lock_guard lock(mu_);
        Query q(db(), version_get_.get(), "reading the schema version");
        return q.step() ? q.col_int(0) : 0;
    }

    void create_bot(const BotRecord& bot, const std::vector<FaqEntry>& faqs,
                    const std::vector<SynonymGroup>& synonyms) override {
        const std::string json = faqs_to_json(faqs);
        const std::string synonyms_json = synonyms_to_json(synonyms);
        std::lock_guard lock(mu_);
        SqliteWriters::Write writing(*writer_);
        Transaction tx(db(), rollback_.get(), "creating a bot");
        {
            Query q(db(), bot_insert_.get(), "creating a bot");
            q.text(1, bot.id).text(2, bot.owner).text(3, bot.name).int64(4, bot.created_ms);
            const int rc = q.step_rc();
            if (is_constraint(rc, SQLITE_CONSTRAINT_PRIMARYKEY) ||
                is_constraint(rc, SQLITE_CONSTRAINT_UNIQUE)) {
                throw Error(SB_ECONFLICT, "a bot with id \"" + bot.id + "\" exists already");
            }
            if (rc != SQLITE_DONE) q.fail_now();
        }
        {
            Query q(db(), faqs_insert_.get(), "storing the FAQ set of a new bot");
            q.text(1, bot.id)
                .int64(2, static_cast<std::int64_t>(faqs.size()))
                .text(3, json)
                .text(4, synonyms_json)
                .int64(5, bot.created_ms);
            q.run();
        }
        tx.commit();
    }

    int replace_faqs(const std::string& bot_id, const std::vector<FaqEntry>& faqs,
                     const std::vector<SynonymGroup>& synonyms) override {
        const std::string json = faqs_to_json(faqs);
        const std::string synonyms_json = synonyms_to_json(synonyms);
        std::lock_guard lock(mu_);
        SqliteWriters::Write writing(*writer_);
        Query q(db(), faqs_replace_.get(), "replacing a FAQ set");
        q.int64(1, static_cast<std::int64_t>(faqs.size()))
            .text(2, json)
            .text(3, synonyms_json)
            .text(4, bot_id);
        if (!q.step()) throw Error(SB_ENOTFOUND, "no bot with id \"" + bot_id + "\"");
        const int revision = q.col_int(0);
        q.run();
        return revision;
    }

    std::optional<BotRecord> get_bot(const std::string& bot_id) override {
        std::lock_guard lock(mu_);
        Query q(db(), bot_get_.get(), "reading a bot");
        q.text(1, bot_id);
        if (!q.step()) return std::nullopt;
        return read_bot(q);
    }

    std::vector<BotRecord> list_bots(const std::optional<std::string>& owner) override {
        std::lock_guard lock(mu_);
        std::vector<BotRecord> out;
        Query q(db(), owner ? bots_of_owner_.get() : bots_all_.get(), "listing bots");
        if (owner) q.text(1, *owner);
        while (q.step()) out.push_back(read_bot(q));
        return out;
    }

    StoredFaqs load_faqs(const std::string& bot_id) override {
        std::string json;
        std::string synonyms_json;
        int revision = 0;
        std::size_t count = 0;
        {
            std::lock_guard lock(mu_);
            Query q(db(), faqs_get_.get(), "loading a FAQ set");
            q.text(1, bot_id);
            if (!q.step()) throw Error(SB_ENOTFOUND, "no bot with id \"" + bot_id + "\"");
            json = q.col_text(0);
            revision = q.col_int(1);
            count = q.col_size(2);
            synonyms_json = q.col_text(3);
        }
        return stored_faqs_from(bot_id, json, synonyms_json, revision, count);
    }

    std::optional<SessionRecord> get_session(const std::string& session_id) override {
        std::lock_guard lock(mu_);
        Query q(db(), session_get_.get(), "reading a session");
        q.text(1, session_id);
        if (!q.step()) return std::nullopt;
        return read_session(q);
    }

    std::vector<SessionRecord> list_sessions_page(const std::string& bot_id,
                                                  const std::optional<std::string>& user_id,
                                                  const std::optional<SessionKey>& after,
                                                  std::size_t limit) override {
        std::lock_guard lock(mu_);
        Query q(db(), user_id ? sessions_list_.get() : bot_sessions_list_.get(),
                user_id ? "listing sessions" : "listing the sessions of a bot");
        q.text(1, bot_id);
        if (user_id) q.text(2, *user_id);
        // The first page starts after a key above every row.
        q.int64(3, after ? after->last_active_ms : INT64_MAX)
            .text(4, after ? std::string_view(after->id) : std::string_view(""))
            .int64(5, sql_limit(limit));
        return read_sessions_with_count(q);
    }

    std::vector<MessageRecord> history_page(const std::string& session_id, std::int64_t after_id,
                                            std::size_t limit) override {
        std::lock_guard lock(mu_);
        std::vector<MessageRecord> out;
        Query q(db(), history_page_.get(), "reading the history of a session");
        q.text(1, session_id).int64(2, after_id).int64(3, sql_limit(limit));
        while (q.step()) out.push_back(read_message(q));
        return out;
    }

    void ping() override {
        std::lock_guard lock(mu_);
        Query q(db(), version_get_.get(), "checking that the database answers");
        q.run();
    }

    std::vector<MessageRecord> history(const std::string& session_id, std::size_t limit) override {
        // A negative LIMIT means no limit in SQLite.
        const std::int64_t n = limit == 0                       ? -1
                               : limit > std::size_t{INT64_MAX} ? INT64_MAX
                                                                : static_cast<std::int64_t>(limit);
        std::lock_guard lock(mu_);
        std::vector<MessageRecord> out;
        Query q(db(), history_.get(), "reading the history of a session");
        q.text(1, session_id).int64(2, n);
        while (q.step()) out.push_back(read_message(q));
        return out;
    }

    void record_turn(const TurnRecord& turn) override {
        const SessionRecord& s = turn.session;
        std::vector<std::string> faq_ids_json;
        faq_ids_json.reserve(turn.messages.size());
        for (const MessageRecord& m : turn.messages)
            faq_ids_json.push_back(strings_to_json(m.faq_ids));

        std::lock_guard lock(mu_);
        SqliteWriters::Write writing(*writer_);
        Transaction tx(db(), rollback_.get(), "recording a chat turn", begin_.get(), commit_.get());
        if (turn.create_session) {
            Query q(db(), session_insert_.get(), "creating a session");
            q.text(1, s.id)
                .text(2, s.bot_id)
                .text(3, s.user_id)
                .int64(4, s.created_ms)
                .int64(5, s.last_active_ms)
                .text(6, to_string(s.status))
                .text(7, s.escalation_reason)
                .int64(8, s.unanswered_streak)
                .int64(9, s.escalated_ms)
                .text(10, s.claimed_by)
                .int64(11, s.claimed_ms)
                .int64(12, s.wait_acked ? 1 : 0)
                .int64(13, s.handbacks)
                .text(14, s.closed_by);
            const int rc = q.step_rc();
            if (is_constraint(rc, SQLITE_CONSTRAINT_PRIMARYKEY) ||
                is_constraint(rc, SQLITE_CONSTRAINT_UNIQUE)) {
                throw Error(SB_ECONFLICT, "session \"" + s.id + "\" exists already");
            }
            if (is_constraint(rc, SQLITE_CONSTRAINT_FOREIGNKEY)) {
                throw Error(SB_ENOTFOUND, "creating session \"" + s.id + "\": no bot with id \"" +
                                              s.bot_id + "\"");
            }
            if (rc != SQLITE_DONE) q.fail_now();
        } else {
            Query q(db(), session_update_.get(), "updating a session");
            q.int64(1, s.last_active_ms)
                .text(2, to_string(s.status))
                .text(3, s.escalation_reason)
                .int64(4, s.unanswered_streak)
                .int64(5, s.escalated_ms)
                .text(6, s.claimed_by)
                .int64(7, s.claimed_ms)
                .int64(8, s.wait_acked ? 1 : 0)
                .int64(9, s.handbacks)
                .text(10, s.closed_by)
                .text(11, s.id)
                .int64(12, s.revision);
            q.run();
            if (sqlite3_changes(db()) == 0) {
                Query exists(db(), session_get_.get(), "reading a session");
                exists.text(1, s.id);
                if (!exists.step())
                    throw Error(SB_ENOTFOUND, "no session with id \"" + s.id + "\"");
                throw Error(SB_ECONFLICT, "session \"" + s.id +
                                              "\" was changed by another writer since it was read");
            }
        }
        for (std::size_t i = 0; i < turn.messages.size(); ++i) {
            const MessageRecord& m = turn.messages[i];
            Query q(db(), message_insert_.get(), "storing a message");
            q.text(1, m.session_id)
                .text(2, to_string(m.role))
                .text(3, m.text)
                .int64(4, m.created_ms)
                .text(5, faq_ids_json[i])
                .real(6, m.confidence)
                .int64(7, m.escalated ? 1 : 0)
                .text(8, m.escalation_reason)
                .text(9, m.responder)
                .int64(10, m.latency_ms)
                .int64(11, m.error ? 1 : 0)
                .int64(12, m.fallback ? 1 : 0)
                .int64(13, m.prompt_tokens)
                .int64(14, m.completion_tokens)
                .text(15, m.agent_id);
            const int rc = q.step_rc();
            if (is_constraint(rc, SQLITE_CONSTRAINT_FOREIGNKEY)) {
                throw Error(SB_ENOTFOUND,
                            "storing a message: no session with id \"" + m.session_id + "\"");
            }
            if (rc != SQLITE_DONE) q.fail_now();
        }
        tx.commit();
    }

    // ---- The hand-over (migration 6) ----
    std::vector<SessionRecord> escalation_queue(const std::string& bot_id,
                                                const std::optional<QueueKey>& after,
                                                std::size_t limit) override {
        std::lock_guard lock(mu_);
        Query q(db(), queue_.get(), "listing the escalation queue");
        q.text(1, bot_id)
            .int64(2, after ? after->escalated_ms : INT64_MIN)
            .text(3, after ? std::string_view(after->id) : std::string_view(""))
            .int64(4, sql_limit(limit));
        std::vector<SessionRecord> out;
        while (q.step()) {
            SessionRecord s = read_session(q);
            s.message_count = q.col_size(kSessionColumnCount);
            s.last_message = q.col_text(kSessionColumnCount + 1);
            out.push_back(std::move(s));
        }
        return out;
    }

    std::vector<AccountRecord> list_accounts(const std::string& role,
                                             const std::string& bot_id) override {
        std::lock_guard lock(mu_);
        Query q(db(), accounts_list_.get(), "listing accounts");
        q.text(1, role).text(2, bot_id);
        std::vector<AccountRecord> out;
        while (q.step()) out.push_back(read_account(q));
        return out;
    }

    // ---- Session summaries and analytics (migration 3) ----
    void save_summary(const SessionSummary& x) override {
        const std::string topics = strings_to_json(x.topics);
        std::lock_guard lock(mu_);
        SqliteWriters::Write writing(*writer_);
        Query q(db(), summary_upsert_.get(), "storing a session summary");
        q.text(1, x.session_id)
            .text(2, x.bot_id)
            .text(3, x.summary)
            .text(4, x.main_issue)
            .int64(5, x.resolved ? 1 : 0)
            .text(6, x.sentiment)
            .text(7, topics)
            .text(8, x.source)
            .text(9, x.fallback)
            .int64(10, x.last_message_id)
            .int64(11, x.created_ms)
            .int64(12, x.updated_ms);
        if (q.step()) {
            q.run();
            return;
        }
        // Nothing written: the session does not exist (for this bot), or its stored summary
        // covers a later message and is kept.
        Query s(db(), session_get_.get(), "reading a session");
        s.text(1, x.session_id);
        if (!s.step() || s.col_text(1) != x.bot_id)
            throw Error(SB_ENOTFOUND, "storing a summary: no session \"" + x.session_id +
                                          "\" of bot \"" + x.bot_id + "\"");
    }

    std::optional<SessionSummary> get_summary(const std::string& session_id) override {
        std::lock_guard lock(mu_);
        Query q(db(), summary_get_.get(), "reading a session summary");
        q.text(1, session_id);
        if (!q.step()) return std::nullopt;
        return read_summary(q);
    }

    std::vector<SessionSummary> list_summaries(const std::string& bot_id, std::int64_t from_ms,
                                               std::int64_t to_ms) override {
        std::lock_guard lock(mu_);
        std::vector<SessionSummary> out;
        Query q(db(), summaries_list_.get(), "listing session summaries");
        q.text(1, bot_id).int64(2, from_ms).int64(3, to_ms);
        while (q.step()) out.push_back(read_summary(q));
        return out;
    }

    SummaryBacklog summary_backlog(const std::string& bot_id, bool redo_fallbacks) override {
        std::lock_guard lock(mu_);
        SummaryBacklog out;
        Query q(db(), summary_backlog_.get(), "listing sessions to summarise");
        q.text(1, bot_id);
        while (q.step()) {
            if (summary_due(q.col_int64(1), q.col_int64(2), q.col_text(3), redo_fallbacks)) {
                out.due.push_back({q.col_text(0), q.col_int64(1)});
            } else {
                ++out.up_to_date;
            }
        }
        return out;
    }

    BotActivity bot_activity(const std::string& bot_id, std::int64_t from_ms,
                             std::int64_t to_ms) override {
        std::lock_guard lock(mu_);
        BotActivity a;
        // One read transaction: the four aggregates see one snapshot (WAL).
        exec(db(), "BEGIN", "aggregating the activity of a bot (beginning a read transaction)");
        struct End {
            sqlite3* db;
            ~End() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
        } end{db()};
        {
            Query q(db(), activity_sessions_.get(), "counting sessions");
            q.text(1, bot_id).int64(2, from_ms).int64(3, to_ms);
            if (q.step()) {
                a.sessions = q.col_int64(0);
                a.resolved_by_agents = q.col_int64(1);
                a.handbacks = q.col_int64(2);
            }
        }
        {
            Query q(db(), activity_messages_.get(), "aggregating messages");
            q.text(1, bot_id).int64(2, from_ms).int64(3, to_ms);
            if (q.step()) {
                a.user_messages = q.col_int64(0);
                a.assistant_messages = q.col_int64(1);
                a.answered_replies = q.col_int64(2);
                a.escalated_replies = q.col_int64(3);
                a.escalated_sessions = q.col_int64(4);
                a.fallback_replies = q.col_int64(5);
                a.error_replies = q.col_int64(6);
                a.llm_replies = q.col_int64(7);
                a.prompt_tokens = q.col_int64(8);
                a.completion_tokens = q.col_int64(9);
            }
        }
        {
            Query q(db(), activity_reasons_.get(), "counting escalation reasons");
            q.text(1, bot_id).int64(2, from_ms).int64(3, to_ms);
            while (q.step()) a.escalation_reasons.emplace_back(q.col_text(0), q.col_int64(1));
        }
        {
            Query q(db(), activity_days_.get(), "counting sessions per day");
            q.text(1, bot_id).int64(2, from_ms).int64(3, to_ms);
            while (q.step()) a.sessions_per_day.emplace_back(q.col_int64(0), q.col_int64(1));
        }
        return a;
    }

    std::vector<MessageRecord> bot_messages(const std::string& bot_id, std::int64_t from_ms,
                                            std::int64_t to_ms) override {
        std::lock_guard lock(mu_);
        std::vector<MessageRecord> out;
        Query q(db(), bot_messages_.get(), "reading the messages of a bot");
        q.text(1, bot_id).int64(2, from_ms).int64(3, to_ms);
        while (q.step()) out.push_back(read_message(q));
        return out;
    }

  private:
    void prepare_insights() {
        static constexpr const char* kSummaryColumns =
            "ss.session_id, ss.bot_id, ss.summary, ss.main_issue, ss.resolved, ss.sentiment, "
            "ss.topics, ss.source, ss.fallback, ss.last_message_id, ss.created_ms, ss.updated_ms";
        static constexpr const char* kInRange =
            " s.bot_id = ?1 AND s.created_ms >= ?2 AND s.created_ms < ?3";
        summary_upsert_ = prepare(
            db(),
            "INSERT INTO session_summaries (session_id, bot_id, summary, main_issue, resolved, "
            "sentiment, topics, source, fallback, last_message_id, created_ms, updated_ms) "
            "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 FROM sessions "
            "WHERE id = ?1 AND bot_id = ?2 "
            "ON CONFLICT (session_id) DO UPDATE SET summary = excluded.summary, "
            "main_issue = excluded.main_issue, resolved = excluded.resolved, "
            "sentiment = excluded.sentiment, topics = excluded.topics, source = excluded.source, "
            "fallback = excluded.fallback, last_message_id = excluded.last_message_id, "
            "updated_ms = excluded.updated_ms "
            "WHERE session_summaries.last_message_id <= excluded.last_message_id "
            "RETURNING 1");
        summary_get_ = prepare(db(), (std::string("SELECT ") + kSummaryColumns +
                                      " FROM session_summaries ss WHERE ss.session_id = ?")
                                         .c_str());
        summaries_list_ = prepare(
            db(), (std::string("SELECT ") + kSummaryColumns +
                   " FROM session_summaries ss JOIN sessions s ON s.id = ss.session_id WHERE" +
                   kInRange + " ORDER BY s.created_ms, s.id")
                      .c_str());
        summary_backlog_ = prepare(
            db(),
            "SELECT s.id, (SELECT MAX(m.id) FROM messages m WHERE m.session_id = s.id) AS last, "
            "COALESCE(ss.last_message_id, 0), COALESCE(ss.fallback, '') FROM sessions s "
            "LEFT JOIN session_summaries ss "
            "ON ss.session_id = s.id WHERE s.bot_id = ? AND last IS NOT NULL "
            "ORDER BY s.created_ms, s.id");
        activity_sessions_ =
            prepare(db(), (std::string("SELECT COUNT(*), COALESCE(SUM(s.closed_by <> ''), 0), "
                                       "COALESCE(SUM(s.handbacks), 0) FROM sessions s WHERE") +
                           kInRange)
                              .c_str());
        activity_messages_ = prepare(
            db(),
            (std::string("SELECT COALESCE(SUM(m.role = 'user'), 0), COALESCE(SUM(m.role = "
                         "'assistant'), 0), "
                         "COALESCE(SUM(m.role = 'assistant' AND m.faq_ids <> '[]' AND "
                         "m.responder <> 'clarification'), 0), "
                         "COALESCE(SUM(m.escalated <> 0), 0), "
                         "COUNT(DISTINCT CASE WHEN m.escalated <> 0 THEN m.session_id END), "
                         "COALESCE(SUM(m.fallback <> 0), 0), COALESCE(SUM(m.error <> 0), 0), "
                         "COALESCE(SUM(m.prompt_tokens + m.completion_tokens > 0), 0), "
                         "COALESCE(SUM(m.prompt_tokens), 0), COALESCE(SUM(m.completion_tokens), 0) "
                         "FROM messages m JOIN sessions s ON s.id = m.session_id WHERE") +
             kInRange)
                .c_str());
        activity_reasons_ =
            prepare(db(), (std::string("SELECT m.escalation_reason, COUNT(*) FROM messages m JOIN "
                                       "sessions s ON s.id = m.session_id WHERE") +
                           kInRange + " AND m.escalated <> 0 GROUP BY 1 ORDER BY 2 DESC, 1")
                              .c_str());
        activity_days_ = prepare(
            db(), (std::string("SELECT s.created_ms / 86400000 AS day, COUNT(*) FROM sessions s "
                               "WHERE") +
                   kInRange + " GROUP BY 1 ORDER BY 1")
                      .c_str());
        bot_messages_ = prepare(db(), ("SELECT " + qualified_columns(kMessageColumns, "m.") +
                                       " FROM messages m JOIN sessions s ON s.id = m.session_id "
                                       "WHERE" +
                                       kInRange + " ORDER BY s.created_ms, s.id, m.id")
                                          .c_str());
    }

    static SessionSummary read_summary(const Query& q) {
        SessionSummary x;
        x.session_id = q.col_text(0);
        x.bot_id = q.col_text(1);
        x.summary = q.col_text(2);
        x.main_issue = q.col_text(3);
        x.resolved = q.col_bool(4);
        x.sentiment = q.col_text(5);
        x.topics = strings_from_json(q.col_text(6));
        x.source = q.col_text(7);
        x.fallback = q.col_text(8);
        x.last_message_id = q.col_int64(9);
        x.created_ms = q.col_int64(10);
        x.updated_ms = q.col_int64(11);
        return x;
    }

    static MessageRecord read_message(const Query& q) {
        MessageRecord m;
        m.id = q.col_int64(0);
        m.session_id = q.col_text(1);
        m.role = role_from(q.col_text(2));
        m.text = q.col_text(3);
        m.created_ms = q.col_int64(4);
        m.faq_ids = strings_from_json(q.col_text(5));
        m.confidence = q.col_real(6);
        m.escalated = q.col_bool(7);
        m.escalation_reason = q.col_text(8);
        m.responder = q.col_text(9);
        m.latency_ms = q.col_int64(10);
        m.error = q.col_bool(11);
        m.fallback = q.col_bool(12);
        m.prompt_tokens = q.col_int64(13);
        m.completion_tokens = q.col_int64(14);
        m.agent_id = q.col_text(15);
        return m;
    }

    StmtPtr summary_upsert_, summary_get_, summaries_list_, summary_backlog_, activity_sessions_,
        activity_messages_, activity_reasons_, activity_days_, bot_messages_;

  public:
    // Accounts and failed logins (migration 4).
    void create_account(const AccountRecord& a) override {
        std::lock_guard lock(mu_);
        SqliteWriters::Write writing(*writer_);
        Query q(db(), account_insert_.get(), "creating an account");
        q.text(1, a.id)
            .text(2, a.role)
            .text(3, a.email)
            .text(4, a.bot_id)
            .text(5, a.password_hash)
            .int64(6, a.created_ms);
        const int rc = q.step_rc();
        if (is_constraint(rc, SQLITE_CONSTRAINT_PRIMARYKEY) ||
            is_constraint(rc, SQLITE_CONSTRAINT_UNIQUE))
            throw Error(SB_ECONFLICT, "an account with this e-mail is registered already");
        if (rc != SQLITE_DONE) q.fail_now();
    }

    std::optional<AccountRecord> get_account(const std::string& id) override {
        std::lock_guard lock(mu_);
        Query q(db(), account_get_.get(), "reading an account");
        q.text(1, id);
        if (!q.step()) return std::nullopt;
        return read_account(q);
    }

    std::optional<AccountRecord> find_account(const std::string& role, const std::string& bot_id,
                                              const std::string& email) override {
        std::lock_guard lock(mu_);
        Query q(db(), account_find_.get(), "finding an account");
        q.text(1, role).text(2, bot_id).text(3, email);
        if (!q.step()) return std::nullopt;
        return read_account(q);
    }

    void set_password_hash(const std::string& id, const std::string& hash) override {
        std::lock_guard lock(mu_);
        SqliteWriters::Write writing(*writer_);
        Query q(db(), account_set_hash_.get(), "updating a password hash");
        q.text(1, hash).text(2, id);
        q.run();
    }

    bool delete_account(const std::string& id) override {
        std::lock_guard lock(mu_);
        SqliteWriters::Write writing(*writer_);
        Query q(db(), account_delete_.get(), "deleting an account");
        q.text(1, id);
        q.run();
        return sqlite3_changes(db()) > 0;
    }

    bool admit_login_attempt(const std::string& scope, std::int64_t at_ms,
                             std::int64_t forget_before_ms, std::size_t limit) override {
        std::lock_guard lock(mu_);
        SqliteWriters::Write writing(*writer_);
        // BEGIN IMMEDIATE takes the write lock first, so that the count and the insert are one
        // step for every connection and process.
        Transaction tx(db(), rollback_.get(), "recording a login attempt");
        {
            Query q(db(), failures_prune_.get(), "recording a login attempt");
            q.int64(1, forget_before_ms);
            q.run();
        }
        std::size_t count = 0;
        {
            Query q(db(), failures_count_.get(), "recording a login attempt");
            q.text(1, scope).int64(2, forget_before_ms);
            count = q.step() ? q.col_size(0) : 0;
        }
        const bool admitted = count < limit;
        if (admitted) {
            Query q(db(), failure_insert_.get(), "recording a login attempt");
            q.text(1, scope).int64(2, at_ms);
            q.run();
        }
        tx.commit();
        return admitted;
    }

    std::size_t count_login_failures(const std::string& scope, std::int64_t since_ms) override {
        std::lock_guard lock(mu_);
        Query q(db(), failures_count_.get(), "counting failed logins");
        q.text(1, scope).int64(2, since_ms);
        return q.step() ? q.col_size(0) : 0;
    }

    void clear_login_failures(const std::string& scope) override {
        std::lock_guard lock(mu_);
        SqliteWriters::Write writing(*writer_);
        Query q(db(), failures_clear_.get(), "clearing failed logins");
        q.text(1, scope);
        q.run();
    }

  private:
    sqlite3* db() const noexcept { return db_.get(); }

    void prepare_accounts() {
        constexpr const char* kAccountColumns =
            "SELECT id, role, email, bot_id, password_hash, created_ms FROM accounts ";
        account_insert_ = prepare(db(),
                                  "INSERT INTO accounts (id, role, email, bot_id, password_hash, "
                                  "created_ms) VALUES (?, ?, ?, ?, ?, ?)");
        account_get_ = prepare(db(), (std::string(kAccountColumns) + "WHERE id = ?").c_str());
        account_find_ = prepare(
            db(),
            (std::string(kAccountColumns) + "WHERE role = ? AND bot_id = ? AND email = ?").c_str());
        account_set_hash_ = prepare(db(), "UPDATE accounts SET password_hash = ? WHERE id = ?");
        accounts_list_ = prepare(db(), (std::string(kAccountColumns) +
                                        "WHERE role = ? AND bot_id = ? ORDER BY created_ms, id")
                                           .c_str());
        account_delete_ = prepare(db(), "DELETE FROM accounts WHERE id = ?");
        failures_prune_ = prepare(db(), "DELETE FROM login_failures WHERE at_ms <= ?");
        failure_insert_ = prepare(db(), "INSERT INTO login_failures (scope, at_ms) VALUES (?, ?)");
        failures_count_ =
            prepare(db(), "SELECT COUNT(*) FROM login_failures WHERE scope = ? AND at_ms > ?");
        failures_clear_ = prepare(db(), "DELETE FROM login_failures WHERE scope = ?");
    }

    static AccountRecord read_account(const Query& q) {
        AccountRecord a;
        a.id = q.col_text(0);
        a.role = q.col_text(1);
        a.email = q.col_text(2);
        a.bot_id = q.col_text(3);
        a.password_hash = q.col_text(4);
        a.created_ms = q.col_int64(5);
        return a;
    }

    void open_database() {
        sqlite3* raw = nullptr;
        const int rc = sqlite3_open_v2(
            path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
            nullptr);
        db_.reset(raw);
        const std::string what = "opening SQLite database \"" + path_ + "\"";
        if (rc != SQLITE_OK) fail(raw, what);
        sqlite3_extended_result_codes(db(), 1);
        if (sqlite3_busy_timeout(db(), SqliteWriters::kBusyTimeoutMs) != SQLITE_OK)
            fail(db(), what);
        exec(db(), "PRAGMA journal_mode=WAL", what);
        exec(db(), "PRAGMA foreign_keys=ON", what);
        exec(db(), "PRAGMA synchronous=NORMAL", what);
    }

    // Reads the recorded schema version inside the current transaction (0 when none).
    int recorded_version(const std::string& what) {
        StmtPtr s = prepare(db(), "SELECT MAX(version) FROM schema_version");
        Query q(db(), s.get(), what.c_str());
        if (!q.step()) return 0;
        return q.col_int(0);
    }

    void migrate() {
        const std::vector<Migration>& all = migrations();
        const int newest = all.empty() ? 0 : all.back().version;
        const std::string what = "preparing the schema of \"" + path_ + "\"";
        int version = 0;
        {
            SqliteWriters::Write writing(*writer_);
            Transaction tx(db(), rollback_.get(), what.c_str());
            exec(db(), "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                 what);
            exec(db(),
                 "INSERT INTO schema_version (version) SELECT 0 WHERE NOT EXISTS "
                 "(SELECT 1 FROM schema_version)",
                 what);
            version = recorded_version(what);
            tx.commit();
        }
        if (version > newest) {
            throw Error(SB_EVERSION, "database schema version " + std::to_string(version) +
                                         " is newer than this library supports (" +
                                         std::to_string(newest) + "); upgrade supportbot");
        }
        for (const Migration& m : all) {
            if (m.version <= version) continue;
            const std::string step = "migrating \"" + path_ + "\" to schema version " +
                                     std::to_string(m.version) + " (" + m.description + ")";
            SqliteWriters::Write writing(*writer_);
            Transaction tx(db(), rollback_.get(), step.c_str());
            // Another process may have applied it since the version was read.
            version = recorded_version(step);
            if (version >= m.version) {
                tx.commit();
                continue;
            }
            exec(db(), m.sqlite_sql, step);
            StmtPtr set = prepare(db(), "UPDATE schema_version SET version = ?");
            {
                Query q(db(), set.get(), step.c_str());
                q.int64(1, m.version);
                q.run();
            }
            tx.commit();
            version = m.version;
        }
    }

    void prepare_all() {
        begin_ = prepare(db(), "BEGIN IMMEDIATE");
        commit_ = prepare(db(), "COMMIT");
        version_get_ = prepare(db(), "SELECT MAX(version) FROM schema_version");
        bot_insert_ =
            prepare(db(), "INSERT INTO bots (id, owner, name, created_ms) VALUES (?, ?, ?, ?)");
        faqs_insert_ = prepare(db(),
                               "INSERT INTO faq_sets (bot_id, revision, entry_count, entries_json, "
                               "synonyms_json, updated_ms) VALUES (?, 1, ?, ?, ?, ?)");
        faqs_replace_ =
            prepare(db(),
                    "UPDATE faq_sets SET revision = revision + 1, entry_count = ?, "
                    "entries_json = ?, synonyms_json = ?, updated_ms = " SB_SQLITE_NOW_MS
                    " WHERE bot_id = ? RETURNING revision");
        faqs_get_ = prepare(db(),
                            "SELECT entries_json, revision, entry_count, synonyms_json FROM "
                            "faq_sets WHERE bot_id = ?");
        bot_get_ = prepare(db(), (std::string(kBotColumns) + "WHERE b.id = ?").c_str());
        bots_all_ =
            prepare(db(), (std::string(kBotColumns) + "ORDER BY b.created_ms, b.id").c_str());
        bots_of_owner_ = prepare(
            db(),
            (std::string(kBotColumns) + "WHERE b.owner = ? ORDER BY b.created_ms, b.id").c_str());
        session_get_ = prepare(
            db(), (std::string(kSessionColumns) + " FROM sessions s WHERE s.id = ?").c_str());
        sessions_list_ = prepare(db(), (std::string(kSessionColumns) + kSessionCountFrom +
                                        "WHERE s.bot_id = ?1 AND s.user_id = ?2" + kSessionPage)
                                           .c_str());
        // ?2 unused: the same parameters as a user's listing.
        bot_sessions_list_ = prepare(db(), (std::string(kSessionColumns) + kSessionCountFrom +
                                            "WHERE s.bot_id = ?1" + kSessionPage)
                                               .c_str());
        session_insert_ = prepare(db(),
                                  "INSERT INTO sessions (id, bot_id, user_id, created_ms, "
                                  "last_active_ms, status, escalation_reason, unanswered_streak, "
                                  "escalated_ms, claimed_by, claimed_ms, wait_acked, handbacks, "
                                  "closed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        session_update_ = prepare(db(),
                                  "UPDATE sessions SET last_active_ms = ?, status = ?, "
                                  "escalation_reason = ?, unanswered_streak = ?, escalated_ms = ?, "
                                  "claimed_by = ?, claimed_ms = ?, wait_acked = ?, handbacks = ?, "
                                  "closed_by = ?, revision = revision + 1 "
                                  "WHERE id = ? AND revision = ?");
        message_insert_ = prepare(db(),
                                  "INSERT INTO messages (session_id, role, text, created_ms, "
                                  "faq_ids, confidence, escalated, escalation_reason, responder, "
                                  "latency_ms, error, fallback, prompt_tokens, completion_tokens, "
                                  "agent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        // Waiting sessions from the key (?2 = escalated_ms, ?3 = id) on, in the order of the
        // index (bot_id, status, escalated_ms, id); with the count and the last user message.
        queue_ = prepare(
            db(), (std::string(kSessionColumns) +
                   ", (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id), "
                   "COALESCE((SELECT m.text FROM messages m WHERE m.session_id = s.id AND m.role = "
                   "'user' ORDER BY m.id DESC LIMIT 1), '') FROM sessions s "
                   "WHERE s.bot_id = ?1 AND s.status = 'escalated' AND s.escalated_ms >= ?2 AND "
                   "(s.escalated_ms > ?2 OR s.id > ?3) ORDER BY s.escalated_ms, s.id LIMIT ?4")
                      .c_str());
        history_ = prepare(
            db(), (std::string("SELECT ") + kMessageColumns + " FROM (SELECT " + kMessageColumns +
                   " FROM messages WHERE session_id = ? ORDER BY id DESC LIMIT ?) "
                   "ORDER BY id")
                      .c_str());
        history_page_ =
            prepare(db(), (std::string("SELECT ") + kMessageColumns +
                           " FROM messages WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?")
                              .c_str());
    }

    static BotRecord read_bot(const Query& q) {
        BotRecord b;
        b.id = q.col_text(0);
        b.owner = q.col_text(1);
        b.name = q.col_text(2);
        b.created_ms = q.col_int64(3);
        b.faq_revision = q.col_int(4);
        b.faq_count = q.col_size(5);
        return b;
    }

    static SessionRecord read_session(const Query& q) {
        SessionRecord s;
        s.id = q.col_text(0);
        s.bot_id = q.col_text(1);
        s.user_id = q.col_text(2);
        s.created_ms = q.col_int64(3);
        s.last_active_ms = q.col_int64(4);
        s.status = session_status_from(q.col_text(5));
        s.escalation_reason = q.col_text(6);
        s.unanswered_streak = q.col_int(7);
        s.revision = q.col_int64(8);
        s.escalated_ms = q.col_int64(9);
        s.claimed_by = q.col_text(10);
        s.claimed_ms = q.col_int64(11);
        s.wait_acked = q.col_bool(12);
        s.handbacks = q.col_int(13);
        s.closed_by = q.col_text(14);
        return s;
    }

    // The rows of a session listing: the session's columns, then its message count (column 15)
    // and first user message (column 16).
    static std::vector<SessionRecord> read_sessions_with_count(Query& q) {
        std::vector<SessionRecord> out;
        while (q.step()) {
            SessionRecord s = read_session(q);
            s.message_count = q.col_size(kSessionColumnCount);
            s.first_message = q.col_text(kSessionColumnCount + 1);
            out.push_back(std::move(s));
        }
        return out;
    }

    std::string path_;
    std::mutex mu_;
    // Outlives the connection, whose WAL hook points at it (set once it is open).
    std::optional<SqliteWriters::Connection> writer_;
    DbPtr db_;  // declared before the statements: they are finalized first
    StmtPtr rollback_, begin_, commit_, version_get_, bot_insert_, faqs_insert_, faqs_replace_,
        faqs_get_, bot_get_, bots_all_, bots_of_owner_, session_get_, sessions_list_,
        session_insert_, session_update_, message_insert_, history_, history_page_, queue_,
        accounts_list_;
    StmtPtr account_insert_, account_get_, account_find_, account_set_hash_, account_delete_,
        failures_prune_, failure_insert_, failures_count_, failures_clear_, bot_sessions_list_;
};

#undef SB_SQLITE_NOW_MS

// A small pool of connections to one file, so that one thread's reads (WAL lets readers run
// beside the writer) and the work between its calls overlap another thread's write. The writes
// themselves take turns on the pool's gate (SqliteWriters), and with other processes on
// SQLite's lock (BEGIN IMMEDIATE, with the busy timeout).
class SqlitePool final : public Store {
  public:
    SqlitePool(const std::string& path, std::size_t size)
        : path_(path), size_(std::max<std::size_t>(size, 1)) {
        idle_.reserve(size_);
        idle_.put(std::make_unique<SqliteStore>(path_, writers_));  // creates / migrates the schema
        created_ = 1;
    }

    int schema_version() override { return Lease(*this)->schema_version(); }
    void create_bot(const BotRecord& bot, const std::vector<FaqEntry>& faqs,
                    const std::vector<SynonymGroup>& synonyms) override {
        Lease(*this)->create_bot(bot, faqs, synonyms);
    }
    int replace_faqs(const std::string& bot_id, const std::vector<FaqEntry>& faqs,
                     const std::vector<SynonymGroup>& synonyms) override {
        return Lease(*this)->replace_faqs(bot_id, faqs, synonyms);
    }
    std::optional<BotRecord> get_bot(const std::string& bot_id) override {
        return Lease(*this)->get_bot(bot_id);
    }
    std::vector<BotRecord> list_bots(const std::optional<std::string>& owner) override {
        return Lease(*this)->list_bots(owner);
    }
    StoredFaqs load_faqs(const std::string& bot_id) override {
        return Lease(*this)->load_faqs(bot_id);
    }
    std::optional<SessionRecord> get_session(const std::string& session_id) override {
        return Lease(*this)->get_session(session_id);
    }
    std::vector<SessionRecord> list_sessions_page(const std::string& bot_id,
                                                  const std::optional<std::string>& user_id,
                                                  const std::optional<SessionKey>& after,
                                                  std::size_t limit) override {
        return Lease(*this)->list_sessions_page(bot_id, user_id, after, limit);
    }
    std::vector<MessageRecord> history(const std::string& session_id, std::size_t limit) override {
        return Lease(*this)->history(session_id, limit);
    }
    std::vector<MessageRecord> history_page(const std::string& session_id, std::int64_t after_id,
                                            std::size_t limit) override {
        return Lease(*this)->history_page(session_id, after_id, limit);
    }
    void ping() override { Lease(*this)->ping(); }
    void record_turn(const TurnRecord& turn) override { Lease(*this)->record_turn(turn); }
    std::vector<SessionRecord> escalation_queue(const std::string& bot_id,
                                                const std::optional<QueueKey>& after,
                                                std::size_t limit) override {
        return Lease(*this)->escalation_queue(bot_id, after, limit);
    }
    std::vector<AccountRecord> list_accounts(const std::string& role,
                                             const std::string& bot_id) override {
        return Lease(*this)->list_accounts(role, bot_id);
    }
    // ---- Session summaries and analytics (migration 3) ----
    void save_summary(const SessionSummary& summary) override {
        Lease(*this)->save_summary(summary);
    }
    std::optional<SessionSummary> get_summary(const std::string& session_id) override {
        return Lease(*this)->get_summary(session_id);
    }
    std::vector<SessionSummary> list_summaries(const std::string& bot_id, std::int64_t from_ms,
                                               std::int64_t to_ms) override {
        return Lease(*this)->list_summaries(bot_id, from_ms, to_ms);
    }
    SummaryBacklog summary_backlog(const std::string& bot_id, bool redo_fallbacks) override {
        return Lease(*this)->summary_backlog(bot_id, redo_fallbacks);
    }
    BotActivity bot_activity(const std::string& bot_id, std::int64_t from_ms,
                             std::int64_t to_ms) override {
        return Lease(*this)->bot_activity(bot_id, from_ms, to_ms);
    }
    std::vector<MessageRecord> bot_messages(const std::string& bot_id, std::int64_t from_ms,
                                            std::int64_t to_ms) override {
        return Lease(*this)->bot_messages(bot_id, from_ms, to_ms);
    }
    void create_account(const AccountRecord& account) override {
        Lease(*this)->create_account(account);
    }
    std::optional<AccountRecord> get_account(const std::string& id) override {
        return Lease(*this)->get_account(id);
    }
    std::optional<AccountRecord> find_account(const std::string& role, const std::string& bot_id,
                                              const std::string& email) override {
        return Lease(*this)->find_account(role, bot_id, email);
    }
    void set_password_hash(const std::string& id, const std::string& hash) override {
        Lease(*this)->set_password_hash(id, hash);
    }
    bool delete_account(const std::string& id) override { return Lease(*this)->delete_account(id); }
    bool admit_login_attempt(const std::string& scope, std::int64_t at_ms,
                             std::int64_t forget_before_ms, std::size_t limit) override {
        return Lease(*this)->admit_login_attempt(scope, at_ms, forget_before_ms, limit);
    }
    std::size_t count_login_failures(const std::string& scope, std::int64_t since_ms) override {
        return Lease(*this)->count_login_failures(scope, since_ms);
    }
    void clear_login_failures(const std::string& scope) override {
        Lease(*this)->clear_login_failures(scope);
    }

  private:
    // A connection taken from the pool (or opened, under the size) and given back at the end.
    class Lease {
      public:
        explicit Lease(SqlitePool& pool) : pool_(pool), conn_(pool.take()) {}
        ~Lease() { pool_.give(std::move(conn_)); }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        SqliteStore* operator->() const noexcept { return conn_.get(); }

      private:
        SqlitePool& pool_;
        std::unique_ptr<SqliteStore> conn_;
    };

    std::unique_ptr<SqliteStore> take() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !idle_.empty() || created_ < size_; });
        if (!idle_.empty()) return idle_.take();
        ++created_;
        lock.unlock();
        try {
            return std::make_unique<SqliteStore>(path_, writers_);
        } catch (...) {
            lock.lock();
            --created_;
            cv_.notify_one();
            throw;
        }
    }

    // Takes a connection back. One left inside a transaction (its ROLLBACK failed: out of
    // memory, an I/O error) would keep SQLite's write lock, or an old snapshot, while idle: every
    // writer of the file, in this process or another, would wait for it and fail with SQLITE_BUSY,
    // and its next user's BEGIN would fail. It gets one more ROLLBACK; when that fails too, it is
    // closed, which ends the transaction and releases its locks (before its slot is freed, so that
    // the connection opened in its place does not meet them).
    void give(std::unique_ptr<SqliteStore> c) noexcept {
        if (!c->end_transaction()) c.reset();
        std::lock_guard lock(mu_);
        if (c) {
            idle_.put(std::move(c));
        } else {
            --created_;  // take() opens a new connection when one is needed
        }
        cv_.notify_one();
    }

    std::string path_;
    std::size_t size_;
    SqliteWriters writers_;  // before the connections, which refer to it
    std::mutex mu_;
    std::condition_variable cv_;
    IdleList<std::unique_ptr<SqliteStore>> idle_;  // a thread gets back its last one
    std::size_t created_ = 0;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path, const StoreOptions& options) {
    try {
        return std::make_unique<SqlitePool>(path, options.pool_size);
    } catch (const Error&) {
        throw;
    } catch (const std::bad_alloc&) {
        throw;
    } catch (const std::exception& e) {
        throw Error(SB_EDB, "opening SQLite database \"" + path + "\": " + e.what());
    }
}

int sqlite_fail_next_rollbacks_for_testing(int n) noexcept {
    return failing_rollbacks.exchange(n, std::memory_order_relaxed);
}

}  // namespace sb
