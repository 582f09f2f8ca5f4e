// Session list pages at depth: the store's keyset pages (Store::list_sessions_page, what
// sb_session_list_page runs) against the same listing read with LIMIT/OFFSET, in one run on one
// database. It reports figures and checks nothing (see README.md, "Session list pages").
//
//   page_bench URL [SESSIONS] [LIMIT]
//
// URL is sqlite:///path/file.db or postgresql://...; the bot "page-bench" gets SESSIONS sessions
// (default 100000) of one user, with two messages each, the first time (later runs reuse them).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/pqxx.hpp"
#include "store/store.hpp"

namespace {

constexpr const char* kBot = "page-bench";

std::string session_id(long i) {
    char id[32];
    std::snprintf(id, sizeof id, "pb%07ld", i);
    return id;
}

// The fastest of `runs` calls of f, in microseconds.
double best_us(int runs, const std::function<void()>& f) {
    double best = 1e18;
    for (int r = 0; r < runs; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        const auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    return best;
}

// The listing's query with OFFSET instead of a key (the same columns as the store's).
const char* offset_sql(bool postgres) {
    return postgres
               ? "SELECT s.id, s.last_active_ms, (SELECT count(*) FROM messages m WHERE "
                 "m.session_id = s.id), COALESCE((SELECT m.text FROM messages m WHERE "
                 "m.session_id = s.id AND m.role = 'user' ORDER BY m.id LIMIT 1), '') FROM "
                 "sessions s WHERE s.bot_id = $1 AND s.user_id = 'u' ORDER BY s.last_active_ms "
                 "DESC, s.id LIMIT $2 OFFSET $3"
               : "SELECT s.id, s.last_active_ms, (SELECT COUNT(*) FROM messages m WHERE "
                 "m.session_id = s.id), COALESCE((SELECT m.text FROM messages m WHERE "
                 "m.session_id = s.id AND m.role = 'user' ORDER BY m.id LIMIT 1), '') FROM "
                 "sessions s WHERE s.bot_id = ?1 AND s.user_id = 'u' ORDER BY s.last_active_ms "
                 "DESC, s.id LIMIT ?2 OFFSET ?3";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s URL [SESSIONS] [LIMIT]\n", argv[0]);
        return 2;
    }
    const std::string url = argv[1];
    const long n = argc > 2 ? std::atol(argv[2]) : 100000;
    const long limit = argc > 3 ? std::atol(argv[3]) : 50;
    const bool postgres = url.rfind("postgres", 0) == 0;
    if (n < 2 * limit || limit < 1) {
        std::fprintf(stderr, "SESSIONS must be at least twice LIMIT\n");
        return 2;
    }
    auto store = sb::Store::open(url, {});  // creates the schema

    // The peer's connection, also used to fill the bot in one transaction.
    sqlite3* lite = nullptr;
    std::optional<pqxx::connection> pg;
    if (postgres) {
        pg.emplace(url);
    } else if (sqlite3_open(url.substr(9).c_str(), &lite) != SQLITE_OK) {
        std::fprintf(stderr, "cannot open %s\n", url.c_str());
        return 1;
    }
    if (!store->get_bot(kBot)) {
        std::fprintf(stderr, "filling %ld sessions...\n", n);
        sb::BotRecord bot;
        bot.id = kBot;
        bot.owner = "bench";
        bot.name = "Page bench";
        sb::FaqEntry e;
        e.id = "a";
        e.question = "q";
        e.answer = "a";
        store->create_bot(bot, {e});
        const std::string sql_s =
            postgres ? "INSERT INTO sessions (id, bot_id, user_id, created_ms, last_active_ms, "
                       "status) SELECT 'pb' || lpad(i::text, 7, '0'), 'page-bench', 'u', 1, 1000 "
                       "+ i, 'open' FROM generate_series(0, " +
                           std::to_string(n - 1) + ") i"
                     : "";
        if (postgres) {
            pqxx::work w(*pg);
            w.exec(sql_s);
            w.exec(
                "INSERT INTO messages (session_id, role, text, created_ms) SELECT s.id, "
                "v.role, CASE v.role WHEN 'user' THEN 'hello ' || s.id ELSE 'reply' END, 1 "
                "FROM sessions s, (VALUES (1, 'user'), (2, 'assistant')) AS v(k, role) WHERE "
                "s.bot_id = 'page-bench' ORDER BY s.id, v.k");
            w.commit();
            pqxx::nontransaction(*pg).exec("ANALYZE");
        } else {
            sqlite3_exec(lite, "BEGIN", nullptr, nullptr, nullptr);
            sqlite3_stmt* s = nullptr;
            sqlite3_stmt* m = nullptr;
            sqlite3_prepare_v2(
                lite,
                "INSERT INTO sessions (id, bot_id, user_id, created_ms, "
                "last_active_ms, status) VALUES (?, 'page-bench', 'u', 1, ?, 'open')",
                -1, &s, nullptr);
            sqlite3_prepare_v2(lite,
                               "INSERT INTO messages (session_id, role, text, created_ms) VALUES "
                               "(?, ?, ?, 1)",
                               -1, &m, nullptr);
            for (long i = 0; i < n; ++i) {
                const std::string id = session_id(i);
                sqlite3_bind_text(s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(s, 2, 1000 + i);
                sqlite3_step(s);
                sqlite3_reset(s);
                for (const char* role : {"user", "assistant"}) {
                    const std::string text = role[0] == 'u' ? "hello " + id : "reply";
                    sqlite3_bind_text(m, 1, id.c_str(), -1, SQLITE_TRANSIENT);
                    sqlite3_bind_text(m, 2, role, -1, SQLITE_STATIC);
                    sqlite3_bind_text(m, 3, text.c_str(), -1, SQLITE_TRANSIENT);
                    sqlite3_step(m);
                    sqlite3_reset(m);
                }
            }
            sqlite3_finalize(s);
            sqlite3_finalize(m);
            if (sqlite3_exec(lite, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
                std::fprintf(stderr, "filling failed: %s\n", sqlite3_errmsg(lite));
                return 1;
            }
        }
    }
    const std::string bot = kBot;
    sqlite3_stmt* offset = nullptr;
    if (lite) sqlite3_prepare_v2(lite, offset_sql(false), -1, &offset, nullptr);
    if (pg) pg->prepare("offset_page", offset_sql(true));

    std::printf("%s, %ld sessions of one user, pages of %ld (best of 20, microseconds)\n",
                postgres ? "PostgreSQL" : "SQLite", n, limit);
    std::printf("%10s %14s %14s %14s\n", "depth", "keyset (user)", "keyset (bot)", "OFFSET");
    for (const long depth : {0L, n / 100, n / 2, n - 2 * limit}) {
        // The key of the row just before the page: session n-depth (active at 1000 + n-depth).
        std::optional<sb::SessionKey> after;
        if (depth > 0) after = sb::SessionKey{1000 + (n - depth), session_id(n - depth)};
        std::size_t rows = 0;
        std::string first;
        const double user = best_us(20, [&] {
            auto page = store->list_sessions_page(bot, std::string("u"), after,
                                                  static_cast<std::size_t>(limit + 1));
            rows = page.size();
            first = page.front().id;
        });
        const double all = best_us(20, [&] {
            store->list_sessions_page(bot, std::nullopt, after,
                                      static_cast<std::size_t>(limit + 1));
        });
        std::string offset_first;
        const double off = best_us(20, [&] {
            if (pg) {
                pqxx::nontransaction w(*pg);
                auto r = w.exec_prepared("offset_page", bot, limit + 1, depth);
                offset_first = r[0][0].as<std::string>();
            } else {
                sqlite3_bind_text(offset, 1, bot.c_str(), -1, SQLITE_STATIC);
                sqlite3_bind_int64(offset, 2, limit + 1);
                sqlite3_bind_int64(offset, 3, depth);
                bool got = false;
                while (sqlite3_step(offset) == SQLITE_ROW)
                    if (!got) {
                        offset_first =
                            reinterpret_cast<const char*>(sqlite3_column_text(offset, 0));
                        got = true;
                    }
                sqlite3_reset(offset);
            }
        });
        if (rows != static_cast<std::size_t>(limit + 1) || first != offset_first) {
            std::fprintf(stderr,
                         "depth %ld: the keyset page (%zu rows from %s) is not the OFFSET "
                         "page (from %s)\n",
                         depth, rows, first.c_str(), offset_first.c_str());
            return 1;
        }
        std::printf("%10ld %14.0f %14.0f %14.0f\n", depth, user, all, off);
    }
    const double ping = best_us(200, [&] { store->ping(); });
    std::printf("ping: %.0f us\n", ping);
    if (offset) sqlite3_finalize(offset);
    if (lite) sqlite3_close(lite);
    return 0;
}
