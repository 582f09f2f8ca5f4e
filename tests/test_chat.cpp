// The chat pipeline over a real database: SQLite always, PostgreSQL too when SB_TEST_PG_URL is
// set (tests/pg/with-postgres.sh). Every case uses fresh owners, users and bots, so cases share
// a database without seeing each other.
#include <doctest/doctest.h>

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>
#include "test_support.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chat/engine.hpp"
#include "common/error.hpp"

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
                  const std::optional<std::string>& session, const std::string& text) {
    sb::ChatRequest r;
    r.bot_id = bot;
    r.user_id = user;
    r.session_id = session;
    r.message = text;
    return e.chat(r);
}

}  // namespace

TEST_CASE("chat: bots are stored with their FAQ sets and survive a restart") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "chat.db")) {
        CAPTURE(url);
        sb::EngineOptions o;
        o.database_url = url;
        const std::string owner = unique("admin-");
        std::string id;
        {
            sb::Engine e(o);
            id = e.create_bot(owner, "Shop", shop_faqs());
            CHECK(id.size() == 36);
            auto bots = e.list_bots(owner);
            REQUIRE(bots.size() == 1);
            CHECK(bots[0].name == "Shop");
            CHECK(bots[0].faq_count == shop_faqs().size());
            CHECK(bots[0].faq_revision == 1);
            CHECK(status_of([&] { e.get_bot("no-such-bot"); }) == SB_ENOTFOUND);
            CHECK(status_of([&] { e.create_bot(owner, "", shop_faqs()); }) == SB_EINVAL);
        }
        // A new engine (a restart) rebuilds the index from the stored entries.
        sb::Engine e2(o);
        auto reply = say(e2, id, "u1", std::nullopt, "how do I reset my password");
        CHECK(reply.answered);
        REQUIRE_FALSE(reply.faqs.empty());
        CHECK(reply.faqs[0].id == "password-reset");
        // Replacing the FAQs bumps the revision and the new set answers.
        std::vector<sb::FaqEntry> small(1);
        small[0].id = "only";
        small[0].question = "Do you sell zebra-striped umbrellas?";
        small[0].answer = "Yes, in three sizes.";
        CHECK(e2.replace_faqs(id, small) == 2);
        auto r2 = say(e2, id, "u1", std::nullopt, "zebra umbrella");
        REQUIRE_FALSE(r2.faqs.empty());
        CHECK(r2.faqs[0].id == "only");
        CHECK(status_of([&] { e2.replace_faqs("no-such-bot", small); }) == SB_ENOTFOUND);
    }
}

