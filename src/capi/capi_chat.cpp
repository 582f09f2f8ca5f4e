// The C ABI of bots, chat and sessions.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/authz.hpp"
#include "capi/capi_internal.hpp"
#include "chat/cursor.hpp"

struct sb_bots {
    std::vector<sb::BotRecord> bots;
};

struct sb_reply {
    sb::ChatReply reply;
};

struct sb_sessions {
    std::vector<sb::SessionRecord> sessions;
    std::optional<std::string> next_cursor;  // of the next page; none when this is the last
};

struct sb_messages {
    std::vector<sb::MessageRecord> messages;
    std::optional<std::string> next_cursor;
};

namespace sb::capi {

sb::Engine& engine_of(sb_engine* engine) {
    require(engine != nullptr, "engine is NULL");
    return *engine->engine;
}

std::string text_arg(const char* s, const char* what) {
    if (!s) throw sb::Error(SB_EINVAL, std::string(what) + " is NULL");
    return s;
}

char* copy_string(const std::string& s) {
    char* out = static_cast<char*>(std::malloc(s.size() + 1));
    if (!out) throw std::bad_alloc();
    std::memcpy(out, s.c_str(), s.size() + 1);
    return out;
}

// The session, after checking the principal may use it: SB_ENOTFOUND when it does not exist,
// SB_EFORBIDDEN when it is neither the principal's nor of a bot the principal owns.
sb::SessionRecord accessible_session(sb::Engine& e, const sb::auth::Principal& p,
                                     const char* session_id) {
    const std::string id = text_arg(session_id, "session_id");
    if (id.empty() || id.size() > 128)
        throw sb::Error(SB_EINVAL, "session_id is empty or too long");
    auto s = e.database().get_session(id);
    if (!s) throw sb::Error(SB_ENOTFOUND, "no such session");
    auto bot = e.database().get_bot(s->bot_id);
    if (!bot) throw sb::Error(SB_ENOTFOUND, "no such session");
    sb::auth::require_session_access(p, *bot, *s);
    return *s;
}

}  // namespace sb::capi

namespace {

using namespace sb::capi;

// The bot, or SB_ENOTFOUND (after the id's own checks).
sb::BotRecord bot_of(sb::Engine& e, const std::string& bot_id) {
    return e.get_bot(bot_id);
}

void out_of_range(size_t i, size_t n, const char* what) {
    if (i >= n)
        throw sb::Error(SB_ERANGE, std::string(what) + " index " + std::to_string(i) +
                                       " is out of range (" + std::to_string(n) + ")");
}

// What a list call's options ask for: NULL is the whole list.
struct PageRequest {
    std::size_t limit = 0;  // 0 = all
    std::string cursor;     // "" = the first page
};

PageRequest page_request(const sb_list_options* opts) {
    PageRequest r;
    if (!opts) return r;
    check_version(opts->version, SB_LIST_OPTIONS_VERSION, "sb_list_options");
    r.limit = opts->limit;
    if (opts->cursor) r.cursor = opts->cursor;
    return r;
}

// The rows to read for a page: one more than the limit, to learn whether another page follows.
std::size_t rows_to_read(std::size_t limit) noexcept {
    return limit == 0 || limit == SIZE_MAX ? 0 : limit + 1;
}

// Cuts rows read by rows_to_read back to the limit; true when one was beyond it (so a next page
// exists).
template <class T>
bool trim_page(std::vector<T>& rows, std::size_t limit) {
    if (limit == 0 || rows.size() <= limit) return false;
    rows.resize(limit);
    return true;
}

// A page of the bot's sessions as the principal may see them, with the checks of
// sb_session_list: every user's to the owner, else the principal's own.
void session_page(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                  const sb_list_options* opts, sb_sessions** out) {
    sb::Engine& e = engine_of(engine);
    const sb::auth::Principal p = authenticated(engine, principal);
    require(out != nullptr, "out is NULL");
    const sb::BotRecord bot = bot_of(e, text_arg(bot_id, "bot_id"));
    // The owner and the bot's agents see every user's sessions.
    const bool owner = sb::auth::is_agent_of(p, bot);
    if (!owner) sb::auth::require_bot_access(p, bot);
    const PageRequest page = page_request(opts);
    const sb::SessionScope scope = owner ? sb::SessionScope::Bot : sb::SessionScope::User;
    std::optional<sb::SessionKey> after;
    if (!page.cursor.empty()) after = sb::parse_sessions_cursor(page.cursor, scope, bot.id);
    auto list = std::make_unique<sb_sessions>();
    list->sessions = e.database().list_sessions_page(
        bot.id, owner ? std::nullopt : std::optional<std::string>(p.account_id), after,
        rows_to_read(page.limit));
    if (trim_page(list->sessions, page.limit)) {
        const sb::SessionRecord& last = list->sessions.back();
        list->next_cursor = sb::sessions_cursor(scope, bot.id, {last.last_active_ms, last.id});
    }
    *out = list.release();
}

// A page of a session's messages, oldest first, with the checks of sb_session_history.
void history_page(sb_engine* engine, const sb_principal* principal, const char* session_id,
                  const sb_list_options* opts, sb_messages** out) {
    sb::Engine& e = engine_of(engine);
    const sb::auth::Principal p = authenticated(engine, principal);
    require(out != nullptr, "out is NULL");
    const sb::SessionRecord s = accessible_session(e, p, session_id);
    const PageRequest page = page_request(opts);
    const std::int64_t after =
        page.cursor.empty() ? 0 : sb::parse_messages_cursor(page.cursor, s.id);
    auto list = std::make_unique<sb_messages>();
    list->messages = e.database().history_page(s.id, after, rows_to_read(page.limit));
    if (trim_page(list->messages, page.limit))
        list->next_cursor = sb::messages_cursor(s.id, list->messages.back().id);
    *out = list.release();
}

}  // namespace

