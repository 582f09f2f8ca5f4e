// The C ABI's list pages (sb_session_list_page, sb_session_history_page), first messages and
// sb_engine_ping, over a real database: SQLite, and PostgreSQL when SB_TEST_PG_URL is set (the
// names start with "store:" so that ctest's store_postgres runs them). Who may call them is in
// test_auth.cpp's authorisation matrix.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "auth/accounts.hpp"
#include "capi/capi_internal.hpp"
#include "chat/engine.hpp"
#include "supportbot/supportbot.h"

namespace {

using sb::test::database_urls;
using sb::test::TempDir;

struct EngineFree {
    void operator()(sb_engine* e) const noexcept { sb_engine_close(e); }
};
using EnginePtr = std::unique_ptr<sb_engine, EngineFree>;
struct PrincipalFree {
    void operator()(sb_principal* p) const noexcept { sb_principal_free(p); }
};
using PrincipalPtr = std::unique_ptr<sb_principal, PrincipalFree>;

// An engine as sb_engine_open makes it, with cheap password hashes.
EnginePtr open_engine(const std::string& url) {
    sb::EngineOptions o;
    o.database_url = url;
    o.secret_key = "test secret key: thirty-two bytes or more";
    o.auth_scrypt_log2_n = 10;
    EnginePtr e(new sb_engine);
    e->engine = std::make_unique<sb::Engine>(std::move(o));
    e->accounts = std::make_unique<sb::auth::Accounts>(*e->engine);
    return e;
}

std::string take(char* s) {
    std::string out = s ? s : "";
    sb_string_free(s);
    return out;
}

// A new admin (bot "") or user of the bot, logged in.
PrincipalPtr account(sb_engine* e, const std::string& bot, const std::string& tag) {
    const std::string email = tag + "-" + sb::new_uuid().substr(0, 8) + "@example.com";
    const std::string password = "pw-" + tag + "-Secret";
    char* id = nullptr;
    REQUIRE(((bot.empty() ? sb_admin_register(e, email.c_str(), password.c_str(), &id)
                          : sb_user_register(e, bot.c_str(), email.c_str(), password.c_str(),
                                             &id)) == SB_OK));
    sb_string_free(id);
    char* token = nullptr;
    REQUIRE(((bot.empty() ? sb_admin_login(e, email.c_str(), password.c_str(), &token)
                          : sb_user_login(e, bot.c_str(), email.c_str(), password.c_str(),
                                          &token)) == SB_OK));
    const std::string t = take(token);
    sb_principal* p = nullptr;
    REQUIRE(sb_principal_from_token(e, t.c_str(), &p) == SB_OK);
    return PrincipalPtr(p);
}

const char* kFaqs =
    R"([{"id":"refund","question":"How do I get a refund?","answer":"Open your order."},
        {"id":"shipping","question":"How long does shipping take?","answer":"3 to 5 days."}])";

// Sends a message (in a new session when session is ""); returns the session's id.
std::string say(sb_engine* e, const sb_principal* who, const std::string& bot,
                const std::string& session, const char* text) {
    sb_chat_request r = SB_CHAT_REQUEST_INIT;
    r.bot_id = bot.c_str();
    r.principal = who;
    r.session_id = session.empty() ? nullptr : session.c_str();
    r.message = text;
    r.message_len = std::strlen(text);
    sb_reply* reply = nullptr;
    REQUIRE(sb_chat_send(e, &r, &reply) == SB_OK);
    sb_reply_info info;
    REQUIRE(sb_reply_get(reply, &info) == SB_OK);
    std::string id = info.session_id;
    sb_reply_free(reply);
    return id;
}

struct Row {
    std::string id;
    std::string first_message;
    size_t message_count = 0;
    bool operator==(const Row&) const = default;
};

