// Persistent storage of bots, their FAQ sets, chat sessions and messages. One interface, two
// real backends chosen by URL: SQLite (sqlite:///path/file.db, the default) and PostgreSQL
// (postgresql://...). Implementations are thread-safe: one Store is shared by every thread of an
// engine. Errors throw sb::Error (SB_EDB for database failures, SB_EVERSION for a database made by
// a newer version of the library, SB_EINVAL for a bad URL).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faq/faq.hpp"

namespace sb {

// A session moves open -> escalated (waiting for a human agent) -> agent (an agent claimed it)
// -> open again (handed back to the bot) or closed (migration 6 added `agent`).
enum class SessionStatus { Open, Escalated, Closed, Agent };
// Agent messages (migration 6) are written by a human agent, whose account id they carry.
enum class Role { User, Assistant, Agent };

const char* to_string(SessionStatus s) noexcept;        // "open", "escalated", "closed", "agent"
const char* to_string(Role r) noexcept;                 // "user", "assistant", "agent"
SessionStatus session_status_from(std::string_view s);  // throws SB_EDB on an unknown value
Role role_from(std::string_view s);                     // throws SB_EDB on an unknown value

struct BotRecord {
    std::string id;  // UUID
    std::string owner;
    std::string name;
    std::int64_t created_ms = 0;  // Unix time in milliseconds
    int faq_revision = 0;         // 1 when created, +1 on every FAQ replacement
    std::size_t faq_count = 0;
};

// A bot's stored FAQ set: its entries, the synonyms its file declared (migration 8; none for a
// set stored before), and its revision.
struct StoredFaqs {
    std::vector<FaqEntry> entries;
    std::vector<SynonymGroup> synonyms;
    int revision = 0;
};

struct SessionRecord {
    std::string id;
    std::string bot_id;
    std::string user_id;
    std::int64_t created_ms = 0;
    std::int64_t last_active_ms = 0;
    SessionStatus status = SessionStatus::Open;
    std::string escalation_reason;  // "" unless escalated
    int unanswered_streak = 0;      // consecutive assistant turns that could not answer
    std::int64_t revision = 0;      // 0 when created, +1 on every update (compare-and-set)
    // The hand-over (migration 6): when the session last became escalated (0: never), the agent
    // account that claimed it ("" unless status is agent) and when, whether the user was told
    // "an agent will be with you shortly" in this wait, how many times an agent handed it back
    // to the bot, and the agent account that closed it ("" when the user or nobody did).
    std::int64_t escalated_ms = 0;
    std::string claimed_by;
    std::int64_t claimed_ms = 0;
    bool wait_acked = false;
    int handbacks = 0;
    std::string closed_by;
    std::size_t message_count = 0;  // filled by the session listings; not written
    std::string first_message;      // its first user message ("" when none); as message_count
    std::string last_message;       // its last user message: filled by escalation_queue only
};

// The position of a session in the escalation queue (oldest escalation first, then by id).
struct QueueKey {
    std::int64_t escalated_ms = 0;
    std::string id;
};

// The position of a session in a listing (most recently active first, then by id): a page
// starts after it.
struct SessionKey {
    std::int64_t last_active_ms = 0;
    std::string id;
};

struct MessageRecord {
    std::int64_t id = 0;  // assigned by the store, increasing within a session
    std::string session_id;
    Role role = Role::User;
    std::string text;
    std::int64_t created_ms = 0;
    // Assistant messages:
    std::vector<std::string> faq_ids;  // FAQs the reply used, best first
    double confidence = 0;             // of the best FAQ
    bool escalated = false;
    std::string escalation_reason;  // "" unless escalated
    // "offline", "gemini", ..., "smalltalk", "clarification" (faq_ids: its candidates) or "error"
    std::string responder;
    std::int64_t latency_ms = 0;
    bool error = false;              // the turn failed; text is the error reply shown to the user
    bool fallback = false;           // the LLM provider failed and the offline responder answered
    std::int64_t prompt_tokens = 0;  // LLM usage of the reply (0 when none)
    std::int64_t completion_tokens = 0;  //
    std::string agent_id;                // agent messages: the agent's account id (migration 6)
};

// Everything one chat turn writes, applied in one transaction: the session is created when
// `create_session` is set (and must not exist; its revision is 0), else updated (last_active_ms,
// status, escalation_reason, unanswered_streak) by compare-and-set: only when its stored revision
// is still session.revision, which the update then increments; then the messages are appended.
struct TurnRecord {
    SessionRecord session;
    bool create_session = false;
    std::vector<MessageRecord> messages;
};

// Accounts (migration 4): admins (bot_id "") and users of one bot. The e-mail is normalised
// (auth::normalize_email); (role, bot_id, email) is unique.
struct AccountRecord {
    std::string id;    // UUID
    std::string role;  // "admin", "user" or "agent" (migration 6: may answer one bot's sessions)
    std::string email;
    std::string bot_id;         // users and agents: their bot; admins: ""
    std::string password_hash;  // auth::hash_password's format
    std::int64_t created_ms = 0;
};

struct StoreOptions {
    std::size_t pool_size = 4;  // PostgreSQL connections
};

// ---- Session summaries and analytics (migration 3) ----
// Time ranges are [from_ms, to_ms) on the session's created_ms: a session, with all its messages,
// belongs to the range in which it started.

struct SessionSummary {
    std::string session_id;
    std::string bot_id;
    std::string summary;
    std::string main_issue;
    bool resolved = false;
    std::string sentiment = "neutral";  // "positive", "neutral" or "negative"
    std::vector<std::string> topics;
    std::string source = "offline";  // "offline" or the LLM provider's name
    // Why an LLM summary fell back to the offline one: "" (it did not), "provider_error" or
    // "invalid_json".
    std::string fallback;
    std::int64_t last_message_id = 0;  // the last message covered
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
};

struct SummaryBacklog {
    struct Due {
        std::string session_id;
        std::int64_t last_message_id = 0;
    };
    std::vector<Due> due;        // sessions with messages whose summary is due (summary_due)
    std::size_t up_to_date = 0;  // sessions whose summary is not due
};

// Whether a session whose last message is last_message_id needs a (new) summary, given its stored
// summary's last covered message (0 when none) and fallback. A summary covering the last message
// is up to date, unless it fell back to the offline one (the provider was down or its JSON was
// bad) and redo_fallbacks is set (the caller has an LLM client to try again with).
inline bool summary_due(std::int64_t last_message_id, std::int64_t covered,
                        const std::string& fallback, bool redo_fallbacks) {
    return covered < last_message_id || (redo_fallbacks && !fallback.empty());
}

// What SQL aggregates for a bot's analytics, over the sessions created in [from_ms, to_ms).
struct BotActivity {
    std::int64_t sessions = 0;
    // The hand-over (migration 6): sessions an agent closed while escalated or with an agent,
    // and the hand-backs to the bot.
    std::int64_t resolved_by_agents = 0;
    std::int64_t handbacks = 0;
    std::int64_t user_messages = 0;
    std::int64_t assistant_messages = 0;
    std::int64_t answered_replies = 0;  // replies that answered from an FAQ (not clarifications)
    std::int64_t escalated_replies = 0;
    std::int64_t escalated_sessions = 0;  // sessions with at least one escalated reply
    std::int64_t fallback_replies = 0;    // the LLM failed and the offline responder answered
    std::int64_t error_replies = 0;
    std::int64_t llm_replies = 0;  // replies with token usage
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    // Escalated replies by reason, most first, then by name.
    std::vector<std::pair<std::string, std::int64_t>> escalation_reasons;
    // Sessions by UTC day of creation (days since 1970-01-01), oldest first.
    std::vector<std::pair<std::int64_t, std::int64_t>> sessions_per_day;
};

class Store {
  public:
    // Opens (creating and migrating as needed) the database named by url. An empty url means
    // "sqlite://supportbot.db" (a file in the working directory).
    static std::unique_ptr<Store> open(const std::string& url, const StoreOptions& options);
    virtual ~Store() = default;

