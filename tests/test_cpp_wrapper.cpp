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

TEST_CASE("C++ wrapper: versions, statuses and options") {
    CHECK(supportbot::version() == SB_VERSION_STRING);
    CHECK(supportbot::abi_version() == SB_ABI_VERSION);
    CHECK(supportbot::status_name(SB_EPARSE) == "SB_EPARSE");
    const sb_engine_options eo = supportbot::engine_options();
    CHECK(eo.version == SB_ENGINE_OPTIONS_VERSION);
    CHECK(eo.answer_threshold < 0);
    CHECK(supportbot::load_options().version == SB_LOAD_OPTIONS_VERSION);
    const sb_search_options so = supportbot::search_options();
    CHECK(so.version == SB_SEARCH_OPTIONS_VERSION);
    CHECK(so.threshold < 0);
    CHECK(supportbot::list_options().version == SB_LIST_OPTIONS_VERSION);
    supportbot::Engine engine;
    CHECK_THROWS_AS(engine.load("["), supportbot::Error);
    CHECK(supportbot::last_status() == SB_EPARSE);
}

TEST_CASE("C++ wrapper: an FAQ set's alternates, tags and ids") {
    supportbot::Engine engine;
    auto set = engine.load(R"([
        {"id": "pw", "question": "How do I reset my password?", "answer": "Use the link.",
         "tags": ["account", "login"], "alternates": ["forgot password", "new password"]},
        {"id": "hours", "question": "When are you open?", "answer": "Nine to five."}])");
    const auto i = set.find("pw");
    REQUIRE(i);
    const sb_faq_entry e = set.entry(*i);
    REQUIRE(e.alternate_count == 2);
    REQUIRE(e.tag_count == 2);
    CHECK(set.alternate(*i, 1) == "new password");
    CHECK(set.tag(*i, 0) == "account");
    CHECK(set.find("hours") == std::optional<std::size_t>(1));
    CHECK_FALSE(set.find("nope"));
    try {
        set.alternate(*i, 2);
        FAIL("no exception");
    } catch (const supportbot::Error& err) {
        CHECK(err.status() == SB_ERANGE);
    }
}

