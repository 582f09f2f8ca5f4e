// The hand-over to human agents over a real database: SQLite always, PostgreSQL too when
// SB_TEST_PG_URL is set (tests/pg/with-postgres.sh). The whole path (escalation, queue, claim,
// agent reply, the bot silent, hand-back, the bot answering again), concurrent claims from
// separate engines (as separate processes would, each with its own connections), the host's
// hooks, failing ones included, and migration 6 of a database made before it.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include "test_support.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "chat/engine.hpp"
#include "common/error.hpp"
#include "store/store.hpp"

namespace {

using sb::test::database_urls;
using sb::test::status_of;
using sb::test::TempDir;

std::vector<sb::FaqEntry> shop_faqs() {
    return sb::load_faqs_file(SB_SOURCE_DIR "/faqs.json", sb::FaqFormat::Auto, sb::FaqLimits{});
}

std::string unique(const char* prefix) {
    return prefix + sb::new_uuid();
}

sb::ChatReply say(sb::Engine& e, const std::string& bot, const std::string& user,
                  const std::string& session, const std::string& text) {
    sb::ChatRequest r;
    r.bot_id = bot;
    r.user_id = user;
    r.session_id = session;
    r.message = text;
    return e.chat(r);
}

struct Recorded {
    std::mutex mu;
    std::vector<sb::EscalationEvent> escalations;
    std::vector<sb::SessionMessageEvent> messages;
};

}  // namespace

