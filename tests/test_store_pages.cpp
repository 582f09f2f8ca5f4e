// Pages of session listings and histories (keyset order, migration 5), the cursors that name
// them, and the store's ping: on SQLite and, when SB_TEST_PG_URL is set, PostgreSQL (ctest
// store_postgres). Ids are unique per run, so cases share a PostgreSQL database without seeing
// each other.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "auth/base64.hpp"
#include "chat/cursor.hpp"
#include "chat/engine.hpp"
#include "store/store.hpp"

namespace {

using sb::MessageRecord;
using sb::SessionKey;
using sb::SessionRecord;
using sb::test::database_urls;
using sb::test::failure_of;
using sb::test::TempDir;

std::vector<sb::FaqEntry> one_faq() {
    sb::FaqEntry e;
    e.id = "a";
    e.question = "What?";
    e.answer = "That.";
    return {e};
}

MessageRecord message(const std::string& session, sb::Role role, std::string text,
                      std::int64_t ms) {
    MessageRecord m;
    m.session_id = session;
    m.role = role;
    m.text = std::move(text);
    m.created_ms = ms;
    return m;
}

// Creates a session of `user` with the bot, active at `active_ms`, with these messages.
void add_session(sb::Store& store, const std::string& id, const std::string& bot,
                 const std::string& user, std::int64_t active_ms,
                 std::vector<MessageRecord> messages) {
    sb::TurnRecord t;
    t.session.id = id;
    t.session.bot_id = bot;
    t.session.user_id = user;
    t.session.created_ms = 1;
    t.session.last_active_ms = active_ms;
    t.create_session = true;
    t.messages = std::move(messages);
    store.record_turn(t);
}

std::vector<std::string> ids_of(const std::vector<SessionRecord>& list) {
    std::vector<std::string> out;
    for (const auto& s : list) out.push_back(s.id);
    return out;
}

// Reads a whole listing page by page (the store's calls, keyed as the C ABI keys them).
std::vector<SessionRecord> all_pages(sb::Store& store, const std::string& bot,
                                     const std::optional<std::string>& user, std::size_t limit,
                                     std::size_t* pages = nullptr) {
    std::vector<SessionRecord> out;
    std::optional<SessionKey> after;
    std::size_t n = 0;
    for (;;) {
        REQUIRE(n++ < 1000);
        auto page = store.list_sessions_page(bot, user, after, limit);
        CHECK(page.size() <= limit);
        out.insert(out.end(), page.begin(), page.end());
        if (page.size() < limit) break;
        after = SessionKey{page.back().last_active_ms, page.back().id};
    }
    if (pages) *pages = n;
    return out;
}

}  // namespace

TEST_CASE("store: session pages follow the listing's order, with counts and first messages") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "pages.db")) {
        CAPTURE(url);
        auto store = sb::Store::open(url, {});
        const std::string tag = sb::new_uuid().substr(0, 8);
        const std::string bot = "bot-" + tag, other_bot = "bot2-" + tag;
        for (const std::string& b : {bot, other_bot}) {
            sb::BotRecord r;
            r.id = b;
            r.owner = "owner-" + tag;
            r.name = "Pages";
            r.created_ms = 1;
            store->create_bot(r, one_faq());
        }
        const std::string u1 = "u1-" + tag, u2 = "u2-" + tag;
        // 23 sessions of u1 and 9 of u2, activity times with ties (several sessions in one
        // millisecond, across users too), ids not in creation order.
        for (int i = 0; i < 32; ++i) {
            const std::string id = "s" + std::to_string((i * 7) % 32) + "-" + tag;
            const std::string& user = i < 23 ? u1 : u2;
            std::vector<MessageRecord> msgs;
            if (i % 5 == 1) {
                // An assistant message before the first user message, which is still "first".
                msgs.push_back(message(id, sb::Role::Assistant, "Welcome!", 10));
            }
            if (i % 5 != 4) {
                msgs.push_back(message(id, sb::Role::User, "first of " + id, 11));
                msgs.push_back(message(id, sb::Role::Assistant, "reply", 12));
                msgs.push_back(message(id, sb::Role::User, "second of " + id, 13));
            }
            add_session(*store, id, bot, user, 1000 + (i % 6) * 10, std::move(msgs));
        }
        add_session(*store, "x-" + tag, other_bot, u1, 5000,
                    {message("x-" + tag, sb::Role::User, "other bot", 1)});

        for (const std::optional<std::string>& user :
             {std::optional<std::string>(u1), std::optional<std::string>()}) {
            CAPTURE(user.value_or("(every user)"));
            const auto full =
                user ? store->list_sessions(bot, *user) : store->list_bot_sessions(bot);
            REQUIRE(full.size() == (user ? 23u : 32u));
            CHECK(store->list_sessions_page(bot, user, std::nullopt, 0).size() == full.size());
            // The order: most recently active first, then by id.
            for (std::size_t i = 1; i < full.size(); ++i) {
                const auto& a = full[i - 1];
                const auto& b = full[i];
                CHECK((a.last_active_ms > b.last_active_ms ||
                       (a.last_active_ms == b.last_active_ms && a.id < b.id)));
            }
            for (const auto& s : full) {
                CHECK(s.bot_id == bot);
                if (user) CHECK(s.user_id == *user);
                if (s.message_count == 0) {
                    CHECK(s.first_message.empty());
                } else {
                    CHECK(s.first_message == "first of " + s.id);
                    CHECK((s.message_count == 3 || s.message_count == 4));
                }
            }
            // Every page size gives the same rows, in order, each once, with the same fields.
            for (const std::size_t limit : {1u, 2u, 3u, 5u, 7u, 22u, 23u, 24u, 32u, 33u, 100u}) {
                CAPTURE(limit);
                std::size_t pages = 0;
                const auto paged = all_pages(*store, bot, user, limit, &pages);
                CHECK(ids_of(paged) == ids_of(full));
                CHECK(pages == full.size() / limit + 1);
                for (std::size_t i = 0; i < std::min(paged.size(), full.size()); ++i) {
                    CHECK(paged[i].message_count == full[i].message_count);
                    CHECK(paged[i].first_message == full[i].first_message);
                    CHECK(paged[i].last_active_ms == full[i].last_active_ms);
                    CHECK(paged[i].user_id == full[i].user_id);
                }
            }
        }
        CHECK(store->list_sessions_page("no-bot-" + tag, std::nullopt, std::nullopt, 5).empty());
        CHECK(store->list_sessions_page(bot, "nobody-" + tag, std::nullopt, 5).empty());
    }
}

