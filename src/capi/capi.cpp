// The C ABI: argument checks, conversion of C++ errors to status codes and the thread-local
// last-error message. No exception leaves this file.
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "capi/capi_internal.hpp"
#include "chat/engine.hpp"
#include "common/error.hpp"
#include "faq/faq.hpp"
#include "retrieval/index.hpp"
#include "retrieval/text.hpp"
#include "supportbot/supportbot.h"

struct sb_faqset {
    std::shared_ptr<const sb::FaqIndex> index;
};

struct sb_results {
    std::shared_ptr<const sb::FaqIndex> index;  // keeps the ids alive
    std::vector<sb::SearchHit> hits;
    bool answered = false;
};

namespace {

// The layout of sb_engine_options version 1.
struct EngineOptionsV1 {
    unsigned int version;
    const char* language;
};

// The layout of sb_engine_options version 2.
struct EngineOptionsV2 {
    unsigned int version;
    const char* language;
    const char* database_url;
    size_t pool_size;
    size_t history_turns;
    double answer_threshold;
    double escalation_threshold;
    unsigned int max_unanswered;
};

constexpr std::size_t kMaxQueryBytes = 16u << 10;
constexpr std::size_t kMaxK = 1000;

}  // namespace

namespace sb::capi {

namespace {
struct ThreadError {
    int status = SB_OK;
    std::string message;
};

ThreadError& thread_error() {
    thread_local ThreadError e;
    return e;
}
}  // namespace

const char* last_error_message() noexcept {
    return thread_error().message.c_str();
}
int last_status() noexcept {
    return thread_error().status;
}

int set_error(int status, std::string message) noexcept {
    ThreadError& e = thread_error();
    e.status = status;
    try {
        e.message = std::move(message);
    } catch (...) {
        e.message.clear();
    }
    return status;
}

int ok() noexcept {
    ThreadError& e = thread_error();
    e.status = SB_OK;
    e.message.clear();
    return SB_OK;
}

void check_version(unsigned int version, unsigned int current, const char* what) {
    if (version == 0 || version > current)
        throw sb::Error(SB_EVERSION, std::string(what) + " version " + std::to_string(version) +
                                         " is not supported (this library knows 1.." +
                                         std::to_string(current) + ")");
}

sb::FaqLimits limits_from(const sb_load_options* opts) {
    sb::FaqLimits limits;
    if (!opts) return limits;
    check_version(opts->version, SB_LOAD_OPTIONS_VERSION, "sb_load_options");
    if (opts->max_bytes) limits.max_bytes = opts->max_bytes;
    if (opts->max_entries) limits.max_entries = opts->max_entries;
    if (opts->max_field_bytes) limits.max_field_bytes = opts->max_field_bytes;
    if (opts->max_alternates) limits.max_alternates = opts->max_alternates;
    return limits;
}

sb::FaqFormat format_from(sb_format format) {
    switch (format) {
        case SB_FORMAT_AUTO:
            return sb::FaqFormat::Auto;
        case SB_FORMAT_JSON:
            return sb::FaqFormat::Json;
        case SB_FORMAT_CSV:
            return sb::FaqFormat::Csv;
    }
    throw sb::Error(SB_EINVAL,
                    "unknown sb_format value " + std::to_string(static_cast<int>(format)));
}

sb::FaqSet load_set(const char* data, size_t len, sb_format format, const sb_load_options* opts) {
    require(data != nullptr || len == 0, "data is NULL");
    sb::FaqLimits limits = limits_from(opts);
    return sb::parse_faq_set(std::string_view(data ? data : "", len), format_from(format), limits);
}

sb::FaqSet load_set_file(const char* path, sb_format format, const sb_load_options* opts) {
    require(path != nullptr, "path is NULL");
    sb::FaqLimits limits = limits_from(opts);
    return sb::load_faq_set_file(path, format_from(format), limits);
}

}  // namespace sb::capi

