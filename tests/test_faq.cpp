// Tests for FAQ ingestion: JSON, CSV, format detection, files, UTF-8 and the shared validation.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "faq/faq.hpp"

namespace {

using sb::FaqEntry;
using sb::FaqFormat;
using sb::FaqLimits;

using sb::test::Failure;
using sb::test::failure_of;

Failure json_failure(const std::string& text, const FaqLimits& limits = {}) {
    return failure_of([&] { sb::parse_faqs_json(text, limits); });
}

Failure csv_failure(const std::string& text, const FaqLimits& limits = {}) {
    return failure_of([&] { sb::parse_faqs_csv(text, limits); });
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// A temporary file removed at the end of the test.
class TempFile {
  public:
    TempFile(const std::string& name, const std::string& content) {
        static int counter = 0;
        path_ = (std::filesystem::temp_directory_path() /
                 ("sb_test_faq_" + std::to_string(::getpid()) + "_" + std::to_string(++counter)))
                    .string();
        std::filesystem::create_directories(path_);
        path_ += "/" + name;
        std::ofstream out(path_, std::ios::binary);
        out << content;
    }
    ~TempFile() {
        std::error_code ec;
        std::filesystem::remove_all(std::filesystem::path(path_).parent_path(), ec);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

const std::vector<std::string> kNone;

}  // namespace

// ---- UTF-8 ------------------------------------------------------------------------------------

TEST_CASE("is_valid_utf8 accepts well-formed UTF-8") {
    CHECK(sb::is_valid_utf8(""));
    CHECK(sb::is_valid_utf8("plain ASCII"));
    CHECK(sb::is_valid_utf8("caf\xC3\xA9"));                // U+00E9
    CHECK(sb::is_valid_utf8("\xE2\x82\xAC"));               // U+20AC
    CHECK(sb::is_valid_utf8("\xEF\xBF\xBF"));               // U+FFFF
    CHECK(sb::is_valid_utf8("\xF0\x9F\x98\x80"));           // U+1F600
    CHECK(sb::is_valid_utf8("\xF4\x8F\xBF\xBF"));           // U+10FFFF
    CHECK(sb::is_valid_utf8("\xED\x9F\xBF"));               // U+D7FF, just below the surrogates
    CHECK(sb::is_valid_utf8(std::string_view("a\0b", 3)));  // NUL is valid UTF-8
}

TEST_CASE("is_valid_utf8 rejects malformed UTF-8") {
    CHECK_FALSE(sb::is_valid_utf8("\x80"));              // stray continuation byte
    CHECK_FALSE(sb::is_valid_utf8("\xC3"));              // truncated
    CHECK_FALSE(sb::is_valid_utf8("\xE2\x82"));          // truncated
    CHECK_FALSE(sb::is_valid_utf8("\xC3\x28"));          // bad continuation
    CHECK_FALSE(sb::is_valid_utf8("\xC0\x80"));          // overlong NUL
    CHECK_FALSE(sb::is_valid_utf8("\xC1\xBF"));          // overlong
    CHECK_FALSE(sb::is_valid_utf8("\xE0\x80\x80"));      // overlong 3-byte
    CHECK_FALSE(sb::is_valid_utf8("\xE0\x9F\xBF"));      // overlong 3-byte
    CHECK_FALSE(sb::is_valid_utf8("\xF0\x80\x80\x80"));  // overlong 4-byte
    CHECK_FALSE(sb::is_valid_utf8("\xF0\x8F\xBF\xBF"));  // overlong 4-byte
    CHECK_FALSE(sb::is_valid_utf8("\xED\xA0\x80"));      // U+D800 surrogate
    CHECK_FALSE(sb::is_valid_utf8("\xED\xBF\xBF"));      // U+DFFF surrogate
    CHECK_FALSE(sb::is_valid_utf8("\xF4\x90\x80\x80"));  // U+110000
    CHECK_FALSE(sb::is_valid_utf8("\xF5\x80\x80\x80"));  // lead byte beyond U+10FFFF
    CHECK_FALSE(sb::is_valid_utf8("\xFF"));
    CHECK_FALSE(sb::is_valid_utf8("ok\xF0\x9F\x98"));  // truncated at the end
}

// ---- JSON -------------------------------------------------------------------------------------

TEST_CASE("JSON: a top-level array with every field") {
    const auto faqs = sb::parse_faqs_json(R"([
        {"id": " reset ", "question": "  How do I reset my password?\n", "answer": " Click 'Forgot'. ",
         "category": "account", "tags": ["login", "password"],
         "alternates": [" forgot password ", "cannot log in"], "unknown": {"x": [1, 2]}},
        {"question": "Q2", "answer": "A2"},
        {"id": 42, "question": "Q3", "answer": "A3"},
        {"id": -7, "question": "Q4", "answer": "A4"},
        {"id": 18446744073709551615, "question": "Q5", "answer": "A5"}
    ])",
                                          {});
    REQUIRE(faqs.size() == 5);
    CHECK(faqs[0].id == "reset");
    CHECK(faqs[0].question == "How do I reset my password?");
    CHECK(faqs[0].answer == "Click 'Forgot'.");
    CHECK(faqs[0].category == "account");
    CHECK(faqs[0].tags == std::vector<std::string>{"login", "password"});
    CHECK(faqs[0].alternates == std::vector<std::string>{"forgot password", "cannot log in"});
    CHECK(faqs[1].id == "faq-2");
    CHECK(faqs[1].category.empty());
    CHECK(faqs[1].tags.empty());
    CHECK(faqs[1].alternates.empty());
    CHECK(faqs[2].id == "42");
    CHECK(faqs[3].id == "-7");
    CHECK(faqs[4].id == "18446744073709551615");
}

TEST_CASE("JSON: an object with a \"faqs\" array, UTF-8 text, and a BOM") {
    const auto faqs = sb::parse_faqs_json(
        "\xEF\xBB\xBF{\"version\": 2, \"faqs\": [{\"question\": \"Caf\xC3\xA9?\", \"answer\": "
        "\"\\u00e9 \\ud83d\\ude00\"}]}",
        {});
    REQUIRE(faqs.size() == 1);
    CHECK(faqs[0].id == "faq-1");
    CHECK(faqs[0].question == "Caf\xC3\xA9?");
    CHECK(faqs[0].answer == "\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST_CASE("JSON: syntax errors are SB_EPARSE") {
    for (const std::string text : {"[{\"question\": \"q\", \"answer\": }]", "[", "", "   ",
                                   "[{\"question\": \"q\" \"answer\": \"a\"}]", "[1,]"}) {
        CAPTURE(text);
        const Failure f = json_failure(text);
        CHECK(f.status == SB_EPARSE);
        CHECK(contains(f.message, "invalid JSON"));
    }
}

TEST_CASE("JSON: invalid UTF-8 is SB_EPARSE") {
    const Failure f = json_failure("[{\"question\": \"q\xC0\x80\", \"answer\": \"a\"}]");
    CHECK(f.status == SB_EPARSE);
    CHECK(contains(f.message, "UTF-8"));
}

TEST_CASE("JSON: wrong top-level shapes are SB_EINVALID_DATA") {
    Failure f = json_failure("\"just a string\"");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "not a string"));

