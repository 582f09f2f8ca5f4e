// A fake LLM server for the tests: cpp-httplib on 127.0.0.1 (an ephemeral port), speaking
// Gemini's and OpenAI-compatible servers' wire formats from a script of responses. It records
// every request it receives, and can be told to be slow, fail with a status (and Retry-After),
// cut the connection mid-body, or stream a body as server-sent events in small (and slow) pieces.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json.hpp"

namespace sb::test {

struct FakeReply {
    FakeReply(int status_ = 200, std::string body_ = "")
        : status(status_), body(std::move(body_)) {}
    int status = 200;
    std::string body;         // the whole body, or the SSE stream when `sse`
    bool sse = false;         // sent chunked as text/event-stream in `piece`-byte writes
    std::size_t piece = 7;    // bytes a write, when streaming
    int piece_delay_ms = 0;   // before each write after the first, when streaming
    int delay_ms = 0;         // before answering
    bool cut = false;         // announce a longer body, send part of it, close
    std::string retry_after;  // a Retry-After header, when set
};

struct Received {
    std::string path;
    std::string alt;  // the "alt" query parameter
    std::string api_key;
    std::string authorization;
    std::string body;
    int remote_port = 0;
    std::chrono::steady_clock::time_point at;
};

class FakeLlm {
  public:
    FakeLlm() {
        server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
            FakeReply reply;
            {
                std::lock_guard lock(mutex_);
                Received r;
                r.path = req.path;
                r.alt = req.get_param_value("alt");
                r.api_key = req.get_header_value("x-goog-api-key");
                r.authorization = req.get_header_value("Authorization");
                r.body = req.body;
                r.remote_port = req.remote_port;
                r.at = std::chrono::steady_clock::now();
                received_.push_back(std::move(r));
                if (!script_.empty()) {
                    reply = script_.front();
                    script_.pop_front();
                } else {
                    reply = fallback_;
                }
            }
            if (reply.delay_ms)
                std::this_thread::sleep_for(std::chrono::milliseconds(reply.delay_ms));
            res.status = reply.status;
            if (!reply.retry_after.empty()) res.set_header("Retry-After", reply.retry_after);
            if (reply.cut) {
                const std::string body = reply.body;
                res.set_content_provider(body.size() + 1000, "application/json",
                                         [body](size_t offset, size_t, httplib::DataSink& sink) {
                                             if (offset == 0)
                                                 sink.write(body.data(), body.size() / 2);
                                             return false;  // closes the connection mid-body
                                         });
            } else if (reply.sse) {
                const std::string body = reply.body;
                const std::size_t piece = reply.piece ? reply.piece : 1;
                const int pause = reply.piece_delay_ms;
                res.set_chunked_content_provider(
                    "text/event-stream",
                    [body, piece, pause](size_t offset, httplib::DataSink& sink) {
                        if (offset >= body.size()) {
                            sink.done();
                            return true;
                        }
                        if (offset > 0 && pause > 0)
                            std::this_thread::sleep_for(std::chrono::milliseconds(pause));
                        const std::size_t n = std::min(piece, body.size() - offset);
                        sink.write(body.data() + offset, n);
                        return true;
                    });
            } else {
                res.set_content(reply.body, "application/json");
            }
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        REQUIRE(port_ > 0);
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~FakeLlm() {
        server_.stop();
        thread_.join();
    }
    FakeLlm(const FakeLlm&) = delete;
    FakeLlm& operator=(const FakeLlm&) = delete;

    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void push(FakeReply r) {
        std::lock_guard lock(mutex_);
        script_.push_back(std::move(r));
    }
    // The reply once the script is used up.
    void otherwise(FakeReply r) {
        std::lock_guard lock(mutex_);
        fallback_ = std::move(r);
    }
    std::vector<Received> received() const {
        std::lock_guard lock(mutex_);
        return received_;
    }
    std::size_t count() const {
        std::lock_guard lock(mutex_);
        return received_.size();
    }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::deque<FakeReply> script_;
    FakeReply fallback_{500, R"({"error":{"message":"no reply scripted"}})"};
    std::vector<Received> received_;
};

// ---- Wire-format bodies ------------------------------------------------------------------

// What the model writes: the JSON the prompt asks for.
inline std::string model_json(const std::string& reply, const std::vector<std::string>& suggestions,
                              bool escalate = false) {
    std::string out = "{\"reply\":" + sb::json_string(reply) + ",\"suggestions\":[";
    for (std::size_t i = 0; i < suggestions.size(); ++i) {
        if (i) out += ',';
        sb::json_append_string(out, suggestions[i]);
    }
    out += std::string("],\"escalate\":") + (escalate ? "true" : "false") + "}";
    return out;
}

inline std::string gemini_body(const std::string& text, const std::string& finish = "STOP",
                               int prompt_tokens = 120, int completion_tokens = 30) {
    return R"({"candidates":[{"content":{"parts":[{"text":)" + sb::json_string(text) +
           R"(}],"role":"model"},"finishReason":")" + finish +
           R"(","index":0}],"usageMetadata":{"promptTokenCount":)" + std::to_string(prompt_tokens) +
           R"(,"candidatesTokenCount":)" + std::to_string(completion_tokens) +
           R"(,"totalTokenCount":)" + std::to_string(prompt_tokens + completion_tokens) +
           R"(},"modelVersion":"gemini-2.0-flash"})";
}