namespace {

using namespace sb::capi;

// A set from an FAQ file, with the synonyms it declares.
sb_faqset* make_set(const sb_engine* engine, sb::FaqSet faqs) {
    sb::IndexOptions io;
    io.language = engine->engine->options().language;
    io.synonyms = std::move(faqs.synonyms);
    auto set = std::make_unique<sb_faqset>();
    // Small-talk entries (the reserved category) answer chat turns, never searches.
    std::vector<sb::FaqEntry> entries = sb::split_smalltalk(std::move(faqs.entries)).first;
    if (entries.empty())
        throw sb::Error(SB_EINVALID_DATA, "the set has no FAQ entry besides small talk");
    set->index = sb::FaqIndex::build(std::move(entries), io);
    return set.release();
}

const sb::FaqEntry& entry_at(const sb_faqset* set, size_t index) {
    require(set != nullptr, "set is NULL");
    const auto& entries = set->index->entries();
    if (index >= entries.size())
        throw sb::Error(SB_ERANGE, "entry index " + std::to_string(index) + " is out of range (" +
                                       std::to_string(entries.size()) + " entries)");
    return entries[index];
}

}  // namespace

extern "C" {

const char* sb_version(void) {
    return SB_VERSION_STRING;
}
int sb_abi_version(void) {
    return SB_ABI_VERSION;
}

const char* sb_last_error(void) {
    return sb::capi::last_error_message();
}
int sb_last_status(void) {
    return sb::capi::last_status();
}

const char* sb_status_name(int status) {
    switch (status) {
        case SB_OK:
            return "SB_OK";
        case SB_ERROR:
            return "SB_ERROR";
        case SB_EINVAL:
            return "SB_EINVAL";
        case SB_ENOMEM:
            return "SB_ENOMEM";
        case SB_EPARSE:
            return "SB_EPARSE";
        case SB_ELIMIT:
            return "SB_ELIMIT";
        case SB_ENOTFOUND:
            return "SB_ENOTFOUND";
        case SB_EIO:
            return "SB_EIO";
        case SB_EVERSION:
            return "SB_EVERSION";
        case SB_EINVALID_DATA:
            return "SB_EINVALID_DATA";
        case SB_ERANGE:
            return "SB_ERANGE";
        case SB_EDB:
            return "SB_EDB";
        case SB_ECONFLICT:
            return "SB_ECONFLICT";
        case SB_EFORBIDDEN:
            return "SB_EFORBIDDEN";
        case SB_EPROVIDER:
            return "SB_EPROVIDER";
        case SB_EUNAUTHENTICATED:
            return "SB_EUNAUTHENTICATED";
        default:
            return "SB_UNKNOWN";
    }
}

int sb_engine_options_init(sb_engine_options* opts, unsigned int version) {
    return guarded([&] {
        require(opts != nullptr, "opts is NULL");
        check_version(version, SB_ENGINE_OPTIONS_VERSION, "sb_engine_options");
        if (version == 1) {
            // A caller built against version 1 has the smaller struct: write only its fields.
            auto* v1 = reinterpret_cast<EngineOptionsV1*>(opts);
            v1->version = 1;
            v1->language = nullptr;
            return;
        }
        if (version == 2) {
            auto* v2 = reinterpret_cast<EngineOptionsV2*>(opts);
            *v2 = EngineOptionsV2{2, nullptr, nullptr, 0, 0, -1.0, -1.0, 0};
            return;
        }
        sb_engine_options full = SB_ENGINE_OPTIONS_INIT;
        if (version == 3) {
            // A caller built against version 3 has the struct up to the hooks of version 4.
            full.version = 3;
            std::memcpy(static_cast<void*>(opts), &full,
                        offsetof(sb_engine_options, on_escalation));
            return;
        }
        *opts = full;
    });
}

namespace {

// The fields version 3 added: the LLM provider and accounts.
void read_options_v3(const sb_engine_options& opts, sb::EngineOptions& o) {
    auto text = [](const char* s) { return s ? std::string(s) : std::string(); };
    if (opts.llm_provider && *opts.llm_provider) o.llm.provider = opts.llm_provider;
    o.llm.base_url = text(opts.llm_base_url);
    o.llm.model = text(opts.llm_model);
    o.llm.api_key = text(opts.llm_api_key);
    if (opts.llm_connect_timeout_ms < 0 || opts.llm_timeout_ms < 0)
        throw sb::Error(SB_EINVAL, "LLM timeouts must not be negative");
    if (opts.llm_connect_timeout_ms) o.llm.connect_timeout_ms = opts.llm_connect_timeout_ms;
    if (opts.llm_timeout_ms) o.llm.timeout_ms = opts.llm_timeout_ms;
    if (opts.llm_max_attempts > 20) throw sb::Error(SB_EINVAL, "llm_max_attempts over 20");
    if (opts.llm_max_attempts) o.llm.max_attempts = static_cast<int>(opts.llm_max_attempts);
    if (opts.llm_backoff_initial_ms < 0 || opts.llm_backoff_max_ms < 0)
        throw sb::Error(SB_EINVAL, "LLM backoff times must not be negative");
    if (opts.llm_backoff_initial_ms) o.llm.backoff_initial_ms = opts.llm_backoff_initial_ms;
    if (opts.llm_backoff_max_ms) o.llm.backoff_max_ms = opts.llm_backoff_max_ms;
    if (o.llm.backoff_initial_ms > o.llm.backoff_max_ms)
        throw sb::Error(SB_EINVAL, "llm_backoff_initial_ms is over llm_backoff_max_ms");
    if (opts.llm_deadline_ms < 0)
        throw sb::Error(SB_EINVAL, "llm_deadline_ms must not be negative");
    if (opts.llm_deadline_ms) o.llm.deadline_ms = opts.llm_deadline_ms;
    o.secret_key = text(opts.secret_key);
    if (!o.secret_key.empty() && o.secret_key.size() < 32)
        throw sb::Error(SB_EINVAL, "secret_key is shorter than 32 bytes");
    if (opts.access_token_minutes > 525600)
        throw sb::Error(SB_EINVAL, "access_token_minutes over a year");
    if (opts.access_token_minutes) o.access_token_minutes = opts.access_token_minutes;
    if (opts.login_max_failures) o.login_max_failures = opts.login_max_failures;
    if (opts.login_window_seconds) o.login_window_seconds = opts.login_window_seconds;
}

// The hooks version 4 added: a C function and its user data each, wrapped so that a non-zero
// return is reported to the engine as a failure (which it logs and ignores).
void read_options_v4(const sb_engine_options& opts, sb::EngineOptions& o) {
    if (auto* fn = opts.on_escalation) {
        void* data = opts.escalation_user_data;
        o.on_escalation = [fn, data](const sb::EscalationEvent& e) {
            sb_escalation_event ev{e.bot_id.c_str(), e.session_id.c_str(), e.user_id.c_str(),
                                   e.reason.c_str(), e.message.c_str()};
            const int rc = fn(data, &ev);
            if (rc != 0)
                throw sb::Error(SB_ERROR, "the escalation hook returned " + std::to_string(rc));
        };
    }
    if (auto* fn = opts.on_session_message) {
        void* data = opts.session_message_user_data;
        o.on_session_message = [fn, data](const sb::SessionMessageEvent& e) {
            sb_session_message_event ev{};
            ev.bot_id = e.bot_id.c_str();
            ev.session_id = e.session_id.c_str();
            ev.user_id = e.user_id.c_str();
            ev.status = e.status == sb::SessionStatus::Agent       ? SB_SESSION_AGENT
                        : e.status == sb::SessionStatus::Escalated ? SB_SESSION_ESCALATED
                        : e.status == sb::SessionStatus::Closed    ? SB_SESSION_CLOSED
                                                                   : SB_SESSION_OPEN;
            ev.role = e.role == sb::Role::Agent ? SB_ROLE_AGENT : SB_ROLE_USER;
            ev.agent_id = e.agent_id.c_str();
            ev.text = e.text.c_str();
            const int rc = fn(data, &ev);
            if (rc != 0)
                throw sb::Error(SB_ERROR, "the new-message hook returned " + std::to_string(rc));
        };
    }
}

}  // namespace

int sb_engine_open(sb_engine** out, const sb_engine_options* opts) {
    if (out) *out = nullptr;
    return guarded([&] {
        require(out != nullptr, "out is NULL");
        sb::EngineOptions o;
        if (opts) {
            check_version(opts->version, SB_ENGINE_OPTIONS_VERSION, "sb_engine_options");
            // Fields of version 1, then those each later version added.
            if (opts->language && *opts->language) o.language = opts->language;
            if (opts->version >= 2) {
                if (opts->database_url) o.database_url = opts->database_url;
                if (opts->pool_size) o.pool_size = opts->pool_size;
                if (opts->history_turns) o.history_turns = opts->history_turns;
                if (std::isnan(opts->answer_threshold) || opts->answer_threshold > 1.0 ||
                    std::isnan(opts->escalation_threshold) || opts->escalation_threshold > 1.0)
                    throw sb::Error(SB_EINVAL,
                                    "thresholds must be in [0, 1], or negative for "
                                    "the default");
                o.answer_threshold = opts->answer_threshold;
                o.escalation_threshold = opts->escalation_threshold;
                if (opts->max_unanswered) o.max_unanswered = static_cast<int>(opts->max_unanswered);
                if (opts->pool_size > 1000) throw sb::Error(SB_EINVAL, "pool_size over 1000");
                if (opts->history_turns > 1000)
                    throw sb::Error(SB_EINVAL, "history_turns over 1000");
                if (opts->max_unanswered > 1000)
                    throw sb::Error(SB_EINVAL, "max_unanswered over 1000");
            }
            if (opts->version >= 3) read_options_v3(*opts, o);
            if (opts->version >= 4) read_options_v4(*opts, o);
        }
        sb::Stemmer probe(o.language);  // rejects unknown languages now, not at load
        auto engine = std::make_unique<sb_engine>();
        engine->engine = std::make_unique<sb::Engine>(std::move(o));
        engine->accounts = std::make_unique<sb::auth::Accounts>(*engine->engine);
        *out = engine.release();
    });
}

void sb_string_free(char* s) {
    std::free(s);
}

void sb_engine_close(sb_engine* engine) {
    delete engine;
}

int sb_engine_ping(sb_engine* engine) {
    return guarded([&] { engine_of(engine).ping(); });
}

int sb_load_options_init(sb_load_options* opts, unsigned int version) {
    return guarded([&] {
        require(opts != nullptr, "opts is NULL");
        check_version(version, SB_LOAD_OPTIONS_VERSION, "sb_load_options");
        *opts = sb_load_options SB_LOAD_OPTIONS_INIT;
    });
}

int sb_faqset_load(sb_engine* engine, const char* data, size_t len, sb_format format,
                   const sb_load_options* opts, sb_faqset** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        require(engine != nullptr, "engine is NULL");
        require(out != nullptr, "out is NULL");
        require(data != nullptr || len == 0, "data is NULL");
        *out = make_set(engine, sb::parse_faq_set(std::string_view(data ? data : "", len),
                                                  format_from(format), limits_from(opts)));
    });
}

