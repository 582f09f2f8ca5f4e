// The hand-over to human agents: the escalation queue, claims, agent messages, hand-backs and
// closes, and the host's hooks. Every change is the store's compare-and-set on the session's
// revision (record_turn), so that two agents, or an agent and a chat turn, never both win: the
// loser reads the session again and decides from its new state.
#include <cstdio>
#include <exception>
#include <functional>
#include <string>

#include "chat/engine.hpp"
#include "common/error.hpp"

namespace sb {

namespace {

constexpr int kMaxChangeAttempts = 8;
constexpr std::size_t kMaxIdBytes = 256;

}  // namespace

template <class Event>
void Engine::run_hook(const std::function<void(const Event&)>& hook, const Event& event,
                      const char* what) noexcept {
    // The turn is committed and its reply must reach the user whatever the host's hook does.
    try {
        hook(event);
        return;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "supportbot: the %s hook failed (ignored): %s\n", what, e.what());
    } catch (...) {
        std::fprintf(stderr, "supportbot: the %s hook failed (ignored)\n", what);
    }
    hook_failures_.fetch_add(1);
}

template void Engine::run_hook(const std::function<void(const EscalationEvent&)>&,
                               const EscalationEvent&, const char*) noexcept;
template void Engine::run_hook(const std::function<void(const SessionMessageEvent&)>&,
                               const SessionMessageEvent&, const char*) noexcept;

std::vector<SessionRecord> Engine::escalation_queue(const std::string& bot_id,
                                                    const std::optional<QueueKey>& after,
                                                    std::size_t limit) {
    check_text(bot_id, "bot id", kMaxIdBytes, false);
    get_bot(bot_id);  // SB_ENOTFOUND
    return store().escalation_queue(bot_id, after, limit);
}

SessionRecord Engine::change_session(const std::string& session_id,
                                     const std::function<bool(TurnRecord&)>& change) {
    check_text(session_id, "session id", kMaxIdBytes, false);
    for (int attempt = 0;; ++attempt) {
        auto found = store().get_session(session_id);
        if (!found) throw Error(SB_ENOTFOUND, "no such session");
        TurnRecord record;
        record.session = std::move(*found);
        if (!change(record)) return record.session;  // nothing to write
        try {
            store().record_turn(record);
        } catch (const Error& e) {
            // Another writer (a chat turn, another agent) changed it since it was read.
            if (e.status() == SB_ECONFLICT && attempt < kMaxChangeAttempts - 1) continue;
            throw;
        }
        record.session.revision += 1;
        remember_session(record.session);
        return record.session;
    }
}

SessionRecord Engine::claim_session(const std::string& session_id, const std::string& agent_id) {
    check_text(agent_id, "agent id", kMaxIdBytes, false);
    return change_session(session_id, [&](TurnRecord& r) {
        SessionRecord& s = r.session;
        if (s.status == SessionStatus::Agent && s.claimed_by == agent_id) return false;
        if (s.status == SessionStatus::Agent)
            throw Error(SB_ECONFLICT, "another agent has claimed this session");
        if (s.status != SessionStatus::Escalated)
            throw Error(SB_ECONFLICT,
                        std::string("the session is not waiting for an agent (it is ") +
                            to_string(s.status) + ")");
        const std::int64_t t = now_ms();
        s.status = SessionStatus::Agent;
        s.claimed_by = agent_id;
        s.claimed_ms = t;
        s.last_active_ms = t;
        return true;
    });
}

MessageRecord Engine::post_agent_message(const std::string& session_id, const std::string& agent_id,
                                         const std::string& text) {
    check_text(agent_id, "agent id", kMaxIdBytes, false);
    check_text(text, "message", options_.max_message_bytes, true);
    MessageRecord message;
    const SessionRecord s = change_session(session_id, [&](TurnRecord& r) {
        SessionRecord& x = r.session;
        if (x.status != SessionStatus::Agent)
            throw Error(SB_ECONFLICT, "claim the session before replying in it");
        if (x.claimed_by != agent_id)
            throw Error(SB_ECONFLICT, "another agent has claimed this session");
        message = MessageRecord{};
        message.session_id = x.id;
        message.role = Role::Agent;
        message.text = text;
        message.created_ms = now_ms();
        message.responder = "agent";
        message.agent_id = agent_id;
        x.last_active_ms = message.created_ms;
        r.messages = {message};
        return true;
    });
    // HANDOVER SEAM (webhooks): an agent message was stored (the user side may be told).
    if (options_.on_session_message) {
        SessionMessageEvent ev;
        ev.bot_id = s.bot_id;
        ev.session_id = s.id;
        ev.user_id = s.user_id;
        ev.status = s.status;
        ev.role = Role::Agent;
        ev.agent_id = agent_id;
        ev.text = text;
        run_hook(options_.on_session_message, ev, "new-message");
    }
    return message;
}

SessionRecord Engine::release_session(const std::string& session_id, const std::string& agent_id) {
    check_text(agent_id, "agent id", kMaxIdBytes, false);
    return change_session(session_id, [&](TurnRecord& r) {
        SessionRecord& s = r.session;
        if (s.status != SessionStatus::Escalated && s.status != SessionStatus::Agent)
            throw Error(SB_ECONFLICT, std::string("the session is not with an agent (it is ") +
                                          to_string(s.status) + ")");
        s.status = SessionStatus::Open;
        s.escalation_reason.clear();
        s.unanswered_streak = 0;
        s.claimed_by.clear();
        s.claimed_ms = 0;
        s.wait_acked = false;
        s.handbacks += 1;
        s.last_active_ms = now_ms();
        return true;
    });
}

SessionRecord Engine::close_session_as_agent(const std::string& session_id,
                                             const std::string& agent_id) {
    check_text(agent_id, "agent id", kMaxIdBytes, false);
    return change_session(session_id, [&](TurnRecord& r) {
        SessionRecord& s = r.session;
        if (s.status == SessionStatus::Closed) return false;
        if (s.status == SessionStatus::Escalated || s.status == SessionStatus::Agent)
            s.closed_by = agent_id;  // resolved by an agent
        s.status = SessionStatus::Closed;
        s.claimed_by.clear();
        s.last_active_ms = now_ms();
        return true;
    });
}

}  // namespace sb
