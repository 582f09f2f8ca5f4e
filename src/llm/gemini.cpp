// Google Gemini: POST {base}/v1beta/models/{model}:generateContent (or
// :streamGenerateContent?alt=sse), the API key in the x-goog-api-key header.
#include <algorithm>
#include <utility>

#include "common/error.hpp"
#include "common/json.hpp"
#include "llm/provider.hpp"

namespace sb::llm {

namespace {

constexpr const char* kDefaultBase = "https://generativelanguage.googleapis.com";
constexpr const char* kDefaultModel = "gemini-2.0-flash";
constexpr ReplyWords kWords{"Gemini", "Gemini"};

bool finish_ok(std::string_view reason) {
    return reason.empty() || reason == "STOP" || reason == "MAX_TOKENS" ||
           reason == "FINISH_REASON_UNSPECIFIED";
}

// Folds one GenerateContentResponse (the whole reply, or a streamed chunk) into out; returns the
// new text. Throws SB_EPROVIDER for an error object or a blocked prompt.
std::string absorb(simdjson::dom::element doc, Response& out) {
    simdjson::dom::element error;
    if (!doc["error"].get(error)) {
        std::string_view message;
        if (error["message"].get_string().get(message)) message = "(no message)";
        throw Error(SB_EPROVIDER, "Gemini error: " + std::string(message.substr(0, 500)));
    }
    std::string_view block;
    if (!doc["promptFeedback"]["blockReason"].get_string().get(block))
        throw Error(SB_EPROVIDER, "Gemini blocked the prompt (" + std::string(block) + ")");
    std::string text;
    simdjson::dom::array candidates;
    if (!doc["candidates"].get_array().get(candidates) && candidates.size() > 0) {
        simdjson::dom::element c = candidates.at(0);
        simdjson::dom::array parts;
        if (!c["content"]["parts"].get_array().get(parts))
            for (auto part : parts) {
                bool thought = false;
                if (!part["thought"].get_bool().get(thought) && thought) continue;
                std::string_view t;
                if (!part["text"].get_string().get(t)) text += t;
            }
        std::string_view reason;
        if (!c["finishReason"].get_string().get(reason)) out.finish_reason = std::string(reason);
    }
    simdjson::dom::element usage;
    if (!doc["usageMetadata"].get(usage)) {
        std::int64_t n = 0;
        if (!usage["promptTokenCount"].get_int64().get(n)) out.usage.prompt_tokens = n;
        std::int64_t completion = 0;
        if (!usage["candidatesTokenCount"].get_int64().get(n)) completion += n;
        if (!usage["thoughtsTokenCount"].get_int64().get(n)) completion += n;
        if (completion) out.usage.completion_tokens = completion;
    }
    std::string_view model;
    if (!doc["modelVersion"].get_string().get(model)) out.model = std::string(model);
    out.text += text;
    return text;
}

void check_finished(const Response& r, bool saw_candidates) {
    if (!finish_ok(r.finish_reason))
        throw Error(SB_EPROVIDER,
                    "Gemini stopped the reply (finishReason " + r.finish_reason + ")");
    if (!saw_candidates) throw Error(SB_EPROVIDER, "Gemini returned no candidates");
    if (r.text.empty()) throw Error(SB_EPROVIDER, "Gemini returned an empty reply");
}

class GeminiClient final : public Client {
  public:
    explicit GeminiClient(const ProviderOptions& o) : options_(o), http_(retry_policy(o)) {
        base_ = trim_base_url(o.base_url.empty() ? kDefaultBase : o.base_url);
        model_ = o.model.empty() ? kDefaultModel : o.model;
        if (model_.rfind("models/", 0) == 0) model_.erase(0, 7);
        for (char c : model_)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
                throw Error(SB_EINVAL, "the Gemini model name \"" + model_ +
                                           "\" may hold only letters, digits, '-', '.' and '_'");
        if (o.api_key.empty())
            throw Error(SB_EINVAL, "the Gemini provider needs an API key (GEMINI_API_KEY)");
    }

    const char* name() const noexcept override { return "gemini"; }

    Response generate(const Request& request) override {
        const bool stream = static_cast<bool>(request.on_text);
        HttpRequest h;
        h.url = base_ + "/v1beta/models/" + model_ +
                (stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
        h.headers.push_back("x-goog-api-key: " + options_.api_key);
        h.secrets.push_back(options_.api_key);
        h.body = body(request);

        Response out;
        bool saw_candidates = false;
        const auto absorb_doc = [&](simdjson::dom::element doc) {
            std::string piece = absorb(doc, out);
            simdjson::dom::array c;
            if (!doc["candidates"].get_array().get(c) && c.size() > 0) saw_candidates = true;
            return piece;
        };
        if (!stream) {
            post_for_reply(http_, h, kWords, out, absorb_doc);
        } else if (!post_for_stream(http_, std::move(h), request, kWords, out, nullptr,
                                    absorb_doc)) {
            return out;  // cancelled
        }
        // A stream that closes cleanly before any finishReason was cut short, not finished.
        if (stream && out.finish_reason.empty())
            throw Error(SB_EPROVIDER, "Gemini's stream ended early (no finishReason)");
        check_finished(out, saw_candidates);
        return out;
    }

  private:
    std::string body(const Request& request) const {
        std::string b = "{\"systemInstruction\":{\"parts\":[{\"text\":";
        json_append_string(b, request.system);
        b += "}]},\"contents\":[";
        bool first = true;
        for (const Message& m : request.messages) {
            if (!first) b += ',';
            first = false;
            b += m.role == Message::Role::User ? "{\"role\":\"user\"" : "{\"role\":\"model\"";
            b += ",\"parts\":[{\"text\":";
            json_append_string(b, m.text);
            b += "}]}";
        }
        b += "],\"generationConfig\":{\"temperature\":" + json_number(options_.temperature) +
             ",\"maxOutputTokens\":" + std::to_string(options_.max_output_tokens);
        if (!request.json_schema.empty()) {
            // Checked and minified: a bad schema must not corrupt the body.
            simdjson::dom::parser parser;
            simdjson::dom::element schema;
            if (parser.parse(simdjson::padded_string(request.json_schema)).get(schema))
                throw Error(SB_EINVAL, "the request's JSON schema is not valid JSON");
            b += ",\"responseMimeType\":\"application/json\",\"responseSchema\":" +
                 simdjson::minify(schema);
        }
        b += "}}";
        return b;
    }

    ProviderOptions options_;
    std::string base_, model_;
    HttpClient http_;
};

}  // namespace

std::unique_ptr<Client> make_gemini(const ProviderOptions& options) {
    return std::make_unique<GeminiClient>(options);
}

}  // namespace sb::llm
