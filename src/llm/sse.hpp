// A server-sent events parser (the WHATWG event-stream format) for streamed LLM replies: events
// may be split anywhere across reads; lines end in LF, CR or CRLF; ':' lines are comments; the
// data lines of one event are joined with '\n'; a blank line dispatches the event.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace sb::llm {

// The most bytes one line, or the data of one event, may hold: a stream that exceeds it fails
// with SB_EPROVIDER (a misbehaving server must not grow the buffers without bound).
constexpr std::size_t kMaxSseBytes = std::size_t{1} << 20;

class SseParser {
  public:
    // Called with each event's data (events without data lines are skipped). Returning false
    // stops the parse: feed() then returns false at once.
    using Handler = std::function<bool(std::string_view data)>;

    explicit SseParser(Handler handler) : handler_(std::move(handler)) {}

    // Throws sb::Error(SB_EPROVIDER) when a line or an event's data exceeds kMaxSseBytes.
    bool feed(std::string_view bytes);
    // The end of the stream: dispatches a last event that lacked its blank line.
    bool finish();

  private:
    bool line(std::string_view line);
    bool dispatch();

    Handler handler_;
    std::string pending_;  // an incomplete line
    std::string data_;
    bool has_data_ = false;
    bool after_cr_ = false;  // the previous byte was a CR (a following LF belongs to it)
};

}  // namespace sb::llm
