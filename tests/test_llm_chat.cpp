// The chat pipeline with an LLM provider (a fake server on loopback, the real clients): replies,
// token usage, fallbacks, streaming and the C ABI. SQLite always, PostgreSQL too when
// SB_TEST_PG_URL is set (the cases are named "chat: ..." so chat_postgres runs them).
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "chat/engine.hpp"
#include "fake_llm.hpp"
#include "supportbot/supportbot.h"
#include "test_support.hpp"

namespace {

using sb::test::database_urls;
using sb::test::FakeLlm;
using sb::test::FakeReply;
using sb::test::TempDir;

constexpr const char* kQuestion = "how do I reset my password";

sb::EngineOptions engine_options(const std::string& url, const FakeLlm* fake,
                                 const char* provider) {
    sb::EngineOptions o;
    o.database_url = url;
    if (fake) {
        o.llm.provider = provider;
        o.llm.base_url = fake->base_url();
        o.llm.api_key = "test-key";
        o.llm.timeout_ms = 3000;
        o.llm.max_attempts = 2;
        o.llm.backoff_initial_ms = 5;
        o.llm.backoff_max_ms = 20;
    }
    return o;
}

std::string new_bot(sb::Engine& e) {
    return e.create_bot(
        "owner-" + sb::new_uuid(), "Shop",
        sb::load_faqs_file(SB_SOURCE_DIR "/faqs.json", sb::FaqFormat::Auto, sb::FaqLimits{}));
}

sb::ChatRequest request(const std::string& bot, const std::string& user,
                        std::optional<std::string> session, const std::string& text) {
    sb::ChatRequest r;
    r.bot_id = bot;
    r.user_id = user;
    r.session_id = std::move(session);
    r.message = text;
    return r;
}

FakeReply reply_for(const char* provider, const std::string& model_text, bool stream = false) {
    const bool gemini = std::string(provider) == "gemini";
    FakeReply r{200, stream ? (gemini ? sb::test::gemini_sse(model_text, 6, 200, 40)
                                      : sb::test::openai_sse(model_text, 6, 200, 40))
                            : (gemini ? sb::test::gemini_body(model_text, "STOP", 200, 40)
                                      : sb::test::openai_body(model_text, "stop", 200, 40))};
    r.sse = stream;
    r.piece = 11;
    return r;
}

}  // namespace

TEST_CASE("chat: an LLM writes the reply from the top FAQs and the history; usage is stored") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "llm.db")) {
        for (const char* provider : {"gemini", "openai"}) {
            CAPTURE(url);
            CAPTURE(provider);
            FakeLlm fake;
            sb::Engine e(engine_options(url, &fake, provider));
            REQUIRE(e.llm_client() != nullptr);
            CHECK(std::string(e.llm_client()->name()) == provider);
            const std::string bot = new_bot(e);
            const std::string user = "u-" + sb::new_uuid();
            fake.push(reply_for(
                provider, sb::test::model_json("Use the Forgot password link on the sign-in page.",
                                               {"What if I get no email?"})));
            const sb::ChatReply r = e.chat(request(bot, user, std::nullopt, kQuestion));
            CHECK(r.text == "Use the Forgot password link on the sign-in page.");
            CHECK(r.responder == provider);
            CHECK_FALSE(r.fallback);
            CHECK(r.answered);
            CHECK(r.prompt_tokens == 200);
            CHECK(r.completion_tokens == 40);
            // One suggestion from the model, filled up to two from the offline ones.
            REQUIRE(r.suggestions.size() == 2);
            CHECK(r.suggestions[0] == "What if I get no email?");
            // The prompt held the top FAQ as delimited context.
            REQUIRE(fake.count() == 1);
            const std::string first_body = fake.received()[0].body;
            CHECK(first_body.find("<faq id=\\\"password-reset\\\">") != std::string::npos);

            // The next turn sends the history.
            fake.push(reply_for(provider,
                                sb::test::model_json("It arrives within minutes.", {"a?", "b?"})));
            const sb::ChatReply r2 =
                e.chat(request(bot, user, r.session_id, "and how long does the email take?"));
            CHECK(r2.text == "It arrives within minutes.");
            const std::string second_body = fake.received()[1].body;
            CHECK(second_body.find("Use the Forgot password link") != std::string::npos);
            CHECK(second_body.find(kQuestion) != std::string::npos);

            const auto history = e.history(bot, user, r.session_id);
            REQUIRE(history.size() == 4);
            CHECK(history[1].text == r.text);
            CHECK(history[1].responder == provider);
            CHECK_FALSE(history[1].fallback);
            CHECK(history[1].prompt_tokens == 200);
            CHECK(history[1].completion_tokens == 40);
            CHECK(history[0].prompt_tokens == 0);
        }
    }
}

