// The store's accounts, failed logins and sessions-by-bot (migration 4), on SQLite and, when
// SB_TEST_PG_URL is set, PostgreSQL (ctest store_postgres). Ids and e-mails are unique per run,
// so cases share a PostgreSQL database without seeing each other.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <cstdlib>
#include <string>
#include <vector>

#include "chat/engine.hpp"
#include "store/store.hpp"

namespace {

using sb::test::database_urls;
using sb::test::failure_of;
using sb::test::TempDir;

sb::AccountRecord account(const std::string& role, const std::string& bot,
                          const std::string& email) {
    sb::AccountRecord a;
    a.id = sb::new_uuid();
    a.role = role;
    a.bot_id = bot;
    a.email = email;
    a.password_hash = "scrypt$ln=10,r=8,p=1$c2FsdA$aGFzaA";
    a.created_ms = 1234;
    return a;
}

std::vector<sb::FaqEntry> one_faq() {
    sb::FaqEntry e;
    e.id = "a";
    e.question = "What?";
    e.answer = "That.";
    return {e};
}

}  // namespace

TEST_CASE("store: accounts are unique per role, bot and e-mail; read, updated and deleted") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "accounts.db")) {
        CAPTURE(url);
        auto store = sb::Store::open(url, {});
        const std::string tag = sb::new_uuid().substr(0, 8);
        const std::string email = "ann-" + tag + "@example.com";
        const std::string bot = "bot-" + tag;
        const std::string other_bot = "bot2-" + tag;

        const sb::AccountRecord admin = account("admin", "", email);
        store->create_account(admin);
        auto got = store->get_account(admin.id);
        REQUIRE(got);
        CHECK(got->role == "admin");
        CHECK(got->email == email);
        CHECK(got->bot_id.empty());
        CHECK(got->password_hash == admin.password_hash);
        CHECK(got->created_ms == 1234);
        // The same e-mail: a second admin conflicts; users of two bots do not.
        CHECK(failure_of([&] { store->create_account(account("admin", "", email)); }).status ==
              SB_ECONFLICT);
        const sb::AccountRecord u1 = account("user", bot, email);
        store->create_account(u1);
        store->create_account(account("user", other_bot, email));
        CHECK(failure_of([&] { store->create_account(account("user", bot, email)); }).status ==
              SB_ECONFLICT);
        // An admin with a bot, or a user without one, is refused by the schema.
        CHECK(failure_of([&] {
                  store->create_account(account("admin", bot, "x" + email));
              }).status == SB_EDB);
        CHECK(failure_of([&] { store->create_account(account("user", "", "y" + email)); }).status ==
              SB_EDB);

        auto found = store->find_account("user", bot, email);
        REQUIRE(found);
        CHECK(found->id == u1.id);
        CHECK_FALSE(store->find_account("user", bot, "nobody-" + email));
        CHECK_FALSE(store->find_account("user", "no-bot", email));
        CHECK(store->find_account("admin", "", email)->id == admin.id);

        store->set_password_hash(u1.id, "scrypt$ln=11,r=8,p=1$c2FsdA$aGFzaA");
        CHECK(store->get_account(u1.id)->password_hash == "scrypt$ln=11,r=8,p=1$c2FsdA$aGFzaA");

        CHECK(store->delete_account(u1.id));
        CHECK_FALSE(store->delete_account(u1.id));
        CHECK_FALSE(store->get_account(u1.id));
        store->create_account(account("user", bot, email));  // the e-mail is free again
    }
}

TEST_CASE("store: login attempts are counted per scope within a window, limited, and pruned") {
    TempDir dir;
    constexpr std::size_t kNoLimit = 1000;
    for (const std::string& url : database_urls(dir, "accounts.db")) {
        CAPTURE(url);
        auto store = sb::Store::open(url, {});
        const std::string a = "user\nbot\na-" + sb::new_uuid();
        const std::string b = "user\nbot\nb-" + sb::new_uuid();
        CHECK(store->admit_login_attempt(a, 1000, 0, kNoLimit));
        CHECK(store->admit_login_attempt(a, 2000, 0, kNoLimit));
        CHECK(store->admit_login_attempt(b, 2500, 0, kNoLimit));
        CHECK(store->count_login_failures(a, 0) == 2);
        CHECK(store->count_login_failures(a, 1000) == 1);  // after since_ms only
        CHECK(store->count_login_failures(b, 0) == 1);
        // At the limit an attempt is refused and not recorded; other scopes are not affected.
        CHECK_FALSE(store->admit_login_attempt(a, 2600, 0, 2));
        CHECK(store->count_login_failures(a, 0) == 2);
        CHECK(store->admit_login_attempt(b, 2700, 0, 2));
        CHECK_FALSE(store->admit_login_attempt(b, 2800, 0, 2));
        // Recording drops every scope's attempts at or before forget_before_ms.
        CHECK(store->admit_login_attempt(a, 5000, 2000, kNoLimit));
        CHECK(store->count_login_failures(a, 0) == 1);
        CHECK(store->count_login_failures(b, 0) == 2);
        CHECK(store->admit_login_attempt(a, 6000, 2700, 2));  // only 5000 is left of a
        CHECK(store->count_login_failures(b, 0) == 0);
        store->clear_login_failures(a);
        CHECK(store->count_login_failures(a, 0) == 0);
    }
}

TEST_CASE("store: all sessions of a bot, most recent first") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "accounts.db")) {
        CAPTURE(url);
        auto store = sb::Store::open(url, {});
        sb::BotRecord bot;
        bot.id = sb::new_uuid();
        bot.owner = "owner";
        bot.name = "Shop";
        bot.created_ms = 1;
        store->create_bot(bot, one_faq());
        sb::BotRecord other = bot;
        other.id = sb::new_uuid();
        store->create_bot(other, one_faq());
        auto start = [&](const std::string& bot_id, const std::string& user, std::int64_t at) {
            sb::TurnRecord t;
            t.create_session = true;
            t.session.id = sb::new_uuid();
            t.session.bot_id = bot_id;
            t.session.user_id = user;
            t.session.created_ms = t.session.last_active_ms = at;
            sb::MessageRecord m;
            m.session_id = t.session.id;
            m.text = "hi";
            m.created_ms = at;
            t.messages = {m};
            store->record_turn(t);
            return t.session.id;
        };
        const std::string s1 = start(bot.id, "u1", 100);
        const std::string s2 = start(bot.id, "u2", 300);
        const std::string s3 = start(bot.id, "u1", 200);
        start(other.id, "u1", 400);
        const auto all = store->list_bot_sessions(bot.id);
        REQUIRE(all.size() == 3);
        CHECK(all[0].id == s2);
        CHECK(all[1].id == s3);
        CHECK(all[2].id == s1);
        CHECK(all[0].message_count == 1);
        CHECK(all[0].user_id == "u2");
        CHECK(store->list_bot_sessions("no-such-bot").empty());
    }
}