    f = json_failure(R"({"entries": []})");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "\"faqs\""));

    f = json_failure(R"({"faqs": {"question": "q", "answer": "a"}})");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "\"faqs\" must be an array, not an object"));
}

TEST_CASE("JSON: an empty set is SB_EINVALID_DATA") {
    for (const std::string text : {"[]", R"({"faqs": []})"}) {
        const Failure f = json_failure(text);
        CHECK(f.status == SB_EINVALID_DATA);
        CHECK(contains(f.message, "no FAQ entries"));
    }
}

TEST_CASE("JSON: missing, empty and mistyped fields name the entry and the field") {
    struct Case {
        std::string entry3;
        std::string expected;
    };
    const Case cases[] = {
        {R"({"answer": "a"})", R"(entry 3: "question" is missing)"},
        {R"({"question": "q"})", R"(entry 3: "answer" is missing)"},
        {R"({"question": " \t\n ", "answer": "a"})", R"(entry 3: "question" is empty)"},
        {R"({"question": "q", "answer": ""})", R"(entry 3: "answer" is empty)"},
        {R"({"question": 5, "answer": "a"})",
         R"(entry 3: "question" must be a string, not an integer)"},
        {R"({"question": "q", "answer": null})", R"(entry 3: "answer" must be a string, not null)"},
        {R"({"question": "q", "answer": "a", "id": 1.5})",
         R"(entry 3: "id" must be a string or an integer, not a non-integer number)"},
        {R"({"question": "q", "answer": "a", "id": true})",
         R"(entry 3: "id" must be a string or an integer, not a boolean)"},
        {R"({"question": "q", "answer": "a", "id": "  "})", R"(entry 3: "id" is empty)"},
        {R"({"question": "q", "answer": "a", "category": ["x"]})",
         R"(entry 3: "category" must be a string, not an array)"},
        {R"({"question": "q", "answer": "a", "tags": "x"})",
         R"(entry 3: "tags" must be an array of strings, not a string)"},
        {R"({"question": "q", "answer": "a", "tags": ["x", 2]})",
         R"(entry 3: "tags" item 2 must be a string, not an integer)"},
        {R"({"question": "q", "answer": "a", "alternates": {"a": 1}})",
         R"(entry 3: "alternates" must be an array of strings, not an object)"},
        {R"({"question": "q", "answer": "a", "alternates": ["x", false]})",
         R"(entry 3: "alternates" item 2 must be a string, not a boolean)"},
        {R"({"question": "q", "answer": "a", "alternates": ["x", "  "]})",
         R"(entry 3: "alternates" item 2 is empty)"},
        {R"({"question": "q", "answer": "a", "alternates": [""]})",
         R"(entry 3: "alternates" item 1 is empty)"},
        {R"({"question": "q", "answer": "a", "question": "q2"})",
         R"(entry 3: "question" appears more than once)"},
        {R"("not an object")", "entry 3 must be an object, not a string"},
        {R"({"question": "q", "answer": "a\u0000b"})", R"(entry 3: "answer" contains a NUL)"},
    };
    for (const Case& c : cases) {
        const std::string text = R"([{"question": "q1", "answer": "a1"},
                                     {"question": "q2", "answer": "a2"}, )" +
                                 c.entry3 + "]";
        CAPTURE(text);
        const Failure f = json_failure(text);
        CHECK(f.status == SB_EINVALID_DATA);
        CHECK_MESSAGE(contains(f.message, c.expected), f.message);
    }
}

