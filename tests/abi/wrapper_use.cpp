// Compiled by header_check.sh as C++17 and C++20 (g++, clang++) with every warning an error: the
// header-only C++ wrapper must be clean in both. Instantiates what a caller uses.
#include <supportbot/supportbot.hpp>

#include <string>

int main() {
    try {
        supportbot::Engine engine;
        supportbot::FaqSet set = engine.load(std::string("[]"), SB_FORMAT_JSON);
        supportbot::SearchResponse response = set.search("question", 3);
        std::size_t n = set.size() + response.results.size();
        return n > 0 && set.default_threshold() >= 0 ? 0 : 1;
    } catch (const supportbot::Error& e) {
        return e.status() == SB_OK ? 0 : 1;
    }
}