TEST_CASE("chat: when the provider keeps failing the offline answer is given, marked fallback") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "llm.db")) {
        CAPTURE(url);
        FakeLlm fake;
        fake.otherwise({503, R"({"error":{"message":"overloaded"}})"});
        sb::Engine offline(engine_options(url, nullptr, ""));
        sb::Engine e(engine_options(url, &fake, "gemini"));
        CHECK(offline.llm_client() == nullptr);
        const std::string bot = new_bot(e);
        const std::string user = "u-" + sb::new_uuid();
        const sb::ChatReply expected = offline.chat(request(bot, user, std::nullopt, kQuestion));
        std::vector<std::string> streamed;
        auto req = request(bot, user, std::nullopt, kQuestion);
        req.on_text = [&](std::string_view p) {
            streamed.emplace_back(p);
            return true;
        };
        const sb::ChatReply r = e.chat(req);
        CHECK(fake.count() == 2);  // max_attempts
        CHECK(r.fallback);
        CHECK(r.responder == "offline");
        CHECK(r.text == expected.text);
        CHECK(r.answered);
        // Nothing was streamed before the failure: the fallback arrives in one piece.
        CHECK(streamed == std::vector<std::string>{r.text});
        const auto history = e.history(bot, user, r.session_id);
        REQUIRE(history.size() == 2);
        CHECK(history[0].text == kQuestion);
        CHECK(history[1].fallback);
        CHECK(history[1].responder == "offline");
        CHECK_FALSE(history[1].error);

        // A malformed answer from the model: the same fallback, with the tokens it spent.
        fake.push(reply_for("gemini", "Sure! The answer is: reset it."));
        const sb::ChatReply m = e.chat(request(bot, user, std::nullopt, kQuestion));
        CHECK(m.fallback);
        CHECK(m.text == expected.text);
        CHECK(m.prompt_tokens == 200);
        fake.push(reply_for("gemini", R"({"reply":"","suggestions":[],"escalate":false})"));
        CHECK(e.chat(request(bot, user, std::nullopt, kQuestion)).fallback);
        // A blocked prompt too.
        fake.push({200, R"({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}})"});
        CHECK(e.chat(request(bot, user, std::nullopt, kQuestion)).fallback);
    }
}

TEST_CASE("chat: a slow provider times out and the turn still answers") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "llm.db")) {
        CAPTURE(url);
        FakeLlm fake;
        FakeReply slow = reply_for("openai", sb::test::model_json("late", {}));
        slow.delay_ms = 700;
        fake.otherwise(slow);
        auto o = engine_options(url, &fake, "openai");
        o.llm.timeout_ms = 150;
        o.llm.max_attempts = 1;
        sb::Engine e(o);
        const std::string bot = new_bot(e);
        const sb::ChatReply r =
            e.chat(request(bot, "u-" + sb::new_uuid(), std::nullopt, kQuestion));
        CHECK(r.fallback);
        CHECK(r.latency_ms < 900);
        CHECK(fake.count() == 1);
    }
}