int sb_faqset_load_file(sb_engine* engine, const char* path, sb_format format,
                        const sb_load_options* opts, sb_faqset** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        require(engine != nullptr, "engine is NULL");
        require(path != nullptr, "path is NULL");
        require(out != nullptr, "out is NULL");
        require(path != nullptr, "path is NULL");
        *out =
            make_set(engine, sb::load_faq_set_file(path, format_from(format), limits_from(opts)));
    });
}

void sb_faqset_free(sb_faqset* set) {
    delete set;
}

int sb_faqset_count(const sb_faqset* set, size_t* out) {
    return guarded([&] {
        require(set != nullptr, "set is NULL");
        require(out != nullptr, "out is NULL");
        *out = set->index->entries().size();
    });
}

int sb_faqset_entry(const sb_faqset* set, size_t index, sb_faq_entry* out) {
    return guarded([&] {
        require(out != nullptr, "out is NULL");
        const sb::FaqEntry& e = entry_at(set, index);
        out->id = e.id.c_str();
        out->question = e.question.c_str();
        out->answer = e.answer.c_str();
        out->category = e.category.c_str();
        out->alternate_count = e.alternates.size();
        out->tag_count = e.tags.size();
    });
}

int sb_faqset_entry_alternate(const sb_faqset* set, size_t index, size_t alt, const char** out) {
    return guarded([&] {
        require(out != nullptr, "out is NULL");
        const sb::FaqEntry& e = entry_at(set, index);
        if (alt >= e.alternates.size())
            throw sb::Error(SB_ERANGE,
                            "alternate index " + std::to_string(alt) + " is out of range");
        *out = e.alternates[alt].c_str();
    });
}

