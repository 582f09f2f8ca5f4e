// Small helpers of the HTTP server: a JSON writer, UTF-8 checks, times and URL pieces.
// Nothing here knows about supportbot's rules; they only shape bytes.
#ifndef SUPPORTBOT_SERVER_UTIL_HPP
#define SUPPORTBOT_SERVER_UTIL_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sbserver {

// Appends s as a JSON string literal (quotes included). s must be valid UTF-8.
void json_quote(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

// A JSON object or array written in order. Values are appended raw (already JSON).
class JsonWriter {
  public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view k);
    JsonWriter& str(std::string_view v);
    JsonWriter& str_or_null(std::string_view v);  // "" is written as null
    JsonWriter& num(int64_t v);
    JsonWriter& num(uint64_t v);
    JsonWriter& num(double v);
    JsonWriter& boolean(bool v);
    JsonWriter& null();
    JsonWriter& raw(std::string_view json);
    const std::string& str() const { return out_; }
    std::string take() { return std::move(out_); }

  private:
    void sep();
    std::string out_;
    std::vector<bool> first_;  // per open container: no element yet
    bool after_key_ = false;
};

bool valid_utf8(std::string_view s);

// "2026-12-04T17:20:00.123Z"
std::string iso8601_ms(int64_t unix_ms);

// A time given as Unix milliseconds (digits only), an ISO 8601 date (YYYY-MM-DD; as an end of a
// range, the end of that day), or a date-time (YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM],
// UTC when no zone). nullopt when malformed.
std::optional<int64_t> parse_time_ms(std::string_view s, bool end_of_range);

// application/x-www-form-urlencoded (and query strings): decoded name/value pairs, or nullopt
// when a %-escape is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view s);
std::string url_encode(std::string_view s);

}  // namespace sbserver

#endif
