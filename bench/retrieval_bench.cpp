// Retrieval benchmark: supportbot against SQLite FTS5 (bm25) and Xapian (BM25Weight), on the same
// corpus, the same queries, in one run.
//
// A benchmark, not a test: it reports figures and asserts nothing on timing. For each corpus (a
// faqs.json in the project's format and a jsonl file of {"query", "expected_id"}) and each engine
// it measures: index build time, index memory (several ways, named in the output), the raw FAQ
// text size and the memory / raw ratio, per-query latency p50 / p99 over one thread after a
// warm-up pass, queries/s on one thread, and top-1 accuracy on the covered queries; for supportbot
// also answered accuracy and out-of-scope recall (sb_results_answered). See bench/README.md.
//
// Usage:
//   sb_bench [options] DIR...            each DIR holds faqs.json and dev.jsonl
//   sb_bench [options] --faqs F --queries Q [--name NAME]
// Options:
//   --json              one JSON object per engine and corpus on stdout instead of the table
//   --engines LIST      comma-separated subset of supportbot,fts5,xapian (default: all)
//   --repeat N          timed passes over the query set after the warm-up pass (default 1)
//   --warmup N          queries in the warm-up pass, from the start of the set; 0 = all
//                       (default 500)
//   --k N               results asked from every engine (default 5)
//   --peer-stopwords    drop English stop words (supportbot's list) from the peers' queries,
//                       as a tuned deployment of FTS5 or Xapian would; the peers still index
//                       every word

#include <malloc.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <simdjson.h>
#include <xapian.h>

#include "faq/faq.hpp"
#include "retrieval/index.hpp"
#include "retrieval/text.hpp"
#include "supportbot/supportbot.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// ---- Corpus ------------------------------------------------------------------------------------

struct Query {
    std::string text;
    std::size_t expected = kNone;  // entry index, kNone when no FAQ covers the query
};

struct Corpus {
    std::string name;
    std::string faqs_path;
    std::string queries_path;
    std::string file_bytes;             // faqs.json as read, handed to sb_faqset_load
    std::vector<sb::FaqEntry> entries;  // parsed by the bench itself (simdjson), same order
    std::vector<Query> queries;
    std::size_t raw_text_bytes = 0;  // sum of question + alternates + answer bytes
    std::size_t covered = 0;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string as_string(simdjson::dom::element e, const char* what) {
    std::string_view v;
    if (e.get(v) != simdjson::SUCCESS)
        throw std::runtime_error(std::string(what) + " is not a string");
    return std::string(v);
}

Corpus load_corpus(const std::string& name, const std::string& faqs_path,
                   const std::string& queries_path) {
    Corpus c;
    c.name = name;
    c.faqs_path = faqs_path;
    c.queries_path = queries_path;
    c.file_bytes = read_file(faqs_path);

    simdjson::dom::parser parser;
    simdjson::dom::array arr;
    if (parser.parse(c.file_bytes).get(arr) != simdjson::SUCCESS)
        throw std::runtime_error(faqs_path + ": not a JSON array");
    std::unordered_map<std::string, std::size_t> by_id;
    for (simdjson::dom::element item : arr) {
        sb::FaqEntry e;
        simdjson::dom::element v;
        if (item["id"].get(v) == simdjson::SUCCESS && !v.is_null()) e.id = as_string(v, "id");
        if (e.id.empty()) e.id = "faq-" + std::to_string(c.entries.size() + 1);
        if (item["question"].get(v) != simdjson::SUCCESS)
            throw std::runtime_error(faqs_path + ": entry without question");
        e.question = as_string(v, "question");
        if (item["answer"].get(v) == simdjson::SUCCESS) e.answer = as_string(v, "answer");
        if (item["category"].get(v) == simdjson::SUCCESS && !v.is_null())
            e.category = as_string(v, "category");
        simdjson::dom::array alts;
        if (item["alternates"].get(alts) == simdjson::SUCCESS)
            for (simdjson::dom::element a : alts) e.alternates.push_back(as_string(a, "alternate"));
        c.raw_text_bytes += e.question.size() + e.answer.size();
        for (const auto& a : e.alternates) c.raw_text_bytes += a.size();
        by_id.emplace(e.id, c.entries.size());
        c.entries.push_back(std::move(e));
    }

    std::ifstream in(queries_path);
    if (!in) throw std::runtime_error("cannot open " + queries_path);
    std::string line;
    std::size_t line_no = 0, unknown = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        simdjson::dom::element obj;
        if (parser.parse(line).get(obj) != simdjson::SUCCESS)
            throw std::runtime_error(queries_path + ":" + std::to_string(line_no) + ": bad JSON");
        Query q;
        q.text = as_string(obj["query"], "query");
        simdjson::dom::element exp;
        if (obj["expected_id"].get(exp) == simdjson::SUCCESS && !exp.is_null()) {
            auto it = by_id.find(as_string(exp, "expected_id"));
            if (it == by_id.end()) {
                ++unknown;  // names an id the corpus does not have: skip, it can't be scored
                continue;
            }
            q.expected = it->second;
            ++c.covered;
        }
        c.queries.push_back(std::move(q));
    }
    if (unknown)
        std::cerr << "warning: " << queries_path << ": " << unknown
                  << " queries name an id not in the corpus; skipped\n";
    return c;
}