TEST_CASE("chat: streaming hands on only the reply's text, in pieces that make the stored reply") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "llm.db")) {
        for (const char* provider : {"gemini", "openai"}) {
            CAPTURE(url);
            CAPTURE(provider);
            FakeLlm fake;
            sb::Engine e(engine_options(url, &fake, provider));
            const std::string bot = new_bot(e);
            const std::string user = "u-" + sb::new_uuid();
            const std::string text =
                "Click \"Forgot password\" on the sign-in page \xE2\x80\x94 then follow the "
                "email's link.\nIt is valid for an hour.";
            fake.push(reply_for(provider, sb::test::model_json(text, {"x?", "y?", "z?"}), true));
            std::vector<std::string> pieces;
            auto req = request(bot, user, std::nullopt, kQuestion);
            req.on_text = [&](std::string_view p) {
                pieces.emplace_back(p);
                return true;
            };
            const sb::ChatReply r = e.chat(req);
            CHECK_FALSE(r.fallback);
            CHECK(r.text == text);
            CHECK(pieces.size() > 3);
            std::string joined;
            for (const auto& p : pieces) {
                CHECK(p.find("\"reply\"") == std::string::npos);  // text, not JSON
                joined += p;
            }
            CHECK(joined == r.text);
            CHECK(r.suggestions.size() == 3);
            CHECK(r.prompt_tokens == 200);
            const auto history = e.history(bot, user, r.session_id);
            REQUIRE(history.size() == 2);
            CHECK(history[1].text == joined);
            CHECK(history[1].completion_tokens == 40);
            const auto received = fake.received();
            REQUIRE(received.size() == 1);
            if (std::string(provider) == "gemini")
                CHECK(received[0].alt == "sse");
            else
                CHECK(received[0].body.find("\"stream\":true") != std::string::npos);

            // The model may ask for a human.
            fake.push(reply_for(
                provider, sb::test::model_json("Let me get a colleague.", {"a?", "b?"}, true)));
            const sb::ChatReply esc = e.chat(request(bot, user, r.session_id, "it still fails"));
            CHECK(esc.escalated);
            CHECK(esc.escalation_reason == "model_requested");
            CHECK(esc.text == "Let me get a colleague.");
            const auto sessions = e.sessions(bot, user);
            REQUIRE(sessions.size() == 1);
            CHECK(sessions[0].status == sb::SessionStatus::Escalated);
        }
    }
}

TEST_CASE("chat: a host that stops the stream keeps what it received") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "llm.db")) {
        CAPTURE(url);
        FakeLlm fake;
        sb::Engine e(engine_options(url, &fake, "gemini"));
        const std::string bot = new_bot(e);
        const std::string user = "u-" + sb::new_uuid();
        fake.push(reply_for("gemini",
                            sb::test::model_json(std::string(300, 'w') + " the end", {"a?", "b?"}),
                            true));
        std::string seen;
        auto req = request(bot, user, std::nullopt, kQuestion);
        req.on_text = [&](std::string_view p) {
            seen += p;
            return false;  // stop after the first piece
        };
        const sb::ChatReply r = e.chat(req);
        CHECK_FALSE(seen.empty());
        CHECK(seen.size() < 300);
        CHECK(r.text == seen);
        CHECK(r.responder == "gemini");
        CHECK_FALSE(r.fallback);
        CHECK(e.history(bot, user, r.session_id).at(1).text == seen);
    }
}

TEST_CASE("chat: deterministic escalations and offline replies reach on_text once") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "llm.db")) {
        CAPTURE(url);
        FakeLlm fake;
        sb::Engine e(engine_options(url, &fake, "openai"));
        sb::Engine offline(engine_options(url, nullptr, ""));
        const std::string bot = new_bot(e);
        for (sb::Engine* engine : {&e, &offline}) {
            for (const char* message : {"can I talk to a human please", kQuestion}) {
                if (engine == &e && message == kQuestion) continue;  // that one asks the LLM
                CAPTURE(message);
                std::vector<std::string> pieces;
                auto req = request(bot, "u-" + sb::new_uuid(), std::nullopt, message);
                req.on_text = [&](std::string_view p) {
                    pieces.emplace_back(p);
                    return true;
                };
                const sb::ChatReply r = engine->chat(req);
                CHECK(pieces == std::vector<std::string>{r.text});
                CHECK(r.responder == "offline");
                CHECK_FALSE(r.fallback);
            }
        }
        CHECK(fake.count() == 0);  // "talk to a human" never reached the provider
    }
}

