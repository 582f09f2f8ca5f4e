// Internal to src/llm: what the Gemini and OpenAI-compatible clients share.
#pragma once

#include <simdjson.h>

#include <functional>
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

// How a provider is named in the errors of a reply: `who` for the reply ("<who>: HTTP 500 ...",
// "<who>'s response is not valid JSON"), `event` for a streamed event ("a streamed <event> event
// is not valid JSON").
struct ReplyWords {
    const char* who;
    const char* event;
};

// Folds one JSON document of a reply (the whole body, or one streamed event) into the Response
// being built; returns the new text it held.
using Absorb = std::function<std::string(simdjson::dom::element doc)>;

// POSTs h and absorbs its 2xx body as one JSON document; sets out.attempts. Throws SB_EPROVIDER
// (with h's secrets redacted) for another status, and for a body that is not JSON.
void post_for_reply(HttpClient& http, const HttpRequest& h, const ReplyWords& words, Response& out,
                    const Absorb& absorb);

// POSTs h for a stream of server-sent events: skip (when set) sees each event's data first and
// returns true for one it handled itself; any other is parsed as JSON and absorbed, its new text
// passed to request.on_text, and request.stop_requested asked after it. An exception thrown while
// handling an event stops the transfer and is rethrown once it has stopped. Sets out.attempts.
// Returns false when the caller stopped it (out.finish_reason "cancelled"), true when the stream
// ended; throws SB_EPROVIDER (secrets redacted) for a non-2xx status.
bool post_for_stream(HttpClient& http, HttpRequest h, const Request& request,
                     const ReplyWords& words, Response& out,
                     const std::function<bool(std::string_view data)>& skip, const Absorb& absorb);

}  // namespace sb::llm
