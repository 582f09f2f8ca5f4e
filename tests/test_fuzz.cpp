// Mutated inputs: the parsers and the search either succeed or fail with sb::Error; nothing else
// (no crash, no other exception, no sanitizer report in the sanitizer build).
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "common/error.hpp"
#include "faq/faq.hpp"
#include "retrieval/index.hpp"

namespace {

std::string mutate(std::string s, std::mt19937& rng) {
    std::uniform_int_distribution<int> op(0, 3), byte(0, 255);
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
        std::size_t at = rng() % s.size();
        switch (op(rng)) {
            case 0:
                s[at] = static_cast<char>(byte(rng));
                break;
            case 1:
                s.erase(at, 1 + rng() % 8);
                break;
            case 2:
                s.insert(at, 1, static_cast<char>(byte(rng)));
                break;
            default:
                s.insert(at, s.substr(rng() % s.size(), 1 + rng() % 16));
                break;
        }
    }
    return s;
}

// Runs fn; true when it succeeded, false when it threw sb::Error. Anything else fails the test.
template <typename Fn>
bool ok_or_error(Fn&& fn) {
    try {
        fn();
        return true;
    } catch (const sb::Error& e) {
        CHECK(std::string(e.what()).size() > 0);
        return false;
    }
}

}  // namespace

TEST_CASE("mutated JSON and CSV inputs are accepted whole or rejected with sb::Error") {
    const std::string json =
        R"([{"id": "a", "question": "How do I get a refund?", "answer": "Open the order.",
            "category": "billing", "tags": ["refund", "money"], "alternates": ["money back"]},
           {"question": "Where is my parcel?", "answer": "See tracking.", "alternates": []}])";
    const std::string csv =
        "id,question,answer,alternates\r\n"
        "a,\"How do I get a refund, please?\",\"Open the \"\"order\"\".\",money back|refund\r\n"
        "b,Where is my parcel?,\"See\ntracking.\",\r\n";
    std::mt19937 rng(7);
    int accepted = 0, rejected = 0;
    for (int i = 0; i < 3000; ++i) {
        const std::string& base = i % 2 ? json : csv;
        std::string input = mutate(base, rng);
        bool ok = ok_or_error([&] {
            auto entries = sb::parse_faqs(input, sb::FaqFormat::Auto, sb::FaqLimits{});
            REQUIRE_FALSE(entries.empty());
            for (const auto& e : entries) {
                CHECK_FALSE(e.question.empty());
                CHECK_FALSE(e.answer.empty());
                CHECK(sb::is_valid_utf8(e.question));
            }
        });
        (ok ? accepted : rejected)++;
    }
    // Both outcomes occur, so the mutations reach past the first check.
    CHECK(accepted > 50);
    CHECK(rejected > 50);
}

TEST_CASE("searching with arbitrary valid UTF-8 never fails") {
    std::vector<sb::FaqEntry> entries(3);
    entries[0] = {"a", "How do I get a refund?", "Open the order.", "", {}, {"money back"}};
    entries[1] = {"b", "Where is my parcel?", "See tracking.", "", {}, {"package late"}};
    entries[2] = {"c", "Reset my password", "Use the link.", "", {}, {"forgot password"}};
    auto ix = sb::FaqIndex::build(entries, sb::IndexOptions{});
    std::mt19937 rng(11);
    const std::string seed = "where is my refund for the parcel? Ünïcödé 日本語 ﬁ ß -- ''' 123";
    for (int i = 0; i < 2000; ++i) {
        std::string q = mutate(seed, rng);
        if (!sb::is_valid_utf8(q)) continue;
        auto hits = ix->search(q, 3);
        CHECK(hits.size() <= 3);
        for (const auto& h : hits) {
            CHECK(h.index < 3);
            CHECK(h.confidence >= 0.0);
            CHECK(h.confidence <= 1.0);
        }
    }
}
