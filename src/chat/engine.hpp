// The engine behind sb_engine: bots with their FAQ indexes, and the chat pipeline (sessions,
// contextual retrieval, escalation, the offline responder, one transaction per turn).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chat/smalltalk.hpp"
#include "faq/faq.hpp"
#include "llm/llm.hpp"
#include "retrieval/index.hpp"
#include "store/store.hpp"

namespace sb {

// What the host's hooks are told (src/chat/handover.cpp). A hook runs on the thread that made
// the change, after it is committed; whatever it throws is logged (stderr) and ignored.
struct EscalationEvent {
    std::string bot_id;
    std::string session_id;
    std::string user_id;
    std::string reason;   // "user_requested", "low_confidence", ...
    std::string message;  // the user's message of the turn that escalated
};
struct SessionMessageEvent {
    std::string bot_id;
    std::string session_id;
    std::string user_id;
    SessionStatus status = SessionStatus::Escalated;  // the session's, after the message
    Role role = Role::User;                           // User, or Agent
    std::string agent_id;                             // agent messages: the agent's account
    std::string text;
};

struct EngineOptions {
    std::string language = "english";
    std::string database_url;       // "" = sqlite://supportbot.db, opened at first use
    std::size_t pool_size = 4;      // PostgreSQL connections
    std::size_t history_turns = 6;  // recent turns the pipeline looks at
    double answer_threshold = -1;   // < 0: each bot's calibrated default
    // Confidence below which a turn escalates at once; < 0: a quarter of the answer threshold.
    double escalation_threshold = -1;
    int max_unanswered = 2;  // consecutive unanswered turns before escalating
    std::size_t max_message_bytes = 8000;
    llm::ProviderOptions llm;  // provider "offline" (the default) needs no network
    // Accounts: the HS256 key of access tokens ("" = accounts disabled), their lifetime, and the
    // failed-login limit per account and time window.
    std::string secret_key;
    unsigned access_token_minutes = 30;
    unsigned login_max_failures = 5;
    unsigned login_window_seconds = 900;
    // Accounts, internal (not in the C ABI): the scrypt cost of new password hashes (N = 2^this;
    // tests lower it for speed) and the clock tokens and failed logins are checked against, in
    // Unix milliseconds (empty: the system clock; tests move it to expire tokens).
    unsigned auth_scrypt_log2_n = 15;
    std::function<std::int64_t()> auth_clock_ms;
    // The hand-over's hooks (empty: none): a turn escalated a session; a message was stored in
    // a session that is escalated or with an agent (a user's, or an agent's).
    std::function<void(const EscalationEvent&)> on_escalation;
    std::function<void(const SessionMessageEvent&)> on_session_message;
};

struct ChatRequest {
    std::string bot_id;
    std::string user_id;
    std::optional<std::string> session_id;  // none: the library creates one
    std::string message;
    // Streaming: called with the reply's text in pieces as it is written (an LLM provider), or
    // once with the whole reply (the offline responder, or a fallback when nothing was streamed
    // yet). Returning false stops an LLM's stream: the turn then keeps the text received so far
    // (the offline answer when there was none). Called on the calling thread.
    std::function<bool(std::string_view)> on_text;
};

struct UsedFaq {
    std::string id;
    std::string question;
    double confidence = 0;
};

struct ChatReply {
    std::string session_id;
    std::string text;
    std::vector<std::string> suggestions;  // suggested next questions
    std::vector<UsedFaq> faqs;             // FAQs considered, best first (the first answered)
    bool answered = false;                 // the reply answers from an FAQ
    bool escalated = false;
    // "user_requested", "low_confidence", "repeated_unanswered", "model_requested"
    std::string escalation_reason;
    // "handover": the session is waiting for or with a human agent, so the bot did not answer;
    // text is the one acknowledgement of the wait, or "" (nothing to show) after it.
    // "offline", "gemini", "openai"; "smalltalk" (a greeting, thanks, ... answered with a
    // short reply) or "clarification" (a "Did you mean ...?" question: `suggestions` are the
    // candidates, then kSomethingElse; the stored message's faq_ids are the candidates' ids)
    std::string responder;
    double confidence = 0;  // of the best FAQ
    std::int64_t latency_ms = 0;
    bool fallback = false;  // the LLM provider failed (or answered malformed JSON): offline reply
    std::int64_t prompt_tokens = 0;  // the LLM's token usage for this reply (0 when none)
    std::int64_t completion_tokens = 0;
};

class Engine {
  public:
    explicit Engine(EngineOptions options);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    const EngineOptions& options() const noexcept { return options_; }

