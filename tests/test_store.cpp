// Tests for the Store interface. Every backend-neutral case runs against SQLite (a file in a fresh
// temporary directory) and, when SB_TEST_PG_URL names a PostgreSQL database, against that too
// (its tables are emptied at the start of each case).
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "faq/faq.hpp"
#include "store/idle_list.hpp"
#include "store/store.hpp"

namespace {

namespace fs = std::filesystem;

using sb::BotRecord;
using sb::FaqEntry;
using sb::MessageRecord;
using sb::Role;
using sb::SessionRecord;
using sb::SessionStatus;
using sb::Store;
using sb::TurnRecord;

using sb::test::Failure;
using sb::test::failure_of;
using sb::test::TempDir;

// One backend to run a test case against: a URL naming a fresh (empty) database.
class Backend {
  public:
    explicit Backend(std::string kind) : kind_(std::move(kind)) {
        if (kind_ == "sqlite") {
            dir_.emplace();
            url_ = "sqlite://" + (dir_->path() / "store.db").string();
        } else {
            url_ = std::getenv("SB_TEST_PG_URL");
            // The schema is created by the first open; empty the tables of earlier cases.
            auto store = open();
            pqxx::connection conn(url_);
            pqxx::work w(conn);
            w.exec("DELETE FROM messages");
            w.exec("DELETE FROM sessions");
            w.exec("DELETE FROM faq_sets");
            w.exec("DELETE FROM bots");
            w.commit();
        }
    }
    const std::string& kind() const { return kind_; }
    const std::string& url() const { return url_; }
    bool is_sqlite() const { return kind_ == "sqlite"; }
    fs::path sqlite_file() const { return dir_->path() / "store.db"; }
    std::unique_ptr<Store> open() const { return Store::open(url_, sb::StoreOptions{}); }

  private:
    std::string kind_;
    std::optional<TempDir> dir_;
    std::string url_;
};

std::vector<std::string> backend_kinds() {
    std::vector<std::string> kinds = {"sqlite"};
    const char* pg = std::getenv("SB_TEST_PG_URL");
    if (pg && *pg) kinds.emplace_back("postgresql");
    return kinds;
}

FaqEntry faq(std::string id, std::string question, std::string answer, std::string category = {},
             std::vector<std::string> tags = {}, std::vector<std::string> alternates = {}) {
    FaqEntry e;
    e.id = std::move(id);
    e.question = std::move(question);
    e.answer = std::move(answer);
    e.category = std::move(category);
    e.tags = std::move(tags);
    e.alternates = std::move(alternates);
    return e;
}

std::vector<FaqEntry> small_faqs() {
    return {faq("reset", "How do I reset my password?", "Use the link on the login page."),
            faq("hours", "When are you open?", "Nine to five.")};
}

void check_same_faqs(const std::vector<FaqEntry>& got, const std::vector<FaqEntry>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("entry " << i);
        CHECK(got[i].id == want[i].id);
        CHECK(got[i].question == want[i].question);
        CHECK(got[i].answer == want[i].answer);
        CHECK(got[i].category == want[i].category);
        CHECK(got[i].tags == want[i].tags);
        CHECK(got[i].alternates == want[i].alternates);
    }
}

BotRecord bot(std::string id, std::string owner, std::int64_t created_ms,
              std::string name = "A bot") {
    BotRecord b;
    b.id = std::move(id);
    b.owner = std::move(owner);
    b.name = std::move(name);
    b.created_ms = created_ms;
    return b;
}

SessionRecord session(std::string id, std::string bot_id, std::string user_id,
                      std::int64_t created_ms) {
    SessionRecord s;
    s.id = std::move(id);
    s.bot_id = std::move(bot_id);
    s.user_id = std::move(user_id);
    s.created_ms = created_ms;
    s.last_active_ms = created_ms;
    return s;
}

MessageRecord user_message(const std::string& session_id, std::string text, std::int64_t ms) {
    MessageRecord m;
    m.session_id = session_id;
    m.role = Role::User;
    m.text = std::move(text);
    m.created_ms = ms;
    return m;
}

MessageRecord assistant_message(const std::string& session_id, std::string text, std::int64_t ms) {
    MessageRecord m;
    m.session_id = session_id;
    m.role = Role::Assistant;
    m.text = std::move(text);
    m.created_ms = ms;
    m.faq_ids = {"reset", "hours"};
    m.confidence = 0.8125;
    m.responder = "offline";
    m.latency_ms = 12;
    return m;
}

// A turn of a user question and an assistant answer at time ms.
TurnRecord turn(SessionRecord s, bool create, const std::string& question, std::int64_t ms) {
    TurnRecord t;
    s.last_active_ms = ms;
    t.session = std::move(s);
    t.create_session = create;
    t.messages.push_back(user_message(t.session.id, question, ms));
    t.messages.push_back(assistant_message(t.session.id, "answer to " + question, ms + 1));
    return t;
}

void write_file(const fs::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    REQUIRE(out.good());
}

