// make_client and what the providers share.
#include <cstdio>
#include <exception>

#include "common/error.hpp"
#include "llm/provider.hpp"
#include "llm/sse.hpp"

namespace sb::llm {

RetryPolicy retry_policy(const ProviderOptions& o) {
    RetryPolicy p;
    p.connect_timeout_ms = o.connect_timeout_ms;
    p.timeout_ms = o.timeout_ms;
    p.max_attempts = o.max_attempts;
    p.backoff_initial_ms = o.backoff_initial_ms;
    p.backoff_max_ms = o.backoff_max_ms;
    p.deadline_ms = o.deadline_ms;
    return p;
}

std::string trim_base_url(std::string base) {
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
}

std::string json_number(double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", value);
    return buf;
}

std::string error_message(long status, std::string_view body) {
    std::string out = "HTTP " + std::to_string(status);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string_view message;
    if (!parser.parse(simdjson::padded_string(body)).get(root) &&
        !root["error"]["message"].get_string().get(message))
        return out + ": " + std::string(message.substr(0, 500));
    if (!parser.parse(simdjson::padded_string(body)).get(root) &&
        !root["error"].get_string().get(message))  // Ollama's own format
        return out + ": " + std::string(message.substr(0, 500));
    if (!body.empty()) out += ": " + std::string(body.substr(0, 300));
    return out;
}

namespace {

[[noreturn]] void fail_status(const HttpRequest& h, const ReplyWords& words,
                              const HttpResponse& r) {
    throw Error(SB_EPROVIDER,
                redact(std::string(words.who) + ": " + error_message(r.status, r.body), h.secrets));
}

}  // namespace

void post_for_reply(HttpClient& http, const HttpRequest& h, const ReplyWords& words, Response& out,
                    const Absorb& absorb) {
    HttpResponse r = http.post(h);
    out.attempts = r.attempts;
    if (r.status < 200 || r.status >= 300) fail_status(h, words, r);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(simdjson::padded_string(r.body)).get(doc))
        throw Error(SB_EPROVIDER, std::string(words.who) + "'s response is not valid JSON");
    absorb(doc);
}

bool post_for_stream(HttpClient& http, HttpRequest h, const Request& request,
                     const ReplyWords& words, Response& out,
                     const std::function<bool(std::string_view data)>& skip, const Absorb& absorb) {
    simdjson::dom::parser parser;
    std::exception_ptr error;  // kept from an event's handling, rethrown once the transfer stopped
    bool cancelled = false;
    SseParser sse([&](std::string_view data) {
        try {
            if (skip && skip(data)) return true;
            simdjson::dom::element doc;
            if (parser.parse(simdjson::padded_string(data)).get(doc))
                throw Error(SB_EPROVIDER,
                            std::string("a streamed ") + words.event + " event is not valid JSON");
            const std::string piece = absorb(doc);
            if (!piece.empty()) request.on_text(piece);
            if (request.stop_requested && request.stop_requested()) {
                cancelled = true;
                return false;
            }
            return true;
        } catch (...) {
            error = std::current_exception();
            return false;
        }
    });
    h.on_data = [&](std::string_view bytes) {
        try {
            return sse.feed(bytes);
        } catch (...) {
            error = std::current_exception();  // an oversized line or event: stop, then rethrow
            return false;
        }
    };
    HttpResponse r = http.post(h);
    out.attempts = r.attempts;
    if (error) std::rethrow_exception(error);
    if (cancelled) {
        out.finish_reason = "cancelled";
        return false;
    }
    if (r.status < 200 || r.status >= 300) fail_status(h, words, r);
    sse.finish();
    if (error) std::rethrow_exception(error);
    return true;
}

std::unique_ptr<Client> make_client(const ProviderOptions& options) {
    const std::string& p = options.provider;
    if (p.empty() || p == "offline") return nullptr;
    if (p != "gemini" && p != "openai")
        throw Error(SB_EINVAL, "unknown LLM provider \"" + p +
                                   "\" (expected \"offline\", \"gemini\" or \"openai\")");
    if (options.connect_timeout_ms <= 0 || options.timeout_ms <= 0)
        throw Error(SB_EINVAL, "LLM timeouts must be positive");
    if (options.max_attempts < 1 || options.max_attempts > 20)
        throw Error(SB_EINVAL, "LLM max_attempts must be in [1, 20]");
    if (options.backoff_initial_ms < 0 || options.backoff_max_ms < 0)
        throw Error(SB_EINVAL, "LLM backoff must not be negative");
    if (options.deadline_ms < 0) throw Error(SB_EINVAL, "the LLM deadline must not be negative");
    if (options.max_output_tokens <= 0 || !(options.temperature >= 0 && options.temperature <= 2))
        throw Error(SB_EINVAL, "LLM max_output_tokens must be positive and temperature in [0, 2]");
    if (!options.base_url.empty() && options.base_url.rfind("http://", 0) != 0 &&
        options.base_url.rfind("https://", 0) != 0)
        throw Error(SB_EINVAL, "the LLM base URL must start with http:// or https://");
    for (const std::string* s : {&options.base_url, &options.model, &options.api_key})
        for (unsigned char c : *s)
            if (c < 0x21 || c == 0x7F)
                throw Error(SB_EINVAL,
                            "the LLM base URL, model and API key must not contain spaces or "
                            "control characters");
    return p == "gemini" ? make_gemini(options) : make_openai(options);
}

}  // namespace sb::llm
