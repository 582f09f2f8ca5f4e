// FAQ retrieval: a BM25F lexical index over stems (question, alternates and answer as weighted
// fields) with typo correction of out-of-vocabulary query words, and, for sets of a size where it
// pays, a multinomial logistic-regression classifier over word, word-bigram and character n-gram
// TF-IDF features trained on the set's own phrasings. The confidence is calibrated at build time by
// training a second model with some FAQs held out entirely (their phrasings play the questions no
// FAQ covers) and fitting a small logistic model on what the scores look like for right answers,
// wrong answers and uncovered questions.
#include "retrieval/index.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "common/error.hpp"
#include "retrieval/model.hpp"
#include "retrieval/text.hpp"

namespace sb {

namespace {

// A set's synonyms as word sequences: each synonym's words are replaced by its term's, longest
// synonym first where several start at one word.
class SynonymRewriter {
  public:
    explicit SynonymRewriter(const std::vector<SynonymGroup>& groups) {
        for (const SynonymGroup& g : groups) {
            std::vector<std::string> term = split_words(fold_text(g.term));
            for (const std::string& syn : g.synonyms) {
                std::vector<std::string> words = split_words(fold_text(syn));
                if (words.empty() || words == term) continue;
                rules_[words.front()].push_back({std::move(words), term});
            }
        }
        for (auto& [first, rules] : rules_) {
            std::stable_sort(rules.begin(), rules.end(), [](const Rule& a, const Rule& b) {
                return a.from.size() > b.from.size();
            });
        }
    }
    bool empty() const noexcept { return rules_.empty(); }

    std::vector<std::string> rewrite(std::vector<std::string> words) const {
        if (rules_.empty()) return words;
        std::vector<std::string> out;
        out.reserve(words.size());
        for (std::size_t i = 0; i < words.size();) {
            const Rule* hit = nullptr;
            if (auto it = rules_.find(words[i]); it != rules_.end()) {
                for (const Rule& r : it->second) {
                    if (i + r.from.size() <= words.size() &&
                        std::equal(r.from.begin(), r.from.end(),
                                   words.begin() + static_cast<std::ptrdiff_t>(i))) {
                        hit = &r;
                        break;
                    }
                }
            }
            if (!hit) {
                out.push_back(std::move(words[i++]));
                continue;
            }
            out.insert(out.end(), hit->to.begin(), hit->to.end());
            i += hit->from.size();
        }
        return out;
    }

    std::string rewrite_text(std::string_view text) const {
        std::string out;
        for (const std::string& w : rewrite(split_words(fold_text(text)))) {
            if (!out.empty()) out += ' ';
            out += w;
        }
        return out;
    }

  private:
    struct Rule {
        std::vector<std::string> from, to;
    };
    std::unordered_map<std::string, std::vector<Rule>> rules_;
};

}  // namespace

struct FaqIndex::Impl {
    std::vector<FaqEntry> entries;
    SynonymRewriter synonyms;
    Stemmer stemmer;
    StemCache stems;  // the set's own words, for queries
    LexicalIndex lexical;
    std::unique_ptr<Classifier> classifier;  // null for sets too large to train on
    Calibrator calibrator;
    // Scratch buffers handed to one query at a time, so that concurrent queries never share one.
    mutable std::mutex scratch_mutex;
    mutable std::vector<std::unique_ptr<Scratch>> scratch_pool;

    std::unique_ptr<Scratch> take_scratch() const {
        std::lock_guard<std::mutex> lock(scratch_mutex);
        if (scratch_pool.empty()) return std::make_unique<Scratch>();
        auto s = std::move(scratch_pool.back());
        scratch_pool.pop_back();
        return s;
    }
    void give_scratch(std::unique_ptr<Scratch> s) const {
        std::lock_guard<std::mutex> lock(scratch_mutex);
        scratch_pool.push_back(std::move(s));
    }

    Impl(std::vector<FaqEntry> e, const IndexOptions& o)
        : entries(std::move(e)), synonyms(o.synonyms), stemmer(o.language) {}
};

FaqIndex::FaqIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FaqIndex::~FaqIndex() = default;

const std::vector<FaqEntry>& FaqIndex::entries() const noexcept {
    return impl_->entries;
}

double FaqIndex::default_threshold() const noexcept {
    return impl_->calibrator.threshold;
}

std::size_t FaqIndex::memory_bytes() const noexcept {
    std::size_t n = impl_->lexical.memory_bytes() + impl_->stems.memory_bytes();
    if (impl_->classifier) n += impl_->classifier->memory_bytes();
    return n;
}

std::shared_ptr<const FaqIndex> FaqIndex::build(std::vector<FaqEntry> entries,
                                                const IndexOptions& options) {
    if (entries.empty()) throw Error(SB_EINVALID_DATA, "an FAQ set needs at least one entry");
    auto impl = std::make_unique<Impl>(std::move(entries), options);
    Corpus corpus;
    if (impl->synonyms.empty()) {
        corpus = analyse_corpus(impl->entries, impl->stemmer);
    } else {
        // The FAQs are indexed with their synonyms read as terms, as queries will be.
        std::vector<FaqEntry> read = impl->entries;
        for (FaqEntry& e : read) {
            e.question = impl->synonyms.rewrite_text(e.question);
            e.answer = impl->synonyms.rewrite_text(e.answer);
            for (std::string& alt : e.alternates) alt = impl->synonyms.rewrite_text(alt);
        }
        corpus = analyse_corpus(read, impl->stemmer);
    }
    for (const Phrasing& p : corpus.phrasings)
        for (const Token& t : p.tokens) impl->stems.add(t.word, t.stem);
    impl->lexical = LexicalIndex::build(corpus, corpus.all());
    const bool with_classifier = Classifier::worth_training(corpus);
    Model model = build_model(corpus, with_classifier, options.build_threads);
    impl->classifier = std::move(model.classifier);
    impl->calibrator = model.calibrator;
    return std::shared_ptr<const FaqIndex>(new FaqIndex(std::move(impl)));
}

std::vector<SearchHit> FaqIndex::search(std::string_view query, std::size_t k) const {
    return search_words(split_words(fold_text(query)), k);
}

std::vector<SearchHit> FaqIndex::search_words(std::vector<std::string> words, std::size_t k) const {
    const Impl& m = *impl_;
    Query q{analyse_words(m.synonyms.rewrite(std::move(words)), m.stemmer, &m.stems)};
    if (q.tokens.empty() || k == 0) return {};
    std::unique_ptr<Scratch> scratch = m.take_scratch();
    std::vector<Scored> ranked =
        rank(q, m.lexical, m.classifier.get(), m.calibrator, std::max<std::size_t>(k, 2), *scratch);
    m.give_scratch(std::move(scratch));
    std::vector<SearchHit> hits;
    hits.reserve(std::min(k, ranked.size()));
    for (std::size_t i = 0; i < ranked.size() && i < k; ++i)
        hits.push_back({ranked[i].doc, ranked[i].score, ranked[i].confidence});
    return hits;
}

}  // namespace sb
