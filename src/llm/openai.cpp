// OpenAI-compatible servers (Ollama, llama.cpp's server, vLLM, OpenAI itself):
// POST {base}/v1/chat/completions, "Authorization: Bearer <key>" when a key is set.
#include <utility>

#include "common/error.hpp"
#include "common/json.hpp"
#include "llm/prompt.hpp"
#include "llm/provider.hpp"

namespace sb::llm {

namespace {

constexpr const char* kDefaultBase = "http://localhost:11434";  // Ollama
constexpr const char* kDefaultModel = "llama3.2";
constexpr ReplyWords kWords{"the LLM server", "LLM"};

// Folds one chat.completion (or streamed chat.completion.chunk) into out; returns the new text.
std::string absorb(simdjson::dom::element doc, Response& out, bool stream, bool& saw_choice) {
    simdjson::dom::element error;
    if (!doc["error"].get(error)) {
        std::string_view message;
        if (error["message"].get_string().get(message) && error.get_string().get(message))
            message = "(no message)";
        throw Error(SB_EPROVIDER, "the LLM server failed: " + std::string(message.substr(0, 500)));
    }
    std::string text;
    simdjson::dom::array choices;
    if (!doc["choices"].get_array().get(choices) && choices.size() > 0) {
        saw_choice = true;
        simdjson::dom::element c = choices.at(0);
        simdjson::dom::element message;
        if (!c[stream ? "delta" : "message"].get(message)) {
            std::string_view t;
            if (!message["content"].get_string().get(t)) text = std::string(t);
            std::string_view refusal;
            if (!message["refusal"].get_string().get(refusal) && !refusal.empty())
                throw Error(SB_EPROVIDER,
                            "the model refused: " + std::string(refusal.substr(0, 300)));
        }
        std::string_view reason;
        if (!c["finish_reason"].get_string().get(reason)) out.finish_reason = std::string(reason);
    }
    simdjson::dom::element usage;
    if (!doc["usage"].get(usage) && usage.is_object()) {
        std::int64_t n = 0;
        if (!usage["prompt_tokens"].get_int64().get(n)) out.usage.prompt_tokens = n;
        if (!usage["completion_tokens"].get_int64().get(n)) out.usage.completion_tokens = n;
    }
    std::string_view model;
    if (!doc["model"].get_string().get(model)) out.model = std::string(model);
    out.text += text;
    return text;
}

void check_finished(const Response& r, bool saw_choice) {
    if (!saw_choice) throw Error(SB_EPROVIDER, "the LLM server returned no choices");
    if (r.finish_reason == "content_filter")
        throw Error(SB_EPROVIDER, "the LLM server filtered the reply (content_filter)");
    if (r.text.empty()) throw Error(SB_EPROVIDER, "the LLM server returned an empty reply");
}

class OpenAiClient final : public Client {
  public:
    explicit OpenAiClient(const ProviderOptions& o) : options_(o), http_(retry_policy(o)) {
        std::string base = trim_base_url(o.base_url.empty() ? kDefaultBase : o.base_url);
        // Both "http://host:port" and "http://host:port/v1" are accepted.
        if (base.size() >= 3 && base.compare(base.size() - 3, 3, "/v1") == 0)
            base.resize(base.size() - 3);
        url_ = base + "/v1/chat/completions";
        model_ = o.model.empty() ? kDefaultModel : o.model;
    }

    const char* name() const noexcept override { return "openai"; }

    Response generate(const Request& request) override {
        const bool stream = static_cast<bool>(request.on_text);
        HttpRequest h;
        h.url = url_;
        if (!options_.api_key.empty()) {
            h.headers.push_back("Authorization: Bearer " + options_.api_key);
            h.secrets.push_back(options_.api_key);
        }
        h.body = body(request, stream);

        Response out;
        bool saw_choice = false;
        if (!stream) {
            post_for_reply(http_, h, kWords, out, [&](simdjson::dom::element doc) {
                return absorb(doc, out, false, saw_choice);
            });
            check_finished(out, saw_choice);
            return out;
        }

        bool done = false;  // the stream's explicit end ("[DONE]"); later events are ignored
        const auto end_of_stream = [&](std::string_view data) {
            if (data == "[DONE]") done = true;
            return done;
        };
        if (!post_for_stream(
                http_, std::move(h), request, kWords, out, end_of_stream,
                [&](simdjson::dom::element doc) { return absorb(doc, out, true, saw_choice); }))
            return out;  // cancelled
        if (!done) throw Error(SB_EPROVIDER, "the LLM server's stream ended early");
        check_finished(out, saw_choice);
        return out;
    }

  private:
    std::string body(const Request& request, bool stream) const {
        std::string b = "{\"model\":";
        json_append_string(b, model_);
        b += ",\"messages\":[{\"role\":\"system\",\"content\":";
        json_append_string(b, request.system);
        b += '}';
        for (const Message& m : request.messages) {
            b += m.role == Message::Role::User ? ",{\"role\":\"user\",\"content\":"
                                               : ",{\"role\":\"assistant\",\"content\":";
            json_append_string(b, m.text);
            b += '}';
        }
        b += "],\"temperature\":" + json_number(options_.temperature) +
             ",\"max_tokens\":" + std::to_string(options_.max_output_tokens);
        if (!request.json_schema.empty())
            b += ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
                 "\"support_reply\",\"schema\":" +
                 to_json_schema(request.json_schema) + "}}";
        if (stream) b += ",\"stream\":true,\"stream_options\":{\"include_usage\":true}";
        b += '}';
        return b;
    }

    ProviderOptions options_;
    std::string url_, model_;
    HttpClient http_;
};

}  // namespace

std::unique_ptr<Client> make_openai(const ProviderOptions& options) {
    return std::make_unique<OpenAiClient>(options);
}

}  // namespace sb::llm
