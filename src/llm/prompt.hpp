// The prompt of a chat turn for an LLM provider, and the checks on what the model returns.
//
// The model is asked for JSON: {"reply": string, "suggestions": [2-4 strings], "escalate": bool}.
// Its answer is parsed and validated here and never trusted: anything malformed is reported so
// that the turn falls back to the offline responder. When the reply is streamed, ReplyStream
// pulls the "reply" string out of the JSON as it arrives, so a host sees only the reply's text.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llm/llm.hpp"

namespace sb::llm {

constexpr std::size_t kMaxReplyBytes = 4000;       // a longer reply is cut (at a character)
constexpr std::size_t kMaxSuggestionBytes = 200;   // a longer suggestion is dropped
constexpr std::size_t kMaxSuggestions = 4;         // more are cut
constexpr std::size_t kMinSuggestions = 2;         // fewer are filled by the caller
constexpr std::size_t kMaxFaqFieldBytes = 4000;    // of a question or answer in the prompt
constexpr std::size_t kHistoryTokenBudget = 1500;  // default budget of the recent history

struct PromptFaq {
    std::string id;
    std::string question;
    std::string answer;
};

struct PromptInput {
    std::string bot_name;
    std::vector<PromptFaq> faqs;   // the top FAQ entries, best first
    std::vector<Message> history;  // earlier turns, oldest first (not the current message)
    std::string message;           // the customer's message
    std::size_t history_token_budget = kHistoryTokenBudget;
};

// Estimated tokens of a text: about four bytes a token.
std::size_t estimate_tokens(std::string_view text) noexcept;

// The system instruction, the FAQ context and the message (delimited and escaped, so that text
// inside them cannot close the delimiters), the newest history within its token budget, and the
// reply schema. Roles alternate: consecutive messages of one role (the history's last customer
// message and the current one included) are merged into one, separated by a blank line.
Request build_request(const PromptInput& input);

// The JSON schema of the model's answer, in the OpenAPI subset Gemini's responseSchema takes
// (upper-case type names, propertyOrdering).
const std::string& reply_schema();
// The same schema as standard JSON Schema (lower-case types, no propertyOrdering), for
// OpenAI-compatible servers. Throws sb::Error(SB_EPARSE) when `schema` is not JSON.
std::string to_json_schema(std::string_view schema);

// Escapes &, <, > and " so that text cannot open or close a delimiter.
std::string escape_delimited(std::string_view text);

// The longest prefix of a UTF-8 string of at most max_bytes that ends at a character boundary.
std::string_view cut_utf8(std::string_view text, std::size_t max_bytes) noexcept;

struct ModelAnswer {
    std::string reply;
    std::vector<std::string> suggestions;  // 0 to kMaxSuggestions
    bool escalate = false;
};

// The model's answer, validated: JSON (a ```json fence around it is tolerated) holding an object
// with a non-empty string "reply", an array of strings "suggestions" and a boolean "escalate".
// The reply loses control characters other than newline and tab and is cut to kMaxReplyBytes;
// empty or over-long suggestions are dropped and the rest cut to kMaxSuggestions. nullopt (and
// the reason in *why) when the answer is malformed.
std::optional<ModelAnswer> parse_model_answer(std::string_view text, std::string* why = nullptr);

// Extracts the top-level "reply" string of a JSON object fed in pieces, decoding its escapes
// (\uXXXX and surrogate pairs included), and hands on the decoded text in pieces that end at
// character boundaries, cleaned and cut exactly as parse_model_answer does: the pieces
// concatenate to the reply parse_model_answer returns for the whole text.
class ReplyStream {
  public:
    explicit ReplyStream(std::function<void(std::string_view)> on_text)
        : on_text_(std::move(on_text)) {}
    void feed(std::string_view json);
    const std::string& text() const noexcept { return emitted_; }  // everything handed on

  private:
    void decode(char c);
    void push_code_point(unsigned long cp);
    void push_byte(char c);
    void flush();

    std::function<void(std::string_view)> on_text_;
    std::string emitted_;
    std::string pending_;  // decoded bytes not yet handed on (an incomplete character)
    int depth_ = 0;
    bool in_string_ = false, escape_ = false;
    bool expecting_key_ = false, in_key_ = false, after_colon_ = false;
    std::string key_, last_key_;
    bool decoding_ = false, done_ = false, capped_ = false;
    enum class Esc { None, Backslash, Hex, AfterHigh, AfterHighBackslash } esc_ = Esc::None;
    std::string hex_;
    unsigned long high_ = 0;
};

}  // namespace sb::llm