TEST_CASE("store: session pages while sessions are added and become active") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "pages.db")) {
        CAPTURE(url);
        auto store = sb::Store::open(url, {});
        const std::string tag = sb::new_uuid().substr(0, 8);
        const std::string bot = "bot-" + tag, user = "u-" + tag;
        sb::BotRecord r;
        r.id = bot;
        r.owner = "owner-" + tag;
        r.name = "Pages";
        r.created_ms = 1;
        store->create_bot(r, one_faq());
        for (int i = 0; i < 10; ++i)
            add_session(*store, "s" + std::to_string(i) + "-" + tag, bot, user, 1000 + i, {});
        const auto before = ids_of(store->list_sessions(bot, user));  // s9 ... s0

        auto page1 = store->list_sessions_page(bot, user, std::nullopt, 4);  // s9 s8 s7 s6
        REQUIRE(page1.size() == 4);
        // Meanwhile: a new session (in front of the cursor), one older than all (at the end),
        // one at the cursor's very time with an id after it (next in order), and s8 (read
        // already) and s2 (not yet) become active again.
        add_session(*store, "new-" + tag, bot, user, 9000, {});
        add_session(*store, "old-" + tag, bot, user, 5, {});
        add_session(*store, "tie-" + tag, bot, user, page1.back().last_active_ms, {});
        for (const char* s : {"s8-", "s2-"}) {
            auto rec = store->get_session(s + tag);
            REQUIRE(rec);
            sb::TurnRecord t;
            t.session = *rec;
            t.session.last_active_ms = 8000;
            store->record_turn(t);
        }
        std::vector<std::string> seen = ids_of(page1);
        std::optional<SessionKey> after = SessionKey{page1.back().last_active_ms, page1.back().id};
        for (;;) {
            auto page = store->list_sessions_page(bot, user, after, 4);
            for (const auto& s : page) seen.push_back(s.id);
            if (page.size() < 4) break;
            after = SessionKey{page.back().last_active_ms, page.back().id};
        }
        // No session twice; everything that stayed behind the cursor comes, in order, with the
        // tie and the old one; the new one and s2 moved in front of the cursor.
        const std::set<std::string> unique(seen.begin(), seen.end());
        CHECK(unique.size() == seen.size());
        std::vector<std::string> want = {before[0], before[1], before[2], before[3], "tie-" + tag};
        for (std::size_t i = 4; i < before.size(); ++i)
            if (before[i] != "s2-" + tag) want.push_back(before[i]);
        want.push_back("old-" + tag);
        CHECK(seen == want);
    }
}

