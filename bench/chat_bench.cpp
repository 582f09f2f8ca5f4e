// Chat benchmark: chat turns per second through the C API (sb_chat_send, offline responder) on
// SQLite or PostgreSQL, with 1 or 2 threads on one engine, and for SQLite the ceiling of the same
// database doing only the writes of a turn in a plain loop.
//
// A benchmark, not a test: it reports figures and asserts nothing on timing. See bench/README.md
// ("Chat turns per second"); bench/chat_run.sh runs everything, including the PostgreSQL ceiling
// (pgbench with bench/pgbench_turn.sql).
//
// Usage:
//   sb_chat_bench --db URL [options]
// URL:
//   sqlite:///tmp/x.db     every measurement gets a fresh file next to it: /tmp/x-sb-t<N>.db for
//                          the library with N threads, /tmp/x-ceiling-t<N>.db for the ceiling
//                          (removed at the end unless --keep)
//   postgresql://...       the library only (the ceiling is pgbench); each measurement creates
//                          a new bot in that database
// Options:
//   --threads LIST    comma-separated thread counts (default 1,2)
//   --turns N         timed turns per thread (default 2000)
//   --warmup N        untimed turns per thread before the timed part (default 100)
//   --session-turns N turns per session before the thread starts a new one (default 20)
//   --repeat N        timed passes per measurement, the library and the ceiling taking turns
//                     pass by pass; the median of each is reported (default 1)
//   --faqs PATH       the bot's FAQ set (default faqs.json)
//   --no-library      SQLite: the ceiling only
//   --no-ceiling      SQLite: the library only
//   --tsv             also print one line per measurement on stdout:
//                     RESULT <db> <kind> <threads> <turns/s> <turns> <seconds> <answered share>
//                     <p50 latency us> <p99 latency us> <process CPU us per turn>
//                     and one per timed pass, in order (the library's and the ceiling's passes
//                     of the same number are neighbours in time: their ratio is a pair):
//                     PASS <db> <kind> <threads> <pass> <turns/s>
//   --keep            keep the SQLite files

#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../src/store/sqlite_writers.hpp"  // how the store writes and checkpoints
#include "supportbot/supportbot.h"

namespace {

using Clock = std::chrono::steady_clock;

// What end users type: paraphrases of faqs.json questions (lower case, no punctuation, typos in
// places), none of which asks for a human, so the turns go through retrieval.
const std::vector<std::string> kQuestions = {
    "where is my package",
    "how long does shipping take to canada",
    "can i return a blender i bought last week",
    "my card got declined why",
    "how do i reset my password",
    "do you ship to po boxes",
    "what is your return policy",
    "how much does northwind plus cost",
    "can i still cancel my order",
    "my promo code isnt working",
    "how do i get an invoice for my company",
    "how long until i get my refund",
    "my mug arrived broken",
    "what payment methods do you take",
    "do you price match amazon",
    "how do i check the balance on my gift card",
    "how do rewards points work",
    "i want to delete my account",
    "the app keeps crashing on my phone",
    "is there a free trial for plus",
    "do you do gift wrapping",
    "can i pick up my order at the store",
    "how do i change the email on my account",
    "when will the dutch oven be back in stock",
};

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "sb_chat_bench: %s\n", message.c_str());
    std::exit(1);
}