std::vector<Row> rows_of(const sb_sessions* list) {
    size_t n = 0;
    REQUIRE(sb_sessions_count(list, &n) == SB_OK);
    std::vector<Row> out;
    for (size_t i = 0; i < n; ++i) {
        sb_session_info s;
        REQUIRE(sb_sessions_at(list, i, &s) == SB_OK);
        const char* first = nullptr;
        REQUIRE(sb_sessions_first_message(list, i, &first) == SB_OK);
        REQUIRE(first != nullptr);
        out.push_back({s.id, first, s.message_count});
    }
    return out;
}

// The whole list, as sb_session_list gives it.
std::vector<Row> listed(sb_engine* e, const sb_principal* p, const std::string& bot) {
    sb_sessions* list = nullptr;
    REQUIRE(sb_session_list(e, p, bot.c_str(), &list) == SB_OK);
    auto rows = rows_of(list);
    const char* next = "not set";
    CHECK(sb_sessions_next_cursor(list, &next) == SB_OK);
    CHECK(next == nullptr);
    sb_sessions_free(list);
    return rows;
}

// The whole list read in pages of `limit` rows, following the cursors.
std::vector<Row> paged(sb_engine* e, const sb_principal* p, const std::string& bot, size_t limit,
                       std::string* last_cursor = nullptr) {
    std::vector<Row> out;
    std::string cursor;
    for (int pages = 0;; ++pages) {
        REQUIRE(pages < 1000);
        sb_list_options o;
        REQUIRE(sb_list_options_init(&o, SB_LIST_OPTIONS_VERSION) == SB_OK);
        o.limit = limit;
        o.cursor = cursor.c_str();  // "" = the first page
        sb_sessions* list = nullptr;
        REQUIRE(sb_session_list_page(e, p, bot.c_str(), &o, &list) == SB_OK);
        const auto rows = rows_of(list);
        CHECK(rows.size() <= limit);
        out.insert(out.end(), rows.begin(), rows.end());
        const char* next = nullptr;
        REQUIRE(sb_sessions_next_cursor(list, &next) == SB_OK);
        // A next cursor exactly when rows remain: a full page may be the last.
        if (next) {
            CHECK(rows.size() == limit);
            cursor = next;
            if (last_cursor) *last_cursor = cursor;
        }
        sb_sessions_free(list);
        if (!next) break;
    }
    return out;
}

}  // namespace

