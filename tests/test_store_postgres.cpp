// PostgreSQL-only store tests: reconnecting after a server restart, a small pool shared by many
// threads, concurrent migration, version checks, and a few checks of the interface's semantics.
// They run only against the throwaway cluster of tests/pg/with-postgres.sh (SB_TEST_PG_URL set);
// otherwise they pass without doing anything.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "store/store.hpp"

#include "store/pqxx.hpp"

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

// A fresh suffix so these tests never collide with rows other tests left behind.
std::string unique(const std::string& prefix) {
    static std::atomic<int> counter{0};
    static const auto seed = static_cast<unsigned long long>(
        std::chrono::steady_clock::now().time_since_epoch().count());
    return prefix + "-" + std::to_string(seed % 1000000007ULL) + "-" + std::to_string(++counter);
}

std::vector<sb::FaqEntry> sample_faqs(int n) {
    std::vector<sb::FaqEntry> out;
    for (int i = 1; i <= n; ++i) {
        sb::FaqEntry e;
        e.id = "q" + std::to_string(i);
        e.question = "How do I do thing " + std::to_string(i) + "?";
        e.answer = "Like \"this\", with 'quotes' and unicode \xC3\xA9 (" + std::to_string(i) + ")";
        if (i % 2) e.category = "cat";
        e.tags = {"a", "b"};
        e.alternates = {"thing " + std::to_string(i) + " how"};
        out.push_back(e);
    }
    return out;
}

sb::BotRecord make_bot(const std::string& owner) {
    sb::BotRecord b;
    b.id = unique("bot");
    b.owner = owner;
    b.name = "Bot " + b.id;
    b.created_ms = 1700000000000;
    return b;
}

// A turn of a session created with `create`, else updated from `revision` (compare-and-set).
sb::TurnRecord make_turn(const std::string& bot_id, const std::string& session_id, bool create,
                         std::int64_t t, std::int64_t revision = 0) {
    sb::TurnRecord turn;
    turn.create_session = create;
    turn.session.revision = revision;
    turn.session.id = session_id;
    turn.session.bot_id = bot_id;
    turn.session.user_id = "user-1";
    turn.session.created_ms = t;
    turn.session.last_active_ms = t;
    sb::MessageRecord user;
    user.session_id = session_id;
    user.role = sb::Role::User;
    user.text = "question at " + std::to_string(t);
    user.created_ms = t;
    sb::MessageRecord reply;
    reply.session_id = session_id;
    reply.role = sb::Role::Assistant;
    reply.text = "answer at " + std::to_string(t);
    reply.created_ms = t;
    reply.faq_ids = {"q1", "q2"};
    reply.confidence = 0.8125;
    reply.escalated = true;
    reply.escalation_reason = "low confidence";
    reply.responder = "offline";
    reply.latency_ms = 12;
    reply.error = false;
    turn.messages = {user, reply};
    return turn;
}

using sb::test::status_of;

sb::StoreOptions pool_of(std::size_t n) {
    sb::StoreOptions o;
    o.pool_size = n;
    return o;
}

// Runs SQL directly (outside the store), for setting up odd states.
void exec_sql(const std::string& url, const std::string& sql) {
    pqxx::connection c(url);
    pqxx::nontransaction w(c);
    w.exec(sql);
}

// The URL of another database on the same server.
std::string with_database(const std::string& url, const std::string& db) {
    return url.substr(0, url.rfind('/') + 1) + db;
}

}  // namespace