extern "C" {

// Every call that acts for someone first verifies the principal (SB_EUNAUTHENTICATED), then
// looks the thing up (SB_ENOTFOUND), then checks it is the principal's (SB_EFORBIDDEN), and only
// then reads the input, so that nobody learns anything from a call they may not make.

int sb_bot_create(sb_engine* engine, const sb_principal* principal, const char* name,
                  const char* data, size_t len, sb_format format, const sb_load_options* opts,
                  char** out_id) {
    if (out_id) *out_id = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        sb::auth::require_admin(p);
        require(out_id != nullptr, "out_id is NULL");
        std::string bot_name = text_arg(name, "name");
        sb::FaqSet set = load_set(data, len, format, opts);
        *out_id = copy_string(
            e.create_bot(p.account_id, bot_name, std::move(set.entries), std::move(set.synonyms)));
    });
}

int sb_bot_create_from_file(sb_engine* engine, const sb_principal* principal, const char* name,
                            const char* path, sb_format format, const sb_load_options* opts,
                            char** out_id) {
    if (out_id) *out_id = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        sb::auth::require_admin(p);
        require(out_id != nullptr, "out_id is NULL");
        std::string bot_name = text_arg(name, "name");
        sb::FaqSet set = load_set_file(path, format, opts);
        *out_id = copy_string(
            e.create_bot(p.account_id, bot_name, std::move(set.entries), std::move(set.synonyms)));
    });
}

int sb_bot_replace_faqs(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                        const char* data, size_t len, sb_format format,
                        const sb_load_options* opts) {
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::BotRecord bot = bot_of(e, text_arg(bot_id, "bot_id"));
        sb::auth::require_admin_owner(p, bot);
        sb::FaqSet set = load_set(data, len, format, opts);
        e.replace_faqs(bot.id, std::move(set.entries), std::move(set.synonyms));
    });
}

int sb_bot_replace_faqs_from_file(sb_engine* engine, const sb_principal* principal,
                                  const char* bot_id, const char* path, sb_format format,
                                  const sb_load_options* opts) {
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::BotRecord bot = bot_of(e, text_arg(bot_id, "bot_id"));
        sb::auth::require_admin_owner(p, bot);
        sb::FaqSet set = load_set_file(path, format, opts);
        e.replace_faqs(bot.id, std::move(set.entries), std::move(set.synonyms));
    });
}

