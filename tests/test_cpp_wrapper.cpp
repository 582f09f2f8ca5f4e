// The header-only C++ wrapper over the C ABI.
#include <doctest/doctest.h>
#include <unistd.h>
#include <supportbot/supportbot.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

TEST_CASE("C++ wrapper: load, search and errors as exceptions") {
    supportbot::Engine engine;
    auto set = engine.load_file(SB_SOURCE_DIR "/faqs.json");
    CHECK(set.size() >= 40);
    auto r = set.search("I forgot my password", 3);
    REQUIRE(r.results.size() == 3);
    CHECK(r.results[0].confidence >= r.results[1].confidence);
    CHECK(std::string(set.entry(r.results[0].index).id) == r.results[0].id);
    auto never = set.search("I forgot my password", 1, 1.0);
    CHECK_FALSE(never.answered);
    try {
        engine.load("[{\"question\": \"q\", \"answer\": \"\"}]", SB_FORMAT_JSON);
        FAIL("no exception");
    } catch (const supportbot::Error& e) {
        CHECK(e.status() == SB_EINVALID_DATA);
        CHECK(std::string(e.what()).find("answer") != std::string::npos);
    }
    CHECK_THROWS_AS(set.search("\xC3\x28"), supportbot::Error);
}

TEST_CASE("C++ wrapper: ping, and sessions and histories in pages with first messages") {
    char dir[] = "/tmp/sb-wrapper-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string url = std::string("sqlite://") + dir + "/w.db";
    sb_engine_options o = SB_ENGINE_OPTIONS_INIT;
    o.database_url = url.c_str();
    o.secret_key = "a test signing key, 32 bytes long!";
    {
        supportbot::Engine engine(o);
        engine.ping();
        auto login = [&](const char* bot, const char* email) {
            char* token = nullptr;
            const char* pw = "Wrapper-pass-1";
            supportbot::check(bot ? sb_user_register(engine.handle(), bot, email, pw, nullptr)
                                  : sb_admin_register(engine.handle(), email, pw, nullptr));
            supportbot::check(bot ? sb_user_login(engine.handle(), bot, email, pw, &token)
                                  : sb_admin_login(engine.handle(), email, pw, &token));
            const std::string t = token;
            sb_string_free(token);
            return engine.principal(t);
        };
        supportbot::Principal admin = login(nullptr, "owner@example.com");
        char* bot = nullptr;
        // A small set: building its index takes little time.
        const std::string faqs =
            R"([{"id":"pw","question":"How do I reset my password?","answer":"Use the link."},
                {"id":"ship","question":"Where is my parcel?","answer":"On its way."},
                {"id":"refund","question":"Can I get a refund?","answer":"Yes, within 30 days."}])";
        supportbot::check(sb_bot_create(engine.handle(), admin.handle(), "Shop", faqs.data(),
                                        faqs.size(), SB_FORMAT_JSON, nullptr, &bot));
        const std::string bot_id = bot;
        sb_string_free(bot);
        supportbot::Principal ann = login(bot_id.c_str(), "ann@example.com");
        for (const char* q : {"I forgot my password", "where is my parcel", "refund please"}) {
            sb_chat_request r = SB_CHAT_REQUEST_INIT;
            r.bot_id = bot_id.c_str();
            r.principal = ann.handle();
            r.message = q;
            r.message_len = std::strlen(q);
            sb_reply* reply = nullptr;
            supportbot::check(sb_chat_send(engine.handle(), &r, &reply));
            sb_reply_free(reply);
        }
        const auto all = engine.sessions(ann, bot_id);
        REQUIRE(all.items.size() == 3);
        CHECK_FALSE(all.next_cursor);
        std::vector<std::string> paged;
        std::string cursor;
        for (;;) {
            auto page = engine.sessions(admin, bot_id, 2, cursor);
            for (const auto& s : page.items) {
                paged.push_back(s.id);
                CHECK(s.message_count == 2);
                CHECK_FALSE(s.first_message.empty());
            }
            if (!page.next_cursor) break;
            cursor = *page.next_cursor;
        }
        REQUIRE(paged.size() == 3);
        for (std::size_t i = 0; i < 3; ++i) CHECK(paged[i] == all.items[i].id);

        const auto first = engine.history(ann, all.items[0].id, 1);
        REQUIRE(first.items.size() == 1);
        CHECK(first.items[0].role == SB_ROLE_USER);
        CHECK(first.items[0].text == all.items[0].first_message);
        REQUIRE(first.next_cursor);
        const auto rest = engine.history(ann, all.items[0].id, 5, *first.next_cursor);
        REQUIRE(rest.items.size() == 1);
        CHECK(rest.items[0].role == SB_ROLE_ASSISTANT);
        CHECK(rest.items[0].id > first.items[0].id);
        CHECK_FALSE(rest.next_cursor);
        try {
            engine.history(ann, all.items[1].id, 1, *first.next_cursor);
            FAIL("no exception");
        } catch (const supportbot::Error& e) {
            CHECK(e.status() == SB_EINVAL);
        }
    }
    for (const char* f : {"/w.db", "/w.db-wal", "/w.db-shm"})
        std::remove((dir + std::string(f)).c_str());
    rmdir(dir);
}