void sqlite_exec(const fs::path& file, const char* sql) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
    const bool opened = rc == SQLITE_OK;
    char* msg = nullptr;
    const int exec_rc = opened ? sqlite3_exec(db, sql, nullptr, nullptr, &msg) : rc;
    const std::string error = msg ? msg : (db ? sqlite3_errmsg(db) : "");
    sqlite3_free(msg);
    sqlite3_close(db);
    INFO(error);
    REQUIRE(exec_rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("store: open creates the schema; reopening keeps the data") {
    for (const std::string& kind : backend_kinds()) {
        INFO("backend: " << kind);
        Backend backend(kind);
        {
            auto store = backend.open();
            REQUIRE(store);
            CHECK(store->schema_version() == sb::migrations().back().version);
            store->create_bot(bot("b1", "alice", 1000, "Helpdesk"), small_faqs());
            store->record_turn(turn(session("s1", "b1", "u1", 2000), true, "hello?", 2000));
        }
        auto store = backend.open();
        CHECK(store->schema_version() == sb::migrations().back().version);
        auto b = store->get_bot("b1");
        REQUIRE(b);
        CHECK(b->name == "Helpdesk");
        CHECK(b->owner == "alice");
        CHECK(b->created_ms == 1000);
        CHECK(b->faq_revision == 1);
        CHECK(b->faq_count == 2);
        check_same_faqs(store->load_faqs("b1").entries, small_faqs());
        CHECK(store->history("s1", 0).size() == 2);
        if (backend.is_sqlite()) {
            // A second Store on the same file (as another process would open it) sees the data.
            auto other = backend.open();
            CHECK(other->get_bot("b1").has_value());
            CHECK(other->history("s1", 0).size() == 2);
        }
    }
}

TEST_CASE("store: sqlite refuses a database with a newer schema version") {
    Backend backend("sqlite");
    backend.open()->create_bot(bot("b1", "alice", 1), small_faqs());
    sqlite_exec(backend.sqlite_file(), "UPDATE schema_version SET version = 999");
    const Failure f = failure_of([&] { backend.open(); });
    CHECK(f.status == SB_EVERSION);
    CHECK(f.message.find("999") != std::string::npos);
    CHECK(f.message.find("upgrade supportbot") != std::string::npos);
    // Nothing was changed: the version is still 999.
    CHECK(failure_of([&] { backend.open(); }).status == SB_EVERSION);
}

TEST_CASE("store: sqlite upgrades an older database to the current schema") {
    // A database left at version 0 (the version table, nothing else): opening it applies every
    // migration, and it then works.
    TempDir dir;
    const fs::path file = fs::path(dir.path()) / "old.db";
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
        sqlite3_close(db);
    }
    sqlite_exec(file,
                "CREATE TABLE schema_version (version INTEGER NOT NULL);"
                "INSERT INTO schema_version (version) VALUES (0)");
    auto store = Store::open("sqlite://" + file.string(), sb::StoreOptions{});
    CHECK(store->schema_version() == sb::migrations().back().version);
    store->create_bot(bot("b1", "alice", 1), small_faqs());
    CHECK(store->get_bot("b1").has_value());
}

TEST_CASE("store: sqlite refuses a file that is not a database") {
    TempDir dir;
    const fs::path file = dir.path() / "notes.db";
    std::string junk;
    for (int i = 0; i < 200; ++i) junk += "This is a text file, not a database.\n";
    write_file(file, junk);
    const Failure f = failure_of([&] { Store::open("sqlite://" + file.string(), {}); });
    CHECK(f.status == SB_EDB);
    CHECK(f.message.find(file.string()) != std::string::npos);
    CHECK(f.message.find("not a database") != std::string::npos);

    // A directory that does not exist cannot hold the file.
    const Failure g =
        failure_of([&] { Store::open("sqlite://" + (dir.path() / "no/such/x.db").string(), {}); });
    CHECK(g.status == SB_EDB);
}

TEST_CASE("store: bots are created, read and listed; duplicate ids conflict") {
    for (const std::string& kind : backend_kinds()) {
        INFO("backend: " << kind);
        Backend backend(kind);
        auto store = backend.open();
        CHECK(store->list_bots(std::nullopt).empty());
        CHECK_FALSE(store->get_bot("nope").has_value());

        // Created out of order; equal creation times are ordered by id.
        store->create_bot(bot("c", "alice", 300), small_faqs());
        store->create_bot(bot("b", "bob", 100), small_faqs());
        store->create_bot(bot("z", "alice", 200), small_faqs());
        store->create_bot(bot("a", "alice", 200, "Ünïcödé \"bot\" 🤖"), {small_faqs()[0]});

        const auto all = store->list_bots(std::nullopt);
        REQUIRE(all.size() == 4);
        CHECK(all[0].id == "b");
        CHECK(all[1].id == "a");
        CHECK(all[2].id == "z");
        CHECK(all[3].id == "c");
        CHECK(all[1].name == "Ünïcödé \"bot\" 🤖");
        CHECK(all[1].faq_count == 1);
        CHECK(all[1].faq_revision == 1);
        CHECK(all[0].faq_count == 2);

        const auto alices = store->list_bots(std::string("alice"));
        REQUIRE(alices.size() == 3);
        CHECK(alices[0].id == "a");
        CHECK(alices[1].id == "z");
        CHECK(alices[2].id == "c");
        for (const auto& b : alices) CHECK(b.owner == "alice");
        CHECK(store->list_bots(std::string("carol")).empty());

        const Failure f = failure_of(
            [&] { store->create_bot(bot("b", "mallory", 999, "Impostor"), {small_faqs()[1]}); });
        CHECK(f.status == SB_ECONFLICT);
        auto b = store->get_bot("b");
        REQUIRE(b);
        CHECK(b->owner == "bob");
        CHECK(b->name == "A bot");
        CHECK(b->created_ms == 100);
        CHECK(b->faq_count == 2);
        check_same_faqs(store->load_faqs("b").entries, small_faqs());
        CHECK(store->list_bots(std::nullopt).size() == 4);
    }
}