namespace {

struct Collected {
    std::string text;
    int calls = 0;
};

extern "C" int collect_text(void* user_data, const char* text, size_t len) {
    auto* c = static_cast<Collected*>(user_data);
    c->text.append(text, len);
    ++c->calls;
    return 0;
}

extern "C" int must_not_be_called(void*, const char*, size_t) {
    std::abort();
}

// A new account (an admin when bot is NULL, else a user of the bot) and its principal, through a
// token the host mints.
sb_principal* new_principal(sb_engine* e, const char* bot) {
    const std::string email = "p" + sb::new_uuid().substr(0, 8) + "@example.com";
    char* id = nullptr;
    const int rc = bot ? sb_user_register(e, bot, email.c_str(), "Password-123", &id)
                       : sb_admin_register(e, email.c_str(), "Password-123", &id);
    REQUIRE(rc == SB_OK);
    char* token = nullptr;
    REQUIRE(sb_token_issue(e, id, &token) == SB_OK);
    sb_string_free(id);
    sb_principal* p = nullptr;
    REQUIRE(sb_principal_from_token(e, token, &p) == SB_OK);
    sb_string_free(token);
    return p;
}

}  // namespace

TEST_CASE("chat: the C ABI streams through on_text and reports usage and fallbacks") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "llm.db")) {
        CAPTURE(url);
        FakeLlm fake;
        sb_engine_options opts = SB_ENGINE_OPTIONS_INIT;
        opts.database_url = url.c_str();
        opts.secret_key = "llm-chat-test-secret-0123456789abcdef";
        sb_engine* engine = nullptr;
        opts.llm_provider = "claude";
        CHECK(sb_engine_open(&engine, &opts) == SB_EINVAL);
        CHECK(engine == nullptr);
        opts.llm_provider = "gemini";  // without a key
        CHECK(sb_engine_open(&engine, &opts) == SB_EINVAL);
        CHECK(std::string(sb_last_error()).find("API key") != std::string::npos);
        const std::string base = fake.base_url();
        opts.llm_base_url = base.c_str();
        opts.llm_api_key = "c-key";
        opts.llm_max_attempts = 1;
        REQUIRE(sb_engine_open(&engine, &opts) == SB_OK);
        char* bot = nullptr;
        sb_principal* admin = new_principal(engine, nullptr);
        REQUIRE(sb_bot_create_from_file(engine, admin, "Shop", SB_SOURCE_DIR "/faqs.json",
                                        SB_FORMAT_AUTO, nullptr, &bot) == SB_OK);
        sb_principal* user = new_principal(engine, bot);

        fake.push(
            reply_for("gemini", sb::test::model_json("Streamed from C.", {"a?", "b?"}), true));
        Collected got;
        sb_chat_request req = SB_CHAT_REQUEST_INIT;
        req.bot_id = bot;
        req.principal = user;
        req.message = kQuestion;
        req.message_len = std::strlen(kQuestion);
        req.on_text = &collect_text;
        req.user_data = &got;
        sb_reply* reply = nullptr;
        REQUIRE(sb_chat_send(engine, &req, &reply) == SB_OK);
        sb_reply_info info;
        REQUIRE(sb_reply_get(reply, &info) == SB_OK);
        CHECK(std::string(info.text) == "Streamed from C.");
        CHECK(got.text == info.text);
        CHECK(got.calls > 1);
        CHECK(std::string(info.responder) == "gemini");
        int fallback = -1;
        int64_t prompt = -1, completion = -1;
        REQUIRE(sb_reply_usage(reply, &fallback, &prompt, &completion) == SB_OK);
        CHECK(fallback == 0);
        CHECK(prompt == 200);
        CHECK(completion == 40);
        CHECK(sb_reply_usage(reply, nullptr, nullptr, nullptr) == SB_OK);
        CHECK(sb_reply_usage(nullptr, &fallback, nullptr, nullptr) == SB_EINVAL);
        const std::string session = info.session_id;
        sb_reply_free(reply);

        // The provider fails: the offline answer, marked; a version 1 request is still accepted
        // and its (absent) callback fields are not read.
        fake.otherwise({500, "down"});
        sb_chat_request v1 = req;
        v1.version = 1;
        v1.session_id = session.c_str();
        v1.on_text = &must_not_be_called;
        REQUIRE(sb_chat_send(engine, &v1, &reply) == SB_OK);
        REQUIRE(sb_reply_usage(reply, &fallback, &prompt, &completion) == SB_OK);
        CHECK(fallback == 1);
        REQUIRE(sb_reply_get(reply, &info) == SB_OK);
        CHECK(std::string(info.responder) == "offline");
        sb_reply_free(reply);

        sb_messages* messages = nullptr;
        REQUIRE(sb_session_history(engine, user, session.c_str(), &messages) == SB_OK);
        size_t n = 0;
        REQUIRE(sb_messages_count(messages, &n) == SB_OK);
        REQUIRE(n == 4);
        REQUIRE(sb_messages_usage(messages, 1, &fallback, &prompt, &completion) == SB_OK);
        CHECK(fallback == 0);
        CHECK(prompt == 200);
        CHECK(completion == 40);
        REQUIRE(sb_messages_usage(messages, 3, &fallback, nullptr, nullptr) == SB_OK);
        CHECK(fallback == 1);
        CHECK(sb_messages_usage(messages, 4, &fallback, nullptr, nullptr) == SB_ERANGE);
        sb_messages_free(messages);
        sb_principal_free(user);
        sb_principal_free(admin);
        sb_string_free(bot);
        sb_engine_close(engine);
    }
}