TEST_CASE("store: the C ABI's session pages: every size, both scopes, first messages") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "capi_pages.db")) {
        CAPTURE(url);
        EnginePtr engine = open_engine(url);
        sb_engine* e = engine.get();
        REQUIRE(sb_engine_ping(e) == SB_OK);
        PrincipalPtr owner = account(e, "", "owner");
        char* bot_id = nullptr;
        REQUIRE(sb_bot_create(e, owner.get(), "Shop", kFaqs, std::strlen(kFaqs), SB_FORMAT_JSON,
                              nullptr, &bot_id) == SB_OK);
        const std::string bot = take(bot_id);
        PrincipalPtr ann = account(e, bot, "ann");
        PrincipalPtr bob = account(e, bot, "bob");
        // Ann: 7 sessions (one with two turns), Bob: 3; the owner chats as itself too.
        std::set<std::string> anns;
        for (int i = 0; i < 7; ++i) {
            const std::string q = "refund " + std::to_string(i) + "?";
            const std::string s = say(e, ann.get(), bot, "", q.c_str());
            if (i == 2) say(e, ann.get(), bot, s, "and shipping?");
            anns.insert(s);
        }
        for (int i = 0; i < 3; ++i) say(e, bob.get(), bot, "", "how long is shipping");
        say(e, owner.get(), bot, "", "testing my bot");

        const auto ann_all = listed(e, ann.get(), bot);
        const auto owner_all = listed(e, owner.get(), bot);
        REQUIRE(ann_all.size() == 7);
        REQUIRE(owner_all.size() == 11);
        for (const Row& r : ann_all) {
            CHECK(anns.count(r.id) == 1);
            CHECK(r.first_message.rfind("refund ", 0) == 0);  // the first, not "and shipping?"
            CHECK(r.message_count == (r.first_message == "refund 2?" ? 4u : 2u));
        }
        for (const size_t limit : {1u, 2u, 3u, 6u, 7u, 8u, 11u, 12u, 1000u}) {
            CAPTURE(limit);
            CHECK(paged(e, ann.get(), bot, limit) == ann_all);
            CHECK(paged(e, owner.get(), bot, limit) == owner_all);
        }
        // limit 0 and NULL options: everything, no cursor.
        for (const bool null_opts : {true, false}) {
            sb_list_options o = SB_LIST_OPTIONS_INIT;
            sb_sessions* list = nullptr;
            REQUIRE(sb_session_list_page(e, owner.get(), bot.c_str(), null_opts ? nullptr : &o,
                                         &list) == SB_OK);
            CHECK(rows_of(list) == owner_all);
            const char* next = "not set";
            CHECK(sb_sessions_next_cursor(list, &next) == SB_OK);
            CHECK(next == nullptr);
            sb_sessions_free(list);
        }
        // first_message out of range, NULL arguments.
        {
            sb_sessions* list = nullptr;
            REQUIRE(sb_session_list(e, ann.get(), bot.c_str(), &list) == SB_OK);
            const char* first = nullptr;
            CHECK(sb_sessions_first_message(list, 7, &first) == SB_ERANGE);
            CHECK(sb_sessions_first_message(list, 0, nullptr) == SB_EINVAL);
            CHECK(sb_sessions_first_message(nullptr, 0, &first) == SB_EINVAL);
            CHECK(sb_sessions_next_cursor(list, nullptr) == SB_EINVAL);
            sb_sessions_free(list);
        }

        // Cursors of another list are refused: Ann's in the owner's list (and back), Ann's
        // with another bot, a history's for sessions, and texts the library did not make.
        std::string ann_cursor, owner_cursor;
        paged(e, ann.get(), bot, 2, &ann_cursor);
        paged(e, owner.get(), bot, 2, &owner_cursor);
        REQUIRE(!ann_cursor.empty());
        REQUIRE(!owner_cursor.empty());
        char* bot2_id = nullptr;
        REQUIRE(sb_bot_create(e, owner.get(), "Other", kFaqs, std::strlen(kFaqs), SB_FORMAT_JSON,
                              nullptr, &bot2_id) == SB_OK);
        const std::string bot2 = take(bot2_id);
        std::string history_cursor;
        {
            sb_list_options o = SB_LIST_OPTIONS_INIT;
            o.limit = 1;
            sb_messages* m = nullptr;
            REQUIRE(sb_session_history_page(e, ann.get(), ann_all[0].id.c_str(), &o, &m) == SB_OK);
            const char* next = nullptr;
            REQUIRE(sb_messages_next_cursor(m, &next) == SB_OK);
            REQUIRE(next != nullptr);
            history_cursor = next;
            sb_messages_free(m);
        }
        struct Bad {
            const sb_principal* who;
            std::string bot;
            std::string cursor;
        };
        const std::vector<Bad> bad = {
            {owner.get(), bot, ann_cursor},     {ann.get(), bot, owner_cursor},
            {owner.get(), bot2, owner_cursor},  {ann.get(), bot, history_cursor},
            {ann.get(), bot, "garbage"},        {ann.get(), bot, "v1.!!"},
            {ann.get(), bot, ann_cursor + "A"}, {ann.get(), bot, "v2." + ann_cursor.substr(3)},
        };
        for (const Bad& b : bad) {
            CAPTURE(b.cursor);
            sb_list_options o = SB_LIST_OPTIONS_INIT;
            o.limit = 2;
            o.cursor = b.cursor.c_str();
            sb_sessions* list = reinterpret_cast<sb_sessions*>(&o);  // must be reset to NULL
            CHECK(sb_session_list_page(e, b.who, b.bot.c_str(), &o, &list) == SB_EINVAL);
            CHECK(list == nullptr);
            CHECK(std::string(sb_last_error()).find("invalid cursor") != std::string::npos);
        }
        // Options of an unknown version; NULL out.
        {
            sb_list_options o = SB_LIST_OPTIONS_INIT;
            o.version = SB_LIST_OPTIONS_VERSION + 1;
            sb_sessions* list = nullptr;
            CHECK(sb_session_list_page(e, ann.get(), bot.c_str(), &o, &list) == SB_EVERSION);
            o.version = 0;
            CHECK(sb_session_list_page(e, ann.get(), bot.c_str(), &o, &list) == SB_EVERSION);
            CHECK(sb_session_list_page(e, ann.get(), bot.c_str(), nullptr, nullptr) == SB_EINVAL);
            CHECK(sb_list_options_init(&o, SB_LIST_OPTIONS_VERSION + 1) == SB_EVERSION);
            CHECK(sb_list_options_init(nullptr, SB_LIST_OPTIONS_VERSION) == SB_EINVAL);
        }
        CHECK(sb_engine_ping(e) == SB_OK);
        CHECK(sb_engine_ping(nullptr) == SB_EINVAL);
    }
}

