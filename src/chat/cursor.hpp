// Keyset cursors of the C ABI's list pages: an opaque printable string naming where the next
// page of one list starts. "v1." then the key, base64url-encoded without padding. A cursor names
// its list (a bot's sessions as one user or its owner sees them, or one session's messages), so
// one given to another list is refused rather than read as a position in it. Cursors carry no
// authority: the list's own checks run on every page, and a made-up key only moves within the
// caller's own list.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/store.hpp"

namespace sb {

// Which sessions a list shows: one user's own, or (to the bot's owner) every user's.
enum class SessionScope { User, Bot };

std::string sessions_cursor(SessionScope scope, std::string_view bot_id, const SessionKey& last);
// The key a cursor of that list names; SB_EINVAL with the reason when the text is not such a
// cursor (malformed, of another version or list, or of a list of messages).
SessionKey parse_sessions_cursor(std::string_view cursor, SessionScope scope,
                                 std::string_view bot_id);

// The escalation queue of a bot: the last row's (escalated_ms, session id).
std::string queue_cursor(std::string_view bot_id, const QueueKey& last);
QueueKey parse_queue_cursor(std::string_view cursor, std::string_view bot_id);

std::string messages_cursor(std::string_view session_id, std::int64_t last_id);
// The message id a cursor of that session's history names (> 0); SB_EINVAL as above.
std::int64_t parse_messages_cursor(std::string_view cursor, std::string_view session_id);

}  // namespace sb
