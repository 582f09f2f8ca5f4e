// The C ABI of session summaries and analytics. Like every call that acts for someone: verify
// the principal, look the thing up, check it is the principal's, and only then read the input.
#include <string>

#include "analytics/insights.hpp"
#include "auth/authz.hpp"
#include "capi/capi_internal.hpp"

namespace {

using namespace sb::capi;

void check_range(int64_t from_ms, int64_t to_ms) {
    if (from_ms > to_ms)
        throw sb::Error(SB_EINVAL, "from_ms (" + std::to_string(from_ms) + ") is after to_ms (" +
                                       std::to_string(to_ms) + ")");
}

// The bot, for its owner admin only.
sb::BotRecord owned_bot(sb_engine* engine, const sb_principal* principal, const char* bot_id) {
    sb::Engine& e = engine_of(engine);
    const sb::auth::Principal p = authenticated(engine, principal);
    const sb::BotRecord bot = e.get_bot(text_arg(bot_id, "bot_id"));
    sb::auth::require_admin_owner(p, bot);
    return bot;
}

// The shared body of the bot-wide JSON reports over [from_ms, to_ms): the owner's bot, then the
// output and the range checked, then *out_json = report(engine, bot id).
template <typename Report>
int owned_bot_report(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                     int64_t from_ms, int64_t to_ms, char** out_json, Report&& report) {
    if (out_json) *out_json = nullptr;
    return guarded([&] {
        const sb::BotRecord bot = owned_bot(engine, principal, bot_id);
        require(out_json != nullptr, "out_json is NULL");
        check_range(from_ms, to_ms);
        *out_json = copy_string(report(*engine->engine, bot.id));
    });
}

}  // namespace

extern "C" {

int sb_session_summarize(sb_engine* engine, const sb_principal* principal, const char* session_id,
                         char** out_json) {
    if (out_json) *out_json = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const sb::auth::Principal p = authenticated(engine, principal);
        require(out_json != nullptr, "out_json is NULL");
        const sb::SessionRecord s = accessible_session(e, p, session_id);
        *out_json =
            copy_string(sb::insights::summary_json(e.summarize_session(s.bot_id, s.user_id, s.id)));
    });
}

int sb_bot_summarize_sessions(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                              size_t* processed, size_t* skipped) {
    if (processed) *processed = 0;
    if (skipped) *skipped = 0;
    return guarded([&] {
        const sb::BotRecord bot = owned_bot(engine, principal, bot_id);
        const auto [done, up_to_date] = engine->engine->summarize_bot(bot.id);
        if (processed) *processed = done;
        if (skipped) *skipped = up_to_date;
    });
}

int sb_bot_summaries(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                     int64_t from_ms, int64_t to_ms, char** out_json) {
    return owned_bot_report(
        engine, principal, bot_id, from_ms, to_ms, out_json,
        [&](sb::Engine& e, const std::string& id) {
            return sb::insights::summaries_json(e.summaries(id, from_ms, to_ms));
        });
}

int sb_bot_analytics(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                     int64_t from_ms, int64_t to_ms, char** out_json) {
    return owned_bot_report(
        engine, principal, bot_id, from_ms, to_ms, out_json,
        [&](sb::Engine& e, const std::string& id) { return e.analytics(id, from_ms, to_ms); });
}

}  // extern "C"
