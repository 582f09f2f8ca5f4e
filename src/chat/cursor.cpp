// Cursor layout, before base64url: a kind letter, then fields separated by '\n' (ids are
// checked text without control characters; the last field takes the rest).
//   sessions: "u" (a user's own) or "b" (every user's), bot id, last_active_ms, session id
//   messages: "m", session id, message id
//   escalation queue: "q", bot id, escalated_ms, session id
#include "chat/cursor.hpp"

#include <charconv>
#include <optional>
#include <string>

#include "auth/base64.hpp"
#include "common/error.hpp"

namespace sb {

namespace {

constexpr std::string_view kPrefix = "v1.";
// Far above any real cursor (ids are at most 128 bytes), so that a huge text is not decoded.
constexpr std::size_t kMaxCursorBytes = 1024;
constexpr std::size_t kMaxIdBytes = 128;

[[noreturn]] void invalid(const std::string& why) {
    throw Error(SB_EINVAL, "invalid cursor: " + why);
}

std::string encode(std::string_view payload) {
    return std::string(kPrefix) + auth::base64_encode(payload, auth::Base64Alphabet::Url);
}

// The payload of a cursor: the bytes after "v1.".
std::string decode(std::string_view cursor) {
    if (cursor.size() > kMaxCursorBytes) invalid("too long");
    if (cursor.substr(0, kPrefix.size()) != kPrefix)
        invalid("not a cursor made by this library (they start with \"v1.\")");
    auto bytes = auth::base64_decode(cursor.substr(kPrefix.size()), auth::Base64Alphabet::Url);
    if (!bytes) invalid("malformed (not base64url after \"v1.\")");
    return std::move(*bytes);
}

// The first field of text (up to '\n'), removed from it.
std::string_view take_field(std::string_view& text) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) invalid("malformed (too few fields)");
    const std::string_view field = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    return field;
}

// A decimal integer written as std::to_string writes it (one spelling per value).
std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || std::to_string(v) != text)
        return std::nullopt;
    return v;
}

bool valid_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxIdBytes) return false;
    for (const char c : id)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    return true;
}

char scope_letter(SessionScope scope) {
    return scope == SessionScope::User ? 'u' : 'b';
}

}  // namespace

std::string sessions_cursor(SessionScope scope, std::string_view bot_id, const SessionKey& last) {
    std::string payload(1, scope_letter(scope));
    payload += '\n';
    payload += bot_id;
    payload += '\n';
    payload += std::to_string(last.last_active_ms);
    payload += '\n';
    payload += last.id;
    return encode(payload);
}

SessionKey parse_sessions_cursor(std::string_view cursor, SessionScope scope,
                                 std::string_view bot_id) {
    const std::string payload = decode(cursor);
    std::string_view rest(payload);
    const std::string_view kind = take_field(rest);
    if (kind == "m") invalid("it is of a session's messages, not of a list of sessions");
    if (kind != "u" && kind != "b") invalid("malformed (unknown kind)");
    if (kind[0] != scope_letter(scope))
        invalid(scope == SessionScope::User ? "it is of the list of all the bot's sessions"
                                            : "it is of one user's list of sessions");
    if (take_field(rest) != bot_id) invalid("it is of another bot's sessions");
    const auto t = parse_int(take_field(rest));
    if (!t) invalid("malformed (activity time)");
    if (!valid_id(rest)) invalid("malformed (session id)");
    return SessionKey{*t, std::string(rest)};
}

std::string queue_cursor(std::string_view bot_id, const QueueKey& last) {
    std::string payload = "q\n";
    payload += bot_id;
    payload += '\n';
    payload += std::to_string(last.escalated_ms);
    payload += '\n';
    payload += last.id;
    return encode(payload);
}

QueueKey parse_queue_cursor(std::string_view cursor, std::string_view bot_id) {
    const std::string payload = decode(cursor);
    std::string_view rest(payload);
    if (take_field(rest) != "q") invalid("it is not of an escalation queue");
    if (take_field(rest) != bot_id) invalid("it is of another bot's queue");
    const auto t = parse_int(take_field(rest));
    if (!t) invalid("malformed (escalation time)");
    if (!valid_id(rest)) invalid("malformed (session id)");
    return QueueKey{*t, std::string(rest)};
}

std::string messages_cursor(std::string_view session_id, std::int64_t last_id) {
    std::string payload = "m\n";
    payload += session_id;
    payload += '\n';
    payload += std::to_string(last_id);
    return encode(payload);
}

std::int64_t parse_messages_cursor(std::string_view cursor, std::string_view session_id) {
    const std::string payload = decode(cursor);
    std::string_view rest(payload);
    const std::string_view kind = take_field(rest);
    if (kind == "u" || kind == "b") invalid("it is of a list of sessions, not of messages");
    if (kind != "m") invalid("malformed (unknown kind)");
    // Session ids hold no '\n' (the C ABI's checks), so the message id is after the last one.
    const std::size_t nl = rest.rfind('\n');
    if (nl == std::string_view::npos) invalid("malformed (too few fields)");
    if (rest.substr(0, nl) != session_id) invalid("it is of another session's messages");
    const auto id = parse_int(rest.substr(nl + 1));
    if (!id || *id <= 0) invalid("malformed (message id)");
    return *id;
}

}  // namespace sb
