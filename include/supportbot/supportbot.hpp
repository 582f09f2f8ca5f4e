// A thin header-only C++ wrapper over the C ABI: RAII handles, std::string_view in, and
// supportbot::Error (carrying the status) thrown on failure. All of it compiles in the caller.
#ifndef SUPPORTBOT_HPP
#define SUPPORTBOT_HPP

// The wrapper needs C++17 (std::string_view); the C header alone needs C99 or C++11.
#if defined(_MSVC_LANG) ? _MSVC_LANG < 201703L : __cplusplus < 201703L
#error "supportbot/supportbot.hpp needs C++17 or later; from older C++, use supportbot/supportbot.h"
#endif

#include <supportbot/supportbot.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace supportbot {

class Error : public std::runtime_error {
  public:
    Error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

  private:
    int status_;
};

inline void check(int status) {
    if (status != SB_OK) throw Error(status, sb_last_error());
}

struct Result {
    std::size_t index;
    std::string id;
    double score;
    double confidence;
};

struct SearchResponse {
    bool answered = false;
    std::vector<Result> results;
};

class FaqSet {
  public:
    explicit FaqSet(sb_faqset* s) noexcept : set_(s) {}
    FaqSet(FaqSet&& o) noexcept : set_(std::exchange(o.set_, nullptr)) {}
    FaqSet& operator=(FaqSet&& o) noexcept {
        if (this != &o) {
            sb_faqset_free(set_);
            set_ = std::exchange(o.set_, nullptr);
        }
        return *this;
    }
    FaqSet(const FaqSet&) = delete;
    FaqSet& operator=(const FaqSet&) = delete;
    ~FaqSet() { sb_faqset_free(set_); }

    std::size_t size() const {
        std::size_t n = 0;
        check(sb_faqset_count(set_, &n));
        return n;
    }
    sb_faq_entry entry(std::size_t i) const {
        sb_faq_entry e;
        check(sb_faqset_entry(set_, i, &e));
        return e;
    }
    double default_threshold() const {
        double t = 0;
        check(sb_faqset_default_threshold(set_, &t));
        return t;
    }
    // threshold < 0 means the set's calibrated default.
    SearchResponse search(std::string_view query, std::size_t k = 5,
                          double threshold = -1.0) const {
        sb_search_options opts = SB_SEARCH_OPTIONS_INIT;
        opts.k = k;
        opts.threshold = threshold;
        sb_results* raw = nullptr;
        check(sb_faqset_search(set_, query.data(), query.size(), &opts, &raw));
        struct Free {
            sb_results* r;
            ~Free() { sb_results_free(r); }
        } guard{raw};
        SearchResponse out;
        int answered = 0;
        std::size_t n = 0;
        check(sb_results_answered(raw, &answered));
        check(sb_results_count(raw, &n));
        out.answered = answered != 0;
        for (std::size_t i = 0; i < n; ++i) {
            sb_result r;
            check(sb_results_get(raw, i, &r));
            out.results.push_back({r.index, r.id, r.score, r.confidence});
        }
        return out;
    }
    sb_faqset* handle() const noexcept { return set_; }

  private:
    sb_faqset* set_;
};

class Engine {
  public:
    Engine() { check(sb_engine_open(&engine_, nullptr)); }
    explicit Engine(const sb_engine_options& opts) { check(sb_engine_open(&engine_, &opts)); }
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;
    ~Engine() { sb_engine_close(engine_); }

    FaqSet load(std::string_view data, sb_format format = SB_FORMAT_AUTO,
                const sb_load_options* opts = nullptr) {
        sb_faqset* s = nullptr;
        check(sb_faqset_load(engine_, data.data(), data.size(), format, opts, &s));
        return FaqSet(s);
    }
    FaqSet load_file(const std::string& path, sb_format format = SB_FORMAT_AUTO,
                     const sb_load_options* opts = nullptr) {
        sb_faqset* s = nullptr;
        check(sb_faqset_load_file(engine_, path.c_str(), format, opts, &s));
        return FaqSet(s);
    }
    sb_engine* handle() const noexcept { return engine_; }

  private:
    sb_engine* engine_ = nullptr;
};

}  // namespace supportbot

#endif  // SUPPORTBOT_HPP
