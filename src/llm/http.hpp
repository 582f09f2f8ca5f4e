// A small HTTP client over libcurl for the LLM providers: POST with JSON, a pool of easy handles
// (connections are reused across calls and threads), connect and total timeouts, and bounded
// retries with exponential backoff and full jitter on timeouts, connection errors, 429 and 5xx,
// honouring Retry-After (a longer wait than allowed fails at once) within an overall deadline. A
// streaming mode hands the body to a callback as it arrives.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sb::llm {

struct RetryPolicy {
    long connect_timeout_ms = 5000;
    // Per attempt: the whole request; for a streamed request, the longest silence (curl's low
    // speed limit, rounded up to seconds) within a transfer of at most 10 x timeout_ms.
    long timeout_ms = 60000;
    int max_attempts = 3;  // 1 = no retries
    long backoff_initial_ms = 250;
    long backoff_max_ms = 8000;  // a server's Retry-After longer than this fails the call at once
    // The overall budget of a call: a retry whose wait would end after it is not made (the call
    // fails at once). 0 = 2 x timeout_ms.
    long deadline_ms = 0;
};

struct HttpRequest {
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;                  // sent as application/json
    // Streaming: called with each piece of a successful (2xx) body as it arrives; returning false
    // stops the transfer (HttpResponse::stopped). Once a piece was delivered the call is not
    // retried. Without it, the body is collected in HttpResponse::body.
    std::function<bool(std::string_view)> on_data;
    // Strings never to appear in errors (API keys): replaced by "[redacted]".
    std::vector<std::string> secrets;
};

struct HttpResponse {
    long status = 0;
    std::string body;  // the whole body (not filled for a streamed 2xx body)
    int attempts = 0;
    bool stopped = false;  // on_data returned false
};

class HttpClient {
  public:
    explicit HttpClient(RetryPolicy policy);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // POSTs the request. Returns the final response, 2xx or not (a non-retryable status such as
    // 400 is returned, not thrown). Throws sb::Error(SB_EPROVIDER) when every attempt failed with
    // a transport error or a retryable status (the last one is named), or when a stream breaks
    // after data was delivered. Thread-safe.
    HttpResponse post(const HttpRequest& request);

    const RetryPolicy& policy() const noexcept { return policy_; }

  private:
    void* acquire();
    void release(void* handle) noexcept;
    long jitter(long upper);

    RetryPolicy policy_;
    std::mutex mutex_;
    std::vector<void*> idle_;  // CURL* easy handles with their open connections
    std::mt19937_64 random_;
};

// Helpers, exposed for tests.
// A Retry-After value (delay-seconds or an HTTP date) as a delay in ms from now_s (Unix seconds);
// nullopt when it cannot be read. Dates in the past give 0.
std::optional<long> parse_retry_after(std::string_view value, std::int64_t now_s);
// The upper bound of the full-jitter backoff before retry number `retry` (1 = the first retry):
// min(max_ms, initial_ms * 2^(retry-1)).
long backoff_cap_ms(int retry, long initial_ms, long max_ms);
// s with every secret replaced by "[redacted]".
std::string redact(std::string s, const std::vector<std::string>& secrets);

}  // namespace sb::llm
