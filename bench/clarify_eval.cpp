// What "Did you mean ...?" does on a labelled set: of the answers the bot would get wrong, the
// share that become a question instead (and whether the right FAQ is among the candidates), and
// of the right answers, the share lost to a question. Uses the chat pipeline's own rule
// (sb::clarification_candidates) on the index's ranked results, with the default threshold.
//   clarify_eval FAQS.json DEV.jsonl
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "chat/engine.hpp"
#include "faq/faq.hpp"
#include "retrieval/index.hpp"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: clarify_eval FAQS.json DEV.jsonl\n");
        return 2;
    }
    try {
        auto faqs = sb::load_faqs_file(argv[1], sb::FaqFormat::Auto, sb::FaqLimits{});
        faqs = sb::split_smalltalk(std::move(faqs)).first;
        auto ix = sb::FaqIndex::build(faqs, sb::IndexOptions{});
        const double t = ix->default_threshold(), e = t / 4;
        std::ifstream in(argv[2]);
        simdjson::dom::parser parser;
        std::string line;
        long right = 0, wrong = 0, right_asked = 0, wrong_asked = 0, wrong_asked_has = 0;
        long near = 0, near_covered_has = 0, near_uncovered = 0, near_covered_not = 0, n = 0;
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            simdjson::dom::element doc = parser.parse(line);
            const std::string q(doc["query"].get_string().value());
            std::string expected;
            if (!doc["expected_id"].is_null())
                expected = std::string(doc["expected_id"].get_string().value());
            ++n;
            const auto hits = ix->search(q, 5);
            const auto cands = sb::clarification_candidates(hits, t, e);
            bool has = false;
            for (std::size_t c : cands) has = has || ix->entries()[hits[c].index].id == expected;
            const bool answers = !hits.empty() && hits[0].confidence >= t;
            if (answers) {
                const bool ok = ix->entries()[hits[0].index].id == expected;
                (ok ? right : wrong) += 1;
                if (!cands.empty()) {
                    (ok ? right_asked : wrong_asked) += 1;
                    if (!ok && has) ++wrong_asked_has;
                }
            } else if (!cands.empty()) {
                ++near;
                if (expected.empty()) {
                    ++near_uncovered;
                } else if (has) {
                    ++near_covered_has;
                } else {
                    ++near_covered_not;
                }
            }
        }
        auto share = [](long a, long b) {
            return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
        };
        std::printf(
            "queries %ld, threshold %.3f\n"
            "would-be wrong answers asked instead: %ld/%ld = %.3f (right FAQ a candidate: %ld)\n"
            "right answers lost to a question:     %ld/%ld = %.3f\n"
            "near misses asked (below the threshold): %ld = %.3f of queries; right FAQ a "
            "candidate %ld, covered but not a candidate %ld, uncovered %ld\n",
            n, t, wrong_asked, wrong, share(wrong_asked, wrong), wrong_asked_has, right_asked,
            right, share(right_asked, right), near, share(near, n), near_covered_has,
            near_covered_not, near_uncovered);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "clarify_eval: %s\n", ex.what());
        return 1;
    }
    return 0;
}