TEST_CASE("JSON: ids") {
    SUBCASE("128 bytes is allowed, 129 is not") {
        const std::string ok(128, 'x');
        auto faqs =
            sb::parse_faqs_json(R"([{"id": ")" + ok + R"(", "question": "q", "answer": "a"}])", {});
        CHECK(faqs.at(0).id == ok);
        const Failure f =
            json_failure(R"([{"id": ")" + ok + R"(y", "question": "q", "answer": "a"}])");
        CHECK(f.status == SB_EINVALID_DATA);
        CHECK(contains(f.message, "entry 1: \"id\""));
        CHECK(contains(f.message, "128"));
    }
    SUBCASE("duplicate given ids name both entries and the id") {
        const Failure f = json_failure(R"([{"id": "a", "question": "q", "answer": "a"},
            {"id": "b", "question": "q", "answer": "a"},
            {"id": " a ", "question": "q", "answer": "a"}])");
        CHECK(f.status == SB_EINVALID_DATA);
        CHECK(contains(f.message, "entry 3"));
        CHECK(contains(f.message, "entry 1"));
        CHECK(contains(f.message, "duplicate id \"a\""));
    }
    SUBCASE("an integer id and the same string id are duplicates") {
        const Failure f = json_failure(R"([{"id": 7, "question": "q", "answer": "a"},
            {"id": "7", "question": "q", "answer": "a"}])");
        CHECK(f.status == SB_EINVALID_DATA);
        CHECK(contains(f.message, "duplicate id \"7\""));
    }
    SUBCASE("a generated id colliding with a given id is a duplicate") {
        const Failure f = json_failure(R"([{"question": "q", "answer": "a"},
            {"question": "q", "answer": "a"},
            {"id": "faq-2", "question": "q", "answer": "a"}])");
        CHECK(f.status == SB_EINVALID_DATA);
        CHECK(contains(f.message, "duplicate id \"faq-2\""));
        CHECK(contains(f.message, "entry 2"));
        CHECK(contains(f.message, "entry 3"));
    }
    SUBCASE("a given id that looks generated but does not collide is fine") {
        auto faqs = sb::parse_faqs_json(R"([{"id": "faq-2", "question": "q", "answer": "a"},
            {"id": "x", "question": "q", "answer": "a"}])",
                                        {});
        CHECK(faqs.at(0).id == "faq-2");
        CHECK(faqs.at(1).id == "x");
    }
}

