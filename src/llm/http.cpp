#include "llm/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <limits>
#include <thread>

#include "common/error.hpp"

namespace sb::llm {

namespace {

constexpr std::size_t kMaxIdleHandles = 16;
constexpr std::size_t kMaxErrorBody = 4096;      // bytes of a non-2xx body kept
constexpr std::size_t kMaxBodyBytes = 16 << 20;  // a body larger than this is refused

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw Error(SB_ERROR, "libcurl could not be initialised");
    });
}

struct Transfer {
    const HttpRequest* request = nullptr;
    CURL* curl = nullptr;
    std::string body;
    std::string retry_after;
    bool delivered = false;  // a piece went to on_data
    bool stopped = false;
    bool too_large = false;
};

bool is_2xx(CURL* curl) {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300;
}

size_t on_body(char* data, size_t size, size_t count, void* user) noexcept {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    try {
        if (t->request->on_data && is_2xx(t->curl)) {
            t->delivered = true;
            if (!t->request->on_data(std::string_view(data, n))) {
                t->stopped = true;
                return CURL_WRITEFUNC_ERROR;
            }
            return n;
        }
        const size_t limit = t->request->on_data ? kMaxErrorBody : kMaxBodyBytes;
        if (t->body.size() + n > limit) {
            if (!t->request->on_data) {
                t->too_large = true;
                return CURL_WRITEFUNC_ERROR;
            }
            t->body.append(data, limit - t->body.size());
            return n;
        }
        t->body.append(data, n);
        return n;
    } catch (...) {
        // Exceptions must not unwind through libcurl: stop the transfer instead.
        t->stopped = true;
        return CURL_WRITEFUNC_ERROR;
    }
}

size_t on_header(char* data, size_t size, size_t count, void* user) noexcept {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    std::string_view line(data, n);
    constexpr std::string_view name = "retry-after:";
    if (line.size() > name.size()) {
        bool match = true;
        for (size_t i = 0; i < name.size() && match; ++i)
            match = static_cast<char>(std::tolower(static_cast<unsigned char>(line[i]))) == name[i];
        if (match) {
            std::string_view v = line.substr(name.size());
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
            while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
                v.remove_suffix(1);
            try {
                t->retry_after.assign(v);
            } catch (...) {
            }
        }
    }
    // A new response (after a redirect or a 100 Continue) starts over.
    if (line.rfind("HTTP/", 0) == 0) t->retry_after.clear();
    return n;
}

bool retryable_curl(CURLcode code) {
    switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return true;
        default:
            return false;
    }
}

bool retryable_status(long status) {
    return status == 429 || status == 408 || (status >= 500 && status <= 599);
}

}  // namespace

std::optional<long> parse_retry_after(std::string_view value, std::int64_t now_s) {
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (value.size() > 9) return 999999999L * 1000;  // absurd; capped by the caller
        return std::stol(std::string(value)) * 1000;
    }
    const std::string date(value);
    const time_t when = curl_getdate(date.c_str(), nullptr);
    if (when == -1) return std::nullopt;
    const std::int64_t delta = static_cast<std::int64_t>(when) - now_s;
    return delta <= 0 ? 0L : static_cast<long>(std::min<std::int64_t>(delta, 999999999) * 1000);
}

long backoff_cap_ms(int retry, long initial_ms, long max_ms) {
    long cap = std::max(1L, initial_ms);
    for (int i = 1; i < retry && cap < max_ms; ++i) cap *= 2;
    return std::min(cap, max_ms);
}

std::string redact(std::string s, const std::vector<std::string>& secrets) {
    for (const std::string& secret : secrets) {
        if (secret.empty()) continue;
        for (size_t at = s.find(secret); at != std::string::npos; at = s.find(secret, at))
            s.replace(at, secret.size(), "[redacted]");
    }
    return s;
}

HttpClient::HttpClient(RetryPolicy policy) : policy_(policy), random_(std::random_device{}()) {
    global_init();
    if (policy_.max_attempts < 1) policy_.max_attempts = 1;
    if (policy_.backoff_initial_ms < 0) policy_.backoff_initial_ms = 0;
    if (policy_.backoff_max_ms < policy_.backoff_initial_ms)
        policy_.backoff_max_ms = policy_.backoff_initial_ms;
    constexpr long kLongMax = std::numeric_limits<long>::max();
    if (policy_.deadline_ms <= 0)
        policy_.deadline_ms = std::min(policy_.timeout_ms, kLongMax / 2) * 2;
}

HttpClient::~HttpClient() {
    for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::acquire() {
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            void* h = idle_.back();
            idle_.pop_back();
            return h;
        }
    }
    CURL* curl = curl_easy_init();
    if (!curl) throw Error(SB_ENOMEM, "libcurl could not create a handle");
    return curl;
}