int sb_bot_set_smalltalk(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                         const char* data, size_t len, sb_format format,
                         const sb_load_options* opts) {
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::BotRecord bot = bot_of(e, text_arg(bot_id, "bot_id"));
        sb::auth::require_admin_owner(p, bot);
        std::vector<sb::FaqEntry> entries;
        // An empty array (or no data) removes the bot's own small talk.
        const bool empty = len == 0 || (data && std::string_view(data, len).find_first_not_of(
                                                    " \t\r\n[]") == std::string_view::npos);
        if (!empty) entries = load_set(data, len, format, opts).entries;
        e.replace_smalltalk(bot.id, std::move(entries));
    });
}

int sb_bot_smalltalk(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                     char** out_json) {
    if (out_json) *out_json = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::BotRecord bot = bot_of(e, text_arg(bot_id, "bot_id"));
        sb::auth::require_bot_access(p, bot);
        require(out_json != nullptr, "out_json is NULL");
        *out_json = copy_string(e.smalltalk_json(bot.id));
    });
}

int sb_bot_get(sb_engine* engine, const sb_principal* principal, const char* bot_id,
               sb_bots** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        require(out != nullptr, "out is NULL");
        sb::BotRecord bot = bot_of(e, text_arg(bot_id, "bot_id"));
        sb::auth::require_bot_access(p, bot);
        if (!sb::auth::is_owner(p, bot)) bot.owner.clear();  // users do not learn the owner
        auto list = std::make_unique<sb_bots>();
        list->bots.push_back(std::move(bot));
        *out = list.release();
    });
}

int sb_bot_list(sb_engine* engine, const sb_principal* principal, sb_bots** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        require(out != nullptr, "out is NULL");
        auto list = std::make_unique<sb_bots>();
        if (p.role == sb::auth::AccountRole::Admin) {
            list->bots = e.list_bots(p.account_id);
        } else {
            sb::BotRecord bot = bot_of(e, p.bot_id);
            bot.owner.clear();
            list->bots.push_back(std::move(bot));
        }
        *out = list.release();
    });
}

int sb_bots_count(const sb_bots* bots, size_t* out) {
    return guarded([&] {
        require(bots != nullptr && out != nullptr, "bots or out is NULL");
        *out = bots->bots.size();
    });
}

int sb_bots_at(const sb_bots* bots, size_t i, sb_bot_info* out) {
    return guarded([&] {
        require(bots != nullptr && out != nullptr, "bots or out is NULL");
        out_of_range(i, bots->bots.size(), "bot");
        const sb::BotRecord& b = bots->bots[i];
        out->id = b.id.c_str();
        out->owner = b.owner.c_str();
        out->name = b.name.c_str();
        out->created_ms = b.created_ms;
        out->faq_count = b.faq_count;
        out->faq_revision = b.faq_revision;
    });
}

void sb_bots_free(sb_bots* bots) {
    delete bots;
}

int sb_chat_send(sb_engine* engine, const sb_chat_request* request, sb_reply** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        require(request != nullptr, "request is NULL");
        require(out != nullptr, "out is NULL");
        check_version(request->version, SB_CHAT_REQUEST_VERSION, "sb_chat_request");
        sb::auth::Principal p = authenticated(engine, request->principal);
        require(request->message != nullptr || request->message_len == 0, "message is NULL");
        sb::ChatRequest r;
        r.bot_id = text_arg(request->bot_id, "bot_id");
        sb::auth::require_bot_access(p, *e.recent_bot(r.bot_id));  // cached: no extra read
        r.user_id = std::move(p.account_id);  // users chat as themselves; the owner admin as itself
        if (request->session_id) r.session_id = std::string(request->session_id);
        r.message.assign(request->message ? request->message : "", request->message_len);
        if (request->version >= 2 && request->on_text) {
            auto* on_text = request->on_text;
            void* user_data = request->user_data;
            r.on_text = [on_text, user_data](std::string_view piece) {
                return on_text(user_data, piece.data(), piece.size()) == 0;
            };
        }
        auto reply = std::make_unique<sb_reply>();
        reply->reply = e.chat(r);
        *out = reply.release();
    });
}

int sb_reply_get(const sb_reply* reply, sb_reply_info* out) {
    return guarded([&] {
        require(reply != nullptr && out != nullptr, "reply or out is NULL");
        const sb::ChatReply& r = reply->reply;
        out->session_id = r.session_id.c_str();
        out->text = r.text.c_str();
        out->answered = r.answered ? 1 : 0;
        out->escalated = r.escalated ? 1 : 0;
        out->escalation_reason = r.escalation_reason.c_str();
        out->responder = r.responder.c_str();
        out->confidence = r.confidence;
        out->latency_ms = r.latency_ms;
        out->suggestion_count = r.suggestions.size();
        out->faq_count = r.faqs.size();
    });
}