    // Bots. Entries and synonyms are validated already (parse_faq_set); the synonyms are stored
    // with the entries and used by every index built for the bot. Returns the new bot's id.
    std::string create_bot(const std::string& owner, const std::string& name,
                           std::vector<FaqEntry> faqs, std::vector<SynonymGroup> synonyms = {});
    // Replaces the bot's entries and synonyms together (none given: the bot has none after).
    int replace_faqs(const std::string& bot_id, std::vector<FaqEntry> faqs,
                     std::vector<SynonymGroup> synonyms = {});
    BotRecord get_bot(const std::string& bot_id);  // SB_ENOTFOUND
    std::vector<BotRecord> list_bots(const std::optional<std::string>& owner);

    // One chat turn. Thread-safe.
    ChatReply chat(const ChatRequest& request);

    // A user's sessions with a bot, and the history of one (SB_ENOTFOUND when the session does
    // not exist or is not this user's with this bot: the two are not told apart).
    std::vector<SessionRecord> sessions(const std::string& bot_id, const std::string& user_id);
    std::vector<MessageRecord> history(const std::string& bot_id, const std::string& user_id,
                                       const std::string& session_id);

    // Closes a session: later turns on it are refused with SB_ECONFLICT. SB_ENOTFOUND as for
    // history. Closing a closed session is not an error.
    void close_session(const std::string& bot_id, const std::string& user_id,
                       const std::string& session_id);

    // ---- The hand-over to human agents (src/chat/handover.cpp) ----
    // Callers check the actor's rights (auth::require_agent_access) first; agent_id is the
    // actor's account id. A session another writer changes meanwhile is read again.
    // A page of the bot's sessions waiting for an agent, oldest escalation first.
    std::vector<SessionRecord> escalation_queue(const std::string& bot_id,
                                                const std::optional<QueueKey>& after,
                                                std::size_t limit);
    // Takes an escalated session for the agent: status agent. SB_ECONFLICT when it is not
    // waiting (another agent claimed it first, it was handed back or closed); claiming a session
    // the same agent holds already succeeds. Of concurrent claims (threads, processes) exactly
    // one wins: the store's compare-and-set on the session's revision.
    SessionRecord claim_session(const std::string& session_id, const std::string& agent_id);
    // Stores an agent message in a session this agent claimed (SB_ECONFLICT otherwise).
    MessageRecord post_agent_message(const std::string& session_id, const std::string& agent_id,
                                     const std::string& text);
    // Hands an escalated or claimed session back to the bot (status open, which answers
    // again). SB_ECONFLICT when it is neither.
    SessionRecord release_session(const std::string& session_id, const std::string& agent_id);
    // Closes a session for an agent (marked closed by that agent when it was escalated or with
    // an agent). Closing a closed session is not an error.
    SessionRecord close_session_as_agent(const std::string& session_id,
                                         const std::string& agent_id);
    // Hooks that failed (threw), for tests.
    std::size_t hook_failures() const noexcept { return hook_failures_.load(); }

    // The FAQ index of a bot, built from the stored entries (cached per revision); small-talk
    // entries (category "smalltalk") are not in it.
    std::shared_ptr<const FaqIndex> index(const std::string& bot_id);
    // The bot's small talk: the built-in set with the bot's own entries (as JSON, SmallTalk).
    std::string smalltalk_json(const std::string& bot_id);
    // Replaces the bot's small-talk entries (category "smalltalk"), keeping its FAQs; returns the
    // new FAQ revision.
    int replace_smalltalk(const std::string& bot_id, std::vector<FaqEntry> entries);

    // ---- Session summaries and analytics (src/analytics) ----
    // The engine's LLM provider (options.llm), shared by all threads; nullptr when offline.
    llm::Client* llm_client() const noexcept { return llm_.get(); }

