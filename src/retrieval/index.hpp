// The FAQ retrieval index: built once from an FAQ set, immutable afterwards, safe to query from
// many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "faq/faq.hpp"

namespace sb {

struct SearchHit {
    std::uint32_t index = 0;  // entry index in the set
    double score = 0;         // raw ranking score, higher is better
    double confidence = 0;    // in [0, 1]
};

struct IndexOptions {
    std::string language = "english";  // Snowball stemmer
    // Threads a build may use to train its models side by side (the result is the same for any
    // number); 0: as many as the machine has, at most 5.
    unsigned build_threads = 0;
    // The set's own synonyms: each synonym (a word or a phrase) is read as its term, in the FAQs'
    // text and in queries alike.
    std::vector<SynonymGroup> synonyms;
};

class FaqIndex {
  public:
    // Builds the index. Throws sb::Error on bad options (e.g. unknown language).
    static std::shared_ptr<const FaqIndex> build(std::vector<FaqEntry> entries,
                                                 const IndexOptions& options);
    ~FaqIndex();
    FaqIndex(const FaqIndex&) = delete;
    FaqIndex& operator=(const FaqIndex&) = delete;

    const std::vector<FaqEntry>& entries() const noexcept;
    // Ranked results, best first, at most k. Thread-safe. The query must be valid UTF-8.
    std::vector<SearchHit> search(std::string_view query, std::size_t k) const;
    // The same for a query already folded and split into words (split_words(fold_text(query))),
    // for a caller that has them anyway: the same results, without doing that twice.
    std::vector<SearchHit> search_words(std::vector<std::string> words, std::size_t k) const;
    // The confidence needed to answer, calibrated on the set's own phrasings at build time.
    double default_threshold() const noexcept;
    // Approximate bytes held by the index structures (not counting the entries' own text).
    std::size_t memory_bytes() const noexcept;

    struct Impl;

  private:
    explicit FaqIndex(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace sb