TEST_CASE("JSON: limits are SB_ELIMIT") {
    const std::string two = R"([{"question": "q", "answer": "a", "alternates": ["x", "y"]},
                                {"question": "q2", "answer": "a2"}])";
    CHECK(sb::parse_faqs_json(two, {}).size() == 2);

    FaqLimits limits;
    limits.max_entries = 1;
    Failure f = json_failure(two, limits);
    CHECK(f.status == SB_ELIMIT);
    CHECK(contains(f.message, "entries"));

    limits = {};
    limits.max_alternates = 1;
    f = json_failure(two, limits);
    CHECK(f.status == SB_ELIMIT);
    CHECK(contains(f.message, "entry 1: \"alternates\""));

    limits = {};
    limits.max_field_bytes = 4;
    f = json_failure(
        R"([{"question": "  1234  ", "answer": "a"}, {"question": "q", "answer": "12345"}])",
        limits);
    CHECK(f.status == SB_ELIMIT);
    CHECK(contains(f.message, "entry 2: \"answer\""));

    limits = {};
    limits.max_bytes = two.size() - 1;
    f = json_failure(two, limits);
    CHECK(f.status == SB_ELIMIT);
    limits.max_bytes = two.size();
    CHECK(sb::parse_faqs_json(two, limits).size() == 2);
}

// ---- CSV --------------------------------------------------------------------------------------

TEST_CASE("CSV: header by name, every column, splitting and trimming") {
    const auto faqs = sb::parse_faqs_csv(
        " Answer ,QUESTION,notes,Id,category,Tags,alternates\n"
        "  A1  , Q1 ,ignored, id-1 ,billing,\"a| b ;c;;|\",\" x | y;z || \"\n"
        "A2,Q2,,,,,\n",
        {});
    REQUIRE(faqs.size() == 2);
    CHECK(faqs[0].id == "id-1");
    CHECK(faqs[0].question == "Q1");
    CHECK(faqs[0].answer == "A1");
    CHECK(faqs[0].category == "billing");
    CHECK(faqs[0].tags == std::vector<std::string>{"a", "b", "c"});
    CHECK(faqs[0].alternates == std::vector<std::string>{"x", "y;z"});
    CHECK(faqs[1].id == "faq-2");  // an empty id cell means "no id"
    CHECK(faqs[1].category.empty());
    CHECK(faqs[1].tags == kNone);
    CHECK(faqs[1].alternates == kNone);
}