    // The summary of one of the user's sessions (SB_ENOTFOUND when the session is not this
    // user's with this bot), made with the engine's LLM client or offline, and stored; a stored
    // summary that covers the session's last message is returned as it is, unless it fell back to
    // the offline summary (provider down, bad JSON) and there is an LLM client to try again with.
    SessionSummary summarize_session(const std::string& bot_id, const std::string& user_id,
                                     const std::string& session_id);
    // Summarises every session of the bot that has none, or has messages after it, or (with an
    // LLM client) whose summary fell back to the offline one; a second run processes none unless
    // summaries fall back again. After the first provider_error of a run, the run's other
    // sessions are summarised offline without asking the provider (marked provider_error, so
    // they stay due). Returns {processed, skipped (up to date)}.
    std::pair<std::size_t, std::size_t> summarize_bot(const std::string& bot_id);
    // The stored summaries of the bot's sessions created in [from_ms, to_ms).
    std::vector<SessionSummary> summaries(const std::string& bot_id, std::int64_t from_ms,
                                          std::int64_t to_ms);
    // The analytics of the bot's sessions created in [from_ms, to_ms), as JSON (README.md).
    std::string analytics(const std::string& bot_id, std::int64_t from_ms, std::int64_t to_ms);
    // The same three with a given client instead of the engine's (nullptr: offline).
    SessionSummary summarize_session(const std::string& bot_id, const std::string& user_id,
                                     const std::string& session_id, llm::Client* client);
    std::pair<std::size_t, std::size_t> summarize_bot(const std::string& bot_id,
                                                      llm::Client* client);
    std::string analytics(const std::string& bot_id, std::int64_t from_ms, std::int64_t to_ms,
                          llm::Client* client);

    // Whether the database answers (opening the store when no call has yet): returns, or throws
    // SB_EDB with the reason, also when the store cannot be opened.
    void ping();

    // The engine's store (opened at first use), for the accounts and authorisation layer
    // (src/auth/), which works beside the pipeline on the same database.
    Store& database() { return store(); }
    // The bot's record as read at most a second ago (its owner never changes), for the checks
    // made before each chat turn. SB_ENOTFOUND when there is no such bot.
    std::shared_ptr<const BotRecord> recent_bot(const std::string& bot_id) {
        return cached_bot(bot_id);
    }

  private:
    struct Turn;
    struct LlmOutcome;  // src/chat/llm_turn.hpp
    Turn respond(const BotRecord& bot, const SessionRecord& session, bool is_new,
                 const std::string& message, const ChatRequest& request, LlmOutcome& memo);
    // Has the LLM write the reply of a turn the offline responder did not escalate: from the top
    // FAQs and the history. Falls back to the offline turn (marked) when the provider fails or
    // answers malformed JSON. `memo` keeps the outcome, so that a turn redone after a conflict
    // does not call the provider again. src/chat/llm_turn.cpp.
    void write_with_llm(const BotRecord& bot, const FaqIndex& index,
                        const std::vector<SearchHit>& hits,
                        const std::vector<MessageRecord>& history, const std::string& message,
                        const ChatRequest& request, Turn& turn, LlmOutcome& memo);
    Store& store();
    // Runs a host hook, logging and counting what it throws.
    template <class Event>
    void run_hook(const std::function<void(const Event&)>& hook, const Event& event,
                  const char* what) noexcept;
    // A change of one session by an agent: reads it, lets `change` edit the record (and add
    // messages; false: nothing to write), and writes it by compare-and-set, again from a fresh
    // read after a conflict.
    SessionRecord change_session(const std::string& session_id,
                                 const std::function<bool(TurnRecord&)>& change);
    // The session, when it is this user's with this bot; else SB_ENOTFOUND.
    SessionRecord owned_session(const std::string& bot_id, const std::string& user_id,
                                const std::string& session_id);
    // The bot's record, re-read from the store at most once a second.
    std::shared_ptr<const BotRecord> cached_bot(const std::string& bot_id);
    // What answers for a bot: its FAQ index and its small talk.
    struct BotModels {
        std::shared_ptr<const FaqIndex> index;
        std::shared_ptr<const SmallTalk> smalltalk;
    };
    // Builds both from a bot's stored entries and synonyms. SB_EINVALID_DATA when there is no FAQ
    // besides small talk, or a small-talk entry is unusable.
    BotModels build_models(std::vector<FaqEntry> entries, std::vector<SynonymGroup> synonyms) const;
    // The models of the bot's revision as read in `bot`.
    BotModels models_for(const BotRecord& bot);
    std::shared_ptr<const FaqIndex> index_for(const BotRecord& bot) {
        return models_for(bot).index;
    }
    // The session as this engine last wrote it, when cached (an LRU of recent sessions).
    std::optional<SessionRecord> cached_session(const std::string& session_id);
    void remember_session(const SessionRecord& session);
    void forget_session(const std::string& session_id);
    struct CachedIndex {
        int revision = 0;
        BotModels models;
        std::vector<SynonymGroup> synonyms;  // those the index was built with
    };

