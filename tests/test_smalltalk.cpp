// Small talk and clarification choices, without a database: the data-driven list of messages
// (tests/data/smalltalk.jsonl) with their expected handling, real questions that must not be
// taken for small talk, and a bot's own small-talk entries.
#include <doctest/doctest.h>

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "chat/engine.hpp"
#include "chat/smalltalk.hpp"
#include "retrieval/text.hpp"
#include "test_support.hpp"

namespace {

struct Labelled {
    std::string message;
    std::string kind;  // "" for a question
};

std::vector<Labelled> labelled_messages() {
    std::ifstream in(SB_SOURCE_DIR "/tests/data/smalltalk.jsonl");
    REQUIRE(in.good());
    std::vector<Labelled> out;
    simdjson::dom::parser parser;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        simdjson::dom::element doc = parser.parse(line);
        Labelled l;
        l.message = std::string(doc["message"].get_string().value());
        if (!doc["kind"].is_null()) l.kind = std::string(doc["kind"].get_string().value());
        out.push_back(std::move(l));
    }
    return out;
}

std::vector<std::string> words_of(const std::string& s) {
    return sb::split_words(sb::fold_text(s));
}

}  // namespace

TEST_CASE("smalltalk: every listed message gets its expected handling") {
    const sb::SmallTalk st;
    std::size_t small = 0, questions = 0;
    for (const Labelled& l : labelled_messages()) {
        CAPTURE(l.message);
        const auto m = st.match(l.message);
        if (l.kind.empty()) {
            ++questions;
            CHECK_FALSE(m.has_value());
            if (m) MESSAGE("taken for small talk: " << m->kind);
        } else {
            ++small;
            CHECK(m.has_value());
            if (!m) continue;
            CHECK(m->kind == l.kind);
            CHECK_FALSE(m->reply.empty());
        }
    }
    CHECK(small >= 100);
    CHECK(questions >= 100);
}

TEST_CASE("smalltalk: real customer questions of the shared dev sets are not small talk") {
    // BANKING77's questions are all about banking; none is small talk. Skipped without the data.
    const std::filesystem::path dev = SB_SHARED_DATA_DIR "/banking77/dev.jsonl";
    if (!std::filesystem::exists(dev)) return;
    const sb::SmallTalk st;
    std::ifstream in(dev);
    simdjson::dom::parser parser;
    std::string line;
    std::size_t n = 0, taken = 0;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const std::string q(parser.parse(line)["query"].get_string().value());
        ++n;
        if (auto m = st.match(q)) {
            ++taken;
            MESSAGE(q << " -> " << m->kind);
        }
    }
    CHECK(n > 1000);
    CHECK(taken == 0);
}

TEST_CASE("smalltalk: the small talk around a question is taken off before the search") {
    const sb::SmallTalk st;
    auto stripped = [&](const std::string& s) {
        std::string out;
        for (const auto& w : st.strip(words_of(s))) out += (out.empty() ? "" : " ") + w;
        return out;
    };
    CHECK(stripped("hi, where is my order?") == "where is my order");
    CHECK(stripped("Hello there! How do I reset my password? Thanks!") ==
          "how do i reset my password");
    CHECK(stripped("ok so how do I cancel") == "how do i cancel");
    CHECK(stripped("thanks, but how do I return it?") == "but how do i return it");
    CHECK(stripped("where is my order") == "where is my order");
    CHECK(stripped("hi") == "hi");  // nothing else left: unchanged
}

TEST_CASE("smalltalk: a bot's entries extend or replace the built-in phrases and replies") {
    std::vector<sb::FaqEntry> own(3);
    own[0].id = "greeting";  // a built-in kind: its reply replaced, phrases added
    own[0].question = "ahoy";
    own[0].answer = "Ahoy! Welcome to Northwind.";
    own[0].category = "smalltalk";
    own[1].id = "weather";  // a kind of its own
    own[1].question = "nice weather today";
    own[1].alternates = {"lovely day"};
    own[1].answer = "It is! What can I do for you?";
    own[1].category = "SmallTalk";
    own[2].id = "thanks";  // its phrases replaced
    own[2].question = "much obliged";
    own[2].answer = "My pleasure.";
    own[2].category = "smalltalk";
    own[2].tags = {"replace"};
    const sb::SmallTalk st(own);
    auto kind = [&](const char* m) {
        auto r = st.match(m);
        return r ? r->kind + ": " + r->reply : std::string("-");
    };
    CHECK(kind("ahoy") == "greeting: Ahoy! Welcome to Northwind.");
    CHECK(kind("hello") == "greeting: Ahoy! Welcome to Northwind.");
    CHECK(kind("Nice weather today!") == "weather: It is! What can I do for you?");
    CHECK(kind("lovely day") == "weather: It is! What can I do for you?");
    CHECK(kind("much obliged") == "thanks: My pleasure.");
    CHECK(kind("thanks") == "-");  // replaced: the built-in phrase is gone
    CHECK(kind("bye") != "-");     // other kinds are kept
    CHECK(st.to_json().find("\"weather\"") != std::string::npos);

    std::vector<sb::FaqEntry> bad(1);
    bad[0].id = "x";
    bad[0].question = "!!!";
    bad[0].answer = "?";
    bad[0].category = "smalltalk";
    CHECK(sb::test::status_of([&] { sb::SmallTalk{bad}; }) == SB_EINVALID_DATA);

    std::vector<sb::FaqEntry> mixed = own;
    mixed.push_back({"faq-1", "How do I track my order?", "In your account.", "orders", {}, {}});
    auto [faqs, small] = sb::split_smalltalk(mixed);
    CHECK(faqs.size() == 1);
    CHECK(small.size() == 3);
}

