// LLM providers: one client interface, real implementations for Google Gemini (REST
// generateContent / streamGenerateContent over libcurl) and OpenAI-compatible servers
// (/v1/chat/completions: Ollama, llama.cpp's server, vLLM). The offline responder is not a client:
// the chat pipeline uses it when no provider is configured and as the fallback when one fails.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sb::llm {

struct ProviderOptions {
    std::string provider = "offline";  // "offline", "gemini" or "openai"
    std::string base_url;  // "" = the provider's default (Gemini: Google's endpoint; openai:
                           // http://localhost:11434 — Ollama)
    std::string model;     // "" = the provider's default
    std::string api_key;   // Gemini: x-goog-api-key; openai: "Authorization: Bearer" when set
    long connect_timeout_ms = 5000;
    long timeout_ms = 60000;  // whole request, per attempt; for a stream, the longest silence
                              // (a streamed transfer may last up to 10 x timeout_ms)
    int max_attempts = 3;     // 1 = no retries
    long backoff_initial_ms = 250;
    long backoff_max_ms = 8000;  // a Retry-After longer than this fails the call at once
    long deadline_ms = 0;  // no retry starts after this long from the call; 0 = 2 x timeout_ms
    double temperature = 0.2;
    int max_output_tokens = 1024;
};

struct Message {
    enum class Role { User, Assistant };
    Role role = Role::User;
    std::string text;
};

struct Usage {
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
};

struct Request {
    std::string system;             // system instruction
    std::vector<Message> messages;  // the conversation, oldest first; the last is the user's
    // When not empty: a JSON schema (the OpenAPI subset Gemini's responseSchema takes) the reply
    // must follow; the client asks for JSON output with it.
    std::string json_schema;
    // When set, the reply is streamed: called with each piece of text as it arrives, in order.
    std::function<void(std::string_view)> on_text;
    // Streaming only: asked after each piece; true stops the stream, and generate() returns what
    // arrived so far with finish_reason "cancelled".
    std::function<bool()> stop_requested;
};

struct Response {
    std::string text;           // the whole reply (the JSON text when json_schema was set)
    std::string finish_reason;  // as the provider says it ("STOP", "stop", "MAX_TOKENS", ...)
    Usage usage;
    std::string model;  // the model that answered, when the provider says
    int attempts = 1;   // HTTP attempts made (retries included)
};

// A provider. Thread-safe: one client serves every thread of an engine. generate() throws
// sb::Error with SB_EPROVIDER when the provider fails after the configured attempts (timeouts,
// 429/5xx, cut connections, blocked or empty candidates, malformed bodies).
class Client {
  public:
    virtual ~Client() = default;
    virtual const char* name() const noexcept = 0;  // "gemini", "openai"
    virtual Response generate(const Request& request) = 0;
};

// The client for options.provider; nullptr for "offline". SB_EINVAL for an unknown provider or
// bad options.
std::unique_ptr<Client> make_client(const ProviderOptions& options);

}  // namespace sb::llm