TEST_CASE("chat: summaries and the analytics narrative through a real LLM client") {
    // The engine's own client (real libcurl) against the fake server: the summary and the
    // narrative are asked for with their JSON schemas, and a failing provider falls back to the
    // offline summary (marked) and a null narrative with its error.
    TempDir dir;
    for (const std::string& url : database_urls(dir, "llm.db")) {
        for (const char* provider : {"gemini", "openai"}) {
            CAPTURE(url);
            CAPTURE(provider);
            FakeLlm fake;
            sb::Engine e(engine_options(url, &fake, provider));
            const std::string bot = new_bot(e);
            const std::string user = "u-" + sb::new_uuid();
            fake.push(reply_for(
                provider, sb::test::model_json("Use the Forgot password link.", {"a?", "b?"})));
            const auto turn = e.chat(request(bot, user, std::nullopt, "I forgot my password"));
            REQUIRE(turn.responder == provider);

            const std::string summary_text =
                R"({"summary":"The user could not sign in and was told how to reset the password.",)"
                R"("main_issue":"Forgot password","resolved":true,"sentiment":"positive",)"
                R"("topics":["account","password"]})";
            fake.push(reply_for(provider, summary_text));
            const sb::SessionSummary s = e.summarize_session(bot, user, turn.session_id);
            CHECK(s.source == provider);
            CHECK(s.fallback.empty());
            CHECK(s.main_issue == "Forgot password");
            CHECK(s.resolved);
            CHECK(s.sentiment == "positive");
            CHECK(s.topics == std::vector<std::string>{"account", "password"});
            const auto req = fake.received().back();
            CHECK(req.body.find("<transcript>") != std::string::npos);
            CHECK(req.body.find("I forgot my password") != std::string::npos);
            CHECK(req.body.find("main_issue") != std::string::npos);  // the schema went along

            // A second session; the provider is down for its summary: offline, marked.
            fake.push(reply_for(
                provider, sb::test::model_json("Tracking is in your account.", {"a?", "b?"})));
            const auto other = e.chat(request(bot, user, std::nullopt, "where is my order"));
            fake.otherwise({503, R"({"error":{"message":"overloaded"}})"});
            const auto [processed, skipped] = e.summarize_bot(bot);
            CHECK(processed == 1);
            CHECK(skipped == 1);
            const auto all = e.summaries(bot, 0, INT64_MAX);
            REQUIRE(all.size() == 2);
            for (const auto& x : all) {
                if (x.session_id == other.session_id) {
                    CHECK(x.source == "offline");
                    CHECK(x.fallback == "provider_error");
                } else {
                    CHECK(x.source == provider);
                }
            }

            // The narrative: asked for from the figures, returned under "narrative".
            fake.push(reply_for(
                provider,
                R"({"key_themes":["passwords","orders"],"common_issues":["sign-in trouble"],)"
                R"("suggestions":["add an FAQ on two-factor codes"]})"));
            const std::string report = e.analytics(bot, 0, INT64_MAX);
            CHECK(report.find(R"("key_themes":["passwords","orders"])") != std::string::npos);
            CHECK(report.find("add an FAQ on two-factor codes") != std::string::npos);
            CHECK(fake.received().back().body.find("key_themes") != std::string::npos);
            const std::string failed = e.analytics(bot, 0, INT64_MAX);  // 503 again
            CHECK(failed.find(R"("narrative":null)") != std::string::npos);
            CHECK(failed.find("narrative_error") != std::string::npos);
            CHECK(failed.find(R"("sessions":2)") != std::string::npos);
        }
    }
}