void HttpClient::release(void* handle) noexcept {
    auto* curl = static_cast<CURL*>(handle);
    // Reset keeps the handle's live connections, so the next call reuses them.
    curl_easy_reset(curl);
    std::lock_guard lock(mutex_);
    if (idle_.size() < kMaxIdleHandles) {
        try {
            idle_.push_back(curl);
            return;
        } catch (...) {
        }
    }
    curl_easy_cleanup(curl);
}

long HttpClient::jitter(long upper) {
    if (upper <= 0) return 0;
    std::lock_guard lock(mutex_);
    return std::uniform_int_distribution<long>(0, upper)(random_);
}

HttpResponse HttpClient::post(const HttpRequest& request) {
    HttpResponse out;
    std::string last_failure;
    const auto started = std::chrono::steady_clock::now();
    const auto fail = [&](const std::string& why) {
        return Error(
            SB_EPROVIDER,
            redact("the provider failed after " + std::to_string(out.attempts) + " attempt" +
                       (out.attempts == 1 ? "" : "s") + why + ": " + last_failure,
                   request.secrets));
    };
    for (int attempt = 1; attempt <= policy_.max_attempts; ++attempt) {
        out.attempts = attempt;
        std::optional<long> server_delay;
        {  // the handle goes back to the pool before any wait for a retry
            void* handle = acquire();
            auto* curl = static_cast<CURL*>(handle);
            struct Releaser {
                HttpClient* self;
                void* h;
                ~Releaser() { self->release(h); }
            } releaser{this, handle};

            Transfer t;
            t.request = &request;
            t.curl = curl;
            char error_buffer[CURL_ERROR_SIZE] = {0};
            curl_slist* headers = nullptr;
            struct SlistFree {
                curl_slist** list;
                ~SlistFree() { curl_slist_free_all(*list); }
            } free_headers{&headers};
            auto add_header = [&](const std::string& h) {
                curl_slist* next = curl_slist_append(headers, h.c_str());
                if (!next) throw std::bad_alloc();
                headers = next;
            };
            add_header("Content-Type: application/json");
            add_header("Expect:");  // no 100-continue round trip
            for (const std::string& h : request.headers) add_header(h);

            curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
            curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
            curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
            curl_easy_setopt(curl, CURLOPT_POST, 1L);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.body.size()));
            curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, policy_.connect_timeout_ms);
            if (request.on_data) {
                // A stream may last long (a slow local model): bound its silences, and its whole
                // transfer only loosely.
                curl_easy_setopt(
                    curl, CURLOPT_TIMEOUT_MS,
                    std::min(policy_.timeout_ms, std::numeric_limits<long>::max() / 10) * 10);
                curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
                curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (policy_.timeout_ms + 999) / 1000);
            } else {
                curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, policy_.timeout_ms);
            }
            curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &on_body);
            curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
            curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &on_header);
            curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
            curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
            curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
            curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);

            const CURLcode rc = curl_easy_perform(curl);
            long status = 0;
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
            if (t.stopped && !request.on_data)
                throw Error(SB_EPROVIDER, "the provider's response could not be read");
            if (t.stopped) {
                out.status = status;
                out.stopped = true;
                return out;
            }
            if (t.too_large)
                throw Error(SB_EPROVIDER, "the provider's response is over " +
                                              std::to_string(kMaxBodyBytes >> 20) + " MiB");
            if (rc != CURLE_OK) {
                last_failure = std::string(curl_easy_strerror(rc)) +
                               (error_buffer[0] ? std::string(": ") + error_buffer : std::string());
                // Text already went to the host: a retry would repeat it.
                if (t.delivered)
                    throw Error(SB_EPROVIDER, redact("the provider's stream broke: " + last_failure,
                                                     request.secrets));
                if (!retryable_curl(rc))
                    throw Error(SB_EPROVIDER,
                                redact("the provider could not be reached: " + last_failure,
                                       request.secrets));
            } else if (retryable_status(status)) {
                last_failure = "HTTP " + std::to_string(status);
                if (!t.body.empty()) last_failure += ": " + t.body.substr(0, 300);
                server_delay = parse_retry_after(t.retry_after, std::time(nullptr));
            } else {
                out.status = status;
                out.body = std::move(t.body);
                return out;
            }
        }
        if (attempt == policy_.max_attempts) break;
        // A server that asks for a longer wait than we allow is obeyed by not retrying: the
        // caller falls back now instead of hammering it early or waiting too long.
        if (server_delay && *server_delay > policy_.backoff_max_ms)
            throw fail(" (Retry-After " + std::to_string(*server_delay / 1000) + " s)");
        long delay =
            jitter(backoff_cap_ms(attempt, policy_.backoff_initial_ms, policy_.backoff_max_ms));
        if (server_delay) delay = std::max(delay, *server_delay);
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - started)
                                 .count();
        if (elapsed + delay >= policy_.deadline_ms)
            throw fail(" (deadline of " + std::to_string(policy_.deadline_ms) + " ms)");
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
    throw fail("");
}

}  // namespace sb::llm