int sb_reply_suggestion(const sb_reply* reply, size_t i, const char** out) {
    return guarded([&] {
        require(reply != nullptr && out != nullptr, "reply or out is NULL");
        out_of_range(i, reply->reply.suggestions.size(), "suggestion");
        *out = reply->reply.suggestions[i].c_str();
    });
}

int sb_reply_faq_at(const sb_reply* reply, size_t i, sb_reply_faq* out) {
    return guarded([&] {
        require(reply != nullptr && out != nullptr, "reply or out is NULL");
        out_of_range(i, reply->reply.faqs.size(), "FAQ");
        const sb::UsedFaq& f = reply->reply.faqs[i];
        out->id = f.id.c_str();
        out->question = f.question.c_str();
        out->confidence = f.confidence;
    });
}

void sb_reply_free(sb_reply* reply) {
    delete reply;
}

int sb_reply_usage(const sb_reply* reply, int* fallback, int64_t* prompt_tokens,
                   int64_t* completion_tokens) {
    return guarded([&] {
        require(reply != nullptr, "reply is NULL");
        const sb::ChatReply& r = reply->reply;
        if (fallback) *fallback = r.fallback ? 1 : 0;
        if (prompt_tokens) *prompt_tokens = r.prompt_tokens;
        if (completion_tokens) *completion_tokens = r.completion_tokens;
    });
}

int sb_session_list(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                    sb_sessions** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        require(out != nullptr, "out is NULL");
        const sb::BotRecord bot = bot_of(e, text_arg(bot_id, "bot_id"));
        const bool all = sb::auth::is_agent_of(p, bot);  // the owner and its agents
        if (!all) sb::auth::require_bot_access(p, bot);
        auto list = std::make_unique<sb_sessions>();
        if (all)
            list->sessions = e.database().list_bot_sessions(bot.id);
        else
            list->sessions = e.sessions(bot.id, p.account_id);
        *out = list.release();
    });
}

int sb_list_options_init(sb_list_options* opts, unsigned int version) {
    return guarded([&] {
        require(opts != nullptr, "opts is NULL");
        check_version(version, SB_LIST_OPTIONS_VERSION, "sb_list_options");
        *opts = sb_list_options SB_LIST_OPTIONS_INIT;
    });
}

int sb_session_list_page(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                         const sb_list_options* opts, sb_sessions** out) {
    if (out) *out = nullptr;
    return guarded([&] { session_page(engine, principal, bot_id, opts, out); });
}

int sb_sessions_next_cursor(const sb_sessions* sessions, const char** out) {
    return guarded([&] {
        require(sessions != nullptr && out != nullptr, "sessions or out is NULL");
        *out = sessions->next_cursor ? sessions->next_cursor->c_str() : nullptr;
    });
}

int sb_sessions_first_message(const sb_sessions* sessions, size_t i, const char** out) {
    return guarded([&] {
        require(sessions != nullptr && out != nullptr, "sessions or out is NULL");
        out_of_range(i, sessions->sessions.size(), "session");
        *out = sessions->sessions[i].first_message.c_str();
    });
}

int sb_sessions_count(const sb_sessions* sessions, size_t* out) {
    return guarded([&] {
        require(sessions != nullptr && out != nullptr, "sessions or out is NULL");
        *out = sessions->sessions.size();
    });
}

int sb_sessions_at(const sb_sessions* sessions, size_t i, sb_session_info* out) {
    return guarded([&] {
        require(sessions != nullptr && out != nullptr, "sessions or out is NULL");
        out_of_range(i, sessions->sessions.size(), "session");
        const sb::SessionRecord& s = sessions->sessions[i];
        out->id = s.id.c_str();
        out->bot_id = s.bot_id.c_str();
        out->user_id = s.user_id.c_str();
        out->created_ms = s.created_ms;
        out->last_active_ms = s.last_active_ms;
        out->status = s.status == sb::SessionStatus::Open        ? SB_SESSION_OPEN
                      : s.status == sb::SessionStatus::Escalated ? SB_SESSION_ESCALATED
                      : s.status == sb::SessionStatus::Agent     ? SB_SESSION_AGENT
                                                                 : SB_SESSION_CLOSED;
        out->escalation_reason = s.escalation_reason.c_str();
        out->message_count = s.message_count;
    });
}

