// supportbot CLI: search an FAQ set, or evaluate retrieval and escalation on labelled queries.
// Uses only the public C ABI (through its header), as a host application would.
#include <simdjson.h>
#include <supportbot/supportbot.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char* kUsage =
    "usage:\n"
    "  supportbot search --faqs FILE [-k N] [--threshold T] [QUESTION...]\n"
    "      Ranks the FAQs for QUESTION, or for each line read from standard input.\n"
    "  supportbot eval --faqs FILE --queries FILE.jsonl [--json] [--threshold T] [--sweep]\n"
    "      Scores ranking and escalation on labelled queries: one JSON object a line,\n"
    "      {\"query\": \"...\", \"expected_id\": \"...\" or null}. accuracy: covered queries\n"
    "      answered with the right FAQ plus uncovered ones escalated, over all queries.\n"
    "      --sweep: every figure at thresholds 0 to 1, and the best threshold's accuracy.\n"
    "  supportbot register-admin --email EMAIL [--db URL]\n"
    "      Registers an admin account (password from $SUPPORTBOT_PASSWORD, else a prompt).\n"
    "  supportbot login --email EMAIL [--bot ID] [--db URL]\n"
    "      Logs in as an admin, or as a user of bot ID, and prints an access token (a JWT\n"
    "      signed with $SECRET_KEY, valid $ACCESS_TOKEN_EXPIRE_MINUTES minutes, default 30).\n"
    "  supportbot import --faqs FILE [--name NAME] [--email ADMIN] [--db URL]\n"
    "      Creates a bot from an FAQ file (.json or .csv) and prints its id.\n"
    "  supportbot chat (--bot ID | --faqs FILE) [--user EMAIL] [--session ID] [--db URL]\n"
    "      A conversation in the terminal, as the user EMAIL of the bot (default\n"
    "      user@cli.local, registered when new). With --faqs, the bot named after the file\n"
    "      is created, or its FAQs replaced, first.\n"
    "      [--provider offline|gemini|openai] [--model M] [--base-url URL]: with an LLM\n"
    "      provider the replies stream as they are written; the key is $GEMINI_API_KEY\n"
    "      (gemini) or $OPENAI_API_KEY (openai), or $SUPPORTBOT_LLM_API_KEY for either.\n"
    "      $SUPPORTBOT_LLM_PROVIDER, $SUPPORTBOT_LLM_MODEL and $SUPPORTBOT_LLM_BASE_URL stand in\n"
    "      for the options.\n"
    "  supportbot bots [--email ADMIN] [--db URL]\n"
    "  supportbot sessions --bot ID [--user EMAIL] [--email ADMIN] [--db URL]\n"
    "  supportbot history --session ID [--bot ID --user EMAIL] [--email ADMIN] [--db URL]\n"
    "  supportbot summarize --bot ID [--session ID] [--user EMAIL] [--email ADMIN] [--db URL]\n"
    "      Summarises one of the user's sessions (printing its JSON), or every session of the\n"
    "      bot that is new or changed since its last summary.\n"
    "  supportbot summaries --bot ID [--from DATE] [--to DATE] [--email ADMIN] [--db URL]\n"
    "  supportbot analytics --bot ID [--from DATE] [--to DATE] [--email ADMIN] [--db URL]\n"
    "      The bot's stored summaries, or its analytics, as JSON, for the sessions started\n"
    "      from the start of --from to the end of --to (UTC dates YYYY-MM-DD, or Unix ms).\n"
    "  supportbot queue --bot ID [--agent EMAIL] [--email ADMIN] [--db URL]\n"
    "      The bot's sessions waiting for a human agent, oldest first: session, wait, reason and\n"
    "      the user's last message.\n"
    "  supportbot claim|release|close --session ID [--bot ID --agent EMAIL] [--email ADMIN]\n"
    "  supportbot reply --session ID [--bot ID --agent EMAIL] [--email ADMIN] MESSAGE...\n"
    "      Takes a waiting session, hands it back to the bot, closes it, or answers in a session\n"
    "      one has claimed: as the agent EMAIL of bot ID (logging in), else as the owner admin.\n"
    "  supportbot agents --bot ID [--email ADMIN] [--db URL]\n"
    "  supportbot agent-add --bot ID --agent EMAIL [--email ADMIN] [--db URL]\n"
    "  supportbot agent-remove --bot ID --agent ACCOUNT_ID [--email ADMIN] [--db URL]\n"
    "      The owner admin lists, adds (the agent's password from $SUPPORTBOT_AGENT_PASSWORD,\n"
    "      else a prompt) or removes the agent accounts of its bot.\n"
    "  supportbot version\n"
    "The database is --db, else $DATABASE_URL, else sqlite://supportbot.db.\n"
    "Admin commands act as --email ADMIN, logging in with $SUPPORTBOT_PASSWORD (or a prompt);\n"
    "without --email, as the local admin admin@cli.local, made when first needed with a random\n"
    "password nobody needs: the CLI mints its tokens with the signing key, $SECRET_KEY (at least\n"
    "32 bytes; without it, a random key for this run).\n";

[[noreturn]] void fail(const std::string& message, int code = 1) {
    std::fprintf(stderr, "supportbot: %s\n", message.c_str());
    std::exit(code);
}