TEST_CASE("store postgres: basic semantics") {
    const std::string url = env("SB_TEST_PG_URL");
    if (url.empty()) return;
    auto store = sb::Store::open(url, pool_of(2));
    CHECK(store->schema_version() == sb::migrations().back().version);

    const std::string owner = unique("owner");
    sb::BotRecord bot = make_bot(owner);
    store->create_bot(bot, sample_faqs(3));
    CHECK(status_of([&] { store->create_bot(bot, sample_faqs(1)); }) == SB_ECONFLICT);

    auto got = store->get_bot(bot.id);
    REQUIRE(got);
    CHECK(got->owner == owner);
    CHECK(got->name == bot.name);
    CHECK(got->created_ms == bot.created_ms);
    CHECK(got->faq_revision == 1);
    CHECK(got->faq_count == 3);
    CHECK_FALSE(store->get_bot(unique("nobot")));

    sb::BotRecord second = make_bot(owner);
    second.created_ms = bot.created_ms + 1;
    store->create_bot(second, {});
    auto mine = store->list_bots(owner);
    REQUIRE(mine.size() == 2);
    CHECK(mine[0].id == bot.id);
    CHECK(mine[1].id == second.id);
    CHECK(mine[1].faq_count == 0);
    CHECK(store->list_bots(std::nullopt).size() >= 2);

    auto [faqs, synonyms, revision] = store->load_faqs(bot.id);
    CHECK(revision == 1);
    CHECK(synonyms.empty());
    REQUIRE(faqs.size() == 3);
    const auto expected = sample_faqs(3);
    for (std::size_t i = 0; i < faqs.size(); ++i) {
        CHECK(faqs[i].id == expected[i].id);
        CHECK(faqs[i].question == expected[i].question);
        CHECK(faqs[i].answer == expected[i].answer);
        CHECK(faqs[i].category == expected[i].category);
        CHECK(faqs[i].tags == expected[i].tags);
        CHECK(faqs[i].alternates == expected[i].alternates);
    }
    CHECK(store->load_faqs(second.id).entries.empty());
    CHECK(status_of([&] { store->load_faqs(unique("nobot")); }) == SB_ENOTFOUND);

    CHECK(store->replace_faqs(bot.id, sample_faqs(5)) == 2);
    CHECK(store->load_faqs(bot.id).revision == 2);
    CHECK(store->load_faqs(bot.id).entries.size() == 5);
    CHECK(store->get_bot(bot.id)->faq_count == 5);
    CHECK(status_of([&] { store->replace_faqs(unique("nobot"), sample_faqs(1)); }) == SB_ENOTFOUND);

    // Sessions and messages.
    const std::string sid = unique("session");
    store->record_turn(make_turn(bot.id, sid, true, 1000));
    CHECK(status_of([&] { store->record_turn(make_turn(bot.id, sid, true, 2000)); }) ==
          SB_ECONFLICT);
    CHECK(store->history(sid, 0).size() == 2);  // nothing written by the failed turn
    auto update = make_turn(bot.id, sid, false, 3000);
    update.session.status = sb::SessionStatus::Escalated;
    update.session.escalation_reason = "asked for a human";
    update.session.unanswered_streak = 2;
    store->record_turn(update);
    CHECK(status_of([&] {
              store->record_turn(make_turn(bot.id, unique("nosession"), false, 1));
          }) == SB_ENOTFOUND);

    auto session = store->get_session(sid);
    REQUIRE(session);
    CHECK(session->bot_id == bot.id);
    CHECK(session->user_id == "user-1");
    CHECK(session->created_ms == 1000);
    CHECK(session->last_active_ms == 3000);
    CHECK(session->status == sb::SessionStatus::Escalated);
    CHECK(session->escalation_reason == "asked for a human");
    CHECK(session->unanswered_streak == 2);
    CHECK_FALSE(store->get_session(unique("nosession")));

    auto all = store->history(sid, 0);
    REQUIRE(all.size() == 4);
    CHECK(all[0].created_ms == 1000);
    CHECK(all[3].created_ms == 3000);
    for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i].id > all[i - 1].id);
    CHECK(all[0].role == sb::Role::User);
    CHECK(all[1].role == sb::Role::Assistant);
    CHECK(all[1].faq_ids == std::vector<std::string>{"q1", "q2"});
    CHECK(all[1].confidence == doctest::Approx(0.8125));
    CHECK(all[1].escalated);
    CHECK(all[1].escalation_reason == "low confidence");
    CHECK(all[1].responder == "offline");
    CHECK(all[1].latency_ms == 12);
    CHECK_FALSE(all[1].error);
    CHECK_FALSE(all[0].escalated);
    auto last3 = store->history(sid, 3);
    REQUIRE(last3.size() == 3);
    CHECK(last3[0].id == all[1].id);
    CHECK(last3[2].id == all[3].id);
    CHECK(store->history(sid, 10).size() == 4);

    const std::string sid2 = unique("session");
    store->record_turn(make_turn(bot.id, sid2, true, 5000));
    auto sessions = store->list_sessions(bot.id, "user-1");
    REQUIRE(sessions.size() == 2);
    CHECK(sessions[0].id == sid2);
    CHECK(sessions[0].message_count == 2);
    CHECK(sessions[1].id == sid);
    CHECK(sessions[1].message_count == 4);
    CHECK(store->list_sessions(bot.id, "someone else").empty());

    // Opening again is idempotent.
    auto again = sb::Store::open(url, pool_of(1));
    CHECK(again->schema_version() == sb::migrations().back().version);
    CHECK(again->get_bot(bot.id));
}

TEST_CASE("store postgres: errors are SB_EDB without the password") {
    std::string message;
    CHECK(status_of([&] { sb::Store::open("postgresql://someone:s3cr3t@127.0.0.1:1/x", {}); },
                    &message) == SB_EDB);
    CHECK(message.find("s3cr3t") == std::string::npos);
    CHECK(message.find("127.0.0.1") != std::string::npos);
    CHECK(status_of([&] { sb::Store::open("postgresql://127.0.0.1:1/x?password=hunter2", {}); },
                    &message) == SB_EDB);
    CHECK(message.find("hunter2") == std::string::npos);
}