    virtual int schema_version() = 0;

    // Bots and their FAQ sets (the entries and the set's synonyms). create_bot stores both in one
    // transaction.
    virtual void create_bot(const BotRecord& bot, const std::vector<FaqEntry>& faqs,
                            const std::vector<SynonymGroup>& synonyms) = 0;
    void create_bot(const BotRecord& bot, const std::vector<FaqEntry>& faqs) {
        create_bot(bot, faqs, {});
    }
    // Replaces the FAQ set (entries and synonyms together) and bumps the revision; returns the
    // new revision. SB_ENOTFOUND when the bot does not exist.
    virtual int replace_faqs(const std::string& bot_id, const std::vector<FaqEntry>& faqs,
                             const std::vector<SynonymGroup>& synonyms) = 0;
    int replace_faqs(const std::string& bot_id, const std::vector<FaqEntry>& faqs) {
        return replace_faqs(bot_id, faqs, {});
    }
    virtual std::optional<BotRecord> get_bot(const std::string& bot_id) = 0;
    // Every bot, or those of one owner; ordered by creation time, then id.
    virtual std::vector<BotRecord> list_bots(const std::optional<std::string>& owner) = 0;
    // The stored FAQ set of a bot: entries, synonyms, revision. SB_ENOTFOUND when no bot.
    virtual StoredFaqs load_faqs(const std::string& bot_id) = 0;