void check(int status, const char* what) {
    if (status != SB_OK)
        fail(std::string(what) + ": " + sb_status_name(status) + ": " + sb_last_error());
}

struct Args {
    std::string command;
    std::string faqs;
    std::string queries;
    bool json = false;
    bool sweep = false;  // eval: every figure over a range of thresholds
    size_t k = 5;
    double threshold = -1;
    std::string bot, user, session, email, name, db;
    std::string agent;     // hand-over commands: an agent's e-mail (or account id to remove)
    std::string from, to;  // summaries and analytics: dates or Unix ms
    std::vector<std::string> rest;
    std::string provider, model, base_url;  // the LLM ("" = the environment, else offline)
};

Args parse_args(int argc, char** argv) {
    Args a;
    if (argc < 2) fail(std::string("no command\n") + kUsage, 2);
    a.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        auto value = [&](const char* name) -> std::string {
            if (i + 1 >= argc) fail(std::string(name) + " needs a value", 2);
            return argv[++i];
        };
        if (s == "--faqs") {
            a.faqs = value("--faqs");
        } else if (s == "--queries") {
            a.queries = value("--queries");
        } else if (s == "--bot") {
            a.bot = value("--bot");
        } else if (s == "--user") {
            a.user = value("--user");
        } else if (s == "--session") {
            a.session = value("--session");
        } else if (s == "--agent") {
            a.agent = value("--agent");
        } else if (s == "--email") {
            a.email = value("--email");
        } else if (s == "--name") {
            a.name = value("--name");
        } else if (s == "--db") {
            a.db = value("--db");
        } else if (s == "--from") {
            a.from = value("--from");
        } else if (s == "--to") {
            a.to = value("--to");
        } else if (s == "--provider") {
            a.provider = value("--provider");
        } else if (s == "--model") {
            a.model = value("--model");
        } else if (s == "--base-url") {
            a.base_url = value("--base-url");
        } else if (s == "--json") {
            a.json = true;
        } else if (s == "--sweep") {
            a.sweep = true;
        } else if (s == "-k" || s == "--k") {
            std::string v = value("-k");
            char* end = nullptr;
            unsigned long k = std::strtoul(v.c_str(), &end, 10);
            if (!end || *end || k == 0 || k > 1000) fail("-k wants a number from 1 to 1000", 2);
            a.k = k;
        } else if (s == "--threshold") {
            std::string v = value("--threshold");
            char* end = nullptr;
            a.threshold = std::strtod(v.c_str(), &end);
            if (!end || *end || !(a.threshold >= 0 && a.threshold <= 1))
                fail("--threshold wants a number in [0, 1]", 2);
        } else if (s == "-h" || s == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else if (!s.empty() && s[0] == '-') {
            fail("unknown option " + s + "\n" + kUsage, 2);
        } else {
            a.rest.push_back(s);
        }
    }
    return a;
}

struct Set {
    sb_engine* engine = nullptr;
    sb_faqset* set = nullptr;
    ~Set() {
        sb_faqset_free(set);
        sb_engine_close(engine);
    }
};

void open_set(Set& s, const std::string& path) {
    if (path.empty()) fail("--faqs FILE is required", 2);
    check(sb_engine_open(&s.engine, nullptr), "opening the engine");
    check(sb_faqset_load_file(s.engine, path.c_str(), SB_FORMAT_AUTO, nullptr, &s.set),
          "loading the FAQs");
}

struct Results {
    sb_results* r = nullptr;
    ~Results() { sb_results_free(r); }
};

void search_one(const Set& s, const Args& a, const std::string& q) {
    sb_search_options opts = SB_SEARCH_OPTIONS_INIT;
    opts.k = a.k;
    opts.threshold = a.threshold;
    Results res;
    int st = sb_faqset_search(s.set, q.data(), q.size(), &opts, &res.r);
    if (st != SB_OK) {
        std::printf("error: %s\n", sb_last_error());
        return;
    }
    size_t n = 0;
    int answered = 0;
    check(sb_results_count(res.r, &n), "results");
    check(sb_results_answered(res.r, &answered), "results");
    std::printf("%s\n", answered ? "answer:" : "escalate: no FAQ is confident enough");
    for (size_t i = 0; i < n; ++i) {
        sb_result r;
        sb_faq_entry e;
        check(sb_results_get(res.r, i, &r), "results");
        check(sb_faqset_entry(s.set, r.index, &e), "entry");
        std::printf("  %zu. [%s] confidence %.3f  %s\n", i + 1, r.id, r.confidence, e.question);
        if (i == 0 && answered) std::printf("     %s\n", e.answer);
    }
}

int cmd_search(const Args& a) {
    Set s;
    open_set(s, a.faqs);
    if (!a.rest.empty()) {
        std::string q;
        for (const auto& w : a.rest) q += (q.empty() ? "" : " ") + w;
        search_one(s, a, q);
        return 0;
    }
    const bool tty = isatty(0);
    size_t count = 0;
    check(sb_faqset_count(s.set, &count), "count");
    if (tty) std::printf("%zu FAQs loaded. Ask a question (Ctrl-D to quit).\n", count);
    std::string line;
    while (true) {
        if (tty) {
            std::printf("> ");
            std::fflush(stdout);
        }
        if (!std::getline(std::cin, line)) break;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        search_one(s, a, line);
    }
    return 0;
}