void check_sb(int rc, const char* what) {
    if (rc != SB_OK) die(std::string(what) + ": " + sb_status_name(rc) + ": " + sb_last_error());
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct Options {
    std::string url;
    std::vector<int> threads = {1, 2};
    int turns = 2000;
    int warmup = 100;
    int session_turns = 20;
    int repeat = 1;
    std::string faqs = "faqs.json";
    bool library = true;
    bool ceiling = true;
    bool tsv = false;
    bool keep = false;
};

struct Measurement {
    std::string db;    // "sqlite" or "postgresql"
    std::string kind;  // "supportbot" or "ceiling"
    int threads = 0;
    long turns = 0;
    double seconds = 0;
    double answered = -1;  // share of timed turns answered from an FAQ (library only)
    double p50_us = 0;     // latency of one timed turn, over all threads and passes
    double p99_us = 0;
    double cpu_us = 0;  // this process's CPU time (user + system) per timed turn
    double tps() const { return seconds > 0 ? static_cast<double>(turns) / seconds : 0; }
};

// User + system CPU time of this process so far, in seconds.
double process_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto sec = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

// Runs `threads` workers: each does warm-up turns, all meet at a barrier, then each does `turns`
// timed turns; the time is the wall time from the barrier to the last worker's end.
// work(thread, turn_number, timed) does one turn. Each timed turn's latency (microseconds) is
// appended to latencies_us; cpu_seconds gets the process's CPU time over the timed part.
double run_threads(int threads, int warmup, int turns,
                   const std::function<void(int, long, bool)>& work,
                   std::vector<double>& latencies_us, double& cpu_seconds) {
    std::barrier start(threads + 1);
    std::barrier done(threads + 1);
    std::vector<std::thread> pool;
    pool.reserve(static_cast<std::size_t>(threads));
    std::vector<std::vector<double>> lat(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            std::vector<double>& mine = lat[static_cast<std::size_t>(t)];
            mine.reserve(static_cast<std::size_t>(turns));
            long n = 0;
            for (int i = 0; i < warmup; ++i) work(t, n++, false);
            start.arrive_and_wait();
            for (int i = 0; i < turns; ++i) {
                const auto before = Clock::now();
                work(t, n++, true);
                mine.push_back(
                    std::chrono::duration<double, std::micro>(Clock::now() - before).count());
            }
            done.arrive_and_wait();
        });
    }
    start.arrive_and_wait();
    const auto t0 = Clock::now();
    const double cpu0 = process_cpu_seconds();
    done.arrive_and_wait();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    cpu_seconds = process_cpu_seconds() - cpu0;
    for (auto& th : pool) th.join();
    for (const auto& v : lat) latencies_us.insert(latencies_us.end(), v.begin(), v.end());
    return seconds;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The key that signs the benchmark's access tokens (its accounts are throwaway ones).
const char* kBenchSecret = "sb_chat_bench signing key, 32 bytes or more";

sb_engine* open_engine(const std::string& url) {
    sb_engine_options o = SB_ENGINE_OPTIONS_INIT;
    o.database_url = url.c_str();
    o.secret_key = kBenchSecret;
    sb_engine* e = nullptr;
    check_sb(sb_engine_open(&e, &o), ("opening an engine on " + url).c_str());
    return e;
}

// A principal for an account registered with a throwaway password, through a token minted with
// the signing key (bot_id "" = an admin, else a user of that bot).
sb_principal* new_principal(sb_engine* e, const std::string& bot_id, const std::string& email) {
    const char* password = "bench-Password-1";
    char* id = nullptr;
    check_sb(bot_id.empty() ? sb_admin_register(e, email.c_str(), password, &id)
                            : sb_user_register(e, bot_id.c_str(), email.c_str(), password, &id),
             ("registering " + email).c_str());
    char* token = nullptr;
    check_sb(sb_token_issue(e, id, &token), "issuing a token");
    sb_string_free(id);
    sb_principal* p = nullptr;
    check_sb(sb_principal_from_token(e, token, &p), "verifying a token");
    sb_string_free(token);
    return p;
}

std::string create_bot(sb_engine* e, const std::string& faqs) {
    // A fresh admin per bot (e-mails unique to this process and moment).
    sb_principal* admin = new_principal(
        e, "",
        "bench-" + std::to_string(getpid()) + "-" + std::to_string(now_ms()) + "@bench.test");
    char* id = nullptr;
    check_sb(
        sb_bot_create_from_file(e, admin, "bench bot", faqs.c_str(), SB_FORMAT_AUTO, nullptr, &id),
        ("creating a bot from " + faqs).c_str());
    sb_principal_free(admin);
    std::string out(id);
    sb_string_free(id);
    return out;
}

// A label unique to this process and measurement, so that session ids never collide with an
// earlier run on the same PostgreSQL database.
std::string run_label(int threads, int pass) {
    return std::to_string(getpid()) + "-" + std::to_string(now_ms()) + "-t" +
           std::to_string(threads) + "-p" + std::to_string(pass);
}