TEST_CASE("handover: escalation, queue, claim, agent reply, silent bot, hand-back") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "handover.db")) {
        CAPTURE(url);
        auto seen = std::make_shared<Recorded>();
        sb::EngineOptions o;
        o.database_url = url;
        o.on_escalation = [seen](const sb::EscalationEvent& e) {
            std::lock_guard lock(seen->mu);
            seen->escalations.push_back(e);
        };
        o.on_session_message = [seen](const sb::SessionMessageEvent& e) {
            std::lock_guard lock(seen->mu);
            seen->messages.push_back(e);
        };
        sb::Engine e(o);
        const std::string owner = unique("admin-"), user = unique("user-");
        const std::string bot = e.create_bot(owner, "Shop", shop_faqs());
        const std::string sid = unique("s-");
        const std::string agent = unique("agent-"), other = unique("agent-");

        const sb::ChatReply first = say(e, bot, user, sid, "How long does shipping take?");
        CHECK(first.answered);
        CHECK(seen->escalations.empty());

        const sb::ChatReply asked = say(e, bot, user, sid, "I want to talk to a human agent");
        REQUIRE(asked.escalated);
        REQUIRE(seen->escalations.size() == 1);
        CHECK(seen->escalations[0].bot_id == bot);
        CHECK(seen->escalations[0].session_id == sid);
        CHECK(seen->escalations[0].user_id == user);
        CHECK(seen->escalations[0].reason == "user_requested");
        CHECK(seen->escalations[0].message == "I want to talk to a human agent");
        CHECK(seen->messages.empty());

        auto queue = e.escalation_queue(bot, std::nullopt, 0);
        REQUIRE(queue.size() == 1);
        CHECK(queue[0].id == sid);
        CHECK(queue[0].status == sb::SessionStatus::Escalated);
        CHECK(queue[0].escalation_reason == "user_requested");
        CHECK(queue[0].last_message == "I want to talk to a human agent");
        CHECK(queue[0].escalated_ms > 0);
        CHECK(queue[0].message_count == 4);

        // Waiting: one acknowledgement, then silence; an FAQ question is not answered.
        const sb::ChatReply wait1 = say(e, bot, user, sid, "How long does shipping take?");
        CHECK(wait1.responder == "handover");
        CHECK_FALSE(wait1.answered);
        CHECK_FALSE(wait1.escalated);
        CHECK(wait1.text.find("agent will be with you") != std::string::npos);
        const sb::ChatReply wait2 = say(e, bot, user, sid, "hello? anyone there?");
        CHECK(wait2.responder == "handover");
        CHECK(wait2.text.empty());
        REQUIRE(seen->messages.size() == 2);
        CHECK(seen->messages[1].text == "hello? anyone there?");
        CHECK(seen->messages[1].role == sb::Role::User);
        CHECK(seen->messages[1].status == sb::SessionStatus::Escalated);
        queue = e.escalation_queue(bot, std::nullopt, 0);
        REQUIRE(queue.size() == 1);
        CHECK(queue[0].last_message == "hello? anyone there?");

        // Replying needs a claim; a claim is exclusive.
        CHECK(status_of([&] { e.post_agent_message(sid, agent, "Hi"); }) == SB_ECONFLICT);
        const sb::SessionRecord claimed = e.claim_session(sid, agent);
        CHECK(claimed.status == sb::SessionStatus::Agent);
        CHECK(claimed.claimed_by == agent);
        CHECK(e.claim_session(sid, agent).claimed_by == agent);  // again: no change
        CHECK(status_of([&] { e.claim_session(sid, other); }) == SB_ECONFLICT);
        CHECK(status_of([&] { e.post_agent_message(sid, other, "Hi"); }) == SB_ECONFLICT);
        CHECK(e.escalation_queue(bot, std::nullopt, 0).empty());

        const sb::MessageRecord posted =
            e.post_agent_message(sid, agent, "Hello, I'm Sam. Your parcel left today.");
        CHECK(posted.role == sb::Role::Agent);
        REQUIRE(seen->messages.size() == 3);
        CHECK(seen->messages[2].role == sb::Role::Agent);
        CHECK(seen->messages[2].agent_id == agent);

        // With an agent: the bot stays silent, no acknowledgement either.
        const sb::ChatReply during = say(e, bot, user, sid, "Thanks! And how do I return it?");
        CHECK(during.responder == "handover");
        CHECK(during.text.empty());
        CHECK_FALSE(during.answered);
        REQUIRE(seen->messages.size() == 4);
        CHECK(seen->messages[3].status == sb::SessionStatus::Agent);

        const auto history = e.history(bot, user, sid);
        std::vector<std::pair<sb::Role, std::string>> roles;
        for (const auto& m : history) roles.emplace_back(m.role, m.agent_id);
        using R = sb::Role;
        const std::vector<std::pair<sb::Role, std::string>> expected = {
            {R::User, ""},      {R::Assistant, ""}, {R::User, ""},
            {R::Assistant, ""}, {R::User, ""},      {R::Assistant, ""},  // the acknowledgement
            {R::User, ""},      {R::Agent, agent},  {R::User, ""}};
        CHECK(roles == expected);
        CHECK(history[5].responder == "handover");
        CHECK(history[7].text == "Hello, I'm Sam. Your parcel left today.");
        for (std::size_t i = 1; i < history.size(); ++i) CHECK(history[i - 1].id < history[i].id);

        // Hand back: the bot answers again.
        const sb::SessionRecord released = e.release_session(sid, agent);
        CHECK(released.status == sb::SessionStatus::Open);
        CHECK(released.handbacks == 1);
        CHECK(released.claimed_by.empty());
        CHECK(status_of([&] { e.release_session(sid, agent); }) == SB_ECONFLICT);
        const sb::ChatReply back = say(e, bot, user, sid, "How long does shipping take?");
        CHECK(back.answered);
        CHECK(back.responder == "offline");

        // A second escalation is a new wait with its own acknowledgement; an agent closes it.
        REQUIRE(say(e, bot, user, sid, "agent please").escalated);
        CHECK(seen->escalations.size() == 2);
        CHECK_FALSE(say(e, bot, user, sid, "still there?").text.empty());
        const sb::SessionRecord closed = e.close_session_as_agent(sid, other);
        CHECK(closed.status == sb::SessionStatus::Closed);
        CHECK(closed.closed_by == other);
        CHECK(e.close_session_as_agent(sid, other).status == sb::SessionStatus::Closed);
        CHECK(status_of([&] { say(e, bot, user, sid, "hello"); }) == SB_ECONFLICT);
        CHECK(status_of([&] { e.claim_session(sid, agent); }) == SB_ECONFLICT);
        CHECK(e.hook_failures() == 0);

        // Analytics: the hand-over figures, and the question the agent answered as a
        // knowledge-gap candidate with the agent's reply.
        const std::string a = e.analytics(bot, 0, INT64_MAX);
        CAPTURE(a);
        CHECK(a.find("\"handover\":{\"agent_sessions\":1,\"agent_messages\":1,"
                     "\"first_agent_reply_ms\":{\"count\":1,") != std::string::npos);
        CHECK(a.find("\"resolved_by_agents\":1,\"handbacks\":1}") != std::string::npos);
        CHECK(a.find("\"agent_answered\":1,\"agent_answers\":[{\"question\":\"How long does "
                     "shipping take?\",\"answer\":\"Hello, I'm Sam. Your parcel left today.\"}]") !=
              std::string::npos);
        // Messages during a wait are no knowledge gaps: the bot did not try to answer them.
        CHECK(a.find("hello? anyone there?") == std::string::npos);
    }
}