TEST_CASE("store: FAQ sets round-trip and replacing bumps the revision") {
    const std::vector<FaqEntry> tricky = {
        faq("uni-1", "Wie ändere ich mein Passwort? 日本語も 🙂",
            "Öffne „Einstellungen“ → Sicherheit.\nDann: \"Passwort ändern\".", "Konto",
            {"passwort", "sicherheit", "ünïcode"},
            {"Passwort vergessen", "パスワードを忘れた", "Can't log in — help!"}),
        faq("quotes", "What about \"quotes\", 'apostrophes' and back\\slashes?",
            "They are kept:\t\"\\\" and '\n\nEven blank lines.", "",
            {"tag with spaces", "tag,with,commas"}, {}),
        faq("plain", "Plain?", "Yes.", "misc", {}, {"plainly?"}),
        faq("control", "Control \x01 characters and \x7f?", "Kept: \x1f.", "", {}, {}),
    };
    for (const std::string& kind : backend_kinds()) {
        INFO("backend: " << kind);
        Backend backend(kind);
        auto store = backend.open();
        store->create_bot(bot("b1", "alice", 10), tricky);
        store->create_bot(bot("b2", "alice", 11), small_faqs());

        auto [entries, synonyms, revision] = store->load_faqs("b1");
        CHECK(revision == 1);
        CHECK(synonyms.empty());
        check_same_faqs(entries, tricky);

        const std::vector<FaqEntry> replacement = {tricky[2], small_faqs()[0]};
        CHECK(store->replace_faqs("b1", replacement) == 2);
        CHECK(store->replace_faqs("b1", replacement) == 3);
        auto [entries2, synonyms2, revision2] = store->load_faqs("b1");
        CHECK(revision2 == 3);
        check_same_faqs(entries2, replacement);
        auto b1 = store->get_bot("b1");
        REQUIRE(b1);
        CHECK(b1->faq_revision == 3);
        CHECK(b1->faq_count == 2);

        // The other bot is untouched.
        auto [entries3, synonyms3, revision3] = store->load_faqs("b2");
        CHECK(revision3 == 1);
        check_same_faqs(entries3, small_faqs());

        CHECK(failure_of([&] { store->replace_faqs("nope", small_faqs()); }).status ==
              SB_ENOTFOUND);
        CHECK(failure_of([&] { store->load_faqs("nope"); }).status == SB_ENOTFOUND);
        CHECK_FALSE(store->get_bot("nope").has_value());
    }
}

TEST_CASE("store: FAQ sets keep their synonyms; replacing the FAQs replaces them") {
    using sb::SynonymGroup;
    // Phrases, quotes, backslashes, non-ASCII text, and a term in two groups (as a CSV file may
    // give it): all come back as they were, in their order.
    const std::vector<SynonymGroup> synonyms = {{"order",
                                                 {"parcel", "flum box",
                                                  "p\xC3\xA4"
                                                  "ckchen"}},
                                                {"refund", {"money back", "say \"no\" \\ thanks"}},
                                                {"order", {"shipment"}}};
    auto check_same = [](const std::vector<SynonymGroup>& got,
                         const std::vector<SynonymGroup>& want) {
        REQUIRE(got.size() == want.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
            CHECK(got[i].term == want[i].term);
            CHECK(got[i].synonyms == want[i].synonyms);
        }
    };
    for (const std::string& kind : backend_kinds()) {
        INFO("backend: " << kind);
        Backend backend(kind);
        {
            auto store = backend.open();
            store->create_bot(bot("b1", "alice", 10), small_faqs(), synonyms);
            store->create_bot(bot("b2", "alice", 11), small_faqs());
            const sb::StoredFaqs got = store->load_faqs("b1");
            check_same(got.synonyms, synonyms);
            check_same_faqs(got.entries, small_faqs());
            CHECK(store->load_faqs("b2").synonyms.empty());
        }
        // Another store on the database (a restart, another process) reads them back.
        auto store = backend.open();
        check_same(store->load_faqs("b1").synonyms, synonyms);
        // Replacing the FAQs replaces the synonyms with the new set's, or with none.
        const std::vector<SynonymGroup> other = {{"password", {"passcode", "pin"}}};
        CHECK(store->replace_faqs("b1", small_faqs(), other) == 2);
        sb::StoredFaqs got = store->load_faqs("b1");
        CHECK(got.revision == 2);
        check_same(got.synonyms, other);
        CHECK(store->replace_faqs("b1", small_faqs()) == 3);
        CHECK(store->load_faqs("b1").synonyms.empty());
        CHECK(store->load_faqs("b2").synonyms.empty());
        // A failed replacement changes nothing.
        CHECK(failure_of([&] { store->replace_faqs("nope", small_faqs(), other); }).status ==
              SB_ENOTFOUND);
        // A duplicate bot id stores neither the bot nor its synonyms.
        CHECK(failure_of([&] {
                  store->create_bot(bot("b2", "bob", 12), small_faqs(), other);
              }).status == SB_ECONFLICT);
        CHECK(store->load_faqs("b2").synonyms.empty());
    }
}

