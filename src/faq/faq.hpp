// FAQ entries and their parsers (JSON with simdjson, CSV per RFC 4180).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sb {

struct FaqEntry {
    std::string id;  // given or generated ("faq-<n>", 1-based position)
    std::string question;
    std::string answer;
    std::string category;                 // "" when none
    std::vector<std::string> tags;        // may be empty
    std::vector<std::string> alternates;  // other phrasings of the question; may be empty
};

// A bot's own synonyms (as Rasa's synonyms or Dialogflow's entity synonyms): each word or phrase
// of `synonyms` stands for `term`, in questions and in the FAQs' own text alike.
struct SynonymGroup {
    std::string term;
    std::vector<std::string> synonyms;
};

// A whole FAQ file: the entries and the synonyms it declares (JSON: a top-level "synonyms"
// object in the {"faqs": [...]} form; CSV: a "synonyms" column of "term = a | b" cells).
struct FaqSet {
    std::vector<FaqEntry> entries;
    std::vector<SynonymGroup> synonyms;
};

struct FaqLimits {
    std::size_t max_bytes = 64u << 20;
    std::size_t max_entries = 200000;
    std::size_t max_field_bytes = 64u << 10;
    std::size_t max_alternates = 1000;
    std::size_t max_synonyms = 10000;  // synonyms over all groups
};

enum class FaqFormat { Auto, Json, Csv };

// Parses and validates a whole FAQ set. Throws sb::Error (SB_EPARSE, SB_ELIMIT,
// SB_EINVALID_DATA) whose message names the place (entry index, or CSV line and column) and the
// reason. Either every entry is returned or an error is thrown: nothing is half-loaded.
// Format Auto detects by content (first non-space, non-BOM byte '[' or '{' means JSON).
std::vector<FaqEntry> parse_faqs(std::string_view data, FaqFormat format, const FaqLimits& limits);
std::vector<FaqEntry> parse_faqs_json(std::string_view data, const FaqLimits& limits);
std::vector<FaqEntry> parse_faqs_csv(std::string_view data, const FaqLimits& limits);

// The same, with the synonyms the file declares (the functions above ignore them).
FaqSet parse_faq_set(std::string_view data, FaqFormat format, const FaqLimits& limits);
FaqSet parse_faq_set_json(std::string_view data, const FaqLimits& limits);
FaqSet parse_faq_set_csv(std::string_view data, const FaqLimits& limits);
FaqSet load_faq_set_file(const std::string& path, FaqFormat format, const FaqLimits& limits);

// A set's synonyms alone, as the JSON form's "synonyms" object ({"order": ["parcel", ...]}),
// validated as in a file; synonyms_to_json writes that form back, the groups in their order.
std::vector<SynonymGroup> parse_synonyms_json(std::string_view data, const FaqLimits& limits);
std::string synonyms_to_json(const std::vector<SynonymGroup>& groups);

// Reads a file and parses it; Auto picks the format from the extension (.json / .csv, any case),
// else by content. Throws SB_EIO when the file cannot be read, SB_ELIMIT when it is too large.
std::vector<FaqEntry> load_faqs_file(const std::string& path, FaqFormat format,
                                     const FaqLimits& limits);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

}  // namespace sb