TEST_CASE("smalltalk: answers to a clarification") {
    auto choice = [](const char* m, std::size_t n) {
        return sb::clarification_choice(words_of(m), n);
    };
    CHECK(choice("2", 3) == std::optional<std::size_t>(1));
    CHECK(choice("the first one", 3) == std::optional<std::size_t>(0));
    CHECK(choice("the second", 2) == std::optional<std::size_t>(1));
    CHECK(choice("I mean the 3rd one please", 3) == std::optional<std::size_t>(2));
    CHECK(choice("the last one", 3) == std::optional<std::size_t>(2));
    CHECK(choice("option one", 2) == std::optional<std::size_t>(0));
    CHECK(choice("something else", 3) == std::optional<std::size_t>(sb::kChoseSomethingElse));
    CHECK(choice("none of these", 2) == std::optional<std::size_t>(sb::kChoseSomethingElse));
    CHECK(choice("no", 2) == std::optional<std::size_t>(sb::kChoseSomethingElse));
    CHECK(choice("yes", 1) == std::optional<std::size_t>(0));
    CHECK(choice("yes that one", 1) == std::optional<std::size_t>(0));
    CHECK_FALSE(choice("yes", 2).has_value());  // which one?
    CHECK_FALSE(choice("3", 2).has_value());    // there is no third
    CHECK_FALSE(choice("1 or 2", 3).has_value());
    CHECK_FALSE(choice("where is my order", 3).has_value());
    CHECK_FALSE(choice("I ordered 2 shirts", 3).has_value());

    // The rule on the calibrated confidences: t = 0.4, escalation below 0.1.
    auto cands = [](std::vector<double> c) {
        std::vector<sb::SearchHit> hits;
        for (std::size_t i = 0; i < c.size(); ++i)
            hits.push_back({static_cast<std::uint32_t>(i), 0, c[i]});
        return sb::clarification_candidates(hits, 0.4, 0.1).size();
    };
    CHECK(cands({0.9, 0.05, 0.01}) == 0);  // clearly right
    CHECK(cands({0.5, 0.3, 0.02}) == 2);   // close: neither clearly right
    CHECK(cands({0.45, 0.3, 0.25}) == 3);
    CHECK(cands({0.5, 0.2, 0.1}) == 0);  // the runner-up is less than half as likely
    CHECK(cands({0.2, 0.02}) == 1);      // a near miss: "Did you mean ...?"
    CHECK(cands({0.2, 0.15, 0.11}) == 3);
    CHECK(cands({0.05, 0.04}) == 0);  // implausible: not asked
    CHECK(cands({}) == 0);
}

TEST_CASE("smalltalk: on CLINC150, only its own small-talk intents are taken for small talk") {
    const std::filesystem::path dev = SB_SHARED_DATA_DIR "/clinc150/dev.jsonl";
    if (!std::filesystem::exists(dev)) return;
    const sb::SmallTalk st;
    std::ifstream in(dev);
    simdjson::dom::parser parser;
    std::string line;
    std::size_t taken = 0;
    const std::vector<std::string> small_intents = {"greeting", "goodbye",       "thank_you", "yes",
                                                    "no",       "are_you_a_bot", "maybe"};
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        simdjson::dom::element doc = parser.parse(line);
        const std::string q(doc["query"].get_string().value());
        if (!st.match(q)) continue;
        ++taken;
        const std::string intent = doc["expected_id"].is_null()
                                       ? std::string("(out of scope)")
                                       : std::string(doc["expected_id"].get_string().value());
        CAPTURE(q);
        CHECK(std::find(small_intents.begin(), small_intents.end(), intent) != small_intents.end());
    }
    CHECK(taken > 0);
}