    // Sessions and messages.
    virtual std::optional<SessionRecord> get_session(const std::string& session_id) = 0;
    // A page of a bot's sessions: one user's (user_id set) or every user's (nullopt). Ordered
    // most recently active first, then by id (ascending), starting after `after` (nullopt: from
    // the first); at most `limit` rows (0 = all). With message counts and first messages. Served
    // by an index in that order (migration 5), so a page costs the same however deep it starts.
    virtual std::vector<SessionRecord> list_sessions_page(const std::string& bot_id,
                                                          const std::optional<std::string>& user_id,
                                                          const std::optional<SessionKey>& after,
                                                          std::size_t limit) = 0;
    // A user's sessions with a bot, most recently active first, with message counts.
    std::vector<SessionRecord> list_sessions(const std::string& bot_id,
                                             const std::string& user_id) {
        return list_sessions_page(bot_id, user_id, std::nullopt, 0);
    }
    // The last `limit` messages of a session (0 = all), oldest first.
    virtual std::vector<MessageRecord> history(const std::string& session_id,
                                               std::size_t limit) = 0;
    // A page of a session's messages, oldest first: those with an id above after_id (0: from the
    // first), at most `limit` of them (0 = all).
    virtual std::vector<MessageRecord> history_page(const std::string& session_id,
                                                    std::int64_t after_id, std::size_t limit) = 0;
    // Applies a turn atomically. Throws SB_ECONFLICT, writing nothing, when create_session is set
    // and the session exists already (another thread or process created it first), or when the
    // session's stored revision is no longer session.revision (another writer updated it since it
    // was read); SB_ENOTFOUND when an update finds no session.
    virtual void record_turn(const TurnRecord& turn) = 0;

    // ---- The hand-over (migration 6) ----
    // A page of the bot's sessions waiting for an agent (status escalated): oldest escalation
    // first, then by id, starting after `after`, at most `limit` (0 = all); with message counts
    // and each one's last user message (last_message). Claims, agent messages, hand-backs and
    // closes are record_turn's compare-and-set updates, so that of two concurrent claims exactly
    // one succeeds.
    virtual std::vector<SessionRecord> escalation_queue(const std::string& bot_id,
                                                        const std::optional<QueueKey>& after,
                                                        std::size_t limit) = 0;
    // The accounts of a role and bot (agents of a bot), oldest first, then by id.
    virtual std::vector<AccountRecord> list_accounts(const std::string& role,
                                                     const std::string& bot_id) = 0;

    // ---- Session summaries and analytics (migration 3) ----
    // Stores a summary, replacing the session's previous one unless that covers a later message
    // (so a slow writer never overwrites a newer summary); created_ms is kept from the first.
    // SB_ENOTFOUND when the session does not exist.
    virtual void save_summary(const SessionSummary& summary) = 0;
    virtual std::optional<SessionSummary> get_summary(const std::string& session_id) = 0;
    // A bot's summaries of the sessions created in [from_ms, to_ms), oldest session first.
    virtual std::vector<SessionSummary> list_summaries(const std::string& bot_id,
                                                       std::int64_t from_ms,
                                                       std::int64_t to_ms) = 0;
    // The bot's sessions needing a summary (oldest first, by summary_due with redo_fallbacks),
    // and how many need none.
    virtual SummaryBacklog summary_backlog(const std::string& bot_id, bool redo_fallbacks) = 0;
    // The aggregates of the sessions created in [from_ms, to_ms).
    virtual BotActivity bot_activity(const std::string& bot_id, std::int64_t from_ms,
                                     std::int64_t to_ms) = 0;
    // Every message of those sessions, by session (creation time, id), then message id.
    virtual std::vector<MessageRecord> bot_messages(const std::string& bot_id, std::int64_t from_ms,
                                                    std::int64_t to_ms) = 0;