TEST_CASE("chat: a bot's synonyms are stored with its FAQs and used after a restart") {
    // "flumbox" is the shop's own name for an order: no lexicon, stem or typo leads there, so
    // only the set's synonyms can tell "track my flumbox" from a refund's tracking.
    const std::string file = R"({"synonyms": {"order": ["flumbox", "flum box"]}, "faqs": [
        {"id": "track", "question": "How can I track my order?",
         "answer": "Use the tracking link in your confirmation e-mail."},
        {"id": "refund", "question": "How can I track my refund?",
         "answer": "Refunds show on your statement within 5 days."},
        {"id": "return", "question": "How do I return an item?",
         "answer": "Start a return from your account page."},
        {"id": "pay", "question": "Which payment methods do you accept?",
         "answer": "Cards and PayPal."},
        {"id": "hours", "question": "When is customer service open?",
         "answer": "Every day from 9 to 5."}]})";
    const sb::FaqSet set = sb::parse_faq_set(file, sb::FaqFormat::Json, sb::FaqLimits{});
    REQUIRE(set.synonyms.size() == 1);
    const std::string query = "track my flumbox";
    TempDir dir;
    for (const std::string& url : database_urls(dir, "chat.db")) {
        CAPTURE(url);
        sb::EngineOptions o;
        o.database_url = url;
        const std::string owner = unique("admin-");
        std::string id, plain;
        sb::ChatReply first;
        {
            sb::Engine e(o);
            id = e.create_bot(owner, "Shop", set.entries, set.synonyms);
            // The same entries without the synonyms: the query is not understood (so this test
            // tells a bot with its synonyms from one without).
            plain = e.create_bot(owner, "Plain", set.entries);
            first = say(e, id, unique("u-"), std::nullopt, query);
            REQUIRE_FALSE(first.faqs.empty());
            CHECK(first.faqs[0].id == "track");
            CHECK(first.answered);
            const auto without = say(e, plain, unique("u-"), std::nullopt, query);
            CHECK_FALSE(without.answered);
        }
        {
            // A fresh engine (a restart, another process) builds the index from the database,
            // with the synonyms, and answers as the creating engine did.
            sb::Engine e(o);
            const auto again = say(e, id, unique("u-"), std::nullopt, query);
            CHECK(again.answered == first.answered);
            REQUIRE(again.faqs.size() == first.faqs.size());
            for (std::size_t i = 0; i < again.faqs.size(); ++i) {
                CHECK(again.faqs[i].id == first.faqs[i].id);
                CHECK(again.faqs[i].confidence == doctest::Approx(first.faqs[i].confidence));
            }
            CHECK(say(e, id, unique("u-"), std::nullopt, "track my flum box").answered);
            CHECK_FALSE(say(e, plain, unique("u-"), std::nullopt, query).answered);
            // Replacing the small talk keeps the synonyms.
            sb::FaqEntry hi;
            hi.id = "hi";
            hi.question = "ahoy";
            hi.answer = "Ahoy there!";
            e.replace_smalltalk(id, {hi});
        }
        {
            sb::Engine e(o);
            CHECK(say(e, id, unique("u-"), std::nullopt, query).answered);
            // Replacing the FAQs replaces the synonyms: "flumbox" is gone, "grobble" stands for
            // an order now.
            CHECK(e.replace_faqs(id, set.entries, {sb::SynonymGroup{"order", {"grobble"}}}) == 3);
            CHECK_FALSE(say(e, id, unique("u-"), std::nullopt, query).answered);
            CHECK(say(e, id, unique("u-"), std::nullopt, "track my grobble").answered);
        }
        sb::Engine e(o);
        CHECK_FALSE(say(e, id, unique("u-"), std::nullopt, query).answered);
        const auto grobble = say(e, id, unique("u-"), std::nullopt, "track my grobble");
        CHECK(grobble.answered);
        REQUIRE_FALSE(grobble.faqs.empty());
        CHECK(grobble.faqs[0].id == "track");
        // Replaced with none: the bot has none.
        CHECK(e.replace_faqs(id, set.entries) == 4);
        sb::Engine fresh(o);
        CHECK_FALSE(say(fresh, id, unique("u-"), std::nullopt, "track my grobble").answered);
    }
}

