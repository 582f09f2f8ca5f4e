// The header-only C++ wrapper over the C ABI.
#include <doctest/doctest.h>
#include <supportbot/supportbot.hpp>

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