TEST_CASE("store: the C ABI's history pages: every size, cursors of this session only") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "capi_pages.db")) {
        CAPTURE(url);
        EnginePtr engine = open_engine(url);
        sb_engine* e = engine.get();
        PrincipalPtr owner = account(e, "", "owner");
        char* bot_id = nullptr;
        REQUIRE(sb_bot_create(e, owner.get(), "Shop", kFaqs, std::strlen(kFaqs), SB_FORMAT_JSON,
                              nullptr, &bot_id) == SB_OK);
        const std::string bot = take(bot_id);
        PrincipalPtr ann = account(e, bot, "ann");
        const std::string s = say(e, ann.get(), bot, "", "refund?");
        for (int i = 0; i < 5; ++i) say(e, ann.get(), bot, s, "and shipping?");
        const std::string other = say(e, ann.get(), bot, "", "hello");

        auto ids_of = [](const sb_messages* m) {
            size_t n = 0;
            REQUIRE(sb_messages_count(m, &n) == SB_OK);
            std::vector<int64_t> ids;
            for (size_t i = 0; i < n; ++i) {
                sb_message_info info;
                REQUIRE(sb_messages_at(m, i, &info) == SB_OK);
                ids.push_back(info.id);
            }
            return ids;
        };
        sb_messages* whole = nullptr;
        REQUIRE(sb_session_history(e, ann.get(), s.c_str(), &whole) == SB_OK);
        const auto all = ids_of(whole);
        sb_messages_free(whole);
        REQUIRE(all.size() == 12);

        for (const sb_principal* who : {ann.get(), owner.get()}) {
            for (const size_t limit : {0u, 1u, 5u, 11u, 12u, 13u}) {
                CAPTURE(limit);
                std::vector<int64_t> got;
                std::string cursor;
                for (int pages = 0;; ++pages) {
                    REQUIRE(pages < 100);
                    sb_list_options o = SB_LIST_OPTIONS_INIT;
                    o.limit = limit;
                    o.cursor = cursor.empty() ? nullptr : cursor.c_str();
                    sb_messages* m = nullptr;
                    REQUIRE(sb_session_history_page(e, who, s.c_str(), &o, &m) == SB_OK);
                    const auto ids = ids_of(m);
                    got.insert(got.end(), ids.begin(), ids.end());
                    const char* next = nullptr;
                    REQUIRE(sb_messages_next_cursor(m, &next) == SB_OK);
                    if (next) {
                        CHECK(ids.size() == limit);
                        cursor = next;
                    }
                    sb_messages_free(m);
                    if (!next) break;
                }
                CHECK(got == all);
            }
        }
        // A cursor of this session is refused for another, and one of sessions for history.
        sb_list_options o = SB_LIST_OPTIONS_INIT;
        o.limit = 3;
        sb_messages* m = nullptr;
        REQUIRE(sb_session_history_page(e, ann.get(), s.c_str(), &o, &m) == SB_OK);
        const char* next = nullptr;
        REQUIRE(sb_messages_next_cursor(m, &next) == SB_OK);
        REQUIRE(next != nullptr);
        const std::string cursor = next;
        sb_messages_free(m);
        sb_list_options one = SB_LIST_OPTIONS_INIT;
        one.limit = 1;
        sb_sessions* list = nullptr;
        REQUIRE(sb_session_list_page(e, ann.get(), bot.c_str(), &one, &list) == SB_OK);
        REQUIRE(sb_sessions_next_cursor(list, &next) == SB_OK);
        REQUIRE(next != nullptr);
        const std::string sessions_cursor = next;
        sb_sessions_free(list);
        for (const auto& [session, c] : std::vector<std::pair<std::string, std::string>>{
                 {other, cursor}, {s, sessions_cursor}, {s, "v1."}, {s, "v1.bQ"}}) {
            CAPTURE(c);
            o.cursor = c.c_str();
            m = nullptr;
            CHECK(sb_session_history_page(e, ann.get(), session.c_str(), &o, &m) == SB_EINVAL);
            CHECK(m == nullptr);
        }
    }
}

