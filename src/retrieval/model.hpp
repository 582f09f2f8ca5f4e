// The parts of the retrieval index: analysed corpus, BM25F lexical index, classifier, calibrator.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "faq/faq.hpp"
#include "retrieval/text.hpp"

namespace sb {

enum class Field : std::uint8_t { Question = 0, Alternate = 1, Answer = 2 };
constexpr std::size_t kFields = 3;

struct Phrasing {
    std::uint32_t doc = 0;
    Field field = Field::Question;
    std::vector<Token> tokens;
};

struct Corpus {
    std::size_t docs = 0;
    std::vector<Phrasing> phrasings;
    std::vector<std::uint32_t> all() const;  // every phrasing index
};

Corpus analyse_corpus(const std::vector<FaqEntry>& entries, const Stemmer& stemmer);

struct Query {
    std::vector<Token> tokens;
};

Query analyse_query(std::string_view text, const Stemmer& stemmer,
                    const StemCache* cache = nullptr);

// A query term resolved against the lexical vocabulary.
struct QueryTerm {
    std::uint32_t term = 0;
    float idf = 0;
};

struct Scratch;

struct LexicalMatch {
    std::vector<QueryTerm> terms;  // known (or corrected) non-stop terms of the query
    float query_idf_mass = 0;      // idf mass of all the query's non-stop words, known or not
    float known_idf_mass = 0;      // the part of it the vocabulary knows (corrected words: half)
};

// BM25F over stems, one document per FAQ.
class LexicalIndex {
  public:
    // Indexes the given phrasings (all fields of every FAQ, or a subset for calibration).
    static LexicalIndex build(const Corpus& corpus, const std::vector<std::uint32_t>& phrasings);

    // Replaces out-of-vocabulary words of the query by the closest vocabulary word (typos), then
    // resolves the non-stop stems to terms.
    LexicalMatch resolve(Query& query, Scratch& scratch) const;
    // Adds each document's BM25F score to scores (size = docs), and records touched docs.
    void score(const LexicalMatch& match, std::vector<float>& scores,
               std::vector<std::uint32_t>& touched) const;
    // The k best documents by BM25F with their scores, best first (ties: lower document first),
    // skipping documents that cannot make it (MaxScore).
    std::vector<std::pair<std::uint32_t, float>> top(const LexicalMatch& match,
                                                     std::size_t k) const;
    std::size_t memory_bytes() const noexcept;
    std::size_t docs() const noexcept { return docs_; }

    // Reads each group (a line of words that stand for one another) into synonyms: a group's
    // words the vocabulary lacks are read as its word the vocabulary has in the most documents.
    // The first group that names a word wins.
    void add_synonyms(std::span<const std::string_view> groups);

  private:
    bool correct(Token& token, Scratch& scratch) const;
    bool read_synonym(Token& token) const;

    std::size_t docs_ = 0;
    std::unordered_map<std::string, std::uint32_t> term_ids_;  // stem -> term
    std::vector<float> idf_;
    std::vector<std::uint32_t> offsets_;  // CSR postings per term
    std::vector<std::uint32_t> post_docs_;
    std::vector<float> post_weights_;  // saturated BM25F term weight, without idf
    std::vector<float> term_max_;      // highest post weight of each term
    // Typo correction: surface words of the vocabulary and a trigram index over them.
    std::vector<std::string> words_;
    std::vector<std::string> word_stems_;
    std::vector<std::uint32_t> word_df_;
    std::unordered_map<std::string, std::uint32_t> word_ids_;
    std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> trigram_words_;
    std::unordered_map<std::string, std::uint32_t> synonyms_;  // unknown word -> vocabulary word

    friend class LexicalBuilder;
};

// Allocates on Align-byte boundaries (a cache line: a weight row of 64 classes is one line, not
// two).
template <class T, std::size_t Align>
struct AlignedAllocator {
    using value_type = T;
    template <class U>
    struct rebind {
        using other = AlignedAllocator<U, Align>;
    };
    AlignedAllocator() = default;
    template <class U>
    AlignedAllocator(const AlignedAllocator<U, Align>&) noexcept {}
    T* allocate(std::size_t n) {
        return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{Align}));
    }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete (p, std::align_val_t{Align}); }
    friend bool operator==(const AlignedAllocator&, const AlignedAllocator&) noexcept {
        return true;
    }
};

struct SparseVector {
    std::vector<std::uint32_t> ids;
    std::vector<float> values;
};

// Multinomial logistic regression over TF-IDF word, bigram and character n-gram features.
class Classifier {
  public:
    static bool worth_training(const Corpus& corpus) noexcept;
    static Classifier train(const Corpus& corpus, const std::vector<std::uint32_t>& phrasings);

    // The query's features (into scratch.active), its log-probability for every document
    // (scratch.log_probs) and, for every document, the highest cosine similarity between the
    // query and one of its training phrasings (scratch.neighbour).
    void score(const std::vector<Token>& tokens, Scratch& scratch) const;
    std::size_t memory_bytes() const noexcept;
    std::size_t classes() const noexcept { return classes_; }