TEST_CASE("chat: sessions are created, continued, and refused to other users and bots") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "chat.db")) {
        CAPTURE(url);
        sb::EngineOptions o;
        o.database_url = url;
        sb::Engine e(o);
        const std::string bot = e.create_bot(unique("admin-"), "Shop", shop_faqs());
        const std::string other_bot = e.create_bot(unique("admin-"), "Other", shop_faqs());
        const std::string alice = unique("alice-"), bob = unique("bob-");

        // No id: the library makes one. A new id chosen by the caller starts a session.
        auto r1 = say(e, bot, alice, std::nullopt, "where is my order");
        CHECK(r1.session_id.size() == 36);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // distinct activity times
        const std::string mine = unique("my-session-");
        auto r2 = say(e, bot, alice, mine, "do you ship to canada");
        CHECK(r2.session_id == mine);
        say(e, bot, alice, mine, "how much is shipping");

        auto sessions = e.sessions(bot, alice);
        REQUIRE(sessions.size() == 2);
        CHECK(sessions[0].id == mine);  // most recently active first
        CHECK(sessions[0].message_count == 4);
        CHECK(sessions[1].message_count == 2);

        auto history = e.history(bot, alice, mine);
        REQUIRE(history.size() == 4);
        CHECK(history[0].role == sb::Role::User);
        CHECK(history[0].text == "do you ship to canada");
        CHECK(history[1].role == sb::Role::Assistant);
        CHECK(history[1].responder == "offline");
        CHECK(history[1].faq_ids == std::vector<std::string>{"international-shipping"});
        CHECK(history[3].faq_ids == std::vector<std::string>{"shipping-costs"});

        // Another user, or the same user with another bot, cannot use or read the session.
        CHECK(status_of([&] { say(e, bot, bob, mine, "hello"); }) == SB_EFORBIDDEN);
        CHECK(status_of([&] { say(e, other_bot, alice, mine, "hello"); }) == SB_EFORBIDDEN);
        {
            // The same through an engine that has not seen the session (nothing cached: it
            // first tries to create it, and the store refuses).
            sb::Engine fresh(o);
            CHECK(status_of([&] { say(fresh, bot, bob, mine, "hello"); }) == SB_EFORBIDDEN);
            CHECK(status_of([&] { say(fresh, other_bot, alice, mine, "hello"); }) == SB_EFORBIDDEN);
        }
        CHECK(status_of([&] { e.history(bot, bob, mine); }) == SB_ENOTFOUND);
        CHECK(status_of([&] { e.history(bot, alice, "no-such-session"); }) == SB_ENOTFOUND);
        CHECK(e.history(bot, alice, mine).size() == 4);  // nothing was added by the refusals
        CHECK(e.sessions(bot, bob).empty());

        // A closed session takes no more messages; only its owner can close it.
        CHECK(status_of([&] { e.close_session(bot, bob, mine); }) == SB_ENOTFOUND);
        e.close_session(bot, alice, r1.session_id);
        e.close_session(bot, alice, r1.session_id);  // again: fine
        CHECK(status_of([&] { say(e, bot, alice, r1.session_id, "hello"); }) == SB_ECONFLICT);
        for (const auto& listed : e.sessions(bot, alice))
            CHECK((listed.status == sb::SessionStatus::Closed) == (listed.id == r1.session_id));
        CHECK(e.history(bot, alice, r1.session_id).size() == 2);

        // Bad input is refused with a clear status and stores nothing.
        CHECK(status_of([&] { say(e, bot, alice, mine, ""); }) == SB_EINVAL);
        CHECK(status_of([&] { say(e, bot, alice, std::string(129, 'x'), "hi"); }) == SB_ELIMIT);
        CHECK(status_of([&] { say(e, bot, alice, mine, "\xff\xfe"); }) == SB_EPARSE);
        CHECK(status_of([&] { say(e, "no-such-bot", alice, mine, "hi"); }) == SB_ENOTFOUND);
        CHECK(e.history(bot, alice, mine).size() == 4);
    }
}

TEST_CASE("chat: a follow-up question is understood from the conversation") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "chat.db")) {
        CAPTURE(url);
        sb::EngineOptions o;
        o.database_url = url;
        sb::Engine e(o);
        const std::string bot = e.create_bot(unique("admin-"), "Shop", shop_faqs());
        const std::string user = unique("u-");
        auto first = say(e, bot, user, std::nullopt, "I sent my return back");
        auto follow = say(e, bot, user, first.session_id, "and how long does that take?");
        REQUIRE(follow.answered);
        CHECK(follow.faqs[0].id == "refund-timing");
        // The same words in a fresh session, without the context, are not about refunds.
        auto alone = say(e, bot, user, std::nullopt, "and how long does that take?");
        CHECK((alone.faqs.empty() || alone.faqs[0].id != "refund-timing"));

        // A second engine on the database has never seen the session: it first takes the id for
        // a new session, the store refuses (it exists), and the turn is redone from the stored
        // session, so the follow-up still has its context and lands in the same session.
        sb::Engine fresh(o);
        const std::string sid = unique("s-");
        say(e, bot, user, sid, "I sent my return back");
        auto later = say(fresh, bot, user, sid, "and how long does that take?");
        REQUIRE(later.answered);
        CHECK(later.faqs[0].id == "refund-timing");
        CHECK(later.session_id == sid);
        CHECK(fresh.history(bot, user, sid).size() == 4);
        CHECK(fresh.sessions(bot, user).size() == 3);  // first, alone and sid: no other
    }
}

