#include "llm/sse.hpp"

#include "common/error.hpp"

namespace sb::llm {

bool SseParser::feed(std::string_view bytes) {
    for (char c : bytes) {
        if (after_cr_) {
            after_cr_ = false;
            if (c == '\n') continue;
        }
        if (c == '\r' || c == '\n') {
            after_cr_ = c == '\r';
            const std::string l = std::move(pending_);
            pending_.clear();
            if (!line(l)) return false;
        } else {
            if (pending_.size() >= kMaxSseBytes)
                throw Error(SB_EPROVIDER, "a streamed line is over 1 MiB");
            pending_ += c;
        }
    }
    return true;
}

bool SseParser::finish() {
    if (!pending_.empty()) {
        const std::string l = std::move(pending_);
        pending_.clear();
        if (!line(l)) return false;
    }
    return dispatch();
}

bool SseParser::line(std::string_view l) {
    if (l.empty()) return dispatch();
    if (l.front() == ':') return true;  // a comment
    const auto colon = l.find(':');
    std::string_view field = l.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
        if (data_.size() + value.size() + 1 > kMaxSseBytes)
            throw Error(SB_EPROVIDER, "a streamed event's data is over 1 MiB");
        if (has_data_) data_ += '\n';
        data_ += value;
        has_data_ = true;
    }
    // "event", "id" and "retry" do not matter to the providers' streams.
    return true;
}

bool SseParser::dispatch() {
    if (!has_data_) return true;
    const std::string data = std::move(data_);
    data_.clear();
    has_data_ = false;
    return handler_(data);
}

}  // namespace sb::llm