    // A feature known to the model in the open-addressing table of feature hashes (a zero key
    // is an empty slot; hash 0 is stored as 1): its id and idf, what a query needs before it
    // knows which of its features count. 16 bytes, four to a cache line.
    struct Slot {
        std::uint64_t key = 0;
        std::uint32_t id = 0;
        float idf = 0;
    };
    // One nearest-neighbour posting: a training phrasing and the feature's value in it.
    struct Posting {
        std::uint32_t phrasing = 0;
        float value = 0;
    };

  private:
    void features(const std::vector<Token>& tokens, Scratch& scratch) const;
    void log_probs(Scratch& scratch) const;
    void nearest(Scratch& scratch) const;
    std::size_t group_of(std::uint32_t id) const noexcept {
        return id >= group_begin_[2] ? 2 : id >= group_begin_[1] ? 1 : 0;
    }

    // Feature ids are numbered by group (words, bigrams, character n-grams), and within a group
    // by falling document frequency: the features most queries share sit together at the front
    // of each per-feature array, where they stay in the caches from one query to the next.
    std::size_t classes_ = 0;
    std::array<std::uint32_t, 3> group_begin_{};  // first id of each group
    std::vector<Slot> slots_;
    std::size_t slot_mask_ = 0;
    // Feature-major, aligned to a cache line: w_quant_[id * classes_ + c] * w_scale_[id].
    std::vector<std::int8_t, AlignedAllocator<std::int8_t, 64>> w_quant_;
    std::vector<float> w_scale_;
    std::vector<float> bias_;
    // Training phrasings by feature (CSR: nn_offsets_[id] .. nn_offsets_[id + 1]) for
    // nearest-neighbour similarity.
    std::vector<std::uint32_t> nn_offsets_;
    std::vector<Posting> nn_postings_;
    std::vector<std::uint32_t> nn_label_;  // document of each training phrasing
};

// What the ranking tells about one candidate; the calibrator turns it into a confidence.
struct Evidence {
    float log_prob = 0;       // classifier log-probability (0 without a classifier)
    float margin = 0;         // log-prob (or lexical) gap to the best other candidate
    float coverage = 0;       // share of the query's idf mass known to the vocabulary
    float lexical_match = 0;  // the candidate's BM25F score over the best possible, in [0, 1]
    float neighbour = 0;      // cosine similarity to the candidate's nearest phrasing
    std::array<float, 6> vector() const noexcept {
        return {log_prob, margin, coverage, lexical_match, neighbour, 1.0f};
    }
};

struct Calibrator {
    std::array<double, 6> weights{};
    double threshold = 0.5;
    // The logistic model alone, as fitted.
    double fitted(const Evidence& e) const noexcept;
    // The confidence: the fitted probability, damped when the query's words are mostly unknown.
    double confidence(const Evidence& e) const noexcept;
};

// What an index ranks with besides its lexical index: the classifier (trained on every phrasing;
// null when with_classifier is false: the set ranks with the lexical index alone) and the
// calibrator, fitted on the held-out phrasings of models trained with a quarter of the FAQs held
// out entirely. Deterministic; the models train side by side on up to `threads` threads (0: as
// many as the machine has, at most 5), with the same result for any number.
struct Model {
    std::unique_ptr<Classifier> classifier;
    Calibrator calibrator;
};
Model build_model(const Corpus& corpus, bool with_classifier, std::size_t threads = 0);

struct Scored {
    std::uint32_t doc = 0;
    double score = 0;
    double confidence = 0;
    Evidence evidence;
};

// Per-query working memory, reused across queries (one user at a time).
struct Scratch {
    std::vector<float> scores;  // per document, all zero between queries
    std::vector<std::uint32_t> touched;
    // The classifier's buffers (contents meaningful only within one query).
    struct Active {  // a feature of the query: its id and its weight in the query's vector
        std::uint32_t id = 0;
        float value = 0;
    };
    std::string text;
    std::vector<std::uint64_t> hashes;
    std::vector<std::uint64_t> found;  // id << 32 | the bits of its idf: sorted as integers
    std::vector<Active> active;
    std::vector<float> values;
    std::vector<float> log_probs;
    std::vector<float> exps;  // e^(log_probs - their max), before normalising
    std::vector<float> neighbour;
    std::vector<std::uint32_t> run_starts;
    std::vector<float> similarity;       // per training phrasing, all zero between queries
    std::vector<std::uint32_t> reached;  // phrasings with a similarity in this query
    // Typo correction: a word's trigrams, and per vocabulary word the trigrams it shares with
    // it (all zero between words) and the words with any.
    std::string padded;
    std::vector<std::uint32_t> grams;
    std::vector<std::uint16_t> shared;
    std::vector<std::uint32_t> sharing;
};

// Ranks documents for an analysed query; at most k results, best first.
std::vector<Scored> rank(Query& query, const LexicalIndex& lexical, const Classifier* classifier,
                         const Calibrator& calibrator, std::size_t k, Scratch& scratch);

}  // namespace sb
