// The engine's session summaries and analytics (see src/analytics/insights.hpp).
#include "analytics/insights.hpp"
#include "chat/engine.hpp"
#include "common/error.hpp"

namespace sb {

namespace {

constexpr std::size_t kMaxIdBytes = 256;

void check_id(const std::string& value, const char* what) {
    check_text(value, what, kMaxIdBytes, false);
}

void check_range(std::int64_t from_ms, std::int64_t to_ms) {
    if (from_ms > to_ms)
        throw Error(SB_EINVAL, "the time range is reversed: from_ms " + std::to_string(from_ms) +
                                   " is after to_ms " + std::to_string(to_ms));
}

}  // namespace

// Stores a summary just made of a session and returns it as stored.
static SessionSummary store_summary(Store& store, const BotRecord& bot,
                                    const std::string& session_id, SessionSummary s) {
    s.session_id = session_id;
    s.bot_id = bot.id;
    s.created_ms = s.updated_ms = now_ms();
    store.save_summary(s);
    // As stored: created_ms of the first summary is kept, and a newer summary written meanwhile
    // by another engine wins.
    if (auto stored = store.get_summary(session_id)) return *stored;
    return s;
}

SessionSummary Engine::summarize_session(const std::string& bot_id, const std::string& user_id,
                                         const std::string& session_id) {
    return summarize_session(bot_id, user_id, session_id, llm_client());
}

SessionSummary Engine::summarize_session(const std::string& bot_id, const std::string& user_id,
                                         const std::string& session_id, llm::Client* client) {
    check_id(bot_id, "bot id");
    check_id(user_id, "user id");
    check_id(session_id, "session id");
    const BotRecord bot = get_bot(bot_id);
    owned_session(bot_id, user_id, session_id);
    const std::vector<MessageRecord> messages = store().history(session_id, 0);
    if (messages.empty()) throw Error(SB_ENOTFOUND, "the session has no messages to summarise");
    // A summary that fell back is redone when there is a client to try again with.
    if (auto stored = store().get_summary(session_id);
        stored && !summary_due(messages.back().id, stored->last_message_id, stored->fallback,
                               client != nullptr))
        return *stored;
    const Stemmer stemmer(options_.language);
    const auto index = index_for(bot);
    return store_summary(
        store(), bot, session_id,
        insights::summarize(client, messages, insights::faq_lookup(index->entries()), stemmer));
}

std::pair<std::size_t, std::size_t> Engine::summarize_bot(const std::string& bot_id) {
    return summarize_bot(bot_id, llm_client());
}

std::pair<std::size_t, std::size_t> Engine::summarize_bot(const std::string& bot_id,
                                                          llm::Client* client) {
    check_id(bot_id, "bot id");
    const BotRecord bot = get_bot(bot_id);
    const SummaryBacklog backlog = store().summary_backlog(bot_id, client != nullptr);
    if (backlog.due.empty()) return {0, backlog.up_to_date};
    const auto index = index_for(bot);
    const insights::FaqLookup faqs = insights::faq_lookup(index->entries());
    const Stemmer stemmer(options_.language);
    std::size_t processed = 0;
    // Once the provider has failed (after the client's own retries), the rest of the run does not
    // ask it again: each call could cost max_attempts x timeout, for every due session.
    bool provider_down = false;
    for (const SummaryBacklog::Due& due : backlog.due) {
        const std::vector<MessageRecord> messages = store().history(due.session_id, 0);
        if (messages.empty()) continue;
        SessionSummary s =
            insights::summarize(provider_down ? nullptr : client, messages, faqs, stemmer);
        if (provider_down) {
            s.fallback = "provider_error";  // not asked: stays due for the next run
        } else if (s.fallback == "provider_error") {
            provider_down = true;
        }
        store_summary(store(), bot, due.session_id, std::move(s));
        ++processed;
    }
    return {processed, backlog.up_to_date};
}

std::vector<SessionSummary> Engine::summaries(const std::string& bot_id, std::int64_t from_ms,
                                              std::int64_t to_ms) {
    check_id(bot_id, "bot id");
    check_range(from_ms, to_ms);
    get_bot(bot_id);
    return store().list_summaries(bot_id, from_ms, to_ms);
}

std::string Engine::analytics(const std::string& bot_id, std::int64_t from_ms, std::int64_t to_ms) {
    return analytics(bot_id, from_ms, to_ms, llm_client());
}

std::string Engine::analytics(const std::string& bot_id, std::int64_t from_ms, std::int64_t to_ms,
                              llm::Client* client) {
    check_id(bot_id, "bot id");
    check_range(from_ms, to_ms);
    const BotRecord bot = get_bot(bot_id);
    insights::AnalyticsInput in;
    in.bot_id = bot_id;
    in.from_ms = from_ms;
    in.to_ms = to_ms;
    // The scan first, then the aggregates: rows are only ever added, so counts taken from the
    // scan (deflected sessions, unanswered replies) never exceed the aggregates' denominators
    // when turns are recorded meanwhile.
    in.summaries = store().list_summaries(bot_id, from_ms, to_ms);
    in.messages = store().bot_messages(bot_id, from_ms, to_ms);
    in.activity = store().bot_activity(bot_id, from_ms, to_ms);
    const auto index = index_for(bot);
    const Stemmer stemmer(options_.language);
    return insights::analytics_json(in, insights::faq_lookup(index->entries()), stemmer, client);
}

}  // namespace sb
