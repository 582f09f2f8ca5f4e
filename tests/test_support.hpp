// Helpers shared by the doctest suites.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "common/error.hpp"

namespace sb::test {

// The status and message of the sb::Error that f throws; fails the test when f succeeds.
struct Failure {
    int status = SB_OK;
    std::string message;
};

template <class F>
Failure failure_of(F&& f) {
    try {
        f();
    } catch (const sb::Error& e) {
        return {e.status(), e.what()};
    }
    FAIL("expected an sb::Error, but the call succeeded");
    return {};
}

// The status of the sb::Error that f throws, SB_OK when it throws none (other exception types
// propagate and fail the test).
template <class F>
int status_of(F&& f, std::string* message = nullptr) {
    try {
        f();
    } catch (const sb::Error& e) {
        if (message) *message = e.what();
        return e.status();
    }
    return SB_OK;
}

// A temporary directory, removed with everything in it at the end of the scope.
class TempDir {
  public:
    TempDir() {
        std::string templ = (std::filesystem::temp_directory_path() / "sb-test-XXXXXX").string();
        REQUIRE(mkdtemp(templ.data()) != nullptr);
        path_ = templ;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// The databases a suite runs against: the SQLite file sqlite_file in dir, and the PostgreSQL
// database SB_TEST_PG_URL names when it is set (tests/pg/with-postgres.sh).
inline std::vector<std::string> database_urls(const TempDir& dir, const char* sqlite_file) {
    std::vector<std::string> urls = {"sqlite://" + (dir.path() / sqlite_file).string()};
    if (const char* pg = std::getenv("SB_TEST_PG_URL")) urls.push_back(pg);
    return urls;
}

}  // namespace sb::test