TEST_CASE("store: sb_engine_ping reports a database it cannot open as SB_EDB, with the reason") {
    sb_engine_options o = SB_ENGINE_OPTIONS_INIT;
    o.database_url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2";
    sb_engine* e = nullptr;
    REQUIRE(sb_engine_open(&e, &o) == SB_OK);  // the store is opened at first use
    CHECK(sb_engine_ping(e) == SB_EDB);
    CHECK(std::string(sb_last_error()).find("127.0.0.1") != std::string::npos);
    CHECK(sb_engine_ping(e) == SB_EDB);  // asked again, not remembered as opened
    sb_engine_close(e);

    o.database_url = "mysql://nowhere";
    REQUIRE(sb_engine_open(&e, &o) == SB_OK);
    CHECK(sb_engine_ping(e) == SB_EDB);
    sb_engine_close(e);
}

TEST_CASE("store postgres: sb_engine_ping notices a server that went away, and one that is back") {
    const char* url = std::getenv("SB_TEST_PG_URL");
    const char* restart = std::getenv("SB_TEST_PG_RESTART");
    const char* stop = std::getenv("SB_TEST_PG_STOP");
    const char* start = std::getenv("SB_TEST_PG_START");
    if (!url || !restart || !stop || !start) return;  // only under tests/pg/with-postgres.sh
    sb_engine_options o = SB_ENGINE_OPTIONS_INIT;
    o.database_url = url;
    o.pool_size = 2;
    sb_engine* raw = nullptr;
    REQUIRE(sb_engine_open(&raw, &o) == SB_OK);
    EnginePtr e(raw);
    REQUIRE(sb_engine_ping(raw) == SB_OK);
    // A restart leaves the pooled connection dead: the ping replaces it and answers SB_OK.
    REQUIRE(std::system(restart) == 0);
    CHECK(sb_engine_ping(raw) == SB_OK);
    // Down: SB_EDB with the reason (every time: the pool's slot is given back).
    REQUIRE(std::system(stop) == 0);
    for (int i = 0; i < 3; ++i) {
        CHECK(sb_engine_ping(raw) == SB_EDB);
        CHECK(std::string(sb_last_error()).find("127.0.0.1") != std::string::npos);
    }
    REQUIRE(std::system(start) == 0);
    CHECK(sb_engine_ping(raw) == SB_OK);
}