TEST_CASE("store: sqlite reads corrupt stored synonyms as SB_EDB") {
    Backend backend("sqlite");
    backend.open()->create_bot(bot("b1", "alice", 1), small_faqs(),
                               {sb::SynonymGroup{"order", {"parcel"}}});
    sqlite_exec(backend.sqlite_file(), "UPDATE faq_sets SET synonyms_json = '{\"order\": 3}'");
    const Failure f = failure_of([&] { backend.open()->load_faqs("b1"); });
    CHECK(f.status == SB_EDB);
    CHECK(f.message.find("corrupt FAQ set") != std::string::npos);
    CHECK(f.message.find("b1") != std::string::npos);
}

TEST_CASE("store: sqlite keeps the FAQ sets of a database from before synonyms were stored") {
    // A database at the schema before migration 8, with a bot: opening it migrates it, and the
    // bot's set has its entries and no synonyms.
    TempDir dir;
    const fs::path file = fs::path(dir.path()) / "old.db";
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
        sqlite3_close(db);
    }
    std::string sql = "CREATE TABLE schema_version (version INTEGER NOT NULL);";
    int version = 0;
    for (const sb::Migration& m : sb::migrations()) {
        if (m.version >= 8) break;
        sql += m.sqlite_sql;
        version = m.version;
    }
    sql += "INSERT INTO schema_version (version) VALUES (" + std::to_string(version) + ");";
    sql += "INSERT INTO bots (id, owner, name, created_ms) VALUES ('old', 'alice', 'Old', 1);";
    sql +=
        "INSERT INTO faq_sets (bot_id, revision, entry_count, entries_json, updated_ms) "
        "VALUES ('old', 4, 2, '" +
        sb::faqs_to_json(small_faqs()) + "', 1);";
    sqlite_exec(file, sql.c_str());
    auto store = Store::open("sqlite://" + file.string(), sb::StoreOptions{});
    CHECK(store->schema_version() == sb::migrations().back().version);
    const sb::StoredFaqs got = store->load_faqs("old");
    CHECK(got.revision == 4);
    check_same_faqs(got.entries, small_faqs());
    CHECK(got.synonyms.empty());
    CHECK(store->replace_faqs("old", small_faqs(), {{"hours", {"opening times"}}}) == 5);
    REQUIRE(store->load_faqs("old").synonyms.size() == 1);
}