TEST_CASE("store postgres: concurrent opens migrate once; newer schema is refused") {
    const std::string url = env("SB_TEST_PG_URL");
    if (url.empty()) return;
    const std::string db = "sb_migrate_" + std::to_string(std::random_device{}() % 1000000u);
    const std::string db_url = with_database(url, db);
    exec_sql(url, "DROP DATABASE IF EXISTS " + db);
    exec_sql(url, "CREATE DATABASE " + db);
    {
        std::vector<std::thread> threads;
        std::atomic<int> failures{0};
        for (int i = 0; i < 6; ++i) {
            threads.emplace_back([&] {
                try {
                    auto s = sb::Store::open(db_url, pool_of(1));
                    if (s->schema_version() != sb::migrations().back().version) ++failures;
                } catch (...) {
                    ++failures;
                }
            });
        }
        for (auto& t : threads) t.join();
        CHECK(failures == 0);
        pqxx::connection c(db_url);
        pqxx::work w(c);
        CHECK(w.exec("SELECT count(*) FROM schema_version")[0][0].as<int>() == 1);
    }
    exec_sql(db_url, "UPDATE schema_version SET version = 999");
    std::string message;
    CHECK(status_of([&] { sb::Store::open(db_url, {}); }, &message) == SB_EVERSION);
    CHECK(message.find("999") != std::string::npos);
    exec_sql(url, "DROP DATABASE " + db);
}

TEST_CASE("store postgres: a database from before synonyms were stored keeps its FAQ sets") {
    // A database at the schema before migration 8, with a bot: opening it migrates it, and the
    // bot's set has its entries and no synonyms; synonyms stored afterwards come back.
    const std::string url = env("SB_TEST_PG_URL");
    if (url.empty()) return;
    const std::string db = "sb_before8_" + std::to_string(std::random_device{}() % 1000000u);
    const std::string db_url = with_database(url, db);
    exec_sql(url, "DROP DATABASE IF EXISTS " + db);
    exec_sql(url, "CREATE DATABASE " + db);
    {
        pqxx::connection c(db_url);
        pqxx::work w(c);
        w.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)");
        int version = 0;
        for (const sb::Migration& m : sb::migrations()) {
            if (m.version >= 8) break;
            w.exec(m.postgres_sql);
            version = m.version;
        }
        w.exec("INSERT INTO schema_version (version) VALUES (" + std::to_string(version) + ")");
        w.exec("INSERT INTO bots (id, owner, name, created_ms) VALUES ('old', 'alice', 'Old', 1)");
        w.exec(
            "INSERT INTO faq_sets (bot_id, revision, entry_count, entries_json, updated_ms) "
            "VALUES ('old', 4, 3, " +
            w.quote(sb::faqs_to_json(sample_faqs(3))) + ", 1)");
        w.commit();
    }
    {
        auto store = sb::Store::open(db_url, pool_of(1));
        CHECK(store->schema_version() == sb::migrations().back().version);
        const sb::StoredFaqs got = store->load_faqs("old");
        CHECK(got.revision == 4);
        CHECK(got.entries.size() == 3);
        CHECK(got.synonyms.empty());
        CHECK(store->replace_faqs("old", sample_faqs(2), {{"thing", {"gizmo", "wid get"}}}) == 5);
    }
    auto store = sb::Store::open(db_url, pool_of(1));
    const sb::StoredFaqs got = store->load_faqs("old");
    CHECK(got.entries.size() == 2);
    REQUIRE(got.synonyms.size() == 1);
    CHECK(got.synonyms[0].term == "thing");
    CHECK(got.synonyms[0].synonyms == std::vector<std::string>{"gizmo", "wid get"});
    store.reset();
    exec_sql(url, "DROP DATABASE " + db);
}