// ---- The library ---------------------------------------------------------------------------

// One engine and one bot; each pass() runs `threads` threads of timed turns and returns seconds.
class LibraryRun {
  public:
    LibraryRun(std::string url, int threads, const Options& opt)
        : url_(std::move(url)), threads_(threads), opt_(opt) {
        engine_ = open_engine(url_);
        bot_ = create_bot(engine_, opt.faqs);
        // One user account per thread (registered before the clock starts).
        for (int t = 0; t < threads; ++t)
            users_.push_back(
                new_principal(engine_, bot_, "bench-user-" + std::to_string(t) + "@bench.test"));
    }
    ~LibraryRun() {
        for (sb_principal* p : users_) sb_principal_free(p);
        sb_engine_close(engine_);
    }
    LibraryRun(const LibraryRun&) = delete;
    LibraryRun& operator=(const LibraryRun&) = delete;

    double pass(int warmup, std::vector<double>& latencies_us, double& cpu_seconds) {
        const std::string label = run_label(threads_, passes_++);
        auto work = [&](int t, long n, bool timed) {
            const std::string session = "bench-" + label + "-u" + std::to_string(t) + "-s" +
                                        std::to_string(n / opt_.session_turns);
            // Each thread walks the questions from its own offset.
            const std::string& q =
                kQuestions[static_cast<std::size_t>(n + 7 * t) % kQuestions.size()];
            sb_chat_request req = SB_CHAT_REQUEST_INIT;
            req.bot_id = bot_.c_str();
            req.principal = users_[static_cast<std::size_t>(t)];
            req.session_id = session.c_str();
            req.message = q.c_str();
            req.message_len = q.size();
            sb_reply* reply = nullptr;
            const int rc = sb_chat_send(engine_, &req, &reply);
            if (rc != SB_OK) {
                if (failed_.fetch_add(1) < 5)
                    std::fprintf(stderr, "sb_chat_bench: sb_chat_send: %s: %s\n",
                                 sb_status_name(rc), sb_last_error());
                return;
            }
            sb_reply_info info{};
            if (timed) {
                ++timed_;
                if (sb_reply_get(reply, &info) == SB_OK && info.answered) ++answered_;
            }
            sb_reply_free(reply);
        };
        const double seconds =
            run_threads(threads_, warmup, opt_.turns, work, latencies_us, cpu_seconds);
        if (failed_ > 0) die(std::to_string(failed_.load()) + " turns failed");
        return seconds;
    }
    double answered_share() const {
        return timed_ ? static_cast<double>(answered_) / static_cast<double>(timed_) : 0;
    }

  private:
    std::string url_;
    int threads_;
    const Options& opt_;
    sb_engine* engine_ = nullptr;
    std::string bot_;
    std::vector<sb_principal*> users_;  // one per thread
    int passes_ = 0;
    std::atomic<long> timed_{0};
    std::atomic<long> answered_{0};
    std::atomic<long> failed_{0};
};

// ---- The SQLite ceiling ----------------------------------------------------------------------

// The rows one turn writes, as the library would write them for each question: the user's
// message and the reply (the best FAQ's answer, its id and confidence, as the offline responder
// answers them), computed once through the C API before timing.
struct TurnRows {
    std::string user_text;
    std::string reply_text;
    std::string faq_ids_json;
    double confidence = 0;
};

std::vector<TurnRows> turn_rows(sb_engine* engine, const std::string& faqs) {
    sb_faqset* set = nullptr;
    check_sb(sb_faqset_load_file(engine, faqs.c_str(), SB_FORMAT_AUTO, nullptr, &set),
             "loading the FAQ set");
    std::vector<TurnRows> out;
    for (const std::string& q : kQuestions) {
        TurnRows r;
        r.user_text = q;
        r.reply_text =
            "I'm not sure I have an answer for that. Could you rephrase it, or pick one of the "
            "suggested questions?";
        r.faq_ids_json = "[]";
        sb_results* res = nullptr;
        check_sb(sb_faqset_search(set, q.data(), q.size(), nullptr, &res), "searching");
        size_t count = 0;
        int answered = 0;
        sb_results_count(res, &count);
        sb_results_answered(res, &answered);
        if (count > 0) {
            sb_result top{};
            sb_results_get(res, 0, &top);
            r.confidence = top.confidence;
            if (answered) {
                sb_faq_entry e{};
                sb_faqset_entry(set, top.index, &e);
                r.reply_text = e.answer;
                r.faq_ids_json = std::string("[\"") + e.id + "\"]";
            }
        }
        sb_results_free(res);
        out.push_back(std::move(r));
    }
    sb_faqset_free(set);
    return out;
}