TEST_CASE("chat: escalation on request, on low confidence, and after repeated misses") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "chat.db")) {
        CAPTURE(url);
        sb::EngineOptions o;
        o.database_url = url;
        sb::Engine e(o);
        const std::string bot = e.create_bot(unique("admin-"), "Shop", shop_faqs());
        const std::string user = unique("u-");

        auto asked = say(e, bot, user, std::nullopt, "I want to talk to a human please");
        CHECK(asked.escalated);
        CHECK(asked.escalation_reason == "user_requested");
        CHECK(asked.text.find("human agent") != std::string::npos);
        auto s = e.sessions(bot, user);
        REQUIRE(s.size() == 1);
        CHECK(s[0].status == sb::SessionStatus::Escalated);
        CHECK(s[0].escalation_reason == "user_requested");
        auto h = e.history(bot, user, asked.session_id);
        REQUIRE(h.size() == 2);
        CHECK(h[1].escalated);
        CHECK(h[1].escalation_reason == "user_requested");

        auto off_topic = say(e, bot, user, std::nullopt, "what is the capital of mongolia");
        CHECK(off_topic.escalated);
        CHECK(off_topic.escalation_reason == "low_confidence");

        // An answer threshold nothing clears, and no immediate escalation: the bot asks to
        // rephrase once, then escalates.
        sb::EngineOptions strict = o;
        strict.answer_threshold = 1.0;
        strict.escalation_threshold = 0.0;
        sb::Engine picky(strict);
        auto miss1 = say(picky, bot, user, std::nullopt, "where is my parcel");
        CHECK_FALSE(miss1.answered);
        CHECK_FALSE(miss1.escalated);
        CHECK_FALSE(miss1.suggestions.empty());
        auto miss2 = say(picky, bot, user, miss1.session_id, "my parcel has not arrived");
        CHECK(miss2.escalated);
        CHECK(miss2.escalation_reason == "repeated_unanswered");

        // Answered turns reset the count of misses.
        auto ok = say(e, bot, user, std::nullopt, "how do I reset my password");
        CHECK(ok.answered);
        CHECK_FALSE(ok.escalated);
        CHECK_FALSE(ok.suggestions.empty());
        for (const auto& q : ok.suggestions) CHECK(q != "How do I reset my password?");
    }
}

TEST_CASE("chat: a turn that fails still stores the user's message with an error reply") {
    TempDir dir;
    const std::string url = "sqlite://" + dir.path().string() + "/fail.db";
    sb::EngineOptions o;
    o.database_url = url;
    std::string bot;
    {
        sb::Engine e(o);
        bot = e.create_bot(unique("admin-"), "Shop", shop_faqs());
    }
    // Corrupt the stored FAQ set behind the library's back.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir.path() / "fail.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "UPDATE faq_sets SET entries_json = 'not json'", nullptr, nullptr,
                         nullptr) == SQLITE_OK);
    sqlite3_close(db);

    sb::Engine e(o);  // a fresh engine: no cached index
    const std::string user = unique("u-");
    CHECK(status_of([&] { say(e, bot, user, std::string("s1"), "is my data safe?"); }) == SB_EDB);
    auto h = e.history(bot, user, "s1");
    REQUIRE(h.size() == 2);
    CHECK(h[0].text == "is my data safe?");
    CHECK(h[1].error);
    CHECK(h[1].responder == "error");
}

TEST_CASE("chat: many threads chat on one engine at once") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "chat.db")) {
        CAPTURE(url);
        sb::EngineOptions o;
        o.database_url = url;
        sb::Engine e(o);
        const std::string bot = e.create_bot(unique("admin-"), "Shop", shop_faqs());
        const std::vector<std::string> questions = {"where is my order", "do you ship to canada",
                                                    "how do I reset my password",
                                                    "can I pay with paypal"};
        constexpr int kThreads = 4, kTurns = 15;
        std::atomic<int> failures{0};
        std::vector<std::string> users;
        for (int t = 0; t < kThreads; ++t) users.push_back(unique("user-"));
        // All threads also share one session id of their own, created concurrently below.
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                std::optional<std::string> session;
                for (int i = 0; i < kTurns; ++i) {
                    try {
                        auto r = say(e, bot, users[static_cast<std::size_t>(t)], session,
                                     questions[static_cast<std::size_t>(i) % questions.size()]);
                        session = r.session_id;
                        if (!r.answered) ++failures;
                    } catch (const std::exception&) {
                        ++failures;
                    }
                }
            });
        }
        for (auto& th : threads) th.join();
        CHECK(failures == 0);
        for (const auto& u : users) {
            auto s = e.sessions(bot, u);
            REQUIRE(s.size() == 1);
            CHECK(s[0].message_count == 2 * kTurns);
        }
    }
}