TEST_CASE("store: sessions record turns; history and listing") {
    for (const std::string& kind : backend_kinds()) {
        INFO("backend: " << kind);
        Backend backend(kind);
        auto store = backend.open();
        store->create_bot(bot("b1", "alice", 1), small_faqs());
        store->create_bot(bot("b2", "alice", 2), small_faqs());

        // A new session with a user and an assistant message.
        TurnRecord t1 =
            turn(session("s1", "b1", "u1", 1000), true, "Passwort vergessen? 🙂", 1000);
        t1.messages[1].text = "Line one\nline \"two\" — ünïcode";
        store->record_turn(t1);

        auto s1 = store->get_session("s1");
        REQUIRE(s1);
        CHECK(s1->bot_id == "b1");
        CHECK(s1->user_id == "u1");
        CHECK(s1->created_ms == 1000);
        CHECK(s1->last_active_ms == 1000);
        CHECK(s1->status == SessionStatus::Open);
        CHECK(s1->escalation_reason.empty());
        CHECK(s1->unanswered_streak == 0);
        CHECK_FALSE(store->get_session("nope").has_value());

        auto h = store->history("s1", 0);
        REQUIRE(h.size() == 2);
        CHECK(h[0].session_id == "s1");
        CHECK(h[0].role == Role::User);
        CHECK(h[0].text == "Passwort vergessen? 🙂");
        CHECK(h[0].created_ms == 1000);
        CHECK(h[0].faq_ids.empty());
        CHECK(h[0].confidence == 0);
        CHECK_FALSE(h[0].escalated);
        CHECK_FALSE(h[0].error);
        CHECK(h[1].role == Role::Assistant);
        CHECK(h[1].text == "Line one\nline \"two\" — ünïcode");
        CHECK(h[1].created_ms == 1001);
        CHECK(h[1].faq_ids == std::vector<std::string>{"reset", "hours"});
        CHECK(h[1].confidence == doctest::Approx(0.8125));
        CHECK(h[1].responder == "offline");
        CHECK(h[1].latency_ms == 12);
        CHECK_FALSE(h[1].escalated);
        CHECK_FALSE(h[1].error);
        CHECK(h[0].id < h[1].id);

        // A second turn escalates: the session is updated, the messages appended.
        SessionRecord upd = *s1;
        upd.status = SessionStatus::Escalated;
        upd.escalation_reason = "user asked for a human";
        upd.unanswered_streak = 2;
        TurnRecord t2 = turn(upd, false, "I want a human", 5000);
        t2.messages[1].escalated = true;
        t2.messages[1].escalation_reason = "user asked for a human";
        t2.messages[1].error = true;
        t2.messages[1].faq_ids.clear();
        t2.messages[1].responder = "error";
        store->record_turn(t2);

        s1 = store->get_session("s1");
        REQUIRE(s1);
        CHECK(s1->status == SessionStatus::Escalated);
        CHECK(s1->escalation_reason == "user asked for a human");
        CHECK(s1->unanswered_streak == 2);
        CHECK(s1->last_active_ms == 5000);
        CHECK(s1->created_ms == 1000);

        // A third turn closes it.
        upd = *s1;
        upd.status = SessionStatus::Closed;
        upd.escalation_reason.clear();
        upd.unanswered_streak = 0;
        store->record_turn(turn(upd, false, "thanks", 6000));
        s1 = store->get_session("s1");
        REQUIRE(s1);
        CHECK(s1->status == SessionStatus::Closed);
        CHECK(s1->escalation_reason.empty());
        CHECK(s1->unanswered_streak == 0);

        h = store->history("s1", 0);
        REQUIRE(h.size() == 6);
        for (std::size_t i = 1; i < h.size(); ++i) CHECK(h[i - 1].id < h[i].id);
        CHECK(h[3].escalated);
        CHECK(h[3].error);
        CHECK(h[3].escalation_reason == "user asked for a human");
        CHECK(h[3].faq_ids.empty());
        CHECK(h[3].responder == "error");
        CHECK(h[4].text == "thanks");

        // The last n messages, oldest first.
        auto last3 = store->history("s1", 3);
        REQUIRE(last3.size() == 3);
        CHECK(last3[0].id == h[3].id);
        CHECK(last3[1].id == h[4].id);
        CHECK(last3[2].id == h[5].id);
        auto last1 = store->history("s1", 1);
        REQUIRE(last1.size() == 1);
        CHECK(last1[0].id == h[5].id);
        CHECK(store->history("s1", 100).size() == 6);
        CHECK(store->history("nope", 0).empty());

        // More sessions: other users and bots are not listed; most recently active first.
        store->record_turn(turn(session("s2", "b1", "u1", 2000), true, "q", 7000));
        store->record_turn(turn(session("s0", "b1", "u1", 3000), true, "q", 3000));
        store->record_turn(turn(session("s3", "b1", "u2", 4000), true, "q", 8000));
        store->record_turn(turn(session("s4", "b2", "u1", 4000), true, "q", 9000));
        // Equal activity times are ordered by id.
        store->record_turn(turn(session("s5", "b1", "u1", 2500), true, "q", 3000));
        TurnRecord lonely;
        lonely.session = session("s6", "b1", "u1", 100);
        lonely.create_session = true;
        store->record_turn(lonely);  // a session without messages

        const auto list = store->list_sessions("b1", "u1");
        REQUIRE(list.size() == 5);
        CHECK(list[0].id == "s2");
        CHECK(list[1].id == "s1");
        CHECK(list[2].id == "s0");
        CHECK(list[3].id == "s5");
        CHECK(list[4].id == "s6");
        CHECK(list[0].message_count == 2);
        CHECK(list[1].message_count == 6);
        CHECK(list[1].status == SessionStatus::Closed);
        CHECK(list[4].message_count == 0);
        for (const auto& s : list) {
            CHECK(s.bot_id == "b1");
            CHECK(s.user_id == "u1");
        }
        CHECK(store->list_sessions("b1", "u2").size() == 1);
        CHECK(store->list_sessions("b2", "u2").empty());
    }
}

TEST_CASE("store: confidences are stored exactly") {
    // Values whose shortest decimal has 17 digits, or is tiny, read back bit for bit: through the
    // one-statement turn (two messages) and through the general path (here three messages).
    const std::vector<double> values = {0.1 + 0.2, 1.0 / 3.0,         1e-300, 0.8125, 1.0,
                                        0.0,       0.9999999999999999};
    for (const std::string& kind : backend_kinds()) {
        INFO("backend: " << kind);
        Backend backend(kind);
        auto store = backend.open();
        store->create_bot(bot("b1", "alice", 1), small_faqs());
        SessionRecord s = session("s1", "b1", "u1", 1000);
        bool create = true;
        for (std::size_t i = 0; i < values.size(); i += 2) {
            TurnRecord t = turn(s, create, "q", 1000 + static_cast<std::int64_t>(i));
            t.messages[0].confidence = values[i];
            if (i + 1 < values.size()) t.messages[1].confidence = values[i + 1];
            if (i == 2) t.messages.push_back(t.messages[1]);  // the general path
            store->record_turn(t);
            create = false;
            s = *store->get_session("s1");
        }
        const auto h = store->history("s1", 0);
        std::vector<double> got;
        for (const auto& m : h) got.push_back(m.confidence);
        // Turn 2 (i == 2) stored its reply twice.
        std::vector<double> want = {values[0], values[1], values[2], values[3], values[3],
                                    values[4], values[5], values[6], 0.8125};
        REQUIRE(got.size() == want.size());
        for (std::size_t i = 0; i < want.size(); ++i) {
            INFO("message " << i);
            CHECK(got[i] == want[i]);
        }
    }
}