// A Gemini SSE stream: the text in `parts` chunks, usage on the last one.
inline std::string gemini_sse(const std::string& text, std::size_t parts, int prompt_tokens = 120,
                              int completion_tokens = 30) {
    std::string out;
    const std::size_t step = (text.size() + parts - 1) / parts;
    for (std::size_t at = 0; at < text.size(); at += step) {
        const bool last = at + step >= text.size();
        std::string chunk = R"({"candidates":[{"content":{"parts":[{"text":)" +
                            sb::json_string(text.substr(at, step)) + R"(}],"role":"model"})";
        if (last) chunk += R"(,"finishReason":"STOP")";
        chunk += "}]";
        if (last)
            chunk += R"(,"usageMetadata":{"promptTokenCount":)" + std::to_string(prompt_tokens) +
                     R"(,"candidatesTokenCount":)" + std::to_string(completion_tokens) + "}";
        chunk += "}";
        out += "data: " + chunk + "\r\n\r\n";
    }
    return out;
}

inline std::string openai_body(const std::string& text, const std::string& finish = "stop",
                               int prompt_tokens = 90, int completion_tokens = 25) {
    return R"({"id":"chatcmpl-1","object":"chat.completion","model":"llama3.2","choices":[{"index":0,"message":{"role":"assistant","content":)" +
           sb::json_string(text) + R"(},"finish_reason":")" + finish +
           R"("}],"usage":{"prompt_tokens":)" + std::to_string(prompt_tokens) +
           R"(,"completion_tokens":)" + std::to_string(completion_tokens) + "}}";
}

inline std::string openai_sse(const std::string& text, std::size_t parts, int prompt_tokens = 90,
                              int completion_tokens = 25) {
    std::string out = ": a comment line\n\n";
    const std::size_t step = (text.size() + parts - 1) / parts;
    for (std::size_t at = 0; at < text.size(); at += step)
        out +=
            R"(data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":)" +
            sb::json_string(text.substr(at, step)) + R"(},"finish_reason":null}]})" + "\n\n";
    out +=
        R"(data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
        "\n\n";
    out += R"(data: {"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":)" +
           std::to_string(prompt_tokens) + R"(,"completion_tokens":)" +
           std::to_string(completion_tokens) + "}}\n\ndata: [DONE]\n\n";
    return out;
}

}  // namespace sb::test