TEST_CASE("CSV: quoted fields with commas, doubled quotes and newlines") {
    const auto faqs = sb::parse_faqs_csv(
        "question,answer\n"
        "\"Hello, world?\",\"She said \"\"hi\"\".\"\n"
        "\"multi\nline\",\"crlf\r\ninside\"\n"
        "\"\"\"\",\"x\"\n",
        {});
    REQUIRE(faqs.size() == 3);
    CHECK(faqs[0].question == "Hello, world?");
    CHECK(faqs[0].answer == "She said \"hi\".");
    CHECK(faqs[1].question == "multi\nline");
    CHECK(faqs[1].answer == "crlf\r\ninside");
    CHECK(faqs[2].question == "\"");
}

TEST_CASE("CSV: BOM, CRLF, no final newline, blank lines, spaces around quotes") {
    const auto faqs = sb::parse_faqs_csv(
        "\xEF\xBB\xBF\r\nquestion,answer\r\n\r\nQ1,A1\r\n   \r\nQ2, \"A2, quoted\" \r\nQ3,A3", {});
    REQUIRE(faqs.size() == 3);
    CHECK(faqs[0].question == "Q1");
    CHECK(faqs[0].answer == "A1");
    CHECK(faqs[1].answer == "A2, quoted");
    CHECK(faqs[2].question == "Q3");
    CHECK(faqs[2].answer == "A3");
    CHECK(faqs[2].id == "faq-3");

    const auto lf = sb::parse_faqs_csv("question,answer\nQ1,A1\n\n\n", {});
    REQUIRE(lf.size() == 1);
    CHECK(lf[0].answer == "A1");
}

TEST_CASE("CSV: unterminated quote names the line where the field began") {
    const Failure f = csv_failure("question,answer\nQ1,A1\nQ2,\"never\nclosed, at all\n\n");
    CHECK(f.status == SB_EPARSE);
    CHECK(contains(f.message, "line 3, column 2 (\"answer\")"));
    CHECK(contains(f.message, "unterminated"));
}

TEST_CASE("CSV: a quote in the middle of an unquoted field") {
    const Failure f = csv_failure("question,answer\nQ1,A1\nQ2,say \"hi\"\n");
    CHECK(f.status == SB_EPARSE);
    CHECK(contains(f.message, "line 3, column 2 (\"answer\")"));
    CHECK(contains(f.message, "quote in the middle of an unquoted field"));
}

TEST_CASE("CSV: text after a closing quote") {
    const Failure f = csv_failure("question,answer\n\"Q1\"x,A1\n");
    CHECK(f.status == SB_EPARSE);
    CHECK(contains(f.message, "line 2, column 1 (\"question\")"));
    CHECK(contains(f.message, "after the closing quote"));
}

TEST_CASE("CSV: line numbers count the newlines inside quoted fields") {
    const Failure f = csv_failure("question,answer\n\"a\nb\nc\",A1\nQ2,A2,extra\n");
    CHECK(f.status == SB_EPARSE);
    CHECK(contains(f.message, "line 5, column 3"));
    CHECK(contains(f.message, "3 fields but the header has 2"));
}

TEST_CASE("CSV: records with too few fields") {
    const Failure f = csv_failure("question,answer,category\nQ1,A1,c\r\nQ2,A2\r\n");
    CHECK(f.status == SB_EPARSE);
    CHECK(contains(f.message, "line 3, column 3 (\"category\")"));
    CHECK(contains(f.message, "2 fields but the header has 3"));
}

TEST_CASE("CSV: header errors") {
    Failure f = csv_failure("question,category\nQ1,c\n");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "line 1"));
    CHECK(contains(f.message, "missing required column \"answer\""));

    f = csv_failure("\n\nanswer,id\nA1,1\n");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "line 3"));
    CHECK(contains(f.message, "missing required column \"question\""));

    f = csv_failure("question,answer, Question \nQ1,A1,Q1\n");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "line 1, column 3"));
    CHECK(contains(f.message, "duplicate column name \"question\""));
    CHECK(contains(f.message, "column 1"));
}

TEST_CASE("CSV: empty input and header-only input have no entries") {
    for (const std::string text :
         {"", "\xEF\xBB\xBF", "\n\r\n", "question,answer\n", "question,answer"}) {
        CAPTURE(text);
        const Failure f = csv_failure(text);
        CHECK(f.status == SB_EINVALID_DATA);
        CHECK(contains(f.message, "no FAQ entries"));
    }
}