TEST_CASE("store: history pages are the session's messages in id order") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "pages.db")) {
        CAPTURE(url);
        auto store = sb::Store::open(url, {});
        const std::string tag = sb::new_uuid().substr(0, 8);
        const std::string bot = "bot-" + tag, sid = "s-" + tag, other = "o-" + tag;
        sb::BotRecord r;
        r.id = bot;
        r.owner = "owner-" + tag;
        r.name = "Pages";
        r.created_ms = 1;
        store->create_bot(r, one_faq());
        std::vector<MessageRecord> msgs;
        for (int i = 0; i < 17; ++i)
            msgs.push_back(message(sid, i % 2 ? sb::Role::Assistant : sb::Role::User,
                                   "m" + std::to_string(i), i));
        add_session(*store, sid, bot, "u", 10, msgs);
        add_session(*store, other, bot, "u", 10, {message(other, sb::Role::User, "x", 1)});
        const auto full = store->history(sid, 0);
        REQUIRE(full.size() == 17);
        CHECK(store->history_page(sid, 0, 0).size() == 17);
        for (const std::size_t limit : {1u, 2u, 4u, 16u, 17u, 18u}) {
            CAPTURE(limit);
            std::vector<std::int64_t> got;
            std::int64_t after = 0;
            for (;;) {
                auto page = store->history_page(sid, after, limit);
                CHECK(page.size() <= limit);
                for (const auto& m : page) {
                    CHECK(m.session_id == sid);
                    got.push_back(m.id);
                }
                if (page.size() < limit) break;
                after = page.back().id;
                if (limit == 4 && got.size() == 8) {
                    // Messages added between pages come on the later pages.
                    sb::TurnRecord t;
                    t.session = *store->get_session(sid);
                    t.messages = {message(sid, sb::Role::User, "late", 99)};
                    store->record_turn(t);
                }
            }
            const auto now = store->history(sid, 0);
            std::vector<std::int64_t> want;
            for (const auto& m : now) want.push_back(m.id);
            CHECK(got == want);
        }
        CHECK(store->history_page(sid, INT64_MAX, 5).empty());
        CHECK(store->history_page("none-" + tag, 0, 5).empty());
    }
}

TEST_CASE("store: ping answers on an open store, and SB_EDB when PostgreSQL cannot be reached") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "ping.db")) {
        CAPTURE(url);
        auto store = sb::Store::open(url, {});
        store->ping();
        store->ping();
    }
    // Nothing listens on port 1: opening fails with the reason.
    const auto f = failure_of([] {
        sb::Store::open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", {})->ping();
    });
    CHECK(f.status == SB_EDB);
    CHECK(f.message.find("127.0.0.1") != std::string::npos);
}

TEST_CASE("store: page cursors round-trip and are refused for any other list") {
    using sb::SessionScope;
    const SessionKey key{1234567890123, "sess-1"};
    const std::string c = sb::sessions_cursor(SessionScope::User, "bot-a", key);
    CHECK(c.rfind("v1.", 0) == 0);
    for (const char ch : c)
        CHECK(
            (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_'));
    const SessionKey back = sb::parse_sessions_cursor(c, SessionScope::User, "bot-a");
    CHECK(back.last_active_ms == key.last_active_ms);
    CHECK(back.id == key.id);
    const SessionKey negative = sb::parse_sessions_cursor(
        sb::sessions_cursor(SessionScope::Bot, "b", {-5, "x"}), SessionScope::Bot, "b");
    CHECK(negative.last_active_ms == -5);

    const std::string m = sb::messages_cursor("sess-1", 42);
    CHECK(sb::parse_messages_cursor(m, "sess-1") == 42);

    auto refused = [](auto&& f, const char* why) {
        const auto failure = failure_of(f);
        CHECK(failure.status == SB_EINVAL);
        CHECK_MESSAGE(failure.message.find(why) != std::string::npos, failure.message);
    };
    // Of another list.
    refused([&] { sb::parse_sessions_cursor(c, SessionScope::User, "bot-b"); }, "another bot");
    refused([&] { sb::parse_sessions_cursor(c, SessionScope::Bot, "bot-a"); }, "one user's");
    refused([&] { sb::parse_messages_cursor(c, "sess-1"); }, "list of sessions");
    refused([&] { sb::parse_sessions_cursor(m, SessionScope::User, "bot-a"); }, "messages");
    refused([&] { sb::parse_messages_cursor(m, "sess-2"); }, "another session");
    // Not made by the library.
    auto b64 = [](const std::string& s) {
        return "v1." + sb::auth::base64_encode(s, sb::auth::Base64Alphabet::Url);
    };
    for (const std::string& bad :
         {std::string("x"), std::string("v2.") + c.substr(3), c.substr(3), c + "=", c + "A",
          c.substr(0, c.size() - 1) + "!", std::string("v1."), std::string("v1.@@@"),
          std::string(2000, 'A'), b64("u\nbot-a\n12\n"), b64("u\nbot-a\n012\ns"),
          b64("u\nbot-a\n+12\ns"), b64("u\nbot-a\n12x\ns"), b64("u\nbot-a\n\ns"),
          b64("u\nbot-a\n99999999999999999999\ns"), b64("u\nbot-a\n12\ns\x01"), b64("u\nbot-a"),
          b64("z\nbot-a\n12\ns"), b64("")}) {
        CAPTURE(bad);
        const auto f =
            failure_of([&] { sb::parse_sessions_cursor(bad, SessionScope::User, "bot-a"); });
        CHECK(f.status == SB_EINVAL);
        CHECK(f.message.rfind("invalid cursor", 0) == 0);
    }
    for (const std::string& bad : {b64("m\nsess-1\n0"), b64("m\nsess-1\n-4"), b64("m\nsess-1\n"),
                                   b64("m\nsess-1"), b64("m\nsess-1\n07"), b64("m")}) {
        CAPTURE(bad);
        CHECK(failure_of([&] { sb::parse_messages_cursor(bad, "sess-1"); }).status == SB_EINVAL);
    }
}
