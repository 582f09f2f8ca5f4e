// A thin header-only C++ wrapper over the C ABI: RAII handles, std::string_view in, and
// supportbot::Error (carrying the status) thrown on failure. All of it compiles in the caller.
#ifndef SUPPORTBOT_HPP
#define SUPPORTBOT_HPP

// The wrapper needs C++17 (std::string_view); the C header alone needs C99 or C++11.
#if defined(_MSVC_LANG) ? _MSVC_LANG < 201703L : __cplusplus < 201703L
#error "supportbot/supportbot.hpp needs C++17 or later; from older C++, use supportbot/supportbot.h"
#endif

#include <supportbot/supportbot.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace supportbot {

class Error : public std::runtime_error {
  public:
    Error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

  private:
    int status_;
};

inline void check(int status) {
    if (status != SB_OK) throw Error(status, sb_last_error());
}

// The library's version ("0.2.0"), its ABI version (compare with SB_ABI_VERSION), the status of
// this thread's last call, and a status's constant name ("SB_EPARSE").
inline std::string version() {
    return sb_version();
}
inline int abi_version() noexcept {
    return sb_abi_version();
}
inline int last_status() noexcept {
    return sb_last_status();
}
inline std::string status_name(int status) {
    return sb_status_name(status);
}

// Options structs initialised by the library for the header's version (SB_EVERSION, thrown, when
// the library is older than the header).
inline sb_engine_options engine_options() {
    sb_engine_options o;
    check(sb_engine_options_init(&o, SB_ENGINE_OPTIONS_VERSION));
    return o;
}
inline sb_load_options load_options() {
    sb_load_options o;
    check(sb_load_options_init(&o, SB_LOAD_OPTIONS_VERSION));
    return o;
}
inline sb_search_options search_options() {
    sb_search_options o;
    check(sb_search_options_init(&o, SB_SEARCH_OPTIONS_VERSION));
    return o;
}
inline sb_list_options list_options() {
    sb_list_options o;
    check(sb_list_options_init(&o, SB_LIST_OPTIONS_VERSION));
    return o;
}

namespace detail {

// A string the library returned, copied and freed (sb_string_free).
inline std::string take_string(char* s) {
    struct Free {
        char* p;
        ~Free() { sb_string_free(p); }
    } guard{s};
    return s ? std::string(s) : std::string();
}

// A call returning a library string through char**: runs it, then copies and frees the string.
template <class F>
std::string string_call(F&& call) {
    char* out = nullptr;
    const int status = call(&out);
    std::string copy = take_string(out);
    check(status);
    return copy;
}

}  // namespace detail

struct Result {
    std::size_t index;
    std::string id;
    double score;
    double confidence;
};

struct SearchResponse {
    bool answered = false;
    std::vector<Result> results;
};

class FaqSet {
  public:
    explicit FaqSet(sb_faqset* s) noexcept : set_(s) {}
    FaqSet(FaqSet&& o) noexcept : set_(std::exchange(o.set_, nullptr)) {}
    FaqSet& operator=(FaqSet&& o) noexcept {
        if (this != &o) {
            sb_faqset_free(set_);
            set_ = std::exchange(o.set_, nullptr);
        }
        return *this;
    }
    FaqSet(const FaqSet&) = delete;
    FaqSet& operator=(const FaqSet&) = delete;
    ~FaqSet() { sb_faqset_free(set_); }