TEST_CASE("CSV: empty required fields name line and column") {
    Failure f = csv_failure("question,answer\nQ1,A1\nQ2,  \n");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "line 3, column 2 (\"answer\") is empty"));

    f = csv_failure("id,question,answer\n1,\"\",A1\n");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "line 2, column 2 (\"question\") is empty"));
}

TEST_CASE("CSV: invalid UTF-8 is SB_EPARSE naming line and column") {
    const Failure f = csv_failure("question,answer\nQ1,A1\nQ\xED\xA0\x80,A2\n");
    CHECK(f.status == SB_EPARSE);
    CHECK(contains(f.message, "line 3, column 1 (\"question\")"));
    CHECK(contains(f.message, "UTF-8"));

    // Invalid bytes in ignored columns do not matter.
    CHECK(sb::parse_faqs_csv("question,answer,notes\nQ,A,\xFF\n", {}).size() == 1);
}

TEST_CASE("CSV: duplicate ids name both lines") {
    Failure f = csv_failure("id,question,answer\nx,Q1,A1\ny,Q2,A2\n x ,Q3,A3\n");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "line 4"));
    CHECK(contains(f.message, "line 2"));
    CHECK(contains(f.message, "duplicate id \"x\""));

    f = csv_failure("id,question,answer\nfaq-2,Q1,A1\n,Q2,A2\n");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "duplicate id \"faq-2\""));
    CHECK(contains(f.message, "line 2"));
    CHECK(contains(f.message, "line 3"));
}

TEST_CASE("CSV: limits") {
    const std::string text = "question,answer,alternates\nQ1,A1,a|b|c\nQ2,A2,\n";
    FaqLimits limits;
    limits.max_entries = 1;
    Failure f = csv_failure(text, limits);
    CHECK(f.status == SB_ELIMIT);
    CHECK(contains(f.message, "line 3"));

    limits = {};
    limits.max_alternates = 2;
    f = csv_failure(text, limits);
    CHECK(f.status == SB_ELIMIT);
    CHECK(contains(f.message, "line 2, column 3 (\"alternates\")"));

    limits = {};
    limits.max_field_bytes = 2;
    f = csv_failure("question,answer\nQ1,A1\nQ2,A22\n", limits);
    CHECK(f.status == SB_ELIMIT);
    CHECK(contains(f.message, "line 3, column 2 (\"answer\")"));

    limits = {};
    limits.max_bytes = 5;
    f = csv_failure(text, limits);
    CHECK(f.status == SB_ELIMIT);
}

// ---- Format detection -------------------------------------------------------------------------

TEST_CASE("parse_faqs: Auto detects the format by content") {
    auto json = sb::parse_faqs("\xEF\xBB\xBF \n\t[{\"question\": \"q\", \"answer\": \"a\"}]",
                               FaqFormat::Auto, {});
    REQUIRE(json.size() == 1);
    CHECK(json[0].answer == "a");

    auto obj = sb::parse_faqs(" {\"faqs\": [{\"question\": \"q\", \"answer\": \"a\"}]}",
                              FaqFormat::Auto, {});
    CHECK(obj.size() == 1);

    auto csv = sb::parse_faqs("\xEF\xBB\xBFquestion,answer\nq,\"a, b\"\n", FaqFormat::Auto, {});
    REQUIRE(csv.size() == 1);
    CHECK(csv[0].answer == "a, b");

    // An explicit format is obeyed: this JSON is not CSV.
    const Failure f = failure_of(
        [] { sb::parse_faqs("[{\"question\": \"q\", \"answer\": \"a\"}]", FaqFormat::Csv, {}); });
    CHECK(f.status != SB_OK);

    const Failure bad = failure_of(
        [] { sb::parse_faqs("question,answer\nq,a\n", static_cast<FaqFormat>(42), {}); });
    CHECK(bad.status == SB_EINVAL);
}

