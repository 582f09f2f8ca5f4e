// Session summaries and bot analytics, computed from stored conversations.
//
// Summaries: an offline extractive summariser (deterministic: the same messages give the same
// summary) and an LLM summariser that asks the client for the same fields as JSON, validates the
// reply, and falls back to the offline summary when the client fails or the JSON is bad.
//
// Analytics: figures computed from the data (never asked of the LLM), as one JSON document; with
// an LLM client, a narrative written from those figures is added. The keys are listed in
// README.md ("Summaries and analytics").
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "faq/faq.hpp"
#include "llm/llm.hpp"
#include "retrieval/text.hpp"
#include "store/store.hpp"

namespace sb::insights {

// ---- Shared ----------------------------------------------------------------------------------
// The cosine similarity of two sets of stems (shared members / sqrt(|a| * |b|)); 0 when either is
// empty. Used for a summary's main issue and for grouping unanswered questions.
double set_cosine(const std::set<std::string>& a, const std::set<std::string>& b);

// ---- Sentiment -----------------------------------------------------------------------------
// A small lexicon scorer: +1 for each positive word, -1 for each negative one, with the polarity
// flipped when one of the three words before it is a negation ("not happy" is negative, "not
// bad" positive). The sum over the texts decides: > 0 positive, < 0 negative, else neutral.
int sentiment_score(std::string_view text);
const char* sentiment_label(int score) noexcept;  // "positive", "neutral" or "negative"
std::string sentiment_of(const std::vector<MessageRecord>& messages);  // over user messages

// ---- Summaries -----------------------------------------------------------------------------
// The FAQ entries of a bot by id, to name what the bot answered with.
using FaqLookup = std::map<std::string, const FaqEntry*, std::less<>>;
FaqLookup faq_lookup(const std::vector<FaqEntry>& entries);

// Replies by what they did. A clarification ("Did you mean ...?", responder "clarification")
// keeps its candidates in faq_ids but answered nothing (it counts as unanswered: the question
// needed one); small talk (responder "smalltalk") is neither an answer nor unanswered.
bool answered_reply(const MessageRecord& m) noexcept;
bool unanswered_reply(const MessageRecord& m) noexcept;  // not errors or requests for a person
bool clarification_reply(const MessageRecord& m) noexcept;
bool smalltalk_reply(const MessageRecord& m) noexcept;

// The resolution rule shared by summaries and analytics: a session is resolved when at least one
// reply answered from an FAQ, no reply escalated or failed, and the last reply that was not
// small talk answered (the conversation does not end in unanswered turns; "thanks, bye" after
// an answer keeps it resolved).
bool is_resolved(const std::vector<MessageRecord>& messages);

// The offline extractive summary of a session's messages (oldest first). Deterministic. Fills
// every field but session_id, bot_id and the times; source "offline".
//  - main_issue: among the user's substantive messages (two or more content words and not a
//    request for a person), the one most similar to the others (cosine over stem sets; ties to
//    the earliest); the first user message when none is substantive. At most 300 bytes.
//  - summary: the issue, the FAQ questions the bot answered with, how many questions went
//    unanswered, the escalation (with its reason), and the outcome.
//  - topics: the categories of the FAQs used (their questions when uncategorised), then up to
//    three salient words of the user's messages (most frequent content stems); at most 6.
SessionSummary summarize_offline(const std::vector<MessageRecord>& messages, const FaqLookup& faqs,
                                 const Stemmer& stemmer);

// The LLM summary: the transcript (delimited, the most recent messages up to a byte budget) and
// a JSON schema of the fields. When the client throws or its JSON is invalid, the offline
// summary with `fallback` set to "provider_error" or "invalid_json". client may be nullptr
// (offline).
SessionSummary summarize(llm::Client* client, const std::vector<MessageRecord>& messages,
                         const FaqLookup& faqs, const Stemmer& stemmer);

// Parses and validates a model's summary JSON (code fences around it are tolerated) into out's
// summary, main_issue, resolved, sentiment and topics. SB_EPARSE with the reason when invalid.
void parse_llm_summary(std::string_view text, SessionSummary& out);

// The summary as a JSON object (keys: session_id, bot_id, summary, main_issue, resolved,
// sentiment, topics, source, fallback, last_message_id, created_ms, updated_ms).
std::string summary_json(const SessionSummary& s);
std::string summaries_json(const std::vector<SessionSummary>& list);

// ---- Analytics -----------------------------------------------------------------------------
// Unanswered questions grouped by similarity (the knowledge gaps).
struct QuestionGroup {
    std::size_t count = 0;
    std::string representative;         // the member most similar to the others
    std::vector<std::string> examples;  // up to 3 distinct members, first asked first
};
// Greedy clustering: each question (in order) joins the group whose first member's stem set is
// most similar to its own (cosine over sets of content stems) when that similarity is at least
// kGapSimilarity, else starts a group. Biggest groups first (ties: earliest first).
constexpr double kGapSimilarity = 0.4;
std::vector<QuestionGroup> group_questions(const std::vector<std::string>& questions,
                                           const Stemmer& stemmer);

struct AnalyticsInput {
    std::string bot_id;
    std::int64_t from_ms = 0;
    std::int64_t to_ms = 0;
    BotActivity activity;                   // SQL aggregates
    std::vector<MessageRecord> messages;    // by session, then id (Store::bot_messages)
    std::vector<SessionSummary> summaries;  // stored summaries of the range's sessions
};

// The analytics document. With a client, the narrative is asked for from the figures; on failure
// "narrative" is null and "narrative_error" says why.
std::string analytics_json(const AnalyticsInput& input, const FaqLookup& faqs,
                           const Stemmer& stemmer, llm::Client* client);

}  // namespace sb::insights
