// The C ABI of session summaries and analytics.
#include <cstdlib>
#include <cstring>
#include <string>

#include "analytics/insights.hpp"
#include "capi/capi_internal.hpp"

namespace {

using namespace sb::capi;

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

void check_range(int64_t from_ms, int64_t to_ms) {
    if (from_ms > to_ms)
        throw sb::Error(SB_EINVAL, "from_ms (" + std::to_string(from_ms) + ") is after to_ms (" +
                                       std::to_string(to_ms) + ")");
}

}  // namespace

extern "C" {

int sb_session_summarize(sb_engine* engine, const char* bot_id, const char* user_id,
                         const char* session_id, char** out_json) {
    if (out_json) *out_json = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        require(out_json != nullptr, "out_json is NULL");
        const sb::SessionSummary s =
            e.summarize_session(text_arg(bot_id, "bot_id"), text_arg(user_id, "user_id"),
                                text_arg(session_id, "session_id"));
        *out_json = copy_string(sb::insights::summary_json(s));
    });
}

int sb_bot_summarize_sessions(sb_engine* engine, const char* bot_id, size_t* processed,
                              size_t* skipped) {
    if (processed) *processed = 0;
    if (skipped) *skipped = 0;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        const auto [done, up_to_date] = e.summarize_bot(text_arg(bot_id, "bot_id"));
        if (processed) *processed = done;
        if (skipped) *skipped = up_to_date;
    });
}

int sb_bot_summaries(sb_engine* engine, const char* bot_id, int64_t from_ms, int64_t to_ms,
                     char** out_json) {
    if (out_json) *out_json = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        require(out_json != nullptr, "out_json is NULL");
        check_range(from_ms, to_ms);
        *out_json = copy_string(
            sb::insights::summaries_json(e.summaries(text_arg(bot_id, "bot_id"), from_ms, to_ms)));
    });
}

int sb_bot_analytics(sb_engine* engine, const char* bot_id, int64_t from_ms, int64_t to_ms,
                     char** out_json) {
    if (out_json) *out_json = nullptr;
    return guarded([&] {
        sb::Engine& e = engine_of(engine);
        require(out_json != nullptr, "out_json is NULL");
        check_range(from_ms, to_ms);
        *out_json = copy_string(e.analytics(text_arg(bot_id, "bot_id"), from_ms, to_ms));
    });
}

}  // extern "C"
