// Internal interface shared by the FAQ parsers (faq.cpp, faq_csv.cpp, faq_json.cpp).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "faq/faq.hpp"

namespace sb {

namespace faq_detail {

// Indices into RawEntry::field_where.
enum FaqField : std::size_t { kId, kQuestion, kAnswer, kCategory, kTags, kAlternates, kFieldCount };

// One entry as a parser found it, before the shared checks.
struct RawEntry {
    FaqEntry entry;       // strings untrimmed; entry.id meaningful only when has_id
    bool has_id = false;  // an id was given
    std::string where;    // "entry 3" (JSON) or "line 4" (CSV): names the entry in messages
    // Names each field in messages: `entry 3: "answer"` or `line 4, column 2 ("answer")`.
    std::array<std::string, kFieldCount> field_where;
};

// One synonym group as a parser found it: where names it in messages ("synonyms": "order", or
// line 4, column 3 ("synonyms")).
struct RawSynonyms {
    SynonymGroup group;
    std::string where;
};

// Checks the groups (UTF-8, trimming, emptiness, sizes, a synonym that is its own term or that
// stands for two terms) and returns them, or throws sb::Error.
std::vector<SynonymGroup> finish_synonyms(std::vector<RawSynonyms>&& raw, const FaqLimits& limits);

// Throws SB_ELIMIT when the input is larger than limits.max_bytes.
void check_input_size(std::string_view data, const FaqLimits& limits);

// Runs the checks shared by all formats (UTF-8, trimming, emptiness, sizes, counts, ids) and
// returns the final entries, or throws sb::Error.
std::vector<FaqEntry> finish_entries(std::vector<RawEntry>&& raw, const FaqLimits& limits);

// Trims surrounding ASCII whitespace.
std::string_view trim_ascii(std::string_view s) noexcept;

}  // namespace faq_detail

}  // namespace sb
