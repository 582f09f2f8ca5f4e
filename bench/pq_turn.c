/* The library's PostgreSQL turn, and nothing else: the store's two turn statements
 * (src/store/postgres_store.cpp, turn_create_session / turn_update_session, the same SQL and the
 * same 34 / 32 text parameters) sent through bare libpq, one turn after another, a new session
 * every 20 turns. Optionally, before every turn, the client writes to `churn` KiB worth of
 * random cache lines of a buffer 64 times as large: a client with a memory footprint and no other
 * work. It answers one question (bench/README.md, "2026-12-03, third session"): does the server
 * spend more CPU on the library's turn because of the statement, or because of what the client
 * does between statements on a core they share?
 *
 *   pq_turn CONNINFO BOT_ID TURNS [CHURN_KIB]
 *
 * Prints one line: turns/s, and the client's CPU time (user + system) per turn in microseconds.
 * The schema and the bot must exist (sb_chat_bench --keep leaves both). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Parameters: the session's (8 to create it, 6 to update it), then 13 for each message. */
enum { kFields = 13, kCreateSession = 8, kUpdateSession = 6, kSessionTurns = 20 };

static const char* const kTypes[kFields] = {"text",    "text",   "bigint", "text",   "float8",
                                            "boolean", "text",   "text",   "bigint", "boolean",
                                            "boolean", "bigint", "bigint"};

