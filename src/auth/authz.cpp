#include "auth/authz.hpp"

#include "common/error.hpp"

namespace sb::auth {

bool is_owner(const Principal& p, const BotRecord& bot) noexcept {
    return p.role == AccountRole::Admin && bot.owner == p.account_id;
}

bool is_agent_of(const Principal& p, const BotRecord& bot) noexcept {
    return is_owner(p, bot) || (p.role == AccountRole::Agent && p.bot_id == bot.id);
}

void require_agent_access(const Principal& p, const BotRecord& bot) {
    if (!is_agent_of(p, bot))
        throw Error(SB_EFORBIDDEN, "this account may not answer the sessions of this bot");
}

void require_admin(const Principal& p) {
    if (p.role != AccountRole::Admin)
        throw Error(SB_EFORBIDDEN, "this operation needs an admin account");
}

void require_admin_owner(const Principal& p, const BotRecord& bot) {
    require_admin(p);
    if (!is_owner(p, bot)) throw Error(SB_EFORBIDDEN, "this account may not change this bot");
}

void require_bot_access(const Principal& p, const BotRecord& bot) {
    if (is_owner(p, bot)) return;
    if (p.role == AccountRole::User && p.bot_id == bot.id) return;
    throw Error(SB_EFORBIDDEN, "this account may not use this bot");
}

void require_session_access(const Principal& p, const BotRecord& bot, const SessionRecord& s) {
    if (s.bot_id == bot.id && is_agent_of(p, bot)) return;
    if (p.role == AccountRole::User && p.bot_id == s.bot_id && p.account_id == s.user_id) return;
    throw Error(SB_EFORBIDDEN, "this account may not use this session");
}

}  // namespace sb::auth