    // Accounts and failed logins (migration 4).
    // Throws SB_ECONFLICT, writing nothing, when (role, bot_id, email) exists already (callers
    // check that a user's bot exists).
    virtual void create_account(const AccountRecord& account) = 0;
    virtual std::optional<AccountRecord> get_account(const std::string& id) = 0;
    virtual std::optional<AccountRecord> find_account(const std::string& role,
                                                      const std::string& bot_id,
                                                      const std::string& email) = 0;
    virtual void set_password_hash(const std::string& id, const std::string& hash) = 0;
    // Removes the account; false when there was none.
    virtual bool delete_account(const std::string& id) = 0;
    // Login attempts of one login scope (role, bot and e-mail). admit_login_attempt drops those of
    // every scope at or before `forget_before_ms` (so that attempts on made-up e-mails do not pile
    // up); then, when the scope has fewer than `limit` left, records one at at_ms and returns true,
    // else records nothing and returns false. Counting and recording are one atomic step across
    // threads and processes, so concurrent attempts cannot all pass the limit (a login records
    // its attempt before checking the password; a successful one clears the scope).
    // count_login_failures counts those after since_ms; clear_login_failures clears them all.
    virtual bool admit_login_attempt(const std::string& scope, std::int64_t at_ms,
                                     std::int64_t forget_before_ms, std::size_t limit) = 0;
    virtual std::size_t count_login_failures(const std::string& scope, std::int64_t since_ms) = 0;
    virtual void clear_login_failures(const std::string& scope) = 0;
    // Every session of a bot (all its users), most recently active first, with message counts.
    std::vector<SessionRecord> list_bot_sessions(const std::string& bot_id) {
        return list_sessions_page(bot_id, std::nullopt, std::nullopt, 0);
    }

    // Whether the database answers: a trivial query (PostgreSQL: on a pooled connection, opening
    // a new one when the server dropped it). Throws SB_EDB with the reason otherwise.
    virtual void ping() = 0;
};

// The schema, as numbered migrations; a backend applies those above its recorded version.
struct Migration {
    int version;
    const char* description;
    const char* sqlite_sql;    // one or more statements separated by ';'
    const char* postgres_sql;  // the same for PostgreSQL
};
const std::vector<Migration>& migrations();

// Serialises FAQ entries to a JSON array (the format parse_faqs_json reads back).
std::string faqs_to_json(const std::vector<FaqEntry>& faqs);
// A stored FAQ set as read from its columns (entries_json, synonyms_json, revision, entry_count),
// parsed without the limits on files (they were checked when it was stored). SB_EDB when corrupt.
StoredFaqs stored_faqs_from(const std::string& bot_id, std::string_view entries_json,
                            std::string_view synonyms_json, int revision, std::size_t count);
// Serialises a list of strings to a JSON array, and back (for message faq_ids).
std::string strings_to_json(const std::vector<std::string>& values);
std::vector<std::string> strings_from_json(std::string_view json);
// A column list ("a, b, c") with each name qualified by prefix ("m.a, m.b, m.c"), so that a
// backend's joined queries select the same columns as its plain ones.
std::string qualified_columns(std::string_view columns, std::string_view prefix);

std::unique_ptr<Store> open_sqlite_store(const std::string& path, const StoreOptions& options);
std::unique_ptr<Store> open_postgres_store(const std::string& url, const StoreOptions& options);

// For tests only (not part of the C ABI): the next n ROLLBACKs that the SQLite stores of this
// process run fail as an I/O error would, leaving their transaction open; 0 ends that. Returns
// how many of the previous count had not failed yet. No real failure of ROLLBACK can be provoked
// at will, and what the pool does with a connection left inside a transaction needs testing.
int sqlite_fail_next_rollbacks_for_testing(int n) noexcept;

}  // namespace sb