// One connection of the ceiling: the store's settings, the store's way of writing and
// checkpointing (sb::SqliteWriters), and the store's statements, prepared once.
class CeilingConnection {
  public:
    CeilingConnection(const std::string& path, sb::SqliteWriters& writers) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                            nullptr) != SQLITE_OK)
            fail("opening " + path);
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, sb::SqliteWriters::kBusyTimeoutMs);
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA foreign_keys=ON");
        exec("PRAGMA synchronous=NORMAL");
        writer_.emplace(writers, db_);
        begin_ = prepare("BEGIN IMMEDIATE");
        commit_ = prepare("COMMIT");
        session_insert_ = prepare(
            "INSERT INTO sessions (id, bot_id, user_id, created_ms, last_active_ms, status, "
            "escalation_reason, unanswered_streak) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        session_update_ = prepare(
            "UPDATE sessions SET last_active_ms = ?, status = ?, escalation_reason = ?, "
            "unanswered_streak = ? WHERE id = ?");
        message_insert_ = prepare(
            "INSERT INTO messages (session_id, role, text, created_ms, faq_ids, confidence, "
            "escalated, escalation_reason, responder, latency_ms, error) VALUES (?, ?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?)");
    }
    ~CeilingConnection() {
        for (sqlite3_stmt* s : {begin_, commit_, session_insert_, session_update_, message_insert_})
            sqlite3_finalize(s);
        sqlite3_close_v2(db_);
    }
    CeilingConnection(const CeilingConnection&) = delete;
    CeilingConnection& operator=(const CeilingConnection&) = delete;

    // The writes of one turn, in one transaction.
    void turn(const std::string& bot, const std::string& user, const std::string& session,
              bool new_session, const TurnRows& rows) {
        const std::int64_t t = now_ms();
        sb::SqliteWriters::Write writing(*writer_);
        step(begin_);
        if (new_session) {
            bind_text(session_insert_, 1, session);
            bind_text(session_insert_, 2, bot);
            bind_text(session_insert_, 3, user);
            sqlite3_bind_int64(session_insert_, 4, t);
            sqlite3_bind_int64(session_insert_, 5, t);
            bind_text(session_insert_, 6, "open");
            bind_text(session_insert_, 7, "");
            sqlite3_bind_int64(session_insert_, 8, 0);
            step(session_insert_);
        } else {
            sqlite3_bind_int64(session_update_, 1, t);
            bind_text(session_update_, 2, "open");
            bind_text(session_update_, 3, "");
            sqlite3_bind_int64(session_update_, 4, 0);
            bind_text(session_update_, 5, session);
            step(session_update_);
        }
        insert_message(session, "user", rows.user_text, t, "[]", 0, "", 0);
        insert_message(session, "assistant", rows.reply_text, t, rows.faq_ids_json, rows.confidence,
                       "offline", 1);
        step(commit_);
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        die(what + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
    }
    void exec(const char* sql) {
        if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
    }
    sqlite3_stmt* prepare(const char* sql) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
            fail(std::string("preparing ") + sql);
        return s;
    }
    static void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
        sqlite3_bind_text64(s, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
    }
    void step(sqlite3_stmt* s) {
        const int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE) {
            const std::string sql = sqlite3_sql(s);
            sqlite3_reset(s);
            fail(sql);
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    void insert_message(const std::string& session, const char* role, const std::string& text,
                        std::int64_t t, const std::string& faq_ids, double confidence,
                        const char* responder, std::int64_t latency) {
        sqlite3_stmt* s = message_insert_;
        bind_text(s, 1, session);
        bind_text(s, 2, role);
        bind_text(s, 3, text);
        sqlite3_bind_int64(s, 4, t);
        bind_text(s, 5, faq_ids);
        sqlite3_bind_double(s, 6, confidence);
        sqlite3_bind_int64(s, 7, 0);
        bind_text(s, 8, "");
        bind_text(s, 9, responder);
        sqlite3_bind_int64(s, 10, latency);
        sqlite3_bind_int64(s, 11, 0);
        step(s);
    }

    std::optional<sb::SqliteWriters::Connection> writer_;
    sqlite3* db_ = nullptr;
    sqlite3_stmt* begin_ = nullptr;
    sqlite3_stmt* commit_ = nullptr;
    sqlite3_stmt* session_insert_ = nullptr;
    sqlite3_stmt* session_update_ = nullptr;
    sqlite3_stmt* message_insert_ = nullptr;
};

