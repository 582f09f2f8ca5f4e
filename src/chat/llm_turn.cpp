// The LLM step of a chat turn: the prompt from the top FAQs and the history, the provider's call
// (streamed to the host when it asked), the checks on the answer, and the fallback.
#include <algorithm>

#include "chat/llm_turn.hpp"
#include "common/error.hpp"

namespace sb {

namespace {

constexpr std::size_t kPromptFaqs = 3;  // FAQ entries given to the model

}  // namespace

void Engine::write_with_llm(const BotRecord& bot, const FaqIndex& index,
                            const std::vector<SearchHit>& hits,
                            const std::vector<MessageRecord>& history, const std::string& message,
                            const ChatRequest& request, Turn& turn, LlmOutcome& memo) {
    if (!memo.called) {
        memo.called = true;
        llm::PromptInput in;
        in.bot_name = bot.name;
        const auto& entries = index.entries();
        for (std::size_t i = 0; i < hits.size() && i < kPromptFaqs; ++i) {
            const FaqEntry& f = entries[hits[i].index];
            in.faqs.push_back({f.id, f.question, f.answer});
        }
        for (const MessageRecord& m : history) {
            if (m.error) {
                // An error reply is not part of the conversation, nor is the message it failed
                // to answer (kept, it would make two customer turns in a row).
                if (m.role != Role::User && !in.history.empty() &&
                    in.history.back().role == llm::Message::Role::User)
                    in.history.pop_back();
                continue;
            }
            in.history.push_back(
                {m.role == Role::User ? llm::Message::Role::User : llm::Message::Role::Assistant,
                 m.text});
        }
        in.message = message;
        llm::Request req = llm::build_request(in);

        // Streaming: the host sees only the reply's text, decoded from the JSON as it arrives.
        bool stop = false;
        llm::ReplyStream stream([&](std::string_view piece) {
            if (stop) return;
            try {
                if (!request.on_text(piece)) stop = true;
            } catch (...) {
                stop = true;  // a failing callback stops the stream like a refusal
            }
        });
        if (request.on_text) {
            req.on_text = [&](std::string_view raw) { stream.feed(raw); };
            req.stop_requested = [&] { return stop; };
        }
        try {
            llm::Response r = llm_->generate(req);
            memo.usage = r.usage;
            if (r.finish_reason == "cancelled") {
                memo.cancelled = true;
                if (!stream.text().empty()) {
                    memo.ok = true;
                    memo.answer.reply = stream.text();
                } else {
                    memo.failure = "the host stopped the stream before any text arrived";
                }
            } else {
                std::string why;
                if (auto answer = llm::parse_model_answer(r.text, &why)) {
                    memo.ok = true;
                    memo.answer = std::move(*answer);
                } else {
                    memo.failure = "the model's answer is malformed: " + why;
                }
            }
        } catch (const std::exception& e) {
            // SB_EPROVIDER after the client's retries, or anything unexpected: the user still
            // gets the offline reply.
            memo.failure = e.what();
        }
        memo.streamed = !stream.text().empty();
    }

    turn.reply.prompt_tokens = memo.usage.prompt_tokens;
    turn.reply.completion_tokens = memo.usage.completion_tokens;
    turn.streamed = turn.streamed || memo.streamed;
    if (!memo.ok) {
        turn.reply.fallback = true;  // the offline turn stands
        return;
    }
    turn.reply.text = memo.answer.reply;
    turn.reply.responder = llm_->name();
    // The model's suggestions, filled up to the minimum with the offline ones.
    std::vector<std::string> suggestions = memo.answer.suggestions;
    for (const std::string& s : turn.reply.suggestions) {
        if (suggestions.size() >= llm::kMinSuggestions) break;
        if (std::find(suggestions.begin(), suggestions.end(), s) == suggestions.end())
            suggestions.push_back(s);
    }
    turn.reply.suggestions = std::move(suggestions);
    if (memo.answer.escalate) {
        turn.reply.escalated = true;
        turn.reply.escalation_reason = "model_requested";
        turn.status = SessionStatus::Escalated;
        turn.escalation_reason = "model_requested";
    }
}

}  // namespace sb