int sb_faqset_entry_tag(const sb_faqset* set, size_t index, size_t tag, const char** out) {
    return guarded([&] {
        require(out != nullptr, "out is NULL");
        const sb::FaqEntry& e = entry_at(set, index);
        if (tag >= e.tags.size())
            throw sb::Error(SB_ERANGE, "tag index " + std::to_string(tag) + " is out of range");
        *out = e.tags[tag].c_str();
    });
}

int sb_faqset_find(const sb_faqset* set, const char* id, size_t* out_index) {
    return guarded([&] {
        require(set != nullptr, "set is NULL");
        require(id != nullptr, "id is NULL");
        require(out_index != nullptr, "out_index is NULL");
        const auto& entries = set->index->entries();
        for (size_t i = 0; i < entries.size(); ++i) {
            if (entries[i].id == id) {
                *out_index = i;
                return;
            }
        }
        throw sb::Error(SB_ENOTFOUND, std::string("no FAQ entry with id \"") + id + "\"");
    });
}

int sb_faqset_default_threshold(const sb_faqset* set, double* out) {
    return guarded([&] {
        require(set != nullptr, "set is NULL");
        require(out != nullptr, "out is NULL");
        *out = set->index->default_threshold();
    });
}

int sb_search_options_init(sb_search_options* opts, unsigned int version) {
    return guarded([&] {
        require(opts != nullptr, "opts is NULL");
        check_version(version, SB_SEARCH_OPTIONS_VERSION, "sb_search_options");
        *opts = sb_search_options SB_SEARCH_OPTIONS_INIT;
    });
}

