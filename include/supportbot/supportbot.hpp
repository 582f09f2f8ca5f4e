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
    std::string agent_id;  // agent messages: the agent's account id
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

    // A page of the bot's sessions (sb_session_list_page): limit 0 = all of them; cursor ""
    // = the first page, else the previous page's next_cursor.
    Page<SessionInfo> sessions(const Principal& principal, const std::string& bot_id,
                               std::size_t limit = 0, const std::string& cursor = {}) {
        sb_list_options opts = SB_LIST_OPTIONS_INIT;
        opts.limit = limit;
        opts.cursor = cursor.c_str();
        sb_sessions* raw = nullptr;
        check(sb_session_list_page(engine_, principal.handle(), bot_id.c_str(), &opts, &raw));
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
            MessageInfo info{m.id,        m.role,       m.text,           m.created_ms,
                             {},          m.confidence, m.escalated != 0, m.escalation_reason,
                             m.responder, m.latency_ms, m.error != 0,     agent};
            for (std::size_t j = 0; j < m.faq_count; ++j) {
                const char* id = nullptr;
                check(sb_messages_faq_id(raw, i, j, &id));
                info.faq_ids.emplace_back(id);
            }
            out.items.push_back(std::move(info));
        }
        const char* next = nullptr;
        check(sb_messages_next_cursor(raw, &next));
        if (next) out.next_cursor = next;
        return out;
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