// ---- Files ------------------------------------------------------------------------------------

TEST_CASE("load_faqs_file: picks the format by extension, any case") {
    // Valid CSV that content sniffing would take for JSON.
    const TempFile csv("faqs.CSV", "{x},question,answer\n1,q,a\n");
    auto faqs = sb::load_faqs_file(csv.path(), FaqFormat::Auto, {});
    REQUIRE(faqs.size() == 1);
    CHECK(faqs[0].question == "q");

    // CSV content in a .Json file is parsed as JSON, and fails.
    const TempFile json("faqs.Json", "question,answer\nq,a\n");
    const Failure f = failure_of([&] { sb::load_faqs_file(json.path(), FaqFormat::Auto, {}); });
    CHECK(f.status == SB_EPARSE);
    CHECK(contains(f.message, json.path() + ": invalid JSON"));

    // ...unless the caller says otherwise.
    CHECK(sb::load_faqs_file(json.path(), FaqFormat::Csv, {}).size() == 1);

    // Other extensions: by content.
    const TempFile txt("faqs.txt", "  [{\"question\": \"q\", \"answer\": \"a\"}]");
    CHECK(sb::load_faqs_file(txt.path(), FaqFormat::Auto, {}).size() == 1);
    const TempFile none("faqs", "question,answer\nq,a\n");
    CHECK(sb::load_faqs_file(none.path(), FaqFormat::Auto, {}).size() == 1);
}

TEST_CASE("load_faqs_file: errors carry the path and the status") {
    const TempFile json("bad.json", R"([{"question": "q", "answer": "a"}, {"question": "q"}])");
    Failure f = failure_of([&] { sb::load_faqs_file(json.path(), FaqFormat::Auto, {}); });
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(f.message == json.path() + ": entry 2: \"answer\" is missing");

    const TempFile csv("bad.csv", "question,answer\nq,a\nq2,a\"2\n");
    f = failure_of([&] { sb::load_faqs_file(csv.path(), FaqFormat::Auto, {}); });
    CHECK(f.status == SB_EPARSE);
    CHECK(contains(f.message, csv.path() + ": line 3, column 2"));

    const std::string missing = json.path() + ".does-not-exist";
    f = failure_of([&] { sb::load_faqs_file(missing, FaqFormat::Auto, {}); });
    CHECK(f.status == SB_EIO);
    CHECK(contains(f.message, missing));
    CHECK(contains(f.message, "No such file or directory"));

    const std::string dir = std::filesystem::path(json.path()).parent_path().string();
    f = failure_of([&] { sb::load_faqs_file(dir, FaqFormat::Auto, {}); });
    CHECK(f.status == SB_EIO);
    CHECK(contains(f.message, dir));
}

TEST_CASE("load_faqs_file: a file over max_bytes is refused") {
    const std::string text = "question,answer\nq,a\n";
    const TempFile csv("big.csv", text);
    FaqLimits limits;
    limits.max_bytes = text.size() - 1;
    const Failure f = failure_of([&] { sb::load_faqs_file(csv.path(), FaqFormat::Auto, limits); });
    CHECK(f.status == SB_ELIMIT);
    CHECK(contains(f.message, csv.path()));
    limits.max_bytes = text.size();
    CHECK(sb::load_faqs_file(csv.path(), FaqFormat::Auto, limits).size() == 1);
}

TEST_CASE("synonyms: JSON's top-level \"synonyms\" object, trimmed, beside the entries") {
    const sb::FaqSet set = sb::parse_faq_set_json(
        R"({"synonyms": {"order": [" parcel ", "package", "shipment"], "refund": ["money back"]},
            "faqs": [{"question": "Where is my order?", "answer": "On its way."}]})",
        {});
    REQUIRE(set.entries.size() == 1);
    REQUIRE(set.synonyms.size() == 2);
    CHECK(set.synonyms[0].term == "order");
    CHECK(set.synonyms[0].synonyms == std::vector<std::string>{"parcel", "package", "shipment"});
    CHECK(set.synonyms[1].term == "refund");
    CHECK(set.synonyms[1].synonyms == std::vector<std::string>{"money back"});
    // The entries-only parsers read the same files, and a set without synonyms has none.
    CHECK(sb::parse_faqs_json(R"({"synonyms": {"a": ["b"]}, "faqs": [{"question": "q",
                                 "answer": "a"}]})",
                              {})
              .size() == 1);
    CHECK(sb::parse_faq_set_json(R"([{"question": "q", "answer": "a"}])", {}).synonyms.empty());
}