TEST_CASE("C++ wrapper: the hand-over, with hooks that throw") {
    char dir[] = "/tmp/sb-wrapper-ho-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string url = std::string("sqlite://") + dir + "/h.db";
    sb_engine_options o = SB_ENGINE_OPTIONS_INIT;
    o.database_url = url.c_str();
    o.secret_key = "a test signing key, 32 bytes long!";
    int escalations = 0, messages = 0;
    supportbot::Hooks hooks;
    hooks.on_escalation = [&](const supportbot::EscalationEvent& e) {
        ++escalations;
        CHECK(e.reason == "user_requested");
        throw std::runtime_error("the helpdesk is down");  // caught by the wrapper
    };
    hooks.on_session_message = [&](const supportbot::SessionMessageEvent& e) {
        ++messages;
        if (e.role == SB_ROLE_AGENT) CHECK(e.text == "On it.");
        throw 1;
    };
    {
        supportbot::Engine engine(o, hooks);
        char* owner_id = nullptr;
        REQUIRE(sb_admin_register(engine.handle(), "o@example.com", "owner-Password-1",
                                  &owner_id) == SB_OK);
        char* token = nullptr;
        REQUIRE(sb_token_issue(engine.handle(), owner_id, &token) == SB_OK);
        supportbot::Principal owner = engine.principal(token);
        sb_string_free(token);
        sb_string_free(owner_id);
        char* bot = nullptr;
        REQUIRE(sb_bot_create_from_file(engine.handle(), owner.handle(), "Shop",
                                        SB_SOURCE_DIR "/faqs.json", SB_FORMAT_AUTO, nullptr,
                                        &bot) == SB_OK);
        const std::string bot_id = bot;
        sb_string_free(bot);
        engine.agent_add(owner, bot_id, "sam@example.com", "agent-Password-1");
        CHECK(engine.agents_json(owner, bot_id).find("sam@example.com") != std::string::npos);
        supportbot::Principal agent =
            engine.principal(engine.agent_login(bot_id, "sam@example.com", "agent-Password-1"));

        sb_chat_request req = SB_CHAT_REQUEST_INIT;
        req.bot_id = bot_id.c_str();
        req.principal = owner.handle();  // the owner tries its bot
        req.session_id = "w-1";
        req.message = "talk to a human";
        req.message_len = std::strlen(req.message);
        sb_reply* reply = nullptr;
        REQUIRE(sb_chat_send(engine.handle(), &req, &reply) == SB_OK);
        sb_reply_free(reply);
        CHECK(escalations == 1);

        auto queue = engine.escalations(agent, bot_id);
        REQUIRE(queue.items.size() == 1);
        CHECK(queue.items[0].session_id == "w-1");
        CHECK(queue.items[0].last_message == "talk to a human");
        engine.claim(agent, "w-1");
        try {
            engine.claim(owner, "w-1");
            FAIL("two claims");
        } catch (const supportbot::Error& e) {
            CHECK(e.status() == SB_ECONFLICT);
        }
        engine.agent_reply(agent, "w-1", "On it.");
        CHECK(messages == 1);
        const auto h = engine.history(agent, "w-1");
        REQUIRE(h.items.size() == 3);
        CHECK(h.items[2].role == SB_ROLE_AGENT);
        CHECK_FALSE(h.items[2].agent_id.empty());
        engine.release(agent, "w-1");
        engine.close(agent, "w-1");
        CHECK(engine.escalations(agent, bot_id).items.empty());
    }
    sb_engine_options v3 = SB_ENGINE_OPTIONS_INIT;
    v3.version = 3;
    CHECK_THROWS_AS(supportbot::Engine(v3, supportbot::Hooks{}), supportbot::Error);
    std::remove((std::string(dir) + "/h.db").c_str());
    std::remove((std::string(dir) + "/h.db-wal").c_str());
    std::remove((std::string(dir) + "/h.db-shm").c_str());
    rmdir(dir);
}