    std::size_t size() const {
        std::size_t n = 0;
        check(sb_faqset_count(set_, &n));
        return n;
    }
    sb_faq_entry entry(std::size_t i) const {
        sb_faq_entry e;
        check(sb_faqset_entry(set_, i, &e));
        return e;
    }
    // Alternate `alt` and tag `tag` of entry i (counts in entry(i)).
    std::string alternate(std::size_t i, std::size_t alt) const {
        const char* s = nullptr;
        check(sb_faqset_entry_alternate(set_, i, alt, &s));
        return s;
    }
    std::string tag(std::size_t i, std::size_t tag) const {
        const char* s = nullptr;
        check(sb_faqset_entry_tag(set_, i, tag, &s));
        return s;
    }
    // The index of the entry with this id; none when there is no such entry.
    std::optional<std::size_t> find(const std::string& id) const {
        std::size_t i = 0;
        const int status = sb_faqset_find(set_, id.c_str(), &i);
        if (status == SB_ENOTFOUND) return std::nullopt;
        check(status);
        return i;
    }
    double default_threshold() const {
        double t = 0;
        check(sb_faqset_default_threshold(set_, &t));
        return t;
    }
    // threshold < 0 means the set's calibrated default.
    SearchResponse search(std::string_view query, std::size_t k = 5,
                          double threshold = -1.0) const {
        sb_search_options opts = SB_SEARCH_OPTIONS_INIT;
        opts.k = k;
        opts.threshold = threshold;
        sb_results* raw = nullptr;
        check(sb_faqset_search(set_, query.data(), query.size(), &opts, &raw));
        struct Free {
            sb_results* r;
            ~Free() { sb_results_free(r); }
        } guard{raw};
        SearchResponse out;
        int answered = 0;
        std::size_t n = 0;
        check(sb_results_answered(raw, &answered));
        check(sb_results_count(raw, &n));
        out.answered = answered != 0;
        for (std::size_t i = 0; i < n; ++i) {
            sb_result r;
            check(sb_results_get(raw, i, &r));
            out.results.push_back({r.index, r.id, r.score, r.confidence});
        }
        return out;
    }
    sb_faqset* handle() const noexcept { return set_; }

  private:
    sb_faqset* set_;
};

struct PrincipalInfo {
    std::string account_id;
    int role = SB_ACCOUNT_USER;  // sb_account_role
    std::string bot_id;          // users: their bot; admins: ""
    std::string email;           // normalised
    std::int64_t expires_ms = 0;
};