TEST_CASE("C++ wrapper: accounts, bots, small talk, chat, sessions and analytics") {
    char dir[] = "/tmp/sb-wrapper-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string url = std::string("sqlite://") + dir + "/w.db";
    const std::string faq_path = std::string(dir) + "/faqs.json";
    sb_engine_options o = supportbot::engine_options();
    o.database_url = url.c_str();
    o.secret_key = "a test signing key, 32 bytes long!";
    {
        supportbot::Engine engine(o);
        const std::string pw = "Wrapper-pass-1";
        const std::string admin_id = engine.register_admin("Owner@Example.com", pw);
        CHECK(engine.lookup_account("", "owner@example.com") == admin_id);
        CHECK_FALSE(engine.lookup_account("", "nobody@example.com"));
        supportbot::Principal admin = engine.principal(engine.login_admin("owner@example.com", pw));
        const supportbot::PrincipalInfo info = admin.info();
        CHECK(info.account_id == admin_id);
        CHECK(info.role == SB_ACCOUNT_ADMIN);
        CHECK(info.bot_id.empty());
        CHECK(info.email == "owner@example.com");
        CHECK(info.expires_ms > 0);
        CHECK(engine.principal(engine.issue_token(admin_id)).info().account_id == admin_id);

        // A bot from a file with synonyms ("flumbox" stands for an order): tracking a flumbox
        // reaches the order FAQ, not the refund one.
        const std::string faqs =
            R"({"synonyms": {"order": ["flumbox"]}, "faqs": [
                {"id":"track","question":"How can I track my order?","answer":"Use the link."},
                {"id":"refund","question":"How can I track my refund?","answer":"5 days."},
                {"id":"pw","question":"How do I reset my password?","answer":"Use the form."}]})";
        {
            FILE* f = std::fopen(faq_path.c_str(), "wb");
            REQUIRE(f);
            std::fwrite(faqs.data(), 1, faqs.size(), f);
            std::fclose(f);
        }
        const std::string bot_id = engine.create_bot_from_file(admin, "Shop", faq_path);
        const std::string other = engine.create_bot(admin, "Other", faqs, SB_FORMAT_JSON);
        CHECK(engine.bots(admin).size() == 2);
        const supportbot::BotInfo b = engine.bot(admin, bot_id);
        CHECK(b.name == "Shop");
        CHECK(b.owner == admin_id);
        CHECK(b.faq_count == 3);
        CHECK(b.faq_revision == 1);

        const std::string ann_id = engine.register_user(bot_id, "ann@example.com", pw);
        supportbot::Principal ann =
            engine.principal(engine.login_user(bot_id, "ann@example.com", pw));
        CHECK(ann.info().bot_id == bot_id);
        CHECK(engine.bots(ann).size() == 1);
        try {
            engine.bot(ann, other);
            FAIL("no exception");
        } catch (const supportbot::Error& err) {
            CHECK(err.status() == SB_EFORBIDDEN);
        }

        // Chat, streamed: the pieces make up the reply.
        supportbot::ChatMessage m;
        m.bot_id = bot_id;
        m.text = "track my flumbox";
        std::string streamed;
        m.on_text = [&](std::string_view piece) {
            streamed += piece;
            return true;
        };
        const supportbot::Reply r = engine.chat(ann, m);
        CHECK(r.answered);
        CHECK(r.responder == "offline");
        REQUIRE_FALSE(r.faqs.empty());
        CHECK(r.faqs[0].id == "track");
        CHECK(r.faqs[0].question == "How can I track my order?");
        CHECK(streamed == r.text);
        CHECK_FALSE(r.fallback);
        CHECK(r.prompt_tokens == 0);

        // A callback that throws: the exception comes out of chat(), not through the C ABI.
        supportbot::ChatMessage bad = m;
        bad.session_id = r.session_id;
        bad.on_text = [](std::string_view) -> bool { throw std::runtime_error("host failure"); };
        CHECK_THROWS_WITH_AS(engine.chat(ann, bad), "host failure", std::runtime_error);

        // Small talk, replaced through the wrapper.
        engine.set_smalltalk(admin, bot_id,
                             R"([{"id":"greeting","question":"ahoy","answer":"Ahoy, sailor!"}])");
        CHECK(engine.smalltalk(ann, bot_id).find("Ahoy, sailor!") != std::string::npos);
        supportbot::ChatMessage hi;
        hi.bot_id = bot_id;
        hi.text = "ahoy";
        hi.session_id = r.session_id;
        const supportbot::Reply greeting = engine.chat(ann, hi);
        CHECK(greeting.responder == "smalltalk");
        CHECK(greeting.text == "Ahoy, sailor!");
        CHECK(engine.bot(admin, bot_id).faq_revision == 2);
        // The synonyms survived the small talk's replacement.
        m.on_text = nullptr;
        CHECK(engine.chat(ann, m).faqs.at(0).id == "track");

        const auto sessions = engine.list_sessions(admin, bot_id);
        REQUIRE(sessions.size() == 2);
        CHECK((sessions[0].id == r.session_id || sessions[1].id == r.session_id));
        CHECK(sessions[0].id != sessions[1].id);
        const auto messages = engine.session_history(ann, r.session_id);
        REQUIRE(messages.size() == 6);  // three turns: the throwing one was stored too
        CHECK(messages[1].role == SB_ROLE_ASSISTANT);
        CHECK(messages[1].faq_ids.at(0) == "track");
        CHECK_FALSE(messages[1].fallback);
        CHECK(messages[5].responder == "smalltalk");

        const std::string summary = engine.summarize_session(ann, r.session_id);
        CHECK(summary.find("\"session_id\"") != std::string::npos);
        const supportbot::SummaryRun run = engine.summarize_sessions(admin, bot_id);
        CHECK(run.processed == 1);
        CHECK(run.skipped == 1);
        CHECK(engine.summaries(admin, bot_id).find(r.session_id) != std::string::npos);
        CHECK(engine.analytics(admin, bot_id).find("\"sessions\"") != std::string::npos);

        engine.close_session(ann, r.session_id);
        try {
            engine.chat(ann, hi);
            FAIL("no exception");
        } catch (const supportbot::Error& err) {
            CHECK(err.status() == SB_ECONFLICT);
        }

        // Replacing the FAQs (from bytes, then from the file again) bumps the revision.
        engine.replace_faqs(
            admin, bot_id,
            R"([{"id":"only","question":"Do you sell umbrellas?","answer":"Yes."}])");
        CHECK(engine.bot(admin, bot_id).faq_count == 1);
        engine.replace_faqs_from_file(admin, bot_id, faq_path);
        CHECK(engine.bot(admin, bot_id).faq_revision == 4);

        engine.delete_account(ann, ann_id);
        CHECK_FALSE(engine.lookup_account(bot_id, "ann@example.com"));
    }
    for (const char* f : {"/w.db", "/w.db-wal", "/w.db-shm", "/faqs.json"})
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