TEST_CASE("handover: the queue is oldest first, in pages, one bot's only") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "queue.db")) {
        CAPTURE(url);
        sb::EngineOptions o;
        o.database_url = url;
        sb::Engine e(o);
        const std::string owner = unique("admin-");
        const std::string bot = e.create_bot(owner, "Shop", shop_faqs());
        const std::string bot2 = e.create_bot(owner, "Other", shop_faqs());
        std::vector<std::string> order;
        for (int i = 0; i < 5; ++i) {
            const std::string sid = unique("s-");
            REQUIRE(say(e, bot, unique("u-"), sid, "human please").escalated);
            order.push_back(sid);
        }
        REQUIRE(say(e, bot2, unique("u-"), unique("s-"), "human please").escalated);
        say(e, bot, unique("u-"), unique("s-"), "How long does shipping take?");  // not waiting
        std::vector<std::string> seen;
        std::optional<sb::QueueKey> after;
        for (;;) {
            auto page = e.escalation_queue(bot, after, 2);
            if (page.empty()) break;
            CHECK(page.size() <= 2);
            for (const auto& s : page) seen.push_back(s.id);
            after = sb::QueueKey{page.back().escalated_ms, page.back().id};
        }
        // Escalations in the same millisecond are ordered by id.
        auto all = e.escalation_queue(bot, std::nullopt, 0);
        REQUIRE(all.size() == 5);
        for (std::size_t i = 1; i < all.size(); ++i) {
            const bool ordered =
                all[i - 1].escalated_ms < all[i].escalated_ms ||
                (all[i - 1].escalated_ms == all[i].escalated_ms && all[i - 1].id < all[i].id);
            CHECK(ordered);
        }
        std::vector<std::string> ids;
        for (const auto& s : all) ids.push_back(s.id);
        CHECK(seen == ids);
        CHECK(e.escalation_queue(bot2, std::nullopt, 0).size() == 1);
    }
}

TEST_CASE("handover: of concurrent claims from separate engines exactly one wins") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "claims.db")) {
        CAPTURE(url);
        sb::EngineOptions o;
        o.database_url = url;
        o.pool_size = 2;
        constexpr int kAgents = 4;
        std::vector<std::unique_ptr<sb::Engine>> engines;
        for (int i = 0; i < kAgents; ++i) engines.push_back(std::make_unique<sb::Engine>(o));
        const std::string bot = engines[0]->create_bot(unique("admin-"), "Shop", shop_faqs());
        for (int round = 0; round < 6; ++round) {
            const std::string sid = unique("s-");
            REQUIRE(say(*engines[0], bot, unique("u-"), sid, "human please").escalated);
            std::atomic<int> ready{0}, wins{0}, conflicts{0}, others{0};
            std::vector<std::string> winners(kAgents);
            std::vector<std::thread> threads;
            for (int i = 0; i < kAgents; ++i) {
                threads.emplace_back([&, i] {
                    ready.fetch_add(1);
                    while (ready.load() < kAgents) std::this_thread::yield();
                    const std::string agent = "agent-" + std::to_string(i);
                    try {
                        engines[static_cast<std::size_t>(i)]->claim_session(sid, agent);
                        winners[static_cast<std::size_t>(i)] = agent;
                        wins.fetch_add(1);
                    } catch (const sb::Error& err) {
                        (err.status() == SB_ECONFLICT ? conflicts : others).fetch_add(1);
                    }
                });
            }
            for (auto& t : threads) t.join();
            CHECK(wins.load() == 1);
            CHECK(conflicts.load() == kAgents - 1);
            CHECK(others.load() == 0);
            const auto s = engines[1]->database().get_session(sid);
            REQUIRE(s);
            CHECK(s->status == sb::SessionStatus::Agent);
            std::string winner;
            for (const auto& w : winners)
                if (!w.empty()) winner = w;
            CHECK(s->claimed_by == winner);
        }
    }
}

TEST_CASE("handover: hooks that fail are logged and ignored; the turn stands") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "hooks.db")) {
        CAPTURE(url);
        std::atomic<int> escalation_calls{0}, message_calls{0};
        sb::EngineOptions o;
        o.database_url = url;
        o.on_escalation = [&](const sb::EscalationEvent&) {
            escalation_calls.fetch_add(1);
            throw std::runtime_error("ticket system down");
        };
        o.on_session_message = [&](const sb::SessionMessageEvent&) {
            message_calls.fetch_add(1);
            throw 42;  // not even a std::exception
        };
        sb::Engine e(o);
        const std::string user = unique("u-"), sid = unique("s-");
        const std::string bot = e.create_bot(unique("admin-"), "Shop", shop_faqs());
        const sb::ChatReply r = say(e, bot, user, sid, "I need a human");
        CHECK(r.escalated);
        CHECK(escalation_calls.load() == 1);
        const sb::ChatReply w = say(e, bot, user, sid, "are you there?");
        CHECK(w.responder == "handover");
        CHECK(message_calls.load() == 1);
        e.claim_session(sid, "agent-1");
        CHECK(e.post_agent_message(sid, "agent-1", "Here now").role == sb::Role::Agent);
        CHECK(message_calls.load() == 2);
        CHECK(e.hook_failures() == 3);
        // Everything was stored.
        CHECK(e.history(bot, user, sid).size() == 5);
        CHECK(e.database().get_session(sid)->status == sb::SessionStatus::Agent);
    }
}