TEST_CASE("chat: two engines on one database take turns in one session and see each other") {
    // Each engine remembers the sessions it wrote; the store's compare-and-set on the session's
    // revision makes an engine notice what the other did and redo the turn from a fresh read.
    TempDir dir;
    for (const std::string& url : database_urls(dir, "chat.db")) {
        CAPTURE(url);
        // No FAQ clears the answer threshold and nothing escalates at once: every turn misses.
        sb::EngineOptions o;
        o.database_url = url;
        o.max_unanswered = 3;
        o.answer_threshold = 1.0;
        o.escalation_threshold = 0.0;
        sb::Engine a(o), b(o);
        const std::string bot = a.create_bot(unique("admin-"), "Shop", shop_faqs());
        const std::string user = unique("user-");
        const std::string sid = unique("shared-");
        // Three misses across the two engines: the streak is counted across both, so the third
        // (on an engine whose cached record is stale) escalates.
        CHECK_FALSE(say(a, bot, user, sid, "where is my parcel").escalated);
        CHECK_FALSE(say(b, bot, user, sid, "my parcel has not arrived").escalated);
        const auto third = say(a, bot, user, sid, "where is my order");
        CHECK(third.escalated);
        CHECK(third.escalation_reason == "repeated_unanswered");
        CHECK(a.history(bot, user, sid).size() == 6);
        // Closed through one engine, refused by the other, which had the session cached open.
        b.close_session(bot, user, sid);
        CHECK(status_of([&] { say(a, bot, user, sid, "hello again"); }) == SB_ECONFLICT);
        CHECK(b.history(bot, user, sid).size() == 6);
        const auto list = a.sessions(bot, user);
        REQUIRE(list.size() == 1);
        CHECK(list[0].status == sb::SessionStatus::Closed);
    }
}

TEST_CASE("chat: check_text refuses control characters and bad UTF-8 wherever they are") {
    auto status = [](const std::string& text, bool newlines) {
        try {
            sb::check_text(text, "message", 1000, newlines);
            return 0;
        } catch (const sb::Error& e) {
            return static_cast<int>(e.status());
        }
    };
    const std::string plain = "where is my parcel? it was due on monday, order 12345~";
    CHECK(status(plain, false) == 0);
    CHECK(status(plain + "\x7f", false) == 0);  // DEL is not refused
    for (std::size_t at = 0; at <= plain.size(); ++at) {
        CAPTURE(at);
        std::string with = plain;
        with.insert(at, 1, '\x01');
        CHECK(status(with, true) == SB_EINVAL);
        with[at] = '\n';
        CHECK(status(with, true) == 0);
        CHECK(status(with, false) == SB_EINVAL);
        with[at] = '\0';
        CHECK(status(with, true) == SB_EINVAL);
        with.replace(at, 1, "\xc3\xa9");  // a two-byte character
        CHECK(status(with, false) == 0);
        with.erase(at + 1, 1);  // cut short (GCC 12 warns falsely of replace(at, 2, "\xc3"))
        CHECK(status(with, false) == SB_EPARSE);
        with[at] = '\xff';
        CHECK(status(with, false) == SB_EPARSE);
    }
    CHECK(status("", false) == SB_EINVAL);
    CHECK(status(std::string(1001, 'a'), false) == SB_ELIMIT);
}