    EngineOptions options_;
    std::once_flag store_once_;
    std::unique_ptr<Store> store_;
    std::mutex cache_mutex_;
    std::map<std::string, CachedIndex> cache_;
    // record, read at ms (shared: a turn holds it without copying its strings)
    std::map<std::string, std::pair<std::shared_ptr<const BotRecord>, std::int64_t>> bot_cache_;
    std::mutex build_mutex_;  // one index build at a time
    // Sessions as this engine last wrote them, so that a turn need not read its session first:
    // the store's compare-and-set on the revision catches any change made by another engine or
    // process, and the turn is then redone from a fresh read. Most recently used first.
    std::mutex session_mutex_;
    std::list<SessionRecord> session_lru_;
    std::unordered_map<std::string, std::list<SessionRecord>::iterator> session_index_;
    std::unique_ptr<llm::Client> llm_;  // nullptr when offline
    std::atomic<std::size_t> hook_failures_{0};
};

// Helpers, exposed for tests.
std::string new_uuid();  // random (version 4) UUID
std::int64_t now_ms();
// Checks a text input: not empty, at most max_bytes, valid UTF-8, no control characters (tab,
// newline and carriage return allowed when allow_newlines). SB_EINVAL, SB_ELIMIT or SB_EPARSE
// naming `what` otherwise.
void check_text(std::string_view value, const char* what, std::size_t max_bytes,
                bool allow_newlines);
// True when the message asks for a person ("talk to an agent", "human please", ...).
bool asks_for_human(std::string_view message);
bool asks_for_human(const std::vector<std::string>& folded_words);  // split_words(fold_text(m))
// True when the message reads as a follow-up to the previous turn ("and how long does that
// take?", "what about international?").
bool looks_like_follow_up(std::string_view message);
bool looks_like_follow_up(const std::vector<std::string>& folded_words);

// The last suggested action of a clarification ("Did you mean ...?").
inline constexpr std::string_view kSomethingElse = "Something else";
// The answer to a clarification with `candidates` choices: the index chosen ("2", "the first
// one", "the last", "yes" when there is one candidate), kChoseSomethingElse ("something else",
// "none of these", "no"), or nullopt when the message is not a choice (it may still name one
// by its text). `folded_words` as for asks_for_human.
inline constexpr std::size_t kChoseSomethingElse = static_cast<std::size_t>(-1);
std::optional<std::size_t> clarification_choice(const std::vector<std::string>& folded_words,
                                                std::size_t candidates);

// When to ask "Did you mean ...?" instead of answering or missing, from the ranked hits'
// calibrated confidences, the answer threshold and the confidence below which a turn escalates
// at once. Returns the candidates (indexes into hits, best first; empty: do not ask):
//  - two FAQs close: the best clears the threshold but the runner-up is at least half as likely
//    (kClarifyRatio): neither is clearly right; the candidates are those at least half as likely
//    as the best (2 or 3);
//  - a near miss: the best is below the threshold but plausible (at least a quarter of it, and
//    not below the escalation level): the candidates are the best and those at least half as
//    likely and plausible themselves (1 to 3).
inline constexpr double kClarifyRatio = 0.5;
std::vector<std::size_t> clarification_candidates(const std::vector<SearchHit>& hits,
                                                  double threshold, double escalate_below);

}  // namespace sb