TEST_CASE("handover: migration 6 keeps an old escalated session escalated (SQLite)") {
    TempDir dir;
    const std::string path = (dir.path() / "old.db").string();
    {
        // A database as migrations 1 to 5 left it, with an escalated session.
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        auto exec = [&](const std::string& sql) {
            char* msg = nullptr;
            const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
            INFO((msg ? msg : ""));
            sqlite3_free(msg);
            REQUIRE(rc == SQLITE_OK);
        };
        exec("PRAGMA foreign_keys=ON");
        exec("CREATE TABLE schema_version (version INTEGER NOT NULL)");
        for (const sb::Migration& m : sb::migrations())
            if (m.version <= 5) exec(m.sqlite_sql);
        exec("INSERT INTO schema_version (version) VALUES (5)");
        exec("INSERT INTO bots VALUES ('b1', 'owner', 'Shop', 1000)");
        exec("INSERT INTO faq_sets VALUES ('b1', 1, 0, '[]', 1000)");
        exec(
            "INSERT INTO sessions (id, bot_id, user_id, created_ms, last_active_ms, status, "
            "escalation_reason) VALUES ('s1', 'b1', 'u1', 1000, 3000, 'escalated', "
            "'user_requested'), ('s2', 'b1', 'u1', 1000, 2000, 'open', '')");
        exec(
            "INSERT INTO messages (session_id, role, text, created_ms, escalated, "
            "escalation_reason) VALUES ('s1', 'user', 'a human please', 2000, 0, ''), "
            "('s1', 'assistant', 'passing you on', 2001, 1, 'user_requested'), "
            "('s1', 'user', 'hello?', 3000, 0, ''), ('s2', 'user', 'hi', 2000, 0, '')");
        exec(
            "INSERT INTO accounts (id, role, email, bot_id, password_hash, created_ms) VALUES "
            "('a1', 'admin', 'a@example.com', '', 'h', 1)");
        sqlite3_close(db);
    }
    auto store = sb::Store::open("sqlite://" + path, sb::StoreOptions{});
    CHECK(store->schema_version() >= 6);
    const auto s1 = store->get_session("s1");
    REQUIRE(s1);
    CHECK(s1->status == sb::SessionStatus::Escalated);
    CHECK(s1->escalation_reason == "user_requested");
    CHECK(s1->escalated_ms == 2001);  // its last escalated reply
    CHECK(store->get_session("s2")->status == sb::SessionStatus::Open);
    const auto h = store->history("s1", 0);
    REQUIRE(h.size() == 3);
    CHECK(h[0].role == sb::Role::User);
    CHECK(h[1].role == sb::Role::Assistant);
    CHECK(h[1].escalated);
    const auto queue = store->escalation_queue("b1", std::nullopt, 0);
    REQUIRE(queue.size() == 1);
    CHECK(queue[0].last_message == "hello?");
    CHECK(store->get_account("a1")->role == "admin");
    // The new values pass the new constraints.
    sb::AccountRecord agent;
    agent.id = "g1";
    agent.role = "agent";
    agent.email = "g@example.com";
    agent.bot_id = "b1";
    agent.password_hash = "h";
    store->create_account(agent);
    CHECK(store->list_accounts("agent", "b1").size() == 1);
    sb::TurnRecord t;
    t.session = *s1;
    t.session.status = sb::SessionStatus::Agent;
    t.session.claimed_by = "g1";
    sb::MessageRecord m;
    m.session_id = "s1";
    m.role = sb::Role::Agent;
    m.agent_id = "g1";
    m.text = "hi, Sam here";
    m.created_ms = 4000;
    t.messages.push_back(m);
    store->record_turn(t);
    CHECK(store->history("s1", 0).back().agent_id == "g1");
    CHECK(store->get_session("s1")->status == sb::SessionStatus::Agent);
    // The old constraints' spirit stays: an unknown status is refused.
    t.session = *store->get_session("s1");
    t.messages.clear();
    CHECK(status_of([&] {
              // role 'admin' with a bot violates the accounts table's check
              sb::AccountRecord bad = agent;
              bad.id = "g2";
              bad.role = "admin";
              store->create_account(bad);
          }) == SB_EDB);
}