// A fresh file with the library's schema and a bot, and one connection per thread.
class CeilingRun {
  public:
    CeilingRun(const std::string& path, int threads, const Options& opt)
        : threads_(threads), opt_(opt) {
        // The schema and a bot (the sessions' foreign key) come from the library itself.
        sb_engine* engine = open_engine("sqlite://" + path);
        bot_ = create_bot(engine, opt.faqs);
        rows_ = turn_rows(engine, opt.faqs);
        sb_engine_close(engine);
        for (int t = 0; t < threads; ++t)
            conns_.push_back(std::make_unique<CeilingConnection>(path, writers_));
    }

    double pass(int warmup, std::vector<double>& latencies_us, double& cpu_seconds) {
        const std::string label = run_label(threads_, passes_++);
        auto work = [&](int t, long n, bool) {
            const std::string user = "bench-user-" + std::to_string(t);
            const std::string session = "bench-" + label + "-u" + std::to_string(t) + "-s" +
                                        std::to_string(n / opt_.session_turns);
            const TurnRows& r = rows_[static_cast<std::size_t>(n + 7 * t) % rows_.size()];
            conns_[static_cast<std::size_t>(t)]->turn(bot_, user, session,
                                                      n % opt_.session_turns == 0, r);
        };
        return run_threads(threads_, warmup, opt_.turns, work, latencies_us, cpu_seconds);
    }

  private:
    int threads_;
    const Options& opt_;
    std::string bot_;
    std::vector<TurnRows> rows_;
    sb::SqliteWriters writers_;  // before the connections, which refer to it
    std::vector<std::unique_ptr<CeilingConnection>> conns_;
    int passes_ = 0;
};

Measurement make_measurement(const std::string& db, const std::string& kind, int threads,
                             const Options& opt, const std::vector<double>& seconds,
                             std::vector<double> latencies_us,
                             const std::vector<double>& cpu_seconds, double answered) {
    Measurement m;
    m.db = db;
    m.kind = kind;
    m.threads = threads;
    m.turns = static_cast<long>(threads) * opt.turns;
    m.seconds = median(seconds);
    m.answered = answered;
    m.cpu_us = median(cpu_seconds) * 1e6 / static_cast<double>(m.turns);
    std::sort(latencies_us.begin(), latencies_us.end());
    auto at = [&](double q) {
        return latencies_us.empty() ? 0.0
                                    : latencies_us[static_cast<std::size_t>(
                                          q * static_cast<double>(latencies_us.size() - 1))];
    };
    m.p50_us = at(0.50);
    m.p99_us = at(0.99);
    return m;
}

// ---- Main --------------------------------------------------------------------------------------

void remove_sqlite(const std::string& path) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::error_code ec;
        std::filesystem::remove(path + suffix, ec);
    }
}

std::string derived_path(const std::string& path, const std::string& tag) {
    std::string base = path;
    if (base.size() > 3 && base.compare(base.size() - 3, 3, ".db") == 0)
        base.resize(base.size() - 3);
    return base + "-" + tag + ".db";
}

