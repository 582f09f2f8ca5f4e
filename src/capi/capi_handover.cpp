// The C ABI of the hand-over to human agents: agent accounts, the escalation queue, claims,
// agent replies and hand-backs. Each call verifies the principal, looks the bot or session up,
// then checks that the principal is its owner or one of its agents (auth::require_agent_access).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/authz.hpp"
#include "capi/capi_internal.hpp"
#include "chat/cursor.hpp"
#include "common/json.hpp"

struct sb_escalations {
    std::vector<sb::SessionRecord> sessions;
    std::int64_t read_ms = 0;  // when the list was read: wait times are counted to it
    std::optional<std::string> next_cursor;
};

namespace {

using namespace sb::capi;

sb::BotRecord owned_bot(sb_engine* engine, const sb::auth::Principal& p, const char* bot_id) {
    sb::BotRecord bot = engine_of(engine).get_bot(text_arg(bot_id, "bot_id"));
    sb::auth::require_admin_owner(p, bot);
    return bot;
}

// The session, for the owner or an agent of its bot.
sb::SessionRecord agent_session(sb_engine* engine, const sb::auth::Principal& p,
                                const char* session_id) {
    sb::Engine& e = engine_of(engine);
    const std::string id = text_arg(session_id, "session_id");
    if (id.empty() || id.size() > 128)
        throw sb::Error(SB_EINVAL, "session_id is empty or too long");
    auto s = e.database().get_session(id);
    if (!s) throw sb::Error(SB_ENOTFOUND, "no such session");
    auto bot = e.database().get_bot(s->bot_id);
    if (!bot) throw sb::Error(SB_ENOTFOUND, "no such session");
    sb::auth::require_agent_access(p, *bot);
    return *s;
}

}  // namespace

extern "C" {

int sb_agent_add(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                 const char* email, const char* password, char** out_account_id) {
    if (out_account_id) *out_account_id = nullptr;
    return guarded([&] {
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::BotRecord bot = owned_bot(engine, p, bot_id);
        const std::string id = engine->accounts->register_agent(bot.id, text_arg(email, "email"),
                                                                text_arg(password, "password"));
        if (out_account_id) *out_account_id = copy_string(id);
    });
}

int sb_agent_remove(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                    const char* account_id) {
    return guarded([&] {
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::BotRecord bot = owned_bot(engine, p, bot_id);
        const std::string id = text_arg(account_id, "account_id");
        const auto a = engine_of(engine).database().get_account(id);
        if (!a || a->role != "agent" || a->bot_id != bot.id)
            throw sb::Error(SB_ENOTFOUND, "no such agent of this bot");
        engine->accounts->delete_account(p, id);
    });
}

int sb_agent_list(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                  char** out_json) {
    if (out_json) *out_json = nullptr;
    return guarded([&] {
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::BotRecord bot = owned_bot(engine, p, bot_id);
        require(out_json != nullptr, "out_json is NULL");
        std::string json = "[";
        for (const sb::AccountRecord& a :
             engine_of(engine).database().list_accounts("agent", bot.id)) {
            if (json.size() > 1) json += ',';
            json += "{\"account_id\":";
            sb::json_append_string(json, a.id);
            json += ",\"email\":";
            sb::json_append_string(json, a.email);
            json += ",\"created_ms\":" + std::to_string(a.created_ms) + "}";
        }
        json += ']';
        *out_json = copy_string(json);
    });
}

int sb_agent_login(sb_engine* engine, const char* bot_id, const char* email, const char* password,
                   char** out_token) {
    if (out_token) *out_token = nullptr;
    return guarded([&] {
        require(engine != nullptr, "engine is NULL");
        require(out_token != nullptr, "out_token is NULL");
        *out_token = copy_string(engine->accounts->login_agent(
            text_arg(bot_id, "bot_id"), text_arg(email, "email"), text_arg(password, "password")));
    });
}

int sb_escalation_queue(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                        const sb_list_options* opts, sb_escalations** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        require(out != nullptr, "out is NULL");
        const sb::BotRecord bot = e.get_bot(text_arg(bot_id, "bot_id"));
        sb::auth::require_agent_access(p, bot);
        std::size_t limit = 0;
        std::optional<sb::QueueKey> after;
        if (opts) {
            check_version(opts->version, SB_LIST_OPTIONS_VERSION, "sb_list_options");
            limit = opts->limit;
            if (opts->cursor && *opts->cursor) after = sb::parse_queue_cursor(opts->cursor, bot.id);
        }
        auto list = std::make_unique<sb_escalations>();
        list->sessions =
            e.escalation_queue(bot.id, after, limit == 0 || limit == SIZE_MAX ? 0 : limit + 1);
        list->read_ms = sb::now_ms();
        if (limit != 0 && list->sessions.size() > limit) {
            list->sessions.resize(limit);
            const sb::SessionRecord& last = list->sessions.back();
            list->next_cursor = sb::queue_cursor(bot.id, {last.escalated_ms, last.id});
        }
        *out = list.release();
    });
}

int sb_escalations_count(const sb_escalations* list, size_t* out) {
    return guarded([&] {
        require(list != nullptr && out != nullptr, "list or out is NULL");
        *out = list->sessions.size();
    });
}

int sb_escalations_at(const sb_escalations* list, size_t i, sb_escalation_info* out) {
    return guarded([&] {
        require(list != nullptr && out != nullptr, "list or out is NULL");
        if (i >= list->sessions.size())
            throw sb::Error(SB_ERANGE, "escalation index " + std::to_string(i) +
                                           " is out of range (" +
                                           std::to_string(list->sessions.size()) + ")");
        const sb::SessionRecord& s = list->sessions[i];
        out->session_id = s.id.c_str();
        out->user_id = s.user_id.c_str();
        out->reason = s.escalation_reason.c_str();
        out->escalated_ms = s.escalated_ms;
        out->wait_ms = list->read_ms > s.escalated_ms ? list->read_ms - s.escalated_ms : 0;
        out->last_message = s.last_message.c_str();
        out->message_count = s.message_count;
    });
}

int sb_escalations_next_cursor(const sb_escalations* list, const char** out) {
    return guarded([&] {
        require(list != nullptr && out != nullptr, "list or out is NULL");
        *out = list->next_cursor ? list->next_cursor->c_str() : nullptr;
    });
}

void sb_escalations_free(sb_escalations* list) {
    delete list;
}

int sb_session_claim(sb_engine* engine, const sb_principal* principal, const char* session_id) {
    return guarded([&] {
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::SessionRecord s = agent_session(engine, p, session_id);
        engine_of(engine).claim_session(s.id, p.account_id);
    });
}

int sb_session_agent_reply(sb_engine* engine, const sb_principal* principal, const char* session_id,
                           const char* message, size_t len) {
    return guarded([&] {
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::SessionRecord s = agent_session(engine, p, session_id);
        require(message != nullptr || len == 0, "message is NULL");
        engine_of(engine).post_agent_message(s.id, p.account_id,
                                             std::string(message ? message : "", len));
    });
}

int sb_session_release(sb_engine* engine, const sb_principal* principal, const char* session_id) {
    return guarded([&] {
        const sb::auth::Principal p = authenticated(engine, principal);
        const sb::SessionRecord s = agent_session(engine, p, session_id);
        engine_of(engine).release_session(s.id, p.account_id);
    });
}

}  // extern "C"