// ---- Memory probes -----------------------------------------------------------------------------

// Bytes the allocator has handed out and not had back (all arenas, mmapped chunks included).
std::int64_t heap_in_use() {
    struct mallinfo2 mi = mallinfo2();
    return static_cast<std::int64_t>(mi.uordblks + mi.hblkhd);
}

// Resident set size from /proc/self/statm.
std::int64_t rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    long long size = 0, resident = 0;
    statm >> size >> resident;
    return static_cast<std::int64_t>(resident) * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

// ---- Query sanitising for the peers -------------------------------------------------------------

// Plain lower-case terms: ASCII letters and digits, plus any non-ASCII byte (kept as part of a
// word so UTF-8 text survives); everything else separates terms. Peers get these terms only, so
// query-syntax characters (quotes, '-', '*', ':', parentheses, AND/OR/NOT) can't break or change
// their queries.
bool g_peer_stopwords = false;  // --peer-stopwords

std::vector<std::string> plain_words(std::string_view q) {
    std::vector<std::string> out;
    std::string cur;
    for (char ch : q) {
        auto u = static_cast<unsigned char>(ch);
        if (u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z')) {
            cur += ch;
        } else if (u >= 'A' && u <= 'Z') {
            cur += static_cast<char>(u - 'A' + 'a');
        } else if (!cur.empty()) {
            out.push_back(std::move(cur));
            cur.clear();
        }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

std::vector<std::string> plain_terms(std::string_view q) {
    std::vector<std::string> out = plain_words(q);
    if (g_peer_stopwords)
        out.erase(std::remove_if(out.begin(), out.end(),
                                 [](const std::string& w) { return sb::is_stop_word(w); }),
                  out.end());
    return out;
}

// ---- Engines ----------------------------------------------------------------------------------

struct Hit {
    std::size_t top = kNone;  // entry index of the best result, kNone when there is none
    bool answered = false;    // the engine would answer (not escalate)
};

struct BuildInfo {
    double build_ms = 0;                 // index build from the parsed entries
    double load_ms = -1;                 // supportbot only: sb_faqset_load (parse + index), C API
    std::int64_t index_bytes = -1;       // the engine's own figure for its index, -1 when none
    std::string index_bytes_method;      // how index_bytes was obtained
    std::int64_t index_heap_delta = -1;  // supportbot only: heap delta of FaqIndex::build
    double threshold = -1;               // supportbot only: calibrated answer threshold
    std::string note;
};

class Engine {
  public:
    virtual ~Engine() = default;
    virtual const char* name() const = 0;
    virtual BuildInfo build(const Corpus& c) = 0;
    virtual Hit search(const std::string& query) = 0;
    // Called once after the build's time and memory have been recorded, for extra figures that
    // must not count in them.
    virtual void after_build(const Corpus&, BuildInfo&) {}
};

// supportbot, through its C API. Build time is measured twice: FaqIndex::build from the parsed
// entries (comparable with the peers, which also start from parsed entries) and sb_faqset_load on
// the file bytes (what an application pays: JSON parse + validation + index). Searches go
// through sb_faqset_search, the public path.
class SupportbotEngine final : public Engine {
  public:
    explicit SupportbotEngine(std::size_t k) {
        sb_search_options_init(&opts_, SB_SEARCH_OPTIONS_VERSION);
        opts_.k = k;
    }
    ~SupportbotEngine() override {
        sb_faqset_free(set_);
        sb_engine_close(engine_);
    }
    const char* name() const override { return "supportbot"; }

    BuildInfo build(const Corpus& c) override {
        BuildInfo info;
        {
            std::vector<sb::FaqEntry> copy = c.entries;
            malloc_trim(0);
            std::int64_t h0 = heap_in_use();
            auto t0 = Clock::now();
            std::shared_ptr<const sb::FaqIndex> index =
                sb::FaqIndex::build(std::move(copy), sb::IndexOptions{});
            info.build_ms = ms_since(t0);
            info.index_heap_delta = heap_in_use() - h0;
            info.index_bytes = static_cast<std::int64_t>(index->memory_bytes());
            info.index_bytes_method = "FaqIndex::memory_bytes() (index structures, no entry text)";
        }
        malloc_trim(0);
        check(sb_engine_open(&engine_, nullptr), "sb_engine_open");
        auto t0 = Clock::now();
        check(sb_faqset_load(engine_, c.file_bytes.data(), c.file_bytes.size(), SB_FORMAT_JSON,
                             nullptr, &set_),
              "sb_faqset_load");
        info.load_ms = ms_since(t0);
        sb_faqset_default_threshold(set_, &info.threshold);

        // Result indices must be positions in the bench's own parse of the file.
        std::size_t n = 0;
        check(sb_faqset_count(set_, &n), "sb_faqset_count");
        if (n != c.entries.size())
            throw std::runtime_error("supportbot loaded " + std::to_string(n) + " entries, bench " +
                                     std::to_string(c.entries.size()));
        for (std::size_t i = 0; i < n; ++i) {
            sb_faq_entry e{};
            check(sb_faqset_entry(set_, i, &e), "sb_faqset_entry");
            if (c.entries[i].id != e.id)
                throw std::runtime_error("entry " + std::to_string(i) + " id differs: " + e.id);
        }
        return info;
    }

    Hit search(const std::string& query) override {
        Hit hit;
        sb_results* res = nullptr;
        if (sb_faqset_search(set_, query.data(), query.size(), &opts_, &res) != SB_OK) {
            ++errors_;
            return hit;
        }
        std::size_t count = 0;
        sb_results_count(res, &count);
        if (count > 0) {
            sb_result r{};
            if (sb_results_get(res, 0, &r) == SB_OK) hit.top = r.index;
        }
        int answered = 0;
        sb_results_answered(res, &answered);
        hit.answered = answered != 0;
        sb_results_free(res);
        return hit;
    }

    std::size_t errors() const { return errors_; }

  private:
    static void check(int status, const char* what) {
        if (status != SB_OK)
            throw std::runtime_error(std::string(what) + ": " + sb_status_name(status) + ": " +
                                     sb_last_error());
    }
    sb_engine* engine_ = nullptr;
    sb_faqset* set_ = nullptr;
    sb_search_options opts_{};
    std::size_t errors_ = 0;
};

// SQLite FTS5, in-memory database, porter stemmer over unicode61, bm25() with column weights.
class Fts5Engine final : public Engine {
  public:
    explicit Fts5Engine(std::size_t k) : k_(k) {}
    ~Fts5Engine() override {
        sqlite3_finalize(stmt_);
        sqlite3_close(db_);
    }
    const char* name() const override { return "fts5"; }

    BuildInfo build(const Corpus& c) override {
        BuildInfo info;
        auto t0 = Clock::now();
        if (sqlite3_open(":memory:", &db_) != SQLITE_OK) fail("sqlite3_open");
        exec(
            "CREATE VIRTUAL TABLE faq USING fts5(question, alternates, answer, "
            "tokenize = 'porter unicode61')");
        exec("BEGIN");
        sqlite3_stmt* ins = nullptr;
        if (sqlite3_prepare_v2(db_,
                               "INSERT INTO faq(rowid, question, alternates, answer) "
                               "VALUES (?1, ?2, ?3, ?4)",
                               -1, &ins, nullptr) != SQLITE_OK)
            fail("prepare insert");
        std::string alts;
        for (std::size_t i = 0; i < c.entries.size(); ++i) {
            const sb::FaqEntry& e = c.entries[i];
            alts.clear();
            for (const auto& a : e.alternates) {
                if (!alts.empty()) alts += '\n';
                alts += a;
            }
            sqlite3_bind_int64(ins, 1, static_cast<sqlite3_int64>(i) + 1);
            bind_text(ins, 2, e.question);
            bind_text(ins, 3, alts);
            bind_text(ins, 4, e.answer);
            if (sqlite3_step(ins) != SQLITE_DONE) {
                sqlite3_finalize(ins);
                fail("insert");
            }
            sqlite3_reset(ins);
        }
        sqlite3_finalize(ins);
        exec("COMMIT");
        exec("INSERT INTO faq(faq) VALUES ('optimize')");
        info.build_ms = ms_since(t0);

        info.index_bytes = pragma_int("page_count") * pragma_int("page_size");
        info.index_bytes_method =
            "page_count * page_size of the in-memory database (FTS5 index + stored text)";
        std::string sql =
            "SELECT rowid FROM faq WHERE faq MATCH ?1 "
            "ORDER BY bm25(faq, 3.0, 2.0, 1.0) LIMIT " +
            std::to_string(k_);
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
            fail("prepare search");
        return info;
    }

    Hit search(const std::string& query) override {
        Hit hit;
        // Each term quoted (a string in FTS5 syntax), OR-joined.
        match_.clear();
        for (const std::string& t : plain_terms(query)) {
            if (!match_.empty()) match_ += " OR ";
            match_ += '"';
            match_ += t;
            match_ += '"';
        }
        if (match_.empty()) return hit;
        bind_text(stmt_, 1, match_);
        bool first = true;
        int rc;
        while ((rc = sqlite3_step(stmt_)) == SQLITE_ROW) {
            if (first) {
                hit.top = static_cast<std::size_t>(sqlite3_column_int64(stmt_, 0) - 1);
                hit.answered = true;
                first = false;
            }
        }
        if (rc != SQLITE_DONE) ++errors_;
        sqlite3_reset(stmt_);
        return hit;
    }

  private:
    [[noreturn]] void fail(const char* what) {
        throw std::runtime_error(std::string("sqlite: ") + what + ": " + sqlite3_errmsg(db_));
    }
    void exec(const char* sql) {
        if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
    }
    static void bind_text(sqlite3_stmt* st, int col, const std::string& s) {
        sqlite3_bind_text(st, col, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    }
    std::int64_t pragma_int(const char* name) {
        std::string sql = std::string("PRAGMA ") + name;
        sqlite3_stmt* st = nullptr;
        std::int64_t v = -1;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
    }
    std::size_t k_;
    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
    std::string match_;
    std::size_t errors_ = 0;
};

// Xapian, in-memory backend. Fields weighted by wdf increments (question 3, alternates 2,
// answer 1), English stemmer (STEM_SOME); QueryParser default operator OR with stemming;
// BM25Weight with its default parameters.
class XapianEngine final : public Engine {
  public:
    explicit XapianEngine(std::size_t k) : k_(static_cast<Xapian::doccount>(k)) {}
    const char* name() const override { return "xapian"; }

    BuildInfo build(const Corpus& c) override {
        BuildInfo info;
        auto t0 = Clock::now();
        db_ = Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY);
        Xapian::TermGenerator tg;
        tg.set_stemmer(Xapian::Stem("english"));
        tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
        add_all(db_, tg, c);
        info.build_ms = ms_since(t0);

        qp_.set_stemmer(Xapian::Stem("english"));
        qp_.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
        qp_.set_default_op(Xapian::Query::OP_OR);
        qp_.set_database(db_);
        enquire_ = std::make_unique<Xapian::Enquire>(db_);
        enquire_->set_weighting_scheme(Xapian::BM25Weight());
        return info;
    }

    void after_build(const Corpus& c, BuildInfo& info) override {
        Xapian::TermGenerator tg;
        tg.set_stemmer(Xapian::Stem("english"));
        tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
        info.index_bytes = disk_size(c, tg);
        info.index_bytes_method =
            "size of the same index as an on-disk glass database, built separately and not "
            "timed (searches use the in-memory db, whose cost is the heap delta)";
    }

    Hit search(const std::string& query) override {
        Hit hit;
        text_.clear();
        for (const std::string& t : plain_terms(query)) {
            if (!text_.empty()) text_ += ' ';
            text_ += t;
        }
        if (text_.empty()) return hit;
        enquire_->set_query(qp_.parse_query(text_, 0));
        Xapian::MSet m = enquire_->get_mset(0, k_);
        if (!m.empty()) {
            hit.top = static_cast<std::size_t>(*m.begin()) - 1;
            hit.answered = true;
        }
        return hit;
    }

  private:
    static void add_all(Xapian::WritableDatabase& db, Xapian::TermGenerator& tg, const Corpus& c) {
        for (std::size_t i = 0; i < c.entries.size(); ++i) {
            const sb::FaqEntry& e = c.entries[i];
            Xapian::Document doc;
            tg.set_document(doc);
            tg.index_text(e.question, 3);
            for (const auto& a : e.alternates) {
                tg.increase_termpos();
                tg.index_text(a, 2);
            }
            tg.increase_termpos();
            tg.index_text(e.answer, 1);
            db.replace_document(static_cast<Xapian::docid>(i + 1), doc);
        }
        db.commit();
    }

    // Bytes of the index written as a glass database in a temporary directory (removed after).
    static std::int64_t disk_size(const Corpus& c, Xapian::TermGenerator& tg) {
        namespace fs = std::filesystem;
        std::string tmpl = (fs::temp_directory_path() / "sb_bench_xapian_XXXXXX").string();
        if (!mkdtemp(tmpl.data())) return -1;
        std::int64_t total = 0;
        try {
            {
                Xapian::WritableDatabase disk(
                    tmpl, Xapian::DB_CREATE_OR_OVERWRITE | Xapian::DB_BACKEND_GLASS);
                add_all(disk, tg, c);
                disk.close();
            }
            for (const auto& f : fs::recursive_directory_iterator(tmpl))
                if (f.is_regular_file()) total += static_cast<std::int64_t>(f.file_size());
        } catch (...) {
            fs::remove_all(tmpl);
            throw;
        }
        fs::remove_all(tmpl);
        return total;
    }

    Xapian::doccount k_;
    Xapian::WritableDatabase db_;
    Xapian::QueryParser qp_;
    std::unique_ptr<Xapian::Enquire> enquire_;
    std::string text_;
};

// ---- Measurement -------------------------------------------------------------------------------

struct Result {
    std::string engine;
    bool ok = false;
    std::string error;
    BuildInfo build;
    std::int64_t heap_delta = 0;  // allocator bytes in use after build minus before
    std::int64_t rss_delta = 0;   // resident set size after build minus before
    double p50_us = 0, p99_us = 0, mean_us = 0, qps = 0;
    std::size_t timed_queries = 0;
    double top1 = 0;               // covered queries whose best result is the expected entry
    double answered_accuracy = 0;  // covered queries answered (not escalated) with it
    double oos_recall = -1;        // uncovered queries escalated; -1 when there are none
};

double percentile(std::vector<double> sorted_values, double p) {
    if (sorted_values.empty()) return 0;
    auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted_values.size())));
    rank = std::clamp<std::size_t>(rank, 1, sorted_values.size());
    return sorted_values[rank - 1];
}