void sb_sessions_free(sb_sessions* sessions) {
    delete sessions;
}

int sb_session_close(sb_engine* engine, const sb_principal* principal, const char* session_id) {
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::SessionRecord s = accessible_session(e, p, session_id);
        if (p.account_id == s.user_id)
            e.close_session(s.bot_id, s.user_id, s.id);
        else
            e.close_session_as_agent(s.id, p.account_id);  // the owner or an agent
    });
}

int sb_session_history(sb_engine* engine, const sb_principal* principal, const char* session_id,
                       sb_messages** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        require(out != nullptr, "out is NULL");
        const sb::SessionRecord s = accessible_session(e, p, session_id);
        auto list = std::make_unique<sb_messages>();
        list->messages = e.history(s.bot_id, s.user_id, s.id);
        *out = list.release();
    });
}

int sb_messages_count(const sb_messages* messages, size_t* out) {
    return guarded([&] {
        require(messages != nullptr && out != nullptr, "messages or out is NULL");
        *out = messages->messages.size();
    });
}

int sb_messages_at(const sb_messages* messages, size_t i, sb_message_info* out) {
    return guarded([&] {
        require(messages != nullptr && out != nullptr, "messages or out is NULL");
        out_of_range(i, messages->messages.size(), "message");
        const sb::MessageRecord& m = messages->messages[i];
        out->id = m.id;
        out->role = m.role == sb::Role::User    ? SB_ROLE_USER
                    : m.role == sb::Role::Agent ? SB_ROLE_AGENT
                                                : SB_ROLE_ASSISTANT;
        out->text = m.text.c_str();
        out->created_ms = m.created_ms;
        out->faq_count = m.faq_ids.size();
        out->confidence = m.confidence;
        out->escalated = m.escalated ? 1 : 0;
        out->escalation_reason = m.escalation_reason.c_str();
        out->responder = m.responder.c_str();
        out->latency_ms = m.latency_ms;
        out->error = m.error ? 1 : 0;
    });
}

int sb_messages_faq_id(const sb_messages* messages, size_t i, size_t j, const char** out) {
    return guarded([&] {
        require(messages != nullptr && out != nullptr, "messages or out is NULL");
        out_of_range(i, messages->messages.size(), "message");
        out_of_range(j, messages->messages[i].faq_ids.size(), "FAQ");
        *out = messages->messages[i].faq_ids[j].c_str();
    });
}

int sb_messages_usage(const sb_messages* messages, size_t i, int* fallback, int64_t* prompt_tokens,
                      int64_t* completion_tokens) {
    return guarded([&] {
        require(messages != nullptr, "messages is NULL");
        out_of_range(i, messages->messages.size(), "message");
        const sb::MessageRecord& m = messages->messages[i];
        if (fallback) *fallback = m.fallback ? 1 : 0;
        if (prompt_tokens) *prompt_tokens = m.prompt_tokens;
        if (completion_tokens) *completion_tokens = m.completion_tokens;
    });
}

int sb_messages_agent_id(const sb_messages* messages, size_t i, const char** out) {
    return guarded([&] {
        require(messages != nullptr && out != nullptr, "messages or out is NULL");
        out_of_range(i, messages->messages.size(), "message");
        *out = messages->messages[i].agent_id.c_str();
    });
}

void sb_messages_free(sb_messages* messages) {
    delete messages;
}

int sb_session_history_page(sb_engine* engine, const sb_principal* principal,
                            const char* session_id, const sb_list_options* opts,
                            sb_messages** out) {
    if (out) *out = nullptr;
    return guarded([&] { history_page(engine, principal, session_id, opts, out); });
}

int sb_messages_next_cursor(const sb_messages* messages, const char** out) {
    return guarded([&] {
        require(messages != nullptr && out != nullptr, "messages or out is NULL");
        *out = messages->next_cursor ? messages->next_cursor->c_str() : nullptr;
    });
}

}  // extern "C"