// A verified access token (sb_principal_from_token), freed on destruction.
class Principal {
  public:
    explicit Principal(sb_principal* p) noexcept : p_(p) {}
    Principal(Principal&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Principal& operator=(Principal&& o) noexcept {
        if (this != &o) {
            sb_principal_free(p_);
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    Principal(const Principal&) = delete;
    Principal& operator=(const Principal&) = delete;
    ~Principal() { sb_principal_free(p_); }
    const sb_principal* handle() const noexcept { return p_; }
    PrincipalInfo info() const {
        sb_principal_info i;
        check(sb_principal_get(p_, &i));
        return {i.account_id, i.role, i.bot_id, i.email, i.expires_ms};
    }

  private:
    sb_principal* p_;
};

struct SessionInfo {
    std::string id;
    std::string bot_id;
    std::string user_id;
    std::int64_t created_ms = 0;
    std::int64_t last_active_ms = 0;
    int status = SB_SESSION_OPEN;  // sb_session_status
    std::string escalation_reason;
    std::size_t message_count = 0;
    std::string first_message;  // the first user message, "" when none
};

struct MessageInfo {
    std::int64_t id = 0;
    int role = SB_ROLE_USER;  // sb_role
    std::string text;
    std::int64_t created_ms = 0;
    std::vector<std::string> faq_ids;
    double confidence = 0;
    bool escalated = false;
    std::string escalation_reason;
    std::string responder;
    std::int64_t latency_ms = 0;
    bool error = false;
    bool fallback = false;  // as Reply::fallback (sb_messages_usage)
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::string agent_id;  // agent messages: the agent's account id
};

struct BotInfo {
    std::string id;
    std::string owner;  // "" when a user asks
    std::string name;
    std::int64_t created_ms = 0;
    std::size_t faq_count = 0;
    int faq_revision = 0;
};

struct ReplyFaq {
    std::string id;
    std::string question;
    double confidence = 0;
};

// One chat turn's reply (sb_reply_info, its suggestions, FAQs and sb_reply_usage).
struct Reply {
    std::string session_id;
    std::string text;
    bool answered = false;
    bool escalated = false;
    std::string escalation_reason;
    std::string responder;
    double confidence = 0;
    std::int64_t latency_ms = 0;
    std::vector<std::string> suggestions;
    std::vector<ReplyFaq> faqs;
    bool fallback = false;
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
};

// What sb_bot_summarize_sessions did.
struct SummaryRun {
    std::size_t processed = 0;
    std::size_t skipped = 0;  // up to date
};

// A chat message to send. on_text (optional) streams the reply's text; returning false stops an
// LLM's stream (see sb_chat_request). An exception it throws stops the stream too, and is thrown
// again by Engine::chat once the turn is over.
struct ChatMessage {
    std::string bot_id;
    std::string text;
    std::optional<std::string> session_id;  // none: the library starts a new session
    std::function<bool(std::string_view)> on_text;
};

// A session waiting for an agent (sb_escalation_queue).
struct EscalationInfo {
    std::string session_id;
    std::string user_id;
    std::string reason;
    std::int64_t escalated_ms = 0;
    std::int64_t wait_ms = 0;
    std::string last_message;
    std::size_t message_count = 0;
};

// The hand-over hooks (sb_engine_options version 4) as C++ callables. Whatever they throw is
// caught by the wrapper and reported to the library as a failure, which it logs and ignores:
// the turn stands.
struct EscalationEvent {
    std::string bot_id, session_id, user_id, reason, message;
};
struct SessionMessageEvent {
    std::string bot_id, session_id, user_id;
    int status = SB_SESSION_ESCALATED;  // sb_session_status
    int role = SB_ROLE_USER;            // sb_role
    std::string agent_id, text;
};
struct Hooks {
    std::function<void(const EscalationEvent&)> on_escalation;
    std::function<void(const SessionMessageEvent&)> on_session_message;
};

// One page of a list, and the cursor of the next (none when this page is the last).
template <class T>
struct Page {
    std::vector<T> items;
    std::optional<std::string> next_cursor;
};

class Engine {
  public:
    Engine() { check(sb_engine_open(&engine_, nullptr)); }
    explicit Engine(const sb_engine_options& opts) { check(sb_engine_open(&engine_, &opts)); }
    // With hooks, which the engine keeps; opts must be of version 4 or later.
    Engine(sb_engine_options opts, Hooks hooks)
        : hooks_(std::make_unique<Hooks>(std::move(hooks))) {
        if (opts.version < 4) throw Error(SB_EVERSION, "hooks need sb_engine_options version 4");
        if (hooks_->on_escalation) {
            opts.on_escalation = &Engine::escalation_hook;
            opts.escalation_user_data = hooks_.get();
        }
        if (hooks_->on_session_message) {
            opts.on_session_message = &Engine::session_message_hook;
            opts.session_message_user_data = hooks_.get();
        }
        check(sb_engine_open(&engine_, &opts));
    }
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;
    ~Engine() { sb_engine_close(engine_); }

    FaqSet load(std::string_view data, sb_format format = SB_FORMAT_AUTO,
                const sb_load_options* opts = nullptr) {
        sb_faqset* s = nullptr;
        check(sb_faqset_load(engine_, data.data(), data.size(), format, opts, &s));
        return FaqSet(s);
    }
    FaqSet load_file(const std::string& path, sb_format format = SB_FORMAT_AUTO,
                     const sb_load_options* opts = nullptr) {
        sb_faqset* s = nullptr;
        check(sb_faqset_load_file(engine_, path.c_str(), format, opts, &s));
        return FaqSet(s);
    }
    // Throws (SB_EDB, with the reason) unless the database answers.
    void ping() { check(sb_engine_ping(engine_)); }

    Principal principal(const std::string& token) {
        sb_principal* p = nullptr;
        check(sb_principal_from_token(engine_, token.c_str(), &p));
        return Principal(p);
    }

    // ---- Accounts (see supportbot.h); each returns the new account's id or a token ----
    std::string register_admin(const std::string& email, const std::string& password) {
        return detail::string_call([&](char** out) {
            return sb_admin_register(engine_, email.c_str(), password.c_str(), out);
        });
    }
    std::string register_user(const std::string& bot_id, const std::string& email,
                              const std::string& password) {
        return detail::string_call([&](char** out) {
            return sb_user_register(engine_, bot_id.c_str(), email.c_str(), password.c_str(), out);
        });
    }
    std::string login_admin(const std::string& email, const std::string& password) {
        return detail::string_call([&](char** out) {
            return sb_admin_login(engine_, email.c_str(), password.c_str(), out);
        });
    }
    std::string login_user(const std::string& bot_id, const std::string& email,
                           const std::string& password) {
        return detail::string_call([&](char** out) {
            return sb_user_login(engine_, bot_id.c_str(), email.c_str(), password.c_str(), out);
        });
    }
    // For the host only (see sb_token_issue and sb_account_lookup).
    std::string issue_token(const std::string& account_id) {
        return detail::string_call(
            [&](char** out) { return sb_token_issue(engine_, account_id.c_str(), out); });
    }
    // The account id of the admin (bot_id "") or of a user of the bot with this e-mail; none when
    // there is no such account.
    std::optional<std::string> lookup_account(const std::string& bot_id, const std::string& email) {
        char* out = nullptr;
        const int status = sb_account_lookup(engine_, bot_id.c_str(), email.c_str(), &out);
        std::string id = detail::take_string(out);
        if (status == SB_ENOTFOUND) return std::nullopt;
        check(status);
        return id;
    }
    void delete_account(const Principal& principal, const std::string& account_id) {
        check(sb_account_delete(engine_, principal.handle(), account_id.c_str()));
    }

    // ---- Bots: returns the new bot's id ----
    std::string create_bot(const Principal& principal, const std::string& name,
                           std::string_view data, sb_format format = SB_FORMAT_AUTO,
                           const sb_load_options* opts = nullptr) {
        return detail::string_call([&](char** out) {
            return sb_bot_create(engine_, principal.handle(), name.c_str(), data.data(),
                                 data.size(), format, opts, out);
        });
    }
    std::string create_bot_from_file(const Principal& principal, const std::string& name,
                                     const std::string& path, sb_format format = SB_FORMAT_AUTO,
                                     const sb_load_options* opts = nullptr) {
        return detail::string_call([&](char** out) {
            return sb_bot_create_from_file(engine_, principal.handle(), name.c_str(), path.c_str(),
                                           format, opts, out);
        });
    }
    void replace_faqs(const Principal& principal, const std::string& bot_id, std::string_view data,
                      sb_format format = SB_FORMAT_AUTO, const sb_load_options* opts = nullptr) {
        check(sb_bot_replace_faqs(engine_, principal.handle(), bot_id.c_str(), data.data(),
                                  data.size(), format, opts));
    }
    void replace_faqs_from_file(const Principal& principal, const std::string& bot_id,
                                const std::string& path, sb_format format = SB_FORMAT_AUTO,
                                const sb_load_options* opts = nullptr) {
        check(sb_bot_replace_faqs_from_file(engine_, principal.handle(), bot_id.c_str(),
                                            path.c_str(), format, opts));
    }
    // Replaces the bot's own small talk (empty data or "[]": removes it); see
    // sb_bot_set_smalltalk.
    void set_smalltalk(const Principal& principal, const std::string& bot_id, std::string_view data,
                       sb_format format = SB_FORMAT_AUTO, const sb_load_options* opts = nullptr) {
        check(sb_bot_set_smalltalk(engine_, principal.handle(), bot_id.c_str(), data.data(),
                                   data.size(), format, opts));
    }
    // The bot's small talk in effect, as JSON (sb_bot_smalltalk).
    std::string smalltalk(const Principal& principal, const std::string& bot_id) {
        return detail::string_call([&](char** out) {
            return sb_bot_smalltalk(engine_, principal.handle(), bot_id.c_str(), out);
        });
    }
    BotInfo bot(const Principal& principal, const std::string& bot_id) {
        sb_bots* raw = nullptr;
        check(sb_bot_get(engine_, principal.handle(), bot_id.c_str(), &raw));
        std::vector<BotInfo> one = read_bots(raw);
        if (one.size() != 1) throw Error(SB_ERROR, "sb_bot_get returned no bot");
        return one[0];
    }
    std::vector<BotInfo> bots(const Principal& principal) {
        sb_bots* raw = nullptr;
        check(sb_bot_list(engine_, principal.handle(), &raw));
        return read_bots(raw);
    }

    // ---- Chat ----
    Reply chat(const Principal& principal, const ChatMessage& message) {
        struct Stream {
            const std::function<bool(std::string_view)>* on_text;
            std::exception_ptr error;
        } stream{&message.on_text, nullptr};
        sb_chat_request r = SB_CHAT_REQUEST_INIT;
        r.bot_id = message.bot_id.c_str();
        r.principal = principal.handle();
        r.session_id = message.session_id ? message.session_id->c_str() : nullptr;
        r.message = message.text.data();
        r.message_len = message.text.size();
        if (message.on_text) {
            // No exception may cross the C ABI: it is kept, stops the stream, and is rethrown.
            r.on_text = [](void* user, const char* text, std::size_t len) -> int {
                auto* st = static_cast<Stream*>(user);
                if (st->error) return 1;
                try {
                    return (*st->on_text)(std::string_view(text, len)) ? 0 : 1;
                } catch (...) {
                    st->error = std::current_exception();
                    return 1;
                }
            };
            r.user_data = &stream;
        }
        sb_reply* raw = nullptr;
        const int status = sb_chat_send(engine_, &r, &raw);
        struct Free {
            sb_reply* r;
            ~Free() { sb_reply_free(r); }
        } guard{raw};
        if (stream.error) std::rethrow_exception(stream.error);
        check(status);
        sb_reply_info info;
        check(sb_reply_get(raw, &info));
        Reply out;
        out.session_id = info.session_id;
        out.text = info.text;
        out.answered = info.answered != 0;
        out.escalated = info.escalated != 0;
        out.escalation_reason = info.escalation_reason;
        out.responder = info.responder;
        out.confidence = info.confidence;
        out.latency_ms = info.latency_ms;
        for (std::size_t i = 0; i < info.suggestion_count; ++i) {
            const char* text = nullptr;
            check(sb_reply_suggestion(raw, i, &text));
            out.suggestions.push_back(text);
        }
        for (std::size_t i = 0; i < info.faq_count; ++i) {
            sb_reply_faq f;
            check(sb_reply_faq_at(raw, i, &f));
            out.faqs.push_back({f.id, f.question, f.confidence});
        }
        int fallback = 0;
        check(sb_reply_usage(raw, &fallback, &out.prompt_tokens, &out.completion_tokens));
        out.fallback = fallback != 0;
        return out;
    }

    // ---- Sessions and history ----
    // All of the bot's sessions the principal may see, most recently active first
    // (sb_session_list; the same as sessions() with no limit).
    std::vector<SessionInfo> list_sessions(const Principal& principal, const std::string& bot_id) {
        sb_sessions* raw = nullptr;
        check(sb_session_list(engine_, principal.handle(), bot_id.c_str(), &raw));
        return read_sessions(raw).items;
    }
    // A page of the bot's sessions (sb_session_list_page): limit 0 = all of them; cursor ""
    // = the first page, else the previous page's next_cursor.
    Page<SessionInfo> sessions(const Principal& principal, const std::string& bot_id,
                               std::size_t limit = 0, const std::string& cursor = {}) {
        sb_list_options opts = SB_LIST_OPTIONS_INIT;
        opts.limit = limit;
        opts.cursor = cursor.c_str();
        sb_sessions* raw = nullptr;
        check(sb_session_list_page(engine_, principal.handle(), bot_id.c_str(), &opts, &raw));
        return read_sessions(raw);
    }
    // All of a session's messages, oldest first (sb_session_history; the same as history() with
    // no limit).
    std::vector<MessageInfo> session_history(const Principal& principal,
                                             const std::string& session_id) {
        sb_messages* raw = nullptr;
        check(sb_session_history(engine_, principal.handle(), session_id.c_str(), &raw));
        return read_messages(raw).items;
    }
    // A page of a session's messages, oldest first (sb_session_history_page); limit and cursor
    // as for sessions().
    Page<MessageInfo> history(const Principal& principal, const std::string& session_id,
                              std::size_t limit = 0, const std::string& cursor = {}) {
        sb_list_options opts = SB_LIST_OPTIONS_INIT;
        opts.limit = limit;
        opts.cursor = cursor.c_str();
        sb_messages* raw = nullptr;
        check(
            sb_session_history_page(engine_, principal.handle(), session_id.c_str(), &opts, &raw));
        return read_messages(raw);
    }
    void close_session(const Principal& principal, const std::string& session_id) {
        check(sb_session_close(engine_, principal.handle(), session_id.c_str()));
    }

    // ---- Summaries and analytics (JSON; ranges [from_ms, to_ms) in Unix milliseconds) ----
    std::string summarize_session(const Principal& principal, const std::string& session_id) {
        return detail::string_call([&](char** out) {
            return sb_session_summarize(engine_, principal.handle(), session_id.c_str(), out);
        });
    }
    SummaryRun summarize_sessions(const Principal& principal, const std::string& bot_id) {
        SummaryRun run;
        check(sb_bot_summarize_sessions(engine_, principal.handle(), bot_id.c_str(), &run.processed,
                                        &run.skipped));
        return run;
    }
    std::string summaries(const Principal& principal, const std::string& bot_id,
                          std::int64_t from_ms = 0, std::int64_t to_ms = INT64_MAX) {
        return detail::string_call([&](char** out) {
            return sb_bot_summaries(engine_, principal.handle(), bot_id.c_str(), from_ms, to_ms,
                                    out);
        });
    }
    std::string analytics(const Principal& principal, const std::string& bot_id,
                          std::int64_t from_ms = 0, std::int64_t to_ms = INT64_MAX) {
        return detail::string_call([&](char** out) {
            return sb_bot_analytics(engine_, principal.handle(), bot_id.c_str(), from_ms, to_ms,
                                    out);
        });
    }

    // ---- The hand-over to human agents ----
    // A page of the bot's sessions waiting for an agent, oldest first (sb_escalation_queue);
    // limit and cursor as for sessions().
    Page<EscalationInfo> escalations(const Principal& principal, const std::string& bot_id,
                                     std::size_t limit = 0, const std::string& cursor = {}) {
        sb_list_options opts = SB_LIST_OPTIONS_INIT;
        opts.limit = limit;
        opts.cursor = cursor.c_str();
        sb_escalations* raw = nullptr;
        check(sb_escalation_queue(engine_, principal.handle(), bot_id.c_str(), &opts, &raw));
        struct Free {
            sb_escalations* e;
            ~Free() { sb_escalations_free(e); }
        } guard{raw};
        Page<EscalationInfo> out;
        std::size_t n = 0;
        check(sb_escalations_count(raw, &n));
        for (std::size_t i = 0; i < n; ++i) {
            sb_escalation_info e;
            check(sb_escalations_at(raw, i, &e));
            out.items.push_back({e.session_id, e.user_id, e.reason, e.escalated_ms, e.wait_ms,
                                 e.last_message, e.message_count});
        }
        const char* next = nullptr;
        check(sb_escalations_next_cursor(raw, &next));
        if (next) out.next_cursor = next;
        return out;
    }
    void claim(const Principal& principal, const std::string& session_id) {
        check(sb_session_claim(engine_, principal.handle(), session_id.c_str()));
    }
    void agent_reply(const Principal& principal, const std::string& session_id,
                     std::string_view message) {
        check(sb_session_agent_reply(engine_, principal.handle(), session_id.c_str(),
                                     message.data(), message.size()));
    }
    void release(const Principal& principal, const std::string& session_id) {
        check(sb_session_release(engine_, principal.handle(), session_id.c_str()));
    }
    void close(const Principal& principal, const std::string& session_id) {
        check(sb_session_close(engine_, principal.handle(), session_id.c_str()));
    }
    // Agent accounts of a bot (its owner admin only); agent_add returns the new account's id.
    std::string agent_add(const Principal& owner, const std::string& bot_id,
                          const std::string& email, const std::string& password) {
        char* id = nullptr;
        check(sb_agent_add(engine_, owner.handle(), bot_id.c_str(), email.c_str(), password.c_str(),
                           &id));
        std::string out(id);
        sb_string_free(id);
        return out;
    }
    void agent_remove(const Principal& owner, const std::string& bot_id,
                      const std::string& account_id) {
        check(sb_agent_remove(engine_, owner.handle(), bot_id.c_str(), account_id.c_str()));
    }
    // JSON array of {"account_id", "email", "created_ms"}.
    std::string agents_json(const Principal& owner, const std::string& bot_id) {
        char* json = nullptr;
        check(sb_agent_list(engine_, owner.handle(), bot_id.c_str(), &json));
        std::string out(json);
        sb_string_free(json);
        return out;
    }
    // An agent's access token.
    std::string agent_login(const std::string& bot_id, const std::string& email,
                            const std::string& password) {
        char* token = nullptr;
        check(sb_agent_login(engine_, bot_id.c_str(), email.c_str(), password.c_str(), &token));
        std::string out(token);
        sb_string_free(token);
        return out;
    }

    sb_engine* handle() const noexcept { return engine_; }

  private:
    static std::vector<BotInfo> read_bots(sb_bots* raw) {
        struct Free {
            sb_bots* b;
            ~Free() { sb_bots_free(b); }
        } guard{raw};
        std::size_t n = 0;
        check(sb_bots_count(raw, &n));
        std::vector<BotInfo> out;
        out.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            sb_bot_info b;
            check(sb_bots_at(raw, i, &b));
            out.push_back({b.id, b.owner, b.name, b.created_ms, b.faq_count, b.faq_revision});
        }
        return out;
    }
    static Page<SessionInfo> read_sessions(sb_sessions* raw) {
        struct Free {
            sb_sessions* s;
            ~Free() { sb_sessions_free(s); }
        } guard{raw};
        Page<SessionInfo> out;
        std::size_t n = 0;
        check(sb_sessions_count(raw, &n));
        out.items.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            sb_session_info s;
            const char* first = nullptr;
            check(sb_sessions_at(raw, i, &s));
            check(sb_sessions_first_message(raw, i, &first));
            out.items.push_back({s.id, s.bot_id, s.user_id, s.created_ms, s.last_active_ms,
                                 s.status, s.escalation_reason, s.message_count, first});
        }
        const char* next = nullptr;
        check(sb_sessions_next_cursor(raw, &next));
        if (next) out.next_cursor = next;
        return out;
    }
    static Page<MessageInfo> read_messages(sb_messages* raw) {
        struct Free {
            sb_messages* m;
            ~Free() { sb_messages_free(m); }
        } guard{raw};
        Page<MessageInfo> out;
        std::size_t n = 0;
        check(sb_messages_count(raw, &n));
        out.items.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            sb_message_info m;
            const char* agent = nullptr;
            check(sb_messages_at(raw, i, &m));
            check(sb_messages_agent_id(raw, i, &agent));
            MessageInfo info;
            info.id = m.id;
            info.role = m.role;
            info.text = m.text;
            info.created_ms = m.created_ms;
            info.agent_id = agent ? agent : "";
            for (std::size_t j = 0; j < m.faq_count; ++j) {
                const char* id = nullptr;
                check(sb_messages_faq_id(raw, i, j, &id));
                info.faq_ids.push_back(id);
            }
            info.confidence = m.confidence;
            info.escalated = m.escalated != 0;
            info.escalation_reason = m.escalation_reason;
            info.responder = m.responder;
            info.latency_ms = m.latency_ms;
            info.error = m.error != 0;
            int fallback = 0;
            check(
                sb_messages_usage(raw, i, &fallback, &info.prompt_tokens, &info.completion_tokens));
            info.fallback = fallback != 0;
            out.items.push_back(std::move(info));
        }
        const char* next = nullptr;
        check(sb_messages_next_cursor(raw, &next));
        if (next) out.next_cursor = next;
        return out;
    }

    static int escalation_hook(void* data, const sb_escalation_event* e) noexcept {
        try {
            static_cast<Hooks*>(data)->on_escalation(
                {e->bot_id, e->session_id, e->user_id, e->reason, e->message});
            return 0;
        } catch (...) {
            return -1;  // no exception crosses the C ABI
        }
    }
    static int session_message_hook(void* data, const sb_session_message_event* e) noexcept {
        try {
            static_cast<Hooks*>(data)->on_session_message(
                {e->bot_id, e->session_id, e->user_id, e->status, e->role, e->agent_id, e->text});
            return 0;
        } catch (...) {
            return -1;
        }
    }

    std::unique_ptr<Hooks> hooks_;  // before engine_: outlives it
    sb_engine* engine_ = nullptr;
};

}  // namespace supportbot

#endif  // SUPPORTBOT_HPP