Result run_engine(Engine& engine, const Corpus& c, int repeat, std::size_t warmup) {
    Result r;
    r.engine = engine.name();
    try {
        malloc_trim(0);
        std::int64_t h0 = heap_in_use(), rss0 = rss_bytes();
        r.build = engine.build(c);
        r.heap_delta = heap_in_use() - h0;
        r.rss_delta = rss_bytes() - rss0;
        engine.after_build(c, r.build);
        if (r.build.index_bytes < 0) {
            r.build.index_bytes = r.heap_delta;
            r.build.index_bytes_method = "heap delta of the build";
        }

        // Warm-up pass over the first `warmup` queries (caches, lazily built structures).
        std::size_t n_warm = warmup == 0 ? c.queries.size() : std::min(warmup, c.queries.size());
        for (std::size_t i = 0; i < n_warm; ++i) (void)engine.search(c.queries[i].text);

        // Timed passes, each query timed on its own; accuracy is scored on the first pass (the
        // engines are deterministic), outside the timed region.
        std::size_t top1 = 0, answered_right = 0, uncovered = 0, escalated = 0;
        std::vector<double> lat_us;
        lat_us.reserve(c.queries.size() * static_cast<std::size_t>(repeat));
        double total_us = 0;
        for (int pass = 0; pass < repeat; ++pass) {
            for (const Query& q : c.queries) {
                auto t0 = Clock::now();
                Hit h = engine.search(q.text);
                double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
                lat_us.push_back(us);
                total_us += us;
                if (pass != 0) continue;
                if (q.expected == kNone) {
                    ++uncovered;
                    if (!h.answered) ++escalated;
                } else if (h.top == q.expected) {
                    ++top1;
                    if (h.answered) ++answered_right;
                }
            }
        }
        if (c.covered) {
            r.top1 = static_cast<double>(top1) / static_cast<double>(c.covered);
            r.answered_accuracy =
                static_cast<double>(answered_right) / static_cast<double>(c.covered);
        }
        if (uncovered)
            r.oos_recall = static_cast<double>(escalated) / static_cast<double>(uncovered);
        std::sort(lat_us.begin(), lat_us.end());
        r.timed_queries = lat_us.size();
        r.p50_us = percentile(lat_us, 0.50);
        r.p99_us = percentile(lat_us, 0.99);
        r.mean_us = lat_us.empty() ? 0 : total_us / static_cast<double>(lat_us.size());
        r.qps = total_us > 0 ? static_cast<double>(lat_us.size()) * 1e6 / total_us : 0;
        r.ok = true;
    } catch (const std::exception& e) {
        r.error = e.what();
    }
    return r;
}