TEST_CASE("store: a conflicting or failing turn writes nothing") {
    for (const std::string& kind : backend_kinds()) {
        INFO("backend: " << kind);
        Backend backend(kind);
        auto store = backend.open();
        store->create_bot(bot("b1", "alice", 1), small_faqs());
        store->record_turn(turn(session("s1", "b1", "u1", 1000), true, "first", 1000));
        const auto before = store->history("s1", 0);
        REQUIRE(before.size() == 2);

        // Creating a session that exists: a conflict, and nothing changes.
        SessionRecord again = session("s1", "b1", "u1", 5000);
        again.status = SessionStatus::Escalated;
        again.unanswered_streak = 7;
        const Failure f = failure_of([&] { store->record_turn(turn(again, true, "dup", 5000)); });
        CHECK(f.status == SB_ECONFLICT);
        auto s1 = store->get_session("s1");
        REQUIRE(s1);
        CHECK(s1->created_ms == 1000);
        CHECK(s1->last_active_ms == 1000);
        CHECK(s1->status == SessionStatus::Open);
        CHECK(s1->unanswered_streak == 0);
        auto after = store->history("s1", 0);
        REQUIRE(after.size() == before.size());
        CHECK(after.back().id == before.back().id);

        // Updating a session that does not exist.
        const Failure g = failure_of(
            [&] { store->record_turn(turn(session("ghost", "b1", "u1", 1), false, "boo", 6000)); });
        CHECK(g.status == SB_ENOTFOUND);
        CHECK_FALSE(store->get_session("ghost").has_value());
        CHECK(store->history("ghost", 0).empty());

        // The session update succeeds but a message names an unknown session: all rolled back.
        SessionRecord upd = *s1;
        upd.unanswered_streak = 3;
        upd.status = SessionStatus::Escalated;
        TurnRecord bad = turn(upd, false, "half", 7000);
        bad.messages[1].session_id = "ghost";
        CHECK_THROWS_AS(store->record_turn(bad), sb::Error);
        s1 = store->get_session("s1");
        REQUIRE(s1);
        CHECK(s1->last_active_ms == 1000);
        CHECK(s1->unanswered_streak == 0);
        CHECK(s1->status == SessionStatus::Open);
        CHECK(store->history("s1", 0).size() == 2);

        // A new session for a bot that does not exist.
        CHECK_THROWS_AS(store->record_turn(turn(session("s9", "no-bot", "u1", 1), true, "x", 8000)),
                        sb::Error);
        CHECK_FALSE(store->get_session("s9").has_value());
        CHECK(store->history("s9", 0).empty());

        // The store still works after the failures.
        store->record_turn(turn(upd, false, "fine", 9000));
        CHECK(store->history("s1", 0).size() == 4);
        CHECK(store->get_session("s1")->unanswered_streak == 3);
        CHECK(store->get_session("s1")->revision == 1);

        // Compare-and-set: a writer holding the old revision loses and writes nothing.
        SessionRecord stale = upd;  // revision 0; the store is at 1 now
        stale.status = SessionStatus::Closed;
        const Failure c = failure_of([&] { store->record_turn(turn(stale, false, "late", 9500)); });
        CHECK(c.status == SB_ECONFLICT);
        CHECK(store->get_session("s1")->status == SessionStatus::Escalated);
        CHECK(store->history("s1", 0).size() == 4);
        SessionRecord fresh = *store->get_session("s1");
        TurnRecord ok = turn(fresh, false, "again", 9600);
        ok.messages[1].fallback = true;
        ok.messages[1].prompt_tokens = 120;
        ok.messages[1].completion_tokens = 34;
        store->record_turn(ok);
        CHECK(store->get_session("s1")->revision == 2);
        const auto h = store->history("s1", 1);
        REQUIRE(h.size() == 1);
        CHECK(h[0].fallback);
        CHECK(h[0].prompt_tokens == 120);
        CHECK(h[0].completion_tokens == 34);
        CHECK_FALSE(store->history("s1", 2)[0].fallback);
    }
}

TEST_CASE("store: concurrent turns from several threads") {
    constexpr int kThreads = 4;
    constexpr int kTurns = 50;
    for (const std::string& kind : backend_kinds()) {
        INFO("backend: " << kind);
        Backend backend(kind);
        auto store = backend.open();
        store->create_bot(bot("b1", "alice", 1), small_faqs());

        std::atomic<int> failures{0};
        std::vector<std::string> errors(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                try {
                    const std::string id = std::string("s") + std::to_string(t);
                    SessionRecord s = session(id, "b1", std::string("u") + std::to_string(t), 1000);
                    for (int i = 0; i < kTurns; ++i) {
                        const std::int64_t ms = 1000 + 10 * i;
                        store->record_turn(
                            turn(s, i == 0, std::string("q") + std::to_string(i), ms));
                        if (i > 0) ++s.revision;  // an update bumps it; a creation leaves 0
                        s.unanswered_streak = i;
                        if (i % 10 == 0) store->history(id, 4);
                    }
                } catch (const std::exception& e) {
                    ++failures;
                    errors[static_cast<std::size_t>(t)] = e.what();
                }
            });
        }
        for (auto& th : threads) th.join();
        for (const auto& e : errors) CHECK(e.empty());
        REQUIRE(failures == 0);

        for (int t = 0; t < kThreads; ++t) {
            const std::string id = std::string("s") + std::to_string(t);
            const auto h = store->history(id, 0);
            REQUIRE(h.size() == 2 * kTurns);
            for (int i = 0; i < kTurns; ++i) {
                const auto u = static_cast<std::size_t>(2 * i);
                CHECK(h[u].text == std::string("q") + std::to_string(i));
                CHECK(h[u + 1].text == std::string("answer to q") + std::to_string(i));
            }
            const auto list = store->list_sessions("b1", std::string("u") + std::to_string(t));
            REQUIRE(list.size() == 1);
            CHECK(list[0].message_count == 2 * kTurns);
            CHECK(list[0].last_active_ms == 1000 + 10 * (kTurns - 1));
            CHECK(list[0].unanswered_streak == kTurns - 2);
        }
    }
}