TEST_CASE("store postgres: a pool of 2 shared by 6 threads") {
    const std::string url = env("SB_TEST_PG_URL");
    if (url.empty()) return;
    // A recognisable application_name, to count this store's connections on the server.
    const std::string app = "sbpool" + std::to_string(std::random_device{}() % 1000000u);
    auto store = sb::Store::open(url + "?application_name=" + app, pool_of(2));
    sb::BotRecord bot = make_bot(unique("owner"));
    store->create_bot(bot, sample_faqs(2));
    std::atomic<bool> done{false};
    std::atomic<int> most_connections{0};
    std::thread monitor([&] {
        try {
            pqxx::connection c(url);
            while (!done) {
                pqxx::nontransaction w(c);
                const int n = w.exec(
                                   "SELECT count(*) FROM pg_stat_activity WHERE "
                                   "application_name = '" +
                                   app + "'")[0][0]
                                  .as<int>();
                if (n > most_connections) most_connections = n;
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
        } catch (const std::exception& e) {
            most_connections = 100;
            MESSAGE(e.what());
        }
    });
    constexpr int kThreads = 6;
    constexpr int kTurns = 25;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            try {
                const std::string sid = unique("pool-session");
                for (int i = 0; i < kTurns; ++i) {
                    store->record_turn(make_turn(bot.id, sid, i == 0, 1000 * t + i, i - 1));
                    if (!store->get_session(sid)) ++failures;
                    if (i % 5 == 0) store->load_faqs(bot.id);
                    if (t == 0 && i % 10 == 0) store->replace_faqs(bot.id, sample_faqs(2));
                }
                if (store->history(sid, 0).size() != 2 * kTurns) ++failures;
            } catch (const std::exception& e) {
                ++failures;
                MESSAGE(e.what());
            }
        });
    }
    for (auto& th : threads) th.join();
    done = true;
    monitor.join();
    CHECK(failures == 0);
    CHECK(most_connections >= 1);
    CHECK(most_connections <= 2);
    CHECK(store->get_bot(bot.id)->faq_revision == 1 + 3);
}

TEST_CASE("store postgres: reconnects after a server restart") {
    const std::string url = env("SB_TEST_PG_URL");
    std::string restart = env("SB_TEST_PG_RESTART");
    if (restart.empty() && !env("SB_TEST_PG_BIN").empty() && !env("SB_TEST_PG_DATA").empty()) {
        restart = "\"" + env("SB_TEST_PG_BIN") + "/pg_ctl\" -D \"" + env("SB_TEST_PG_DATA") +
                  "\" -w -m fast restart </dev/null >/dev/null";
    }
    if (url.empty() || restart.empty()) return;

    auto store = sb::Store::open(url, pool_of(3));
    sb::BotRecord bot = make_bot(unique("owner"));
    store->create_bot(bot, sample_faqs(2));
    // Put several connections in the pool, so that more than one is stale after the restart.
    {
        std::vector<std::thread> threads;
        for (int i = 0; i < 3; ++i)
            threads.emplace_back([&] {
                for (int j = 0; j < 5; ++j) store->get_bot(bot.id);
            });
        for (auto& t : threads) t.join();
    }

    REQUIRE(std::system(restart.c_str()) == 0);

    auto got = store->get_bot(bot.id);
    REQUIRE(got);
    CHECK(got->faq_revision == 1);
    CHECK(store->replace_faqs(bot.id, sample_faqs(3)) == 2);
    const std::string sid = unique("session");
    store->record_turn(make_turn(bot.id, sid, true, 1));
    for (int i = 0; i < 5; ++i) CHECK(store->get_session(sid));
    CHECK(store->history(sid, 0).size() == 2);

    // A second restart, with the store's connections all idle again.
    REQUIRE(std::system(restart.c_str()) == 0);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 3; ++i)
        threads.emplace_back([&] {
            try {
                for (int j = 0; j < 5; ++j)
                    if (!store->get_bot(bot.id)) ++failures;
            } catch (const std::exception& e) {
                ++failures;
                MESSAGE(e.what());
            }
        });
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
}

TEST_CASE("store postgres: server down gives SB_EDB, then the store recovers") {
    const std::string url = env("SB_TEST_PG_URL");
    const std::string stop = env("SB_TEST_PG_STOP");
    const std::string start = env("SB_TEST_PG_START");
    if (url.empty() || stop.empty() || start.empty()) return;

    auto store = sb::Store::open(url, pool_of(2));
    sb::BotRecord bot = make_bot(unique("owner"));
    store->create_bot(bot, sample_faqs(1));

    REQUIRE(std::system(stop.c_str()) == 0);
    // Every attempt fails cleanly (and gives its pool slot back: more attempts than slots).
    for (int i = 0; i < 4; ++i) {
        std::string message;
        CHECK(status_of([&] { store->get_bot(bot.id); }, &message) == SB_EDB);
        CHECK(message.find("127.0.0.1") != std::string::npos);
    }
    CHECK(status_of([&] { sb::Store::open(url, {}); }) == SB_EDB);
    const int started = std::system(start.c_str());
    REQUIRE(started == 0);

    auto got = store->get_bot(bot.id);
    REQUIRE(got);
    CHECK(got->id == bot.id);
    CHECK(store->replace_faqs(bot.id, sample_faqs(2)) == 2);
}