struct LabelledQuery {
    std::string text;
    std::optional<std::string> expected;
};

std::vector<LabelledQuery> read_queries(const std::string& path, const Set& s) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open " + path + ": " + std::strerror(errno));
    std::vector<LabelledQuery> out;
    simdjson::dom::parser parser;
    std::string line;
    size_t lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = path + ":" + std::to_string(lineno) + ": ";
        simdjson::dom::element doc;
        if (parser.parse(line).get(doc)) fail(where + "not a JSON object");
        std::string_view q;
        if (doc["query"].get_string().get(q)) fail(where + "\"query\" must be a string");
        LabelledQuery lq{std::string(q), std::nullopt};
        simdjson::dom::element id;
        if (doc["expected_id"].get(id)) fail(where + "\"expected_id\" is missing");
        if (!id.is_null()) {
            std::string_view sv;
            if (id.get_string().get(sv)) fail(where + "\"expected_id\" must be a string or null");
            size_t index = 0;
            std::string ids(sv);
            if (sb_faqset_find(s.set, ids.c_str(), &index) != SB_OK)
                fail(where + "expected_id \"" + ids + "\" is not in the FAQ set");
            lq.expected = ids;
        }
        out.push_back(std::move(lq));
    }
    if (out.empty()) fail(path + ": no queries");
    return out;
}

