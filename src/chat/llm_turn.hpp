// Internal to src/chat: a turn as respond() builds it, and what a turn's LLM call produced (kept
// across the attempts of one turn).
#pragma once

#include <string>

#include "chat/engine.hpp"
#include "llm/prompt.hpp"

namespace sb {

struct Engine::Turn {
    ChatReply reply;
    SessionStatus status = SessionStatus::Open;
    std::string escalation_reason;
    int unanswered_streak = 0;
    std::vector<std::string> used_faq_ids;
    bool streamed = false;  // the reply's text went to ChatRequest::on_text already
};

struct Engine::LlmOutcome {
    bool called = false;     // the provider was asked
    bool ok = false;         // `answer` is usable
    bool cancelled = false;  // the host stopped the stream; `answer.reply` is what it received
    bool streamed = false;   // reply text went to the host's callback
    llm::ModelAnswer answer;
    llm::Usage usage;
    std::string failure;  // why the turn fell back, when it did
};

}  // namespace sb
