// Authorisation checks on a verified Principal, shared by every C ABI call that acts for someone.
// Each throws SB_EFORBIDDEN with a message that names no owner, user or other account; callers
// look the thing up first (SB_ENOTFOUND when it does not exist).
#pragma once

#include "auth/accounts.hpp"
#include "store/store.hpp"

namespace sb::auth {

// An admin account (user tokens may not call admin operations).
void require_admin(const Principal& p);
// The admin that owns the bot.
void require_admin_owner(const Principal& p, const BotRecord& bot);
// The owner admin, or a user of that bot: may read the bot and chat with it.
void require_bot_access(const Principal& p, const BotRecord& bot);
// The session's own user, the admin owning its bot, or an agent of its bot (`bot` is the
// session's bot).
void require_session_access(const Principal& p, const BotRecord& bot, const SessionRecord& s);

// The owner admin, or an agent of that bot: may read and answer the bot's sessions (the
// escalation queue, claims, agent messages, hand-backs, closes) and nothing else.
void require_agent_access(const Principal& p, const BotRecord& bot);
bool is_agent_of(const Principal& p, const BotRecord& bot) noexcept;

bool is_owner(const Principal& p, const BotRecord& bot) noexcept;

}  // namespace sb::auth
