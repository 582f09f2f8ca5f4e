// Internal to src/llm: what the Gemini and OpenAI-compatible clients share.
#pragma once

#include <simdjson.h>

#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "llm/http.hpp"
#include "llm/llm.hpp"

namespace sb::llm {

std::unique_ptr<Client> make_gemini(const ProviderOptions& options);
std::unique_ptr<Client> make_openai(const ProviderOptions& options);

RetryPolicy retry_policy(const ProviderOptions& options);
// base without trailing slashes.
std::string trim_base_url(std::string base);
// A number for a JSON body ("0.2").
std::string json_number(double value);
// The message of a provider's error body ({"error": {"message": ...}}), else the body's start.
std::string error_message(long status, std::string_view body);

// Collects the events of a streamed reply; an exception thrown while handling one (a blocked or
// malformed chunk) is kept and rethrown once the transfer has stopped.
struct StreamState {
    std::exception_ptr error;
    bool cancelled = false;
    bool done = false;  // the stream's explicit end ("[DONE]")
};

}  // namespace sb::llm