TEST_CASE("synonyms: CSV's \"synonyms\" column of \"term = a | b\" cells, several per cell") {
    const sb::FaqSet set = sb::parse_faq_set_csv(
        "question,answer,Synonyms\n"
        "Where is my order?,On its way.,order = parcel | "
        "package\n"
        "How do refunds work?,Ten days.,refund = money "
        "back; store = shop\n"
        "When are you open?,Nine to five.,\n",
        {});
    REQUIRE(set.entries.size() == 3);
    REQUIRE(set.synonyms.size() == 3);
    CHECK(set.synonyms[0].term == "order");
    CHECK(set.synonyms[0].synonyms == std::vector<std::string>{"parcel", "package"});
    CHECK(set.synonyms[1].term == "refund");
    CHECK(set.synonyms[1].synonyms == std::vector<std::string>{"money back"});
    CHECK(set.synonyms[2].term == "store");
    CHECK(set.synonyms[2].synonyms == std::vector<std::string>{"shop"});
}

TEST_CASE("synonyms: bad groups are refused, naming the group and the reason") {
    auto json = [](const std::string& synonyms) {
        return failure_of([&] {
            sb::parse_faq_set_json(
                R"({"synonyms": )" + synonyms + R"(, "faqs": [{"question": "q", "answer": "a"}]})",
                {});
        });
    };
    Failure f = json(R"(["parcel"])");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "\"synonyms\" must be an object of arrays of strings, not an array"));
    f = json(R"({"order": "parcel"})");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "\"synonyms\": \"order\" must be an array of strings"));
    f = json(R"({"order": ["parcel", 3]})");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "\"synonyms\": \"order\" item 2 must be a string"));
    f = json(R"({"order": []})");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "\"synonyms\": \"order\" has no synonyms"));
    f = json(R"({" ": ["parcel"]})");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "(the term) is empty"));
    f = json(R"({"order": ["parcel", "  "]})");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "\"synonyms\": \"order\" item 2 is empty"));
    f = json(R"({"order": ["Order"]})");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "is the term itself"));
    f = json(R"({"order": ["parcel"], "delivery": ["Parcel"]})");
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message,
                   "\"synonyms\": \"delivery\" item 1 (\"Parcel\") already stands for "
                   "\"order\""));
    f = json("{\"order\": [\"parcel\xC0\x80\"]}");
    CHECK(f.status == SB_EPARSE);
    CHECK(contains(f.message, "UTF-8"));
    FaqLimits small;
    small.max_synonyms = 2;
    f = failure_of([&] {
        sb::parse_faq_set_json(R"({"synonyms": {"a": ["b", "c"], "d": ["e"]},
                                   "faqs": [{"question": "q", "answer": "a"}]})",
                               small);
    });
    CHECK(f.status == SB_ELIMIT);
    CHECK(contains(f.message, "\"synonyms\": \"d\": more than the limit of 2 synonyms"));

    f = failure_of(
        [] { sb::parse_faq_set_csv("question,answer,synonyms\nq,a,order parcel\n", {}); });
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "line 2, column 3 (\"synonyms\")"));
    CHECK(contains(f.message, "is not of the form \"term = a | b\""));
    f = failure_of([] { sb::parse_faq_set_csv("question,answer,synonyms\nq,a,order =\n", {}); });
    CHECK(f.status == SB_EINVALID_DATA);
    CHECK(contains(f.message, "has no synonyms"));
}