/* The two messages' INSERT ... SELECT, parameters from $first (turn_messages_sql in the store). */
static void messages_sql(char* out, size_t size, int first) {
    char values[2048];
    size_t at = 0;
    for (int m = 0; m < 2; ++m) {
        at += (size_t)snprintf(values + at, sizeof values - at, "%s(%d", m ? ", " : "", m + 1);
        for (int i = 0; i < kFields; ++i)
            at += (size_t)snprintf(values + at, sizeof values - at, ", $%d::%s",
                                   first + kFields * m + i, kTypes[i]);
        at += (size_t)snprintf(values + at, sizeof values - at, ")");
    }
    snprintf(out, size,
             "INSERT INTO messages (session_id, role, text, created_ms, faq_ids, confidence, "
             "escalated, escalation_reason, responder, latency_ms, error, fallback, "
             "prompt_tokens, completion_tokens) SELECT s.id, v.role, v.text, v.created_ms, "
             "v.faq_ids, v.confidence, v.escalated, v.escalation_reason, v.responder, "
             "v.latency_ms, v.error, v.fallback, v.prompt_tokens, v.completion_tokens FROM s, "
             "(VALUES %s) AS v(n, role, text, created_ms, faq_ids, confidence, escalated, "
             "escalation_reason, responder, latency_ms, error, fallback, prompt_tokens, "
             "completion_tokens) ORDER BY v.n RETURNING id",
             values);
}

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static double wall_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int prepare(PGconn* c, const char* name, const char* sql) {
    PGresult* r = PQprepare(c, name, sql, 0, NULL);
    const int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "pq_turn: preparing %s: %s", name, PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

/* A whole decimal number in [low, high], or -1. */
static long parse_count(const char* text, long low, long high) {
    char* end = NULL;
    const long v = strtol(text, &end, 10);
    return end != text && *end == '\0' && v >= low && v <= high ? v : -1;
}

int main(int argc, char** argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: pq_turn CONNINFO BOT_ID TURNS [CHURN_KIB]\n");
        return 2;
    }
    const char* bot = argv[2];
    const long turns = parse_count(argv[3], 1, 1000000000L);
    const long churn_kib = argc == 5 ? parse_count(argv[4], 0, 1024) : 0;
    if (turns < 0 || churn_kib < 0) {
        fprintf(stderr, "pq_turn: TURNS at least 1, CHURN_KIB 0 to 1024\n");
        return 2;
    }
    PGconn* c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pq_turn: %s", PQerrorMessage(c));
        PQfinish(c);
        return 1;
    }
    static char messages[4096], create_sql[8192], update_sql[8192];
    messages_sql(messages, sizeof messages, 9);
    snprintf(create_sql, sizeof create_sql,
             "WITH s AS (INSERT INTO sessions (id, bot_id, user_id, created_ms, last_active_ms, "
             "status, escalation_reason, unanswered_streak) VALUES ($1, $2, $3, $4, $5, $6, $7, "
             "$8) ON CONFLICT (id) DO NOTHING RETURNING id) %s",
             messages);
    messages_sql(messages, sizeof messages, 7);
    snprintf(update_sql, sizeof update_sql,
             "WITH s AS (UPDATE sessions SET last_active_ms = $2, status = $3, "
             "escalation_reason = $4, unanswered_streak = $5, revision = revision + 1 WHERE id = "
             "$1 AND revision = $6 RETURNING id) %s",
             messages);
    if (!prepare(c, "turn_create_session", create_sql) ||
        !prepare(c, "turn_update_session", update_sql)) {
        PQfinish(c);
        return 1;
    }

    /* churn_kib KiB of cache lines, each touched line picked at random from 64 times as many. */
    const size_t lines = (size_t)churn_kib * 1024 / 64, pool = lines * 64;
    unsigned char* mem = lines ? calloc(pool, 64) : NULL;
    if (lines && !mem) {
        fprintf(stderr, "pq_turn: out of memory\n");
        PQfinish(c);
        return 1;
    }
    unsigned long long rng = 88172645463325252ull;
    unsigned sink = 0;

    const char* question = "how long does shipping take to canada";
    const char* answer =
        "Orders placed before 2 p.m. ET on a business day ship the same day; others ship the "
        "next business day. Standard shipping then takes 3 to 5 business days and Express takes "
        "1 to 2 business days within the contiguous U.S.; Alaska and Hawaii take 5 to 8 business "
        "days.";
    const char* user = "00000000-0000-4000-8000-000000000001";
    char session[128], ms[32], revision[32];
    /* The user's message and the reply, each: role, text, created_ms, faq_ids, confidence,
     * escalated, escalation_reason, responder, latency_ms, error, fallback, prompt_tokens,
     * completion_tokens. `ms` is filled in every turn. */
    const char* const message_params[kFields] = {
        "user", question, ms, "[]", "0", "false", "", "", "0", "false", "false", "0", "0"};
    const char* const faq_ids = "[\"shipping-times\"]";
    const char* const reply_params[kFields] = {
        "assistant", answer,  ms,  faq_ids, "0.8123456789", "false", "", "offline", "1",
        "false",     "false", "0", "0"};
    const char* params[kCreateSession + 2 * kFields];
    long long rev = 0;
    const double wall0 = wall_seconds(), cpu0 = cpu_seconds();
    for (long t = 0; t < turns; ++t) {
        for (size_t i = 0; i < lines; ++i) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            sink += mem[(rng % pool) * 64]++;
        }
        snprintf(session, sizeof session, "pq-turn-%ld-0000000000000-t1-p0-u0-s%ld", (long)getpid(),
                 t / kSessionTurns);
        snprintf(ms, sizeof ms, "%lld", (long long)(wall_seconds() * 1000));
        /* The session's parameters, then the two messages' (set up before the loop). */
        const int create = t % kSessionTurns == 0;
        if (create) {
            rev = 0;
            const char* session_params[kCreateSession] = {session, bot,    user, ms,
                                                          ms,      "open", "",   "0"};
            memcpy(params, session_params, sizeof session_params);
        } else {
            snprintf(revision, sizeof revision, "%lld", rev++);
            const char* session_params[kUpdateSession] = {session, ms, "open", "", "0", revision};
            memcpy(params, session_params, sizeof session_params);
        }
        const int head = create ? kCreateSession : kUpdateSession;
        memcpy(params + head, message_params, sizeof message_params);
        memcpy(params + head + kFields, reply_params, sizeof reply_params);
        PGresult* r = PQexecPrepared(c, create ? "turn_create_session" : "turn_update_session",
                                     head + 2 * kFields, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 2) {
            fprintf(stderr, "pq_turn: turn %ld: %s(%d rows)\n", t, PQresultErrorMessage(r),
                    PQntuples(r));
            PQclear(r);
            PQfinish(c);
            free(mem);
            return 1;
        }
        PQclear(r);
    }
    const double wall = wall_seconds() - wall0, cpu = cpu_seconds() - cpu0;
    printf("pq_turn\tchurn_kib\t%ld\tturns/s\t%.1f\tclient_cpu_us\t%.1f\t(%u)\n", churn_kib,
           (double)turns / wall, cpu / (double)turns * 1e6, sink & 1u);
    PQfinish(c);
    free(mem);
    return 0;
}