TEST_CASE("chat: helpers") {
    CHECK(sb::asks_for_human("can I speak to a real person"));
    CHECK(sb::asks_for_human("AGENT please"));
    CHECK(sb::asks_for_human("I'd like to talk to someone"));
    CHECK_FALSE(sb::asks_for_human("where is my parcel"));
    // Every phrase, at the start, in the middle and at the end; and near misses.
    for (const char* phrase : {"real person", "live person", "talk to someone", "speak to someone",
                               "speak with someone", "talk to a person", "speak to a person",
                               "a person please", "operator", "representative", "humans"}) {
        CHECK(sb::asks_for_human(phrase));
        CHECK(sb::asks_for_human(std::string("can i ") + phrase + " about my order"));
        CHECK(sb::asks_for_human(std::string("my order, ") + phrase));
    }
    for (const char* text :
         {"person", "someone", "a person", "to someone", "talk someone", "with someone",
          "talk with someone", "talk a person", "to a person", "person please", "a real refund",
          "is a person allowed", "live in person", "someone to talk to", "agency", "humane"})
        CHECK_FALSE(sb::asks_for_human(text));
    CHECK(sb::looks_like_follow_up("and how long does that take?"));
    CHECK(sb::looks_like_follow_up("what about international orders"));
    CHECK_FALSE(sb::looks_like_follow_up("how do I reset my password"));
    // An existential "there" refers to nothing said before; a "there" that is a place does.
    CHECK_FALSE(sb::looks_like_follow_up("is there a free trial for plus"));
    CHECK_FALSE(sb::looks_like_follow_up("Are there any fees?"));
    CHECK_FALSE(sb::looks_like_follow_up("there is a problem with my order"));
    CHECK_FALSE(sb::looks_like_follow_up("will there be a sale"));
    CHECK(sb::looks_like_follow_up("do you ship there?"));
    CHECK(sb::looks_like_follow_up("how long does shipping take there"));
    CHECK(sb::looks_like_follow_up("is there a fee for that"));
    std::string a = sb::new_uuid(), b = sb::new_uuid();
    CHECK(a != b);
    CHECK(a.size() == 36);
    CHECK(a[14] == '4');
}

namespace {

// A small set (fast to index): some of the shop's FAQs, two that read the same (so that a
// question about them is ambiguous), and small talk of the bot's own.
std::vector<sb::FaqEntry> small_shop() {
    std::vector<sb::FaqEntry> all = shop_faqs(), out;
    for (const auto& f : all)
        if (f.id == "order-status" || f.id == "password-reset" || f.id == "shipping-costs" ||
            f.id == "return-policy" || f.id == "payment-methods" || f.id == "gift-cards")
            out.push_back(f);
    out.push_back({"student-discount",
                   "Do you have a student discount?",
                   "Students get 10% off with a verified student email.",
                   "offers",
                   {},
                   {}});
    out.push_back({"student-discount-uk",
                   "Do you have a student discount?",
                   "In the UK, students get 15% off through UNiDAYS.",
                   "offers",
                   {},
                   {}});
    out.push_back({"greeting",
                   "ahoy",
                   "Ahoy! Welcome to Northwind. What can I do for you?",
                   "smalltalk",
                   {},
                   {}});
    return out;
}

}  // namespace

