// supportbot CLI: search an FAQ set, or evaluate retrieval and escalation on labelled queries.
// Uses only the public C ABI (through its header), as a host application would.
#include <simdjson.h>
#include <supportbot/supportbot.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char* kUsage =
    "usage:\n"
    "  supportbot search --faqs FILE [-k N] [--threshold T] [QUESTION...]\n"
    "      Ranks the FAQs for QUESTION, or for each line read from standard input.\n"
    "  supportbot eval --faqs FILE --queries FILE.jsonl [--json] [--threshold T]\n"
    "      Scores ranking and escalation on labelled queries: one JSON object a line,\n"
    "      {\"query\": \"...\", \"expected_id\": \"...\" or null}.\n"
    "  supportbot version\n";

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
    size_t k = 5;
    double threshold = -1;
    std::vector<std::string> rest;
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
        } else if (s == "--json") {
            a.json = true;
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

int cmd_eval(const Args& a) {
    if (a.queries.empty()) fail("--queries FILE.jsonl is required", 2);
    Set s;
    open_set(s, a.faqs);
    std::vector<LabelledQuery> queries = read_queries(a.queries, s);

    sb_search_options opts = SB_SEARCH_OPTIONS_INIT;
    opts.k = 10;
    opts.threshold = a.threshold;
    size_t covered = 0, uncovered = 0, top1 = 0, top3 = 0, answered_right = 0, oos_escalated = 0,
           false_escalations = 0;
    double rr_sum = 0;
    auto start = std::chrono::steady_clock::now();
    for (const auto& q : queries) {
        Results res;
        check(sb_faqset_search(s.set, q.text.data(), q.text.size(), &opts, &res.r), "search");
        size_t n = 0;
        int answered = 0;
        check(sb_results_count(res.r, &n), "results");
        check(sb_results_answered(res.r, &answered), "results");
        if (!q.expected) {
            ++uncovered;
            if (!answered) ++oos_escalated;
            continue;
        }
        ++covered;
        if (!answered) ++false_escalations;
        for (size_t i = 0; i < n; ++i) {
            sb_result r;
            check(sb_results_get(res.r, i, &r), "results");
            if (*q.expected != r.id) continue;
            if (i == 0) {
                ++top1;
                if (answered) ++answered_right;
            }
            if (i < 3) ++top3;
            rr_sum += 1.0 / static_cast<double>(i + 1);
            break;
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto ratio = [](size_t x, size_t n) {
        return n ? static_cast<double>(x) / static_cast<double>(n) : NAN;
    };
    const double qps = static_cast<double>(queries.size()) / std::max(secs, 1e-9);
    if (a.json) {
        std::printf(
            "{\"queries\": %zu, \"top1\": %s, \"top3\": %s, \"mrr\": %s, \"answered_accuracy\": "
            "%s, \"oos_recall\": %s, \"false_escalation\": %s, \"queries_per_second\": %s}\n",
            queries.size(), json_number(ratio(top1, covered)).c_str(),
            json_number(ratio(top3, covered)).c_str(),
            json_number(covered ? rr_sum / static_cast<double>(covered) : NAN).c_str(),
            json_number(ratio(answered_right, covered)).c_str(),
            json_number(ratio(oos_escalated, uncovered)).c_str(),
            json_number(ratio(false_escalations, covered)).c_str(), json_number(qps).c_str());
    } else {
        double threshold = 0;
        check(sb_faqset_default_threshold(s.set, &threshold), "threshold");
        std::printf("queries            %zu (%zu covered, %zu not covered)\n", queries.size(),
                    covered, uncovered);
        std::printf("threshold          %.3f%s\n", a.threshold >= 0 ? a.threshold : threshold,
                    a.threshold >= 0 ? "" : " (calibrated default)");
        std::printf("top-1 accuracy     %.4f\n", ratio(top1, covered));
        std::printf("top-3 accuracy     %.4f\n", ratio(top3, covered));
        std::printf("MRR                %.4f\n",
                    covered ? rr_sum / static_cast<double>(covered) : NAN);
        std::printf("answered accuracy  %.4f\n", ratio(answered_right, covered));
        std::printf("out-of-scope recall %.4f\n", ratio(oos_escalated, uncovered));
        std::printf("false escalations  %.4f\n", ratio(false_escalations, covered));
        std::printf("queries per second %.0f\n", qps);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args a = parse_args(argc, argv);
    if (a.command == "search") return cmd_search(a);
    if (a.command == "eval") return cmd_eval(a);
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
