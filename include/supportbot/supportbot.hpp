// A thin header-only C++ wrapper over the C ABI: RAII handles, std::string_view in, and
// supportbot::Error (carrying the status) thrown on failure. All of it compiles in the caller.
#ifndef SUPPORTBOT_HPP
#define SUPPORTBOT_HPP

#include <supportbot/supportbot.h>

#include <cstddef>
#include <cstdint>
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
            check(sb_messages_at(raw, i, &m));
            MessageInfo info{m.id,        m.role,       m.text,           m.created_ms,
                             {},          m.confidence, m.escalated != 0, m.escalation_reason,
                             m.responder, m.latency_ms, m.error != 0};
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

    sb_engine* handle() const noexcept { return engine_; }

  private:
    sb_engine* engine_ = nullptr;
};

}  // namespace supportbot

#endif  // SUPPORTBOT_HPP