int parse_int(const char* s, const char* what) {
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 100000000) die(std::string("bad ") + what + ": " + s);
    return static_cast<int>(v);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) die(a + " needs a value");
            return argv[++i];
        };
        if (a == "--db") {
            o.url = value();
        } else if (a == "--threads") {
            o.threads.clear();
            std::string list = value();
            std::size_t pos = 0;
            while (pos <= list.size()) {
                const std::size_t comma = std::min(list.find(',', pos), list.size());
                const int n = parse_int(list.substr(pos, comma - pos).c_str(), "--threads");
                if (n < 1) die("--threads: at least 1");
                o.threads.push_back(n);
                pos = comma + 1;
            }
        } else if (a == "--turns") {
            o.turns = parse_int(value(), a.c_str());
        } else if (a == "--warmup") {
            o.warmup = parse_int(value(), a.c_str());
        } else if (a == "--session-turns") {
            o.session_turns = std::max(1, parse_int(value(), a.c_str()));
        } else if (a == "--repeat") {
            o.repeat = std::max(1, parse_int(value(), a.c_str()));
        } else if (a == "--faqs") {
            o.faqs = value();
        } else if (a == "--no-library") {
            o.library = false;
        } else if (a == "--no-ceiling") {
            o.ceiling = false;
        } else if (a == "--tsv") {
            o.tsv = true;
        } else if (a == "--keep") {
            o.keep = true;
        } else if (a == "-h" || a == "--help") {
            std::printf(
                "usage: sb_chat_bench --db sqlite:///tmp/x.db|postgresql://... [--threads 1,2] "
                "[--turns N] [--warmup N] [--session-turns N] [--repeat N] [--faqs PATH] "
                "[--no-library] [--no-ceiling] [--tsv] [--keep]\n");
            std::exit(0);
        } else {
            die("unknown option " + a + " (see --help)");
        }
    }
    if (o.url.empty()) die("--db URL is required (see --help)");
    if (o.turns < 1) die("--turns: at least 1");
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    const std::string_view url(opt.url);
    const bool sqlite = url.rfind("sqlite://", 0) == 0;
    const bool postgres = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
    if (!sqlite && !postgres) die("--db: use sqlite:///path/file.db or postgresql://...");
    const std::string db = sqlite ? "sqlite" : "postgresql";
    const std::string path = sqlite ? opt.url.substr(9) : "";

    std::fprintf(stderr,
                 "sb_chat_bench: supportbot %s, %s, %d timed turns per thread after %d warm-up, "
                 "a new session every %d turns, median of %d pass(es)\n",
                 sb_version(), db.c_str(), opt.turns, opt.warmup, opt.session_turns, opt.repeat);

    std::vector<Measurement> results;
    std::vector<std::string> pass_rows;   // PASS lines (--tsv)
    std::vector<std::string> pair_lines;  // the paired ratios, one line per thread count
    std::vector<std::string> files;
    for (int threads : opt.threads) {
        // The library and the ceiling take turns pass by pass, so that load from elsewhere on a
        // shared machine falls on both alike; each reports the median of its passes.
        std::unique_ptr<LibraryRun> lib;
        std::unique_ptr<CeilingRun> ceiling;
        if (opt.library) {
            std::string u = opt.url;
            if (sqlite) {
                const std::string p = derived_path(path, "sb-t" + std::to_string(threads));
                remove_sqlite(p);
                files.push_back(p);
                u = "sqlite://" + p;
            }
            lib = std::make_unique<LibraryRun>(u, threads, opt);
        }
        if (sqlite && opt.ceiling) {
            const std::string p = derived_path(path, "ceiling-t" + std::to_string(threads));
            remove_sqlite(p);
            files.push_back(p);
            ceiling = std::make_unique<CeilingRun>(p, threads, opt);
        }
        std::vector<double> lib_seconds, lib_latencies, lib_cpu;
        std::vector<double> ceiling_seconds, ceiling_latencies, ceiling_cpu;
        for (int pass = 0; pass < opt.repeat; ++pass) {
            const int warmup = pass == 0 ? opt.warmup : 0;
            std::fprintf(stderr, "sb_chat_bench: %d thread(s), pass %d of %d...\n", threads,
                         pass + 1, opt.repeat);
            double cpu = 0;
            if (lib) {
                lib_seconds.push_back(lib->pass(warmup, lib_latencies, cpu));
                lib_cpu.push_back(cpu);
            }
            if (ceiling) {
                ceiling_seconds.push_back(ceiling->pass(warmup, ceiling_latencies, cpu));
                ceiling_cpu.push_back(cpu);
            }
        }
        const long turns = static_cast<long>(threads) * opt.turns;
        auto passes = [&](const char* kind, const std::vector<double>& seconds) {
            for (std::size_t i = 0; i < seconds.size(); ++i)
                pass_rows.push_back("PASS\t" + db + "\t" + kind + "\t" + std::to_string(threads) +
                                    "\t" + std::to_string(i + 1) + "\t" +
                                    std::to_string(static_cast<double>(turns) / seconds[i]));
        };
        passes("supportbot", lib_seconds);
        passes("ceiling", ceiling_seconds);
        if (lib && ceiling) {
            // Pass i of the library and of the ceiling ran one after the other, under much the
            // same load from elsewhere: the ratio of each such pair, their median and range; and
            // the ratio of all passes' times together (the same turns on both sides).
            std::vector<double> r;
            double lib_total = 0, ceiling_total = 0;
            for (std::size_t i = 0; i < lib_seconds.size(); ++i) {
                r.push_back(ceiling_seconds[i] / lib_seconds[i]);
                lib_total += lib_seconds[i];
                ceiling_total += ceiling_seconds[i];
            }
            const auto [lo, hi] = std::minmax_element(r.begin(), r.end());
            char line[200];
            std::snprintf(line, sizeof line,
                          "paired ratio %s %d thread(s): median %.3f of %zu pass pair(s), range "
                          "%.3f-%.3f; all passes together %.3f",
                          db.c_str(), threads, median(r), r.size(), *lo, *hi,
                          ceiling_total / lib_total);
            pair_lines.emplace_back(line);
        }
        if (lib)
            results.push_back(make_measurement(db, "supportbot", threads, opt, lib_seconds,
                                               std::move(lib_latencies), lib_cpu,
                                               lib->answered_share()));
        if (ceiling)
            results.push_back(make_measurement(db, "ceiling", threads, opt, ceiling_seconds,
                                               std::move(ceiling_latencies), ceiling_cpu, -1));
    }
    if (!opt.keep)
        for (const std::string& p : files) remove_sqlite(p);

    std::printf("%-10s %-10s %7s %8s %9s %11s %9s %8s %8s %8s\n", "database", "kind", "threads",
                "turns", "seconds", "turns/s", "answered", "p50_us", "p99_us", "cpu_us");
    for (const Measurement& m : results) {
        char answered[32] = "-";
        if (m.answered >= 0) std::snprintf(answered, sizeof answered, "%.3f", m.answered);
        std::printf("%-10s %-10s %7d %8ld %9.3f %11.1f %9s %8.1f %8.1f %8.1f\n", m.db.c_str(),
                    m.kind.c_str(), m.threads, m.turns, m.seconds, m.tps(), answered, m.p50_us,
                    m.p99_us, m.cpu_us);
    }
    for (const Measurement& m : results) {
        if (m.kind != "supportbot") continue;
        for (const Measurement& c : results)
            if (c.kind == "ceiling" && c.threads == m.threads)
                std::printf("ratio %s %d thread(s): supportbot / ceiling = %.3f\n", m.db.c_str(),
                            m.threads, m.tps() / c.tps());
    }
    for (const std::string& line : pair_lines) std::printf("%s\n", line.c_str());
    if (opt.tsv)
        for (const Measurement& m : results)
            std::printf("RESULT\t%s\t%s\t%d\t%.1f\t%ld\t%.3f\t%.3f\t%.1f\t%.1f\t%.1f\n",
                        m.db.c_str(), m.kind.c_str(), m.threads, m.tps(), m.turns, m.seconds,
                        m.answered, m.p50_us, m.p99_us, m.cpu_us);
    if (opt.tsv)
        for (const std::string& row : pass_rows) std::printf("%s\n", row.c_str());
    return 0;
}