TEST_CASE("store: sqlite file shared by two stores written from two threads") {
    Backend backend("sqlite");
    auto a = backend.open();
    auto b = backend.open();
    a->create_bot(bot("b1", "alice", 1), small_faqs());
    std::vector<std::string> errors(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            Store& store = t == 0 ? *a : *b;
            try {
                const std::string id = std::string("s") + std::to_string(t);
                SessionRecord s = session(id, "b1", "u", 1000);
                for (int i = 0; i < 30; ++i) {
                    store.record_turn(turn(s, i == 0, "q", 1000 + i));
                    if (i > 0) ++s.revision;
                }
            } catch (const std::exception& e) {
                errors[static_cast<std::size_t>(t)] = e.what();
            }
        });
    }
    for (auto& th : threads) th.join();
    for (const auto& e : errors) CHECK(e.empty());
    CHECK(a->history("s1", 0).size() == 60);
    CHECK(b->history("s0", 0).size() == 60);
    CHECK(a->list_sessions("b1", "u").size() == 2);
}

TEST_CASE("store: sqlite waits for a lock another connection holds, then writes") {
    Backend backend("sqlite");
    auto store = backend.open();
    store->create_bot(bot("b1", "alice", 1), small_faqs());
    // Another connection (as another process would) takes the write lock and holds it.
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open_v2(backend.sqlite_file().c_str(), &other, SQLITE_OPEN_READWRITE,
                            nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    std::atomic<bool> released{false};
    std::atomic<bool> written_while_held{false};
    std::string error;
    std::thread writer([&] {
        try {
            store->record_turn(turn(session("s1", "b1", "u", 1000), true, "q", 1000));
            written_while_held = !released;
        } catch (const std::exception& e) {
            error = e.what();
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    released = true;
    REQUIRE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    writer.join();
    sqlite3_close(other);
    CHECK(error.empty());
    CHECK_FALSE(written_while_held);  // it waited, and did not fail with SQLITE_BUSY
    CHECK(store->history("s1", 0).size() == 2);
}

TEST_CASE("store: sqlite does not lend out a connection whose ROLLBACK failed") {
    // A write fails (a duplicate bot) and so does its ROLLBACK, which leaves the connection inside
    // its transaction, holding SQLite's write lock. Given back to the pool like that, it would make
    // its next user's BEGIN fail and every other connection to the file wait for the lock. The
    // pool has one connection, so that a closed one must be replaced for the store to go on.
    struct StopFailing {
        ~StopFailing() { sb::sqlite_fail_next_rollbacks_for_testing(0); }
    } stop_failing;
    Backend backend("sqlite");
    sb::StoreOptions options;
    options.pool_size = 1;
    auto store = Store::open(backend.url(), options);
    store->create_bot(bot("b1", "alice", 1), small_faqs());
    int failing = 0;
    SUBCASE("the pool's second ROLLBACK ends the transaction") {
        failing = 1;
    }
    SUBCASE("the second fails too: the connection is closed and another opened") {
        failing = 2;
    }
    sb::sqlite_fail_next_rollbacks_for_testing(failing);
    const Failure f = failure_of([&] { store->create_bot(bot("b1", "bob", 2), small_faqs()); });
    CHECK(f.status == SB_ECONFLICT);
    CHECK(sb::sqlite_fail_next_rollbacks_for_testing(0) == 0);  // each was tried, and failed

    // No connection holds the write lock: another one takes it at once (it has no busy timeout).
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open_v2(backend.sqlite_file().c_str(), &other, SQLITE_OPEN_READWRITE,
                            nullptr) == SQLITE_OK);
    const int begin = sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    CHECK(begin == SQLITE_OK);
    if (begin == SQLITE_OK)
        CHECK(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(other);

    // The next user of the pool writes, and the failed write left nothing.
    CHECK_NOTHROW(store->create_bot(bot("b2", "alice", 3), small_faqs()));
    const auto bots = store->list_bots(std::nullopt);
    REQUIRE(bots.size() == 2);
    CHECK(bots[0].owner == "alice");
    CHECK(bots[1].id == "b2");
}

namespace {

// Two threads, each with a session of its own (prefix + "0", prefix + "1") in bot "b1", record
// `turns` turns whose questions are padded to 6 KB, so that the WAL grows fast; what either
// thread threw is checked.
void write_padded_turns(Store& store, const std::string& prefix, int turns) {
    const std::string padding(6000, 'x');
    std::vector<std::string> errors(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            try {
                SessionRecord s = session(prefix + std::to_string(t), "b1", "u", 1000);
                for (int i = 0; i < turns; ++i) {
                    std::string question = std::to_string(i);
                    question += padding;
                    store.record_turn(turn(s, i == 0, question, 1000));
                    if (i > 0) ++s.revision;
                }
            } catch (const std::exception& e) {
                errors[static_cast<std::size_t>(t)] = e.what();
            }
        });
    }
    for (auto& th : threads) th.join();
    for (const auto& e : errors) CHECK(e.empty());
}

}  // namespace

TEST_CASE("store: sqlite checkpoints the WAL while two threads write") {
    // SQLite's automatic checkpoint alone left 46 MB of WAL after these turns; the store's
    // restarts the WAL once it holds 2,000 frames (see store/sqlite_writers.hpp).
    Backend backend("sqlite");
    auto store = backend.open();
    store->create_bot(bot("b1", "alice", 1), small_faqs());
    constexpr int kTurns = 600;
    write_padded_turns(*store, "s", kTurns);

    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open_v2(backend.sqlite_file().c_str(), &other, SQLITE_OPEN_READONLY, nullptr) ==
            SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(other, "PRAGMA page_size", -1, &q, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    const auto page = static_cast<std::uintmax_t>(sqlite3_column_int64(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(other);
    const fs::path wal = backend.sqlite_file().string() + "-wal";
    REQUIRE(fs::exists(wal));
    // Each turn writes at least two pages of text (4 KB pages), 2,400 and more in all.
    CHECK(fs::file_size(wal) < 2500 * (page + 24));
    const auto h = store->history("s1", 0);
    REQUIRE(h.size() == 2 * kTurns);
    std::string last = std::to_string(kTurns - 1);
    last += std::string(6000, 'x');
    CHECK(h.back().text == "answer to " + last);
}

TEST_CASE("store: sqlite writes go on while a reader holds an old snapshot past a RESTART") {
    // A reader of another connection keeps its snapshot while two threads write far past the
    // store's RESTART threshold: each RESTART gives up after a short wait and is not tried
    // again on every write (with the 5 s busy timeout on every write past 2,000 frames, this
    // test would take an hour), every write succeeds, and once the reader is gone the WAL is
    // started over.
    Backend backend("sqlite");
    auto store = backend.open();
    store->create_bot(bot("b1", "alice", 1), small_faqs());
    sqlite3* reader = nullptr;
    REQUIRE(sqlite3_open_v2(backend.sqlite_file().c_str(), &reader, SQLITE_OPEN_READONLY,
                            nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_exec(reader, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(reader, "SELECT count(*) FROM bots", -1, &q, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);  // the read transaction, and its snapshot, begin
    sqlite3_finalize(q);

    write_padded_turns(*store, "held", 400);  // some 4,000 frames: RESTARTs that cannot finish
    REQUIRE(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(reader);
    write_padded_turns(*store, "free", 400);
    CHECK(store->history("held1", 0).size() == 800);
    // The WAL was started over once the reader had gone: what a checkpoint finds in it now is
    // less than one RESTART's worth, not the 8,000 frames of both rounds.
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open_v2(backend.sqlite_file().c_str(), &other, SQLITE_OPEN_READWRITE,
                            nullptr) == SQLITE_OK);
    // (A first read opens the WAL.)
    REQUIRE(sqlite3_exec(other, "SELECT count(*) FROM bots", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    int log = -1, done = -1;
    REQUIRE(sqlite3_wal_checkpoint_v2(other, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
            SQLITE_OK);
    sqlite3_close(other);
    CHECK(log >= 0);
    CHECK(log < 3000);
}

TEST_CASE("store: open by URL") {
    TempDir dir;
    SUBCASE("absolute sqlite path") {
        const fs::path file = dir.path() / "abs.db";
        REQUIRE(file.is_absolute());
        auto store = Store::open("sqlite://" + file.string(), {});  // sqlite:///tmp/...
        store->create_bot(bot("b1", "alice", 1), small_faqs());
        CHECK(fs::exists(file));
    }
    SUBCASE("relative sqlite path") {
        const fs::path rel = fs::relative(dir.path() / "rel.db", fs::current_path());
        REQUIRE(rel.is_relative());
        auto store = Store::open("sqlite://" + rel.string(), {});
        store->create_bot(bot("b1", "alice", 1), small_faqs());
        CHECK(fs::exists(dir.path() / "rel.db"));
        store.reset();
        CHECK(Store::open("sqlite://" + (dir.path() / "rel.db").string(), {})
                  ->get_bot("b1")
                  .has_value());
    }
    SUBCASE("unsupported or empty URLs") {
        CHECK(failure_of([] { Store::open("mysql://x", {}); }).status == SB_EINVAL);
        CHECK(failure_of([] { Store::open("sqlite://", {}); }).status == SB_EINVAL);
        CHECK(failure_of([] { Store::open("/tmp/x.db", {}); }).status == SB_EINVAL);
    }
}

TEST_CASE("store: the pools give a thread back the connection it used last") {
    sb::IdleList<int> idle;
    CHECK(idle.empty());
    std::promise<void> given, go;
    int b_took = 0;
    idle.put(1);
    std::thread b([&] {
        idle.put(2);
        given.set_value();
        go.get_future().wait();
        b_took = idle.take();  // its own, 2, though 1 is newer by then
    });
    given.get_future().wait();
    CHECK(idle.size() == 2);
    CHECK(idle.take() == 1);  // this thread's own, not the newest (2)
    idle.put(1);
    go.set_value();
    b.join();
    CHECK(b_took == 2);
    CHECK(idle.take() == 1);
    CHECK(idle.empty());
    // A thread that gave none of them back gets the newest; a thread with two gets its newer.
    idle.put(3);
    idle.put(4);
    idle.put(5);
    int c_took = 0;
    std::thread([&] { c_took = idle.take(); }).join();
    CHECK(c_took == 5);
    CHECK(idle.take() == 4);
    CHECK(idle.take() == 3);
}