int sb_faqset_search(const sb_faqset* set, const char* query, size_t len,
                     const sb_search_options* opts, sb_results** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        require(set != nullptr, "set is NULL");
        require(out != nullptr, "out is NULL");
        require(query != nullptr || len == 0, "query is NULL");
        size_t k = 5;
        double threshold = set->index->default_threshold();
        if (opts) {
            check_version(opts->version, SB_SEARCH_OPTIONS_VERSION, "sb_search_options");
            if (opts->k) k = opts->k;
            if (std::isnan(opts->threshold) || opts->threshold > 1.0)
                throw sb::Error(SB_EINVAL,
                                "threshold must be in [0, 1], or negative for the "
                                "default");
            if (opts->threshold >= 0) threshold = opts->threshold;
        }
        if (k > kMaxK)
            throw sb::Error(SB_EINVAL, "k = " + std::to_string(k) + " is over the limit of " +
                                           std::to_string(kMaxK));
        std::string_view q(query ? query : "", len);
        if (q.size() > kMaxQueryBytes)
            throw sb::Error(SB_ELIMIT, "query is " + std::to_string(q.size()) +
                                           " bytes; the limit is " +
                                           std::to_string(kMaxQueryBytes));
        if (!sb::is_valid_utf8(q)) throw sb::Error(SB_EPARSE, "query is not valid UTF-8");
        auto results = std::make_unique<sb_results>();
        results->index = set->index;
        results->hits = set->index->search(q, k);
        results->answered = !results->hits.empty() && results->hits[0].confidence >= threshold;
        *out = results.release();
    });
}

int sb_results_count(const sb_results* results, size_t* out) {
    return guarded([&] {
        require(results != nullptr, "results is NULL");
        require(out != nullptr, "out is NULL");
        *out = results->hits.size();
    });
}

int sb_results_get(const sb_results* results, size_t i, sb_result* out) {
    return guarded([&] {
        require(results != nullptr, "results is NULL");
        require(out != nullptr, "out is NULL");
        if (i >= results->hits.size())
            throw sb::Error(SB_ERANGE, "result index " + std::to_string(i) + " is out of range (" +
                                           std::to_string(results->hits.size()) + " results)");
        const sb::SearchHit& h = results->hits[i];
        out->index = h.index;
        out->id = results->index->entries()[h.index].id.c_str();
        out->score = h.score;
        out->confidence = h.confidence;
    });
}

int sb_results_answered(const sb_results* results, int* out) {
    return guarded([&] {
        require(results != nullptr, "results is NULL");
        require(out != nullptr, "out is NULL");
        *out = results->answered ? 1 : 0;
    });
}

void sb_results_free(sb_results* results) {
    delete results;
}

}  // extern "C"