std::string json_number(double v) {
    if (std::isnan(v)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// What one query's search gave: the best result's confidence (negative: no result), whether it
// is the expected FAQ, and where the expected FAQ ranked (0: not in the results).
struct EvalOutcome {
    double confidence = -1;
    bool covered = false;
    bool top_right = false;
    size_t rank = 0;
};

// The escalation figures of a set of outcomes at one threshold.
struct EvalFigures {
    double threshold = 0;
    double accuracy = NAN;  // covered answered right + uncovered escalated, over all
    double answered_accuracy = NAN;
    double oos_recall = NAN;
    double false_escalation = NAN;
};

EvalFigures figures_at(const std::vector<EvalOutcome>& outcomes, double threshold) {
    size_t covered = 0, uncovered = 0, right = 0, escalated_oos = 0, escalated_covered = 0;
    for (const auto& o : outcomes) {
        // As sb_results_answered decides: the best result's confidence reaches the threshold.
        const bool answered = o.confidence >= 0 && o.confidence >= threshold;
        if (o.covered) {
            ++covered;
            if (answered && o.top_right) ++right;
            if (!answered) ++escalated_covered;
        } else {
            ++uncovered;
            if (!answered) ++escalated_oos;
        }
    }
    auto ratio = [](size_t x, size_t n) {
        return n ? static_cast<double>(x) / static_cast<double>(n) : NAN;
    };
    EvalFigures f;
    f.threshold = threshold;
    f.accuracy = ratio(right + escalated_oos, outcomes.size());
    f.answered_accuracy = ratio(right, covered);
    f.oos_recall = ratio(escalated_oos, uncovered);
    f.false_escalation = ratio(escalated_covered, covered);
    return f;
}

int cmd_eval(const Args& a) {
    if (a.queries.empty()) fail("--queries FILE.jsonl is required", 2);
    Set s;
    open_set(s, a.faqs);
    std::vector<LabelledQuery> queries = read_queries(a.queries, s);

    sb_search_options opts = SB_SEARCH_OPTIONS_INIT;
    opts.k = 10;
    double threshold = a.threshold;
    if (threshold < 0) check(sb_faqset_default_threshold(s.set, &threshold), "threshold");
    opts.threshold = threshold;
    size_t covered = 0, uncovered = 0, top1 = 0, top3 = 0;
    double rr_sum = 0;
    std::vector<EvalOutcome> outcomes;
    outcomes.reserve(queries.size());
    auto start = std::chrono::steady_clock::now();
    for (const auto& q : queries) {
        Results res;
        check(sb_faqset_search(s.set, q.text.data(), q.text.size(), &opts, &res.r), "search");
        size_t n = 0;
        check(sb_results_count(res.r, &n), "results");
        EvalOutcome o;
        o.covered = q.expected.has_value();
        for (size_t i = 0; i < n; ++i) {
            sb_result r;
            check(sb_results_get(res.r, i, &r), "results");
            if (i == 0) o.confidence = r.confidence;
            if (!q.expected || *q.expected != r.id) continue;
            o.rank = i + 1;
            o.top_right = i == 0;
            break;
        }
        outcomes.push_back(o);
        if (!q.expected) {
            ++uncovered;
            continue;
        }
        ++covered;
        if (o.rank == 1) ++top1;
        if (o.rank >= 1 && o.rank <= 3) ++top3;
        if (o.rank) rr_sum += 1.0 / static_cast<double>(o.rank);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto ratio = [](size_t x, size_t n) {
        return n ? static_cast<double>(x) / static_cast<double>(n) : NAN;
    };
    const double qps = static_cast<double>(queries.size()) / std::max(secs, 1e-9);
    const EvalFigures at = figures_at(outcomes, threshold);
    // The sweep: every figure at thresholds 0, 0.05, ..., 1 (printed), and the best accuracy over
    // thresholds 0, 0.01, ..., 1 (what the set's own best threshold would give).
    std::vector<EvalFigures> sweep;
    EvalFigures best = figures_at(outcomes, 0.0);
    if (a.sweep) {
        for (int i = 0; i <= 100; ++i) {
            EvalFigures f = figures_at(outcomes, i / 100.0);
            if (f.accuracy > best.accuracy) best = f;
            if (i % 5 == 0) sweep.push_back(f);
        }
    }
    if (a.json) {
        std::printf(
            "{\"queries\": %zu, \"threshold\": %s, \"accuracy\": %s, \"top1\": %s, \"top3\": %s, "
            "\"mrr\": %s, \"answered_accuracy\": %s, \"oos_recall\": %s, \"false_escalation\": "
            "%s, \"queries_per_second\": %s",
            queries.size(), json_number(threshold).c_str(), json_number(at.accuracy).c_str(),
            json_number(ratio(top1, covered)).c_str(), json_number(ratio(top3, covered)).c_str(),
            json_number(covered ? rr_sum / static_cast<double>(covered) : NAN).c_str(),
            json_number(at.answered_accuracy).c_str(), json_number(at.oos_recall).c_str(),
            json_number(at.false_escalation).c_str(), json_number(qps).c_str());
        if (a.sweep) {
            std::printf(", \"best_threshold\": %s, \"best_accuracy\": %s, \"sweep\": [",
                        json_number(best.threshold).c_str(), json_number(best.accuracy).c_str());
            for (size_t i = 0; i < sweep.size(); ++i) {
                const EvalFigures& f = sweep[i];
                std::printf(
                    "%s{\"threshold\": %s, \"accuracy\": %s, \"answered_accuracy\": %s, "
                    "\"oos_recall\": %s, \"false_escalation\": %s}",
                    i ? ", " : "", json_number(f.threshold).c_str(),
                    json_number(f.accuracy).c_str(), json_number(f.answered_accuracy).c_str(),
                    json_number(f.oos_recall).c_str(), json_number(f.false_escalation).c_str());
            }
            std::printf("]");
        }
        std::printf("}\n");
    } else {
        std::printf("queries            %zu (%zu covered, %zu not covered)\n", queries.size(),
                    covered, uncovered);
        std::printf("threshold          %.3f%s\n", threshold,
                    a.threshold >= 0 ? "" : " (calibrated default)");
        std::printf("accuracy           %.4f\n", at.accuracy);
        std::printf("top-1 accuracy     %.4f\n", ratio(top1, covered));
        std::printf("top-3 accuracy     %.4f\n", ratio(top3, covered));
        std::printf("MRR                %.4f\n",
                    covered ? rr_sum / static_cast<double>(covered) : NAN);
        std::printf("answered accuracy  %.4f\n", at.answered_accuracy);
        std::printf("out-of-scope recall %.4f\n", at.oos_recall);
        std::printf("false escalations  %.4f\n", at.false_escalation);
        std::printf("queries per second %.0f\n", qps);
        if (a.sweep) {
            std::printf("\nthreshold  accuracy  answered  oos_recall  false_escalation\n");
            for (const EvalFigures& f : sweep)
                std::printf("%9.2f  %8.4f  %8.4f  %10.4f  %16.4f\n", f.threshold, f.accuracy,
                            f.answered_accuracy, f.oos_recall, f.false_escalation);
            std::printf("best accuracy %.4f at threshold %.2f (gap to the default %.4f)\n",
                        best.accuracy, best.threshold, best.accuracy - at.accuracy);
        }
    }
    return 0;
}

// ---- Bots and chat ------------------------------------------------------------------------

struct Principal {
    sb_principal* p = nullptr;
    Principal() = default;
    Principal(const Principal&) = delete;
    Principal& operator=(const Principal&) = delete;
    ~Principal() { sb_principal_free(p); }
};

struct Engine {
    sb_engine* engine = nullptr;
    std::string url;
    std::string secret;
    std::string provider, model, base_url, api_key;  // the LLM options, kept alive while opening
    ~Engine() { sb_engine_close(engine); }
};

// Random text from /dev/urandom (std::random_device): a throwaway key or password. Starts with
// characters of three kinds, so that it passes the password policy.
std::string random_text(size_t n) {
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::random_device rd;
    std::string out = "aA1";
    while (out.size() < n) out += chars[rd() % (sizeof chars - 1)];
    return out;
}

std::string env_or(const std::string& given, const char* name) {
    if (!given.empty()) return given;
    const char* v = std::getenv(name);
    return v ? v : "";
}

void open_engine(Engine& e, const Args& a) {
    e.url = a.db;
    if (e.url.empty())
        if (const char* env = std::getenv("DATABASE_URL")) e.url = env;
    if (e.url.empty()) e.url = "sqlite://supportbot.db";
    if (const char* key = std::getenv("SECRET_KEY")) e.secret = key;
    if (e.secret.empty()) e.secret = random_text(48);
    sb_engine_options opts = SB_ENGINE_OPTIONS_INIT;
    opts.database_url = e.url.c_str();
    opts.secret_key = e.secret.c_str();
    if (const char* minutes = std::getenv("ACCESS_TOKEN_EXPIRE_MINUTES")) {
        char* end = nullptr;
        errno = 0;
        const unsigned long m = std::strtoul(minutes, &end, 10);
        if (!*minutes || *end || errno == ERANGE || m == 0 || m > 525600)
            fail("ACCESS_TOKEN_EXPIRE_MINUTES must be a number of minutes from 1 to 525600", 2);
        opts.access_token_minutes = static_cast<unsigned int>(m);
    }
    if (a.threshold >= 0) opts.answer_threshold = a.threshold;
    e.provider = env_or(a.provider, "SUPPORTBOT_LLM_PROVIDER");
    e.model = env_or(a.model, "SUPPORTBOT_LLM_MODEL");
    e.base_url = env_or(a.base_url, "SUPPORTBOT_LLM_BASE_URL");
    e.api_key = env_or("", "SUPPORTBOT_LLM_API_KEY");
    if (e.api_key.empty() && e.provider == "gemini") e.api_key = env_or("", "GEMINI_API_KEY");
    if (e.api_key.empty() && e.provider == "openai") e.api_key = env_or("", "OPENAI_API_KEY");
    opts.llm_provider = e.provider.c_str();
    opts.llm_model = e.model.c_str();
    opts.llm_base_url = e.base_url.c_str();
    opts.llm_api_key = e.api_key.c_str();
    check(sb_engine_open(&e.engine, &opts), "opening the engine");
}

std::string take_string(char* s) {
    std::string out(s ? s : "");
    sb_string_free(s);
    return out;
}

// The password: $SUPPORTBOT_PASSWORD, else read from the terminal without echo.
std::string password_from_user(const char* prompt) {
    if (const char* env = std::getenv("SUPPORTBOT_PASSWORD")) return env;
    if (!isatty(0)) fail("set SUPPORTBOT_PASSWORD (standard input is not a terminal)", 2);
    std::fprintf(stderr, "%s", prompt);
    termios old{};
    tcgetattr(0, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(0, TCSANOW, &quiet);
    std::string line;
    std::getline(std::cin, line);
    tcsetattr(0, TCSANOW, &old);
    std::fprintf(stderr, "\n");
    return line;
}

// The principal of an account the CLI holds locally: looked up by e-mail (bot "" = an admin), or
// registered with a random password nobody needs; then a token minted with the signing key.
void local_principal(const Engine& e, const std::string& bot, const std::string& email,
                     Principal& out) {
    char* id = nullptr;
    int rc = sb_account_lookup(e.engine, bot.empty() ? nullptr : bot.c_str(), email.c_str(), &id);
    if (rc == SB_ENOTFOUND) {
        const std::string password = random_text(32);
        rc = bot.empty()
                 ? sb_admin_register(e.engine, email.c_str(), password.c_str(), &id)
                 : sb_user_register(e.engine, bot.c_str(), email.c_str(), password.c_str(), &id);
    }
    check(rc, "finding or registering the local account");
    const std::string account = take_string(id);
    char* token = nullptr;
    check(sb_token_issue(e.engine, account.c_str(), &token), "issuing a token");
    const std::string t = take_string(token);
    check(sb_principal_from_token(e.engine, t.c_str(), &out.p), "verifying the token");
}

// The admin the command acts as: --email (logging in), else the local admin.
void admin_principal(const Engine& e, const Args& a, Principal& out) {
    if (a.email.empty()) return local_principal(e, "", "admin@cli.local", out);
    const std::string password = password_from_user("password: ");
    char* token = nullptr;
    check(sb_admin_login(e.engine, a.email.c_str(), password.c_str(), &token), "logging in");
    const std::string t = take_string(token);
    check(sb_principal_from_token(e.engine, t.c_str(), &out.p), "verifying the token");
}

// The user --user of bot --bot (a local account), else the admin the command acts as.
void user_or_admin_principal(const Engine& e, const Args& a, Principal& out) {
    if (!a.user.empty())
        local_principal(e, a.bot, a.user, out);
    else
        admin_principal(e, a, out);
}

// Logs in (an admin, or with --bot a user of that bot) and prints the access token, which lives
// $ACCESS_TOKEN_EXPIRE_MINUTES minutes (default 30). Tokens verify only with the same $SECRET_KEY.
int cmd_login(const Args& a) {
    if (a.email.empty()) fail("--email EMAIL is required", 2);
    Engine e;
    open_engine(e, a);
    const std::string password = password_from_user("password: ");
    char* token = nullptr;
    check(a.bot.empty()
              ? sb_admin_login(e.engine, a.email.c_str(), password.c_str(), &token)
              : sb_user_login(e.engine, a.bot.c_str(), a.email.c_str(), password.c_str(), &token),
          "logging in");
    std::printf("%s\n", take_string(token).c_str());
    return 0;
}

int cmd_register_admin(const Args& a) {
    if (a.email.empty()) fail("--email EMAIL is required", 2);
    Engine e;
    open_engine(e, a);
    const std::string password = password_from_user("new password: ");
    char* id = nullptr;
    check(sb_admin_register(e.engine, a.email.c_str(), password.c_str(), &id), "registering");
    std::printf("%s\n", take_string(id).c_str());
    return 0;
}

struct Bots {
    sb_bots* list = nullptr;
    ~Bots() { sb_bots_free(list); }
};

std::string base_name(const std::string& path) {
    auto slash = path.find_last_of('/');
    std::string b = slash == std::string::npos ? path : path.substr(slash + 1);
    auto dot = b.find_last_of('.');
    return dot == std::string::npos || dot == 0 ? b : b.substr(0, dot);
}

std::string import_bot(const Engine& e, const sb_principal* admin, const std::string& faqs,
                       const std::string& name) {
    char* id = nullptr;
    check(sb_bot_create_from_file(e.engine, admin, name.c_str(), faqs.c_str(), SB_FORMAT_AUTO,
                                  nullptr, &id),
          "creating the bot");
    std::string out(id);
    sb_string_free(id);
    return out;
}

int cmd_import(const Args& a) {
    if (a.faqs.empty()) fail("--faqs FILE is required", 2);
    Engine e;
    open_engine(e, a);
    Principal admin;
    admin_principal(e, a, admin);
    const std::string id =
        import_bot(e, admin.p, a.faqs, a.name.empty() ? base_name(a.faqs) : a.name);
    std::printf("%s\n", id.c_str());
    return 0;
}

// The admin's bot named after the FAQ file: its FAQs replaced, or a new one.
std::string bot_for_file(const Engine& e, const Args& a) {
    const std::string name = a.name.empty() ? base_name(a.faqs) : a.name;
    Principal admin;
    admin_principal(e, a, admin);
    Bots bots;
    check(sb_bot_list(e.engine, admin.p, &bots.list), "listing bots");
    size_t n = 0;
    check(sb_bots_count(bots.list, &n), "listing bots");
    for (size_t i = 0; i < n; ++i) {
        sb_bot_info info;
        check(sb_bots_at(bots.list, i, &info), "listing bots");
        if (name == info.name) {
            check(sb_bot_replace_faqs_from_file(e.engine, admin.p, info.id, a.faqs.c_str(),
                                                SB_FORMAT_AUTO, nullptr),
                  "updating the bot's FAQs");
            return info.id;
        }
    }
    return import_bot(e, admin.p, a.faqs, name);
}

struct Reply {
    sb_reply* r = nullptr;
    ~Reply() { sb_reply_free(r); }
};

// Prints a reply as it is streamed.
struct Streamed {
    std::string shown;
};

int print_piece(void* user_data, const char* text, size_t len) {
    auto* s = static_cast<Streamed*>(user_data);
    if (s->shown.empty()) std::fputs("bot> ", stdout);
    s->shown.append(text, len);
    std::fwrite(text, 1, len, stdout);
    std::fflush(stdout);
    return 0;
}

int cmd_chat(const Args& a) {
    Engine e;
    open_engine(e, a);
    std::string bot = a.bot;
    if (bot.empty()) {
        if (a.faqs.empty()) fail("chat needs --bot ID or --faqs FILE", 2);
        bot = bot_for_file(e, a);
    }
    const std::string user = a.user.empty() ? "user@cli.local" : a.user;
    Principal me;
    local_principal(e, bot, user, me);
    std::string session = a.session;
    const bool tty = isatty(0);
    if (tty)
        std::printf("Chatting with bot %s as %s (database %s). Ctrl-D to quit.\n", bot.c_str(),
                    user.c_str(), e.url.c_str());
    std::string line;
    while (true) {
        if (tty) {
            std::printf("you> ");
            std::fflush(stdout);
        }
        if (!std::getline(std::cin, line)) break;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        sb_chat_request req = SB_CHAT_REQUEST_INIT;
        req.bot_id = bot.c_str();
        req.principal = me.p;
        req.session_id = session.empty() ? nullptr : session.c_str();
        req.message = line.data();
        req.message_len = line.size();
        Streamed streamed;
        req.on_text = &print_piece;
        req.user_data = &streamed;
        Reply reply;
        if (sb_chat_send(e.engine, &req, &reply.r) != SB_OK) {
            if (!streamed.shown.empty()) std::printf("\n");
            std::printf("error: %s: %s\n", sb_status_name(sb_last_status()), sb_last_error());
            continue;
        }
        sb_reply_info info;
        check(sb_reply_get(reply.r, &info), "reading the reply");
        session = info.session_id;
        int fallback = 0;
        check(sb_reply_usage(reply.r, &fallback, nullptr, nullptr), "reading the reply");
        if (info.text[0] == '\0' && std::strcmp(info.responder, "handover") == 0) {
            // Waiting for or with a human agent: the bot stays silent.
            std::printf("     [passed on to the human agent]\n");
        } else if (streamed.shown == info.text) {
            std::printf("\n");
        } else {
            // The provider failed after part of the reply was shown: the stored reply differs.
            if (!streamed.shown.empty()) std::printf("\n");
            std::printf("bot> %s\n", info.text);
        }
        if (fallback) std::printf("     [the LLM provider failed; this is the offline answer]\n");
        if (info.escalated)
            std::printf("     [escalated to a human: %s]\n", info.escalation_reason);
        for (size_t i = 0; i < info.suggestion_count; ++i) {
            const char* s = nullptr;
            check(sb_reply_suggestion(reply.r, i, &s), "reading the reply");
            std::printf("     %s %s\n", i == 0 ? "You could also ask:" : "                   ", s);
        }
    }
    if (tty && !session.empty()) std::printf("\nsession %s\n", session.c_str());
    return 0;
}

int cmd_bots(const Args& a) {
    Engine e;
    open_engine(e, a);
    Principal admin;
    admin_principal(e, a, admin);
    Bots bots;
    check(sb_bot_list(e.engine, admin.p, &bots.list), "listing bots");
    size_t n = 0;
    check(sb_bots_count(bots.list, &n), "listing bots");
    for (size_t i = 0; i < n; ++i) {
        sb_bot_info b;
        check(sb_bots_at(bots.list, i, &b), "listing bots");
        std::printf("%s  %-20s owner %-12s %zu FAQs (revision %d)\n", b.id, b.name, b.owner,
                    b.faq_count, b.faq_revision);
    }
    return 0;
}

int cmd_sessions(const Args& a) {
    if (a.bot.empty()) fail("--bot ID is required", 2);
    Engine e;
    open_engine(e, a);
    // A user's own sessions (--user), else every session of the bot, as its owner admin.
    Principal who;
    user_or_admin_principal(e, a, who);
    sb_sessions* list = nullptr;
    check(sb_session_list(e.engine, who.p, a.bot.c_str(), &list), "listing sessions");
    size_t n = 0;
    sb_sessions_count(list, &n);
    for (size_t i = 0; i < n; ++i) {
        sb_session_info s;
        sb_sessions_at(list, i, &s);
        static const char* names[] = {"open", "escalated", "closed", "agent"};
        std::printf("%s  %-9s %zu messages  user %s\n", s.id, names[s.status], s.message_count,
                    s.user_id);
    }
    sb_sessions_free(list);
    return 0;
}

int cmd_history(const Args& a) {
    if (a.session.empty()) fail("--session ID is required", 2);
    if (!a.user.empty() && a.bot.empty()) fail("--user needs --bot", 2);
    Engine e;
    open_engine(e, a);
    Principal who;
    user_or_admin_principal(e, a, who);
    sb_messages* list = nullptr;
    check(sb_session_history(e.engine, who.p, a.session.c_str(), &list), "reading the history");
    size_t n = 0;
    sb_messages_count(list, &n);
    for (size_t i = 0; i < n; ++i) {
        sb_message_info m;
        sb_messages_at(list, i, &m);
        const char* agent = "";
        sb_messages_agent_id(list, i, &agent);
        if (m.role == SB_ROLE_AGENT)
            std::printf("agent %s> %s\n", agent, m.text);
        else
            std::printf("%s> %s%s\n", m.role == SB_ROLE_USER ? "user" : "bot", m.text,
                        m.escalated ? "  [escalated]" : "");
    }
    sb_messages_free(list);
    return 0;
}

// ---- Session summaries and analytics ----

// A UTC date (YYYY-MM-DD) as Unix ms at its start, plus `days`; or a number of Unix ms as given.
int64_t time_arg(const std::string& v, const char* option, int64_t days) {
    int y = 0, m = 0, d = 0;
    char tail = 0;
    if (std::sscanf(v.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && v.size() == 10) {
        if (m < 1 || m > 12 || d < 1 || d > 31) fail(std::string(option) + ": no such date", 2);
        // Days since 1970-01-01 (H. Hinnant's days_from_civil).
        const int64_t yy = y - (m <= 2 ? 1 : 0);
        const int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
        const int64_t yoe = yy - era * 400;
        const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return (era * 146097 + doe - 719468 + days) * 86400000;
    }
    char* end = nullptr;
    errno = 0;
    const long long ms = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || !end || *end || errno == ERANGE)
        fail(std::string(option) + " wants a date YYYY-MM-DD or Unix milliseconds", 2);
    return ms;
}

void time_range(const Args& a, int64_t& from, int64_t& to) {
    from = a.from.empty() ? 0 : time_arg(a.from, "--from", 0);
    // --to names the last day included.
    to = a.to.empty() ? INT64_MAX : time_arg(a.to, "--to", 1);
}

void print_json(char* json) {
    std::printf("%s\n", json);
    sb_string_free(json);
}

int cmd_summarize(const Args& a) {
    if (a.bot.empty()) fail("--bot ID is required", 2);
    Engine e;
    open_engine(e, a);
    Principal who;
    user_or_admin_principal(e, a, who);
    if (!a.session.empty()) {
        char* json = nullptr;
        check(sb_session_summarize(e.engine, who.p, a.session.c_str(), &json),
              "summarising the session");
        print_json(json);
        return 0;
    }
    size_t processed = 0, skipped = 0;
    check(sb_bot_summarize_sessions(e.engine, who.p, a.bot.c_str(), &processed, &skipped),
          "summarising the sessions");
    std::printf("{\"processed\":%zu,\"skipped\":%zu}\n", processed, skipped);
    return 0;
}

// A bot-wide report for its owner admin, printed as the library's JSON: sb_bot_summaries or
// sb_bot_analytics, which take the same arguments.
int cmd_bot_report(const Args& a,
                   int (*report)(sb_engine*, const sb_principal*, const char*, int64_t, int64_t,
                                 char**),
                   const char* what) {
    if (a.bot.empty()) fail("--bot ID is required", 2);
    int64_t from = 0, to = 0;
    time_range(a, from, to);
    Engine e;
    open_engine(e, a);
    Principal admin;
    admin_principal(e, a, admin);
    char* json = nullptr;
    check(report(e.engine, admin.p, a.bot.c_str(), from, to, &json), what);
    print_json(json);
    return 0;
}

// ---- The hand-over to human agents ----

// The agent --agent of bot --bot (logging in), else the admin the command acts as.
void agent_principal(const Engine& e, const Args& a, Principal& out) {
    if (a.agent.empty()) return admin_principal(e, a, out);
    if (a.bot.empty()) fail("--agent needs --bot", 2);
    const std::string password = password_from_user("agent password: ");
    char* token = nullptr;
    check(sb_agent_login(e.engine, a.bot.c_str(), a.agent.c_str(), password.c_str(), &token),
          "logging in as an agent");
    const std::string t = take_string(token);
    check(sb_principal_from_token(e.engine, t.c_str(), &out.p), "verifying the token");
}

int cmd_queue(const Args& a) {
    if (a.bot.empty()) fail("--bot ID is required", 2);
    Engine e;
    open_engine(e, a);
    Principal who;
    agent_principal(e, a, who);
    sb_escalations* list = nullptr;
    check(sb_escalation_queue(e.engine, who.p, a.bot.c_str(), nullptr, &list),
          "reading the escalation queue");
    size_t n = 0;
    sb_escalations_count(list, &n);
    if (n == 0) std::printf("no session is waiting for an agent\n");
    for (size_t i = 0; i < n; ++i) {
        sb_escalation_info x;
        sb_escalations_at(list, i, &x);
        std::printf("%s  waiting %llds  %s  \"%s\"\n", x.session_id,
                    static_cast<long long>(x.wait_ms / 1000), x.reason, x.last_message);
    }
    sb_escalations_free(list);
    return 0;
}

// claim, release, close and reply: one session, as an agent or the owner admin.
int cmd_session_action(const Args& a) {
    if (a.session.empty()) fail("--session ID is required", 2);
    Engine e;
    open_engine(e, a);
    Principal who;
    agent_principal(e, a, who);
    const char* id = a.session.c_str();
    if (a.command == "claim") {
        check(sb_session_claim(e.engine, who.p, id), "claiming the session");
        std::printf("claimed %s\n", id);
    } else if (a.command == "release") {
        check(sb_session_release(e.engine, who.p, id), "handing the session back");
        std::printf("handed %s back to the bot\n", id);
    } else if (a.command == "close") {
        check(sb_session_close(e.engine, who.p, id), "closing the session");
        std::printf("closed %s\n", id);
    } else {
        std::string text;
        for (const auto& w : a.rest) text += (text.empty() ? "" : " ") + w;
        if (text.empty()) fail("reply needs a MESSAGE", 2);
        check(sb_session_agent_reply(e.engine, who.p, id, text.data(), text.size()),
              "posting the reply");
        std::printf("sent\n");
    }
    return 0;
}

int cmd_agents(const Args& a) {
    if (a.bot.empty()) fail("--bot ID is required", 2);
    if (a.command != "agents" && a.agent.empty()) fail("--agent is required", 2);
    Engine e;
    open_engine(e, a);
    Principal admin;
    admin_principal(e, a, admin);
    if (a.command == "agents") {
        char* json = nullptr;
        check(sb_agent_list(e.engine, admin.p, a.bot.c_str(), &json), "listing the agents");
        print_json(json);
    } else if (a.command == "agent-add") {
        const char* env = std::getenv("SUPPORTBOT_AGENT_PASSWORD");
        const std::string password =
            env && *env ? std::string(env) : password_from_user("the agent's new password: ");
        char* id = nullptr;
        check(
            sb_agent_add(e.engine, admin.p, a.bot.c_str(), a.agent.c_str(), password.c_str(), &id),
            "adding the agent");
        std::printf("%s\n", take_string(id).c_str());
    } else {
        check(sb_agent_remove(e.engine, admin.p, a.bot.c_str(), a.agent.c_str()),
              "removing the agent");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args a = parse_args(argc, argv);
    if (a.command == "search") return cmd_search(a);
    if (a.command == "eval") return cmd_eval(a);
    if (a.command == "register-admin") return cmd_register_admin(a);
    if (a.command == "login") return cmd_login(a);
    if (a.command == "import") return cmd_import(a);
    if (a.command == "chat") return cmd_chat(a);
    if (a.command == "bots") return cmd_bots(a);
    if (a.command == "sessions") return cmd_sessions(a);
    if (a.command == "history") return cmd_history(a);
    if (a.command == "summarize") return cmd_summarize(a);
    if (a.command == "summaries")
        return cmd_bot_report(a, sb_bot_summaries, "listing the summaries");
    if (a.command == "analytics")
        return cmd_bot_report(a, sb_bot_analytics, "computing the analytics");
    if (a.command == "queue") return cmd_queue(a);
    if (a.command == "claim" || a.command == "release" || a.command == "close" ||
        a.command == "reply")
        return cmd_session_action(a);
    if (a.command == "agents" || a.command == "agent-add" || a.command == "agent-remove")
        return cmd_agents(a);
    if (a.command == "version") {
        std::printf("supportbot %s (ABI %d)\n", sb_version(), sb_abi_version());
        return 0;
    }
    if (a.command == "-h" || a.command == "--help" || a.command == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    fail("unknown command \"" + a.command + "\"\n" + kUsage, 2);
}