TEST_CASE("chat: a failed turn's message is left out of the LLM's history; roles alternate") {
    // SQLite only: the failure is made by corrupting the stored FAQ set behind the library.
    TempDir dir;
    const std::string url = "sqlite://" + dir.path().string() + "/alternate.db";
    FakeLlm fake;
    const std::string user = "u-" + sb::new_uuid();
    std::string bot;
    {
        sb::Engine e(engine_options(url, &fake, "gemini"));
        bot = new_bot(e);
        fake.push(reply_for("gemini", sb::test::model_json("Use the Forgot password link.", {})));
        CHECK(e.chat(request(bot, user, std::string("s1"), kQuestion)).responder == "gemini");
    }
    const auto exec = [&](const char* sql) {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((dir.path() / "alternate.db").c_str(), &db) == SQLITE_OK);
        CHECK(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    };
    exec(
        "CREATE TABLE saved_faq_sets AS SELECT * FROM faq_sets;"
        "UPDATE faq_sets SET entries_json = 'not json'");
    {
        sb::Engine e(engine_options(url, &fake, "gemini"));  // no cached index
        CHECK(sb::test::status_of([&] {
                  e.chat(request(bot, user, std::string("s1"), "is my data safe?"));
              }) == SB_EDB);
        const auto h = e.history(bot, user, "s1");
        REQUIRE(h.size() == 4);
        CHECK(h[3].error);
    }
    exec(
        "UPDATE faq_sets SET entries_json = (SELECT s.entries_json FROM saved_faq_sets s "
        "WHERE s.bot_id = faq_sets.bot_id)");
    sb::Engine e(engine_options(url, &fake, "gemini"));
    fake.push(reply_for("gemini", sb::test::model_json("We send it again.", {})));
    CHECK(e.chat(request(bot, user, std::string("s1"), "and if no email comes?")).responder ==
          "gemini");
    const auto got = fake.received();
    REQUIRE(got.size() == 2);
    const std::string& body = got[1].body;
    CHECK(body.find("is my data safe") == std::string::npos);
    std::vector<std::string> roles;
    for (auto at = body.find("\"role\":\""); at != std::string::npos;
         at = body.find("\"role\":\"", at + 1)) {
        const auto start = at + 8;
        roles.push_back(body.substr(start, body.find('"', start) - start));
    }
    CHECK(roles == std::vector<std::string>{"user", "model", "user"});
}