// ---- Output ------------------------------------------------------------------------------------

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

double mib(std::int64_t b) {
    return static_cast<double>(b) / (1024.0 * 1024.0);
}

std::string json_escape(std::string_view s) {
    std::string out;
    for (char ch : s) {
        auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out;
}

std::string json_num(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

void print_json(const Corpus& c, const Result& r) {
    std::ostringstream o;
    o << "{\"corpus\":\"" << json_escape(c.name) << "\",\"engine\":\"" << r.engine << "\""
      << ",\"ok\":" << (r.ok ? "true" : "false");
    if (!r.ok) o << ",\"error\":\"" << json_escape(r.error) << "\"";
    o << ",\"faqs\":" << c.entries.size() << ",\"queries\":" << c.queries.size()
      << ",\"covered\":" << c.covered << ",\"raw_text_bytes\":" << c.raw_text_bytes;
    if (r.ok) {
        o << ",\"build_ms\":" << json_num(r.build.build_ms);
        if (r.build.load_ms >= 0) o << ",\"load_ms\":" << json_num(r.build.load_ms);
        o << ",\"index_bytes\":" << r.build.index_bytes << ",\"index_bytes_method\":\""
          << json_escape(r.build.index_bytes_method) << "\""
          << ",\"index_to_raw\":"
          << json_num(static_cast<double>(r.build.index_bytes) /
                      static_cast<double>(c.raw_text_bytes));
        if (r.build.index_heap_delta >= 0)
            o << ",\"index_heap_delta_bytes\":" << r.build.index_heap_delta;
        o << ",\"heap_delta_bytes\":" << r.heap_delta << ",\"rss_delta_bytes\":" << r.rss_delta
          << ",\"heap_to_raw\":"
          << json_num(static_cast<double>(r.heap_delta) / static_cast<double>(c.raw_text_bytes))
          << ",\"timed_queries\":" << r.timed_queries << ",\"p50_us\":" << json_num(r.p50_us)
          << ",\"p99_us\":" << json_num(r.p99_us) << ",\"mean_us\":" << json_num(r.mean_us)
          << ",\"qps\":" << json_num(r.qps) << ",\"top1\":" << json_num(r.top1)
          << ",\"answered_accuracy\":" << json_num(r.answered_accuracy) << ",\"oos_recall\":"
          << (r.oos_recall < 0 ? std::string("null") : json_num(r.oos_recall));
        if (r.build.threshold >= 0) o << ",\"threshold\":" << json_num(r.build.threshold);
    }
    o << "}";
    std::cout << o.str() << std::endl;
}

void print_table(const Corpus& c, const std::vector<Result>& results) {
    std::size_t oos = c.queries.size() - c.covered;
    std::printf(
        "\n== %s: %zu FAQs, %zu queries (%zu covered, %zu out of scope), raw FAQ text "
        "%.2f MiB\n",
        c.name.c_str(), c.entries.size(), c.queries.size(), c.covered, oos,
        mib(static_cast<std::int64_t>(c.raw_text_bytes)));
    std::printf("%-10s %10s %10s %7s %10s %10s %9s %9s %9s %7s %8s %8s\n", "engine", "build_ms",
                "index_MiB", "idx/raw", "heapd_MiB", "rssd_MiB", "p50_us", "p99_us", "qps", "top1",
                "answered", "oos_rec");
    for (const Result& r : results) {
        if (!r.ok) {
            std::printf("%-10s FAILED: %s\n", r.engine.c_str(), r.error.c_str());
            continue;
        }
        double raw = static_cast<double>(c.raw_text_bytes);
        std::printf("%-10s %10.1f %10.2f %7.2f %10.2f %10.2f %9.1f %9.1f %9.0f %7.4f %8.4f %8s\n",
                    r.engine.c_str(), r.build.build_ms, mib(r.build.index_bytes),
                    static_cast<double>(r.build.index_bytes) / raw, mib(r.heap_delta),
                    mib(r.rss_delta), r.p50_us, r.p99_us, r.qps, r.top1, r.answered_accuracy,
                    r.oos_recall < 0 ? "-" : fmt("%.4f", r.oos_recall).c_str());
    }
    for (const Result& r : results) {
        if (!r.ok) continue;
        std::printf("  %s: index_MiB = %s", r.engine.c_str(), r.build.index_bytes_method.c_str());
        if (r.build.load_ms >= 0)
            std::printf("; sb_faqset_load (parse + index) %.1f ms; answer threshold %.3f",
                        r.build.load_ms, r.build.threshold);
        std::printf("\n");
    }

    const Result* sbr = nullptr;
    const Result* fastest = nullptr;
    const Result* best_acc = nullptr;
    for (const Result& r : results) {
        if (!r.ok) continue;
        if (r.engine == "supportbot") {
            sbr = &r;
            continue;
        }
        if (!fastest || r.p50_us < fastest->p50_us) fastest = &r;
        if (!best_acc || r.answered_accuracy > best_acc->answered_accuracy) best_acc = &r;
    }
    if (!sbr) return;
    std::printf("  ratios:\n");
    if (fastest)
        std::printf(
            "    supportbot p50 / faster peer (%s) p50 = %.3f   (target on 100k FAQs: "
            "<= 0.333)\n",
            fastest->engine.c_str(), sbr->p50_us / fastest->p50_us);
    std::printf(
        "    supportbot index memory / raw FAQ text = %.3f   (target: <= 2; "
        "whole loaded set heap delta / raw = %.3f)\n",
        static_cast<double>(sbr->build.index_bytes) / static_cast<double>(c.raw_text_bytes),
        static_cast<double>(sbr->heap_delta) / static_cast<double>(c.raw_text_bytes));
    if (best_acc)
        std::printf(
            "    supportbot answered accuracy - best peer (%s) = %+.2f points   "
            "(target on the labelled sets: > 0; peers answer whenever they find a hit)\n",
            best_acc->engine.c_str(),
            100.0 * (sbr->answered_accuracy - best_acc->answered_accuracy));
}

// ---- Main
// ----------------------------------------------------------------------------------------

[[noreturn]] void usage(const char* msg) {
    if (msg) std::cerr << "sb_bench: " << msg << "\n";
    std::cerr << "usage: sb_bench [--json] [--engines supportbot,fts5,xapian] [--repeat N] "
                 "[--warmup N] [--k N] [--peer-stopwords] DIR...\n"
                 "       sb_bench [options] --faqs FAQS.json --queries QUERIES.jsonl [--name N]\n"
                 "Each DIR holds faqs.json and dev.jsonl.\n";
    std::exit(2);
}

std::string base_name(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

int main(int argc, char** argv) {
    bool json = false;
    int repeat = 1;
    std::size_t warmup = 500;
    std::size_t k = 5;
    std::vector<std::string> engines = {"supportbot", "fts5", "xapian"};
    std::string faqs, queries, name;
    std::vector<std::string> dirs;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--json") {
            json = true;
        } else if (a == "--repeat") {
            repeat = std::max(1, std::atoi(value().c_str()));
        } else if (a == "--warmup") {
            warmup = static_cast<std::size_t>(std::max(0, std::atoi(value().c_str())));
        } else if (a == "--k") {
            k = static_cast<std::size_t>(std::max(1, std::atoi(value().c_str())));
        } else if (a == "--engines") {
            engines.clear();
            std::stringstream ss(value());
            std::string e;
            while (std::getline(ss, e, ','))
                if (e == "supportbot" || e == "fts5" || e == "xapian")
                    engines.push_back(e);
                else
                    usage(("unknown engine " + e).c_str());
        } else if (a == "--peer-stopwords") {
            g_peer_stopwords = true;
        } else if (a == "--faqs") {
            faqs = value();
        } else if (a == "--queries") {
            queries = value();
        } else if (a == "--name") {
            name = value();
        } else if (a == "-h" || a == "--help") {
            usage(nullptr);
        } else if (!a.empty() && a[0] == '-') {
            usage(("unknown option " + a).c_str());
        } else {
            dirs.push_back(a);
        }
    }
    struct Spec {
        std::string name, faqs, queries;
    };
    std::vector<Spec> specs;
    if (!faqs.empty() || !queries.empty()) {
        if (faqs.empty() || queries.empty()) usage("--faqs and --queries go together");
        specs.push_back({name.empty() ? base_name(faqs) : name, faqs, queries});
    }
    for (const auto& d : dirs) specs.push_back({base_name(d), d + "/faqs.json", d + "/dev.jsonl"});
    if (specs.empty()) usage("no corpus given");

    if (!json)
        std::printf(
            "sb_bench: supportbot %s, SQLite %s, Xapian %s; one thread; k=%zu; %d timed "
            "pass(es) after a warm-up pass over %s queries; peer queries %s\n",
            sb_version(), sqlite3_libversion(), Xapian::version_string(), k, repeat,
            warmup == 0 ? "all" : ("the first " + std::to_string(warmup)).c_str(),
            g_peer_stopwords ? "without stop words" : "with every word");
    int status = 0;
    for (const Spec& s : specs) {
        Corpus c;
        try {
            auto t0 = Clock::now();
            c = load_corpus(s.name, s.faqs, s.queries);
            std::cerr << "[" << s.name << "] loaded " << c.entries.size() << " FAQs, "
                      << c.queries.size() << " queries in " << fmt("%.0f", ms_since(t0)) << " ms\n";
        } catch (const std::exception& e) {
            std::cerr << "sb_bench: " << s.name << ": " << e.what() << "\n";
            status = 1;
            continue;
        }
        std::vector<Result> results;
        for (const std::string& e : engines) {
            std::unique_ptr<Engine> engine;
            if (e == "supportbot")
                engine = std::make_unique<SupportbotEngine>(k);
            else if (e == "fts5")
                engine = std::make_unique<Fts5Engine>(k);
            else
                engine = std::make_unique<XapianEngine>(k);
            std::cerr << "[" << s.name << "] " << e << "..." << std::flush;
            auto t0 = Clock::now();
            results.push_back(run_engine(*engine, c, repeat, warmup));
            engine.reset();
            malloc_trim(0);
            std::cerr << (results.back().ok ? " done" : " FAILED") << " in "
                      << fmt("%.1f", ms_since(t0) / 1000.0) << " s\n";
            if (!results.back().ok) status = 1;
            if (json) print_json(c, results.back());
        }
        if (!json) print_table(c, results);
        std::fflush(stdout);
    }
    return status;
}