TEST_CASE("chat: small talk, and \"Did you mean\" when two FAQs are close") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "chat.db")) {
        CAPTURE(url);
        sb::EngineOptions o;
        o.database_url = url;
        sb::Engine e(o);
        const std::string bot = e.create_bot(unique("admin-"), "Shop", small_shop());
        // Small-talk entries are not FAQs: the index leaves them out.
        for (const auto& f : e.index(bot)->entries()) CHECK(f.category != "smalltalk");
        const std::string user = unique("u-");

        // Small talk: a short reply, never escalated, not a miss; the bot's own greeting reply.
        auto hi = say(e, bot, user, std::nullopt, "hi");
        const std::string sid = hi.session_id;
        CHECK(hi.responder == "smalltalk");
        CHECK(hi.text == "Ahoy! Welcome to Northwind. What can I do for you?");
        CHECK_FALSE(hi.escalated);
        CHECK_FALSE(hi.answered);
        CHECK(hi.faqs.empty());
        for (const char* m : {"thanks!", "ok", "are you a real person?", "haha", "👍"}) {
            CAPTURE(m);
            auto r = say(e, bot, user, sid, m);
            CHECK(r.responder == "smalltalk");
            CHECK_FALSE(r.escalated);
        }
        CHECK(e.sessions(bot, user)[0].unanswered_streak == 0);
        CHECK(e.sessions(bot, user)[0].status == sb::SessionStatus::Open);
        // A greeting with a question is the question.
        auto q = say(e, bot, user, sid, "hi, where is my order?");
        CHECK(q.answered);
        CHECK(q.faqs[0].id == "order-status");

        // Two FAQs that read alike: "Did you mean ...?", with both and "Something else".
        auto ask = say(e, bot, user, sid, "do you have a student discount");
        CHECK(ask.responder == "clarification");
        CHECK_FALSE(ask.answered);
        CHECK_FALSE(ask.escalated);
        REQUIRE(ask.suggestions.size() == 3);
        CHECK(ask.suggestions[0] == "Do you have a student discount?");
        CHECK(ask.suggestions[2] == std::string(sb::kSomethingElse));
        auto stored = e.history(bot, user, sid).back();
        CHECK(stored.responder == "clarification");
        REQUIRE(stored.faq_ids.size() == 2);
        // "the second one" answers the second candidate.
        auto second = say(e, bot, user, sid, "the second one");
        CHECK(second.answered);
        REQUIRE_FALSE(second.faqs.empty());
        CHECK(second.faqs[0].id == stored.faq_ids[1]);
        // "2" too, and "something else" asks to rephrase (a miss, not a hand-over).
        say(e, bot, user, sid, "student discount?");
        auto by_number = say(e, bot, user, sid, "1");
        CHECK(by_number.answered);
        CHECK(by_number.faqs[0].id == e.history(bot, user, sid).end()[-3].faq_ids[0]);
        CHECK(say(e, bot, user, sid, "do you have a student discount").responder ==
              "clarification");
        // Whether that question counted as a miss depends on the best FAQ clearing the threshold
        // (two close FAQs) or not (a near miss); "something else" adds one miss either way.
        const int streak_before = e.sessions(bot, user)[0].unanswered_streak;
        auto other = say(e, bot, user, sid, "something else");
        CHECK_FALSE(other.answered);
        CHECK_FALSE(other.escalated);
        CHECK(e.sessions(bot, user)[0].unanswered_streak == streak_before + 1);

        // Analytics: small talk is not unanswered; clarifications, and the pair confused.
        const std::string json = e.analytics(bot, 0, INT64_MAX);
        CAPTURE(json);
        CHECK(json.find("\"smalltalk\":{\"rate\"") != std::string::npos);
        CHECK(json.find("\"clarification\":{\"rate\"") != std::string::npos);
        CHECK(json.find("\"numerator\":3,\"denominator\":13,\"resolved\":{\"rate\":0."
                        "6666666666666666,\"numerator\":2") != std::string::npos);
        // "something else" is not a question of its own: 3 gaps for 4 unanswered replies.
        CHECK(json.find("\"unanswered\":{\"rate\":0.3076923076923077,\"numerator\":4") !=
              std::string::npos);
        CHECK(json.find("\"knowledge_gaps\":{\"questions\":3,") != std::string::npos);
        CHECK(json.find("{\"id\":\"student-discount\",\"question\":\"Do you have a student "
                        "discount?\"},{\"id\":\"student-discount-uk\"") != std::string::npos);

        // The bot's small talk replaced alone keeps the FAQs (and their index).
        const auto index_before = e.index(bot);
        std::vector<sb::FaqEntry> own(1);
        own[0].id = "thanks";
        own[0].question = "much obliged";
        own[0].answer = "At your service.";
        CHECK(e.replace_smalltalk(bot, own) == 2);
        CHECK(e.index(bot) == index_before);
        CHECK(say(e, bot, user, std::nullopt, "much obliged").text == "At your service.");
        CHECK(say(e, bot, user, std::nullopt, "ahoy").responder != "smalltalk");  // gone
        CHECK(e.smalltalk_json(bot).find("At your service.") != std::string::npos);
    }
}
