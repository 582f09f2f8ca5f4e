#include "retrieval/text.hpp"

#include <libstemmer.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>

#include "common/error.hpp"

namespace sb {

namespace {

bool is_ascii(std::string_view s) noexcept {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

bool is_word_cp(utf8proc_int32_t cp) noexcept {
    if (cp < 0x80) {
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    }
    switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
        case UTF8PROC_CATEGORY_MN:  // marks left inside words of scripts that keep them
        case UTF8PROC_CATEGORY_MC:
            return true;
        default:
            return false;
    }
}

bool is_apostrophe(utf8proc_int32_t cp) noexcept {
    return cp == '\'' || cp == 0x2019;
}

// English stop words: function words that carry no topic. Sorted for binary search.
constexpr std::array<std::string_view, 127> kStopWords = {
    "a",       "about", "above",   "after", "again",  "against", "all",     "am",     "an",
    "and",     "any",   "are",     "as",    "at",     "be",      "because", "been",   "before",
    "being",   "below", "between", "both",  "but",    "by",      "can",     "could",  "did",
    "do",      "does",  "doing",   "down",  "during", "each",    "few",     "for",    "from",
    "further", "had",   "has",     "have",  "having", "he",      "her",     "here",   "hers",
    "herself", "him",   "himself", "his",   "how",    "i",       "if",      "im",     "in",
    "into",    "is",    "it",      "its",   "itself", "ive",     "just",    "let",    "lets",
    "me",      "more",  "most",    "my",    "myself", "need",    "no",      "nor",    "not",
    "now",     "of",    "off",     "on",    "once",   "only",    "or",      "other",  "our",
    "ours",    "out",   "over",    "own",   "please", "same",    "she",     "should", "so",
    "some",    "such",  "than",    "that",  "the",    "their",   "theirs",  "them",   "then",
    "there",   "these", "they",    "this",  "those",  "through", "to",      "too",    "under",
    "until",   "up",    "us",      "very",  "want",   "was",     "we",      "were",   "what",
    "when",    "where", "which",   "while", "who",    "whom",    "why",     "will",   "with",
    "would",
};

}  // namespace

std::string fold_text(std::string_view text) {
    if (is_ascii(text)) {
        std::string out(text);
        for (char& c : out)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        return out;
    }
    utf8proc_uint8_t* mapped = nullptr;
    const auto options =
        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE |
                                       UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                      static_cast<utf8proc_ssize_t>(text.size()), &mapped, options);
    if (n < 0)
        throw Error(SB_EPARSE, std::string("text is not valid UTF-8: ") + utf8proc_errmsg(n));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> guard(mapped, &std::free);
    return std::string(reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(n));
}

std::vector<std::string> split_words(std::string_view folded) {
    std::vector<std::string> words;
    // One allocation instead of one per doubling: a word and its separator take two bytes or
    // more, and most words four or more.
    words.reserve(folded.size() / 4 + 1);
    std::string cur;
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(folded.data());
    auto left = static_cast<utf8proc_ssize_t>(folded.size());
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t len = 1;
        if (*p < 0x80) {
            cp = *p;
        } else {
            len = utf8proc_iterate(p, left, &cp);
            if (len <= 0) {  // invalid byte: treat as a separator
                len = 1;
                cp = ' ';
            }
        }
        if (is_word_cp(cp)) {
            cur.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len));
        } else if (is_apostrophe(cp) && !cur.empty()) {
            // dropped inside a word; a trailing apostrophe simply ends up ignored
        } else if (!cur.empty()) {
            words.push_back(std::move(cur));
            cur.clear();
        }
        p += len;
        left -= len;
    }
    if (!cur.empty()) words.push_back(std::move(cur));
    return words;
}

bool is_stop_word(std::string_view w) noexcept {
    return std::binary_search(kStopWords.begin(), kStopWords.end(), w);
}

Stemmer::Stemmer(const std::string& language) : language_(language) {
    struct sb_stemmer* s = sb_stemmer_new(language_.c_str(), "UTF_8");
    if (!s) throw Error(SB_EINVAL, "unknown stemmer language: \"" + language + "\"");
    pool_.push_back(s);
}

Stemmer::~Stemmer() {
    for (auto* s : pool_) sb_stemmer_delete(s);
}

struct sb_stemmer* Stemmer::take() const {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!pool_.empty()) {
            auto* s = pool_.back();
            pool_.pop_back();
            return s;
        }
    }
    struct sb_stemmer* s = sb_stemmer_new(language_.c_str(), "UTF_8");
    if (!s) throw Error(SB_ENOMEM, "cannot create a stemmer");
    return s;
}

void Stemmer::give(struct sb_stemmer* s) const {
    std::lock_guard<std::mutex> lock(mutex_);
    pool_.push_back(s);
}

std::vector<std::string> Stemmer::stem_all(const std::vector<std::string>& words) const {
    struct sb_stemmer* s = take();
    struct Returner {
        const Stemmer* self;
        struct sb_stemmer* s;
        ~Returner() { self->give(s); }
    } returner{this, s};
    std::vector<std::string> out;
    out.reserve(words.size());
    for (const auto& w : words) {
        const sb_symbol* r = sb_stemmer_stem(s, reinterpret_cast<const sb_symbol*>(w.data()),
                                             static_cast<int>(w.size()));
        if (!r) throw Error(SB_ENOMEM, "stemmer out of memory");
        out.emplace_back(reinterpret_cast<const char*>(r),
                         static_cast<std::size_t>(sb_stemmer_length(s)));
    }
    return out;
}

std::string Stemmer::stem(std::string_view word) const {
    return stem_all({std::string(word)}).front();
}

namespace {

std::uint32_t word_hash(std::string_view word) noexcept {
    const std::uint64_t h = hash_bytes(word, 7);
    return static_cast<std::uint32_t>(h ^ (h >> 32));
}

}  // namespace

void StemCache::add(std::string_view word, std::string_view stem) {
    if (word.empty() || word.size() > 255 || stem.size() > 255) return;
    if (std::string_view known; find(word, known)) return;
    if (text_.size() + word.size() + stem.size() > UINT32_MAX) return;
    if (4 * (count_ + 1) > 3 * slots_.size()) grow();
    const std::uint32_t h = word_hash(word);
    std::size_t at = h & (slots_.size() - 1);
    while (slots_[at].word_len != 0) at = (at + 1) & (slots_.size() - 1);
    slots_[at] = {static_cast<std::uint32_t>(text_.size()), h,
                  static_cast<std::uint8_t>(word.size()), static_cast<std::uint8_t>(stem.size())};
    text_.append(word);
    text_.append(stem);
    ++count_;
}

void StemCache::grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<std::size_t>(64, 2 * old.size()), Slot{});
    for (const Slot& s : old) {
        if (s.word_len == 0) continue;
        std::size_t at = s.hash & (slots_.size() - 1);
        while (slots_[at].word_len != 0) at = (at + 1) & (slots_.size() - 1);
        slots_[at] = s;
    }
}

bool StemCache::find(std::string_view word, std::string_view& stem) const noexcept {
    if (slots_.empty() || word.size() > 255) return false;
    const std::uint32_t h = word_hash(word);
    for (std::size_t at = h & (slots_.size() - 1); slots_[at].word_len != 0;
         at = (at + 1) & (slots_.size() - 1)) {
        const Slot& s = slots_[at];
        if (s.hash == h && s.word_len == word.size() &&
            std::string_view(text_).substr(s.offset, s.word_len) == word) {
            stem = std::string_view(text_).substr(s.offset + s.word_len, s.stem_len);
            return true;
        }
    }
    return false;
}

std::size_t StemCache::memory_bytes() const noexcept {
    return text_.capacity() + slots_.capacity() * sizeof(Slot);
}

std::vector<Token> analyse(std::string_view text, const Stemmer& stemmer, const StemCache* cache) {
    return analyse_words(split_words(fold_text(text)), stemmer, cache);
}

std::vector<Token> analyse_words(std::vector<std::string> words, const Stemmer& stemmer,
                                 const StemCache* cache) {
    std::vector<Token> tokens(words.size());
    // The words the cache does not know, stemmed together (one stemmer taken from the pool), and
    // where they go.
    std::vector<std::string> unknown;
    std::vector<std::size_t> unknown_at;
    for (std::size_t i = 0; i < words.size(); ++i) {
        tokens[i].stop = is_stop_word(words[i]);
        std::string_view stem;
        if (cache && cache->find(words[i], stem)) {
            tokens[i].stem.assign(stem);
        } else {
            unknown.push_back(words[i]);
            unknown_at.push_back(i);
        }
        tokens[i].word = std::move(words[i]);
    }
    if (!unknown.empty()) {
        std::vector<std::string> stems = stemmer.stem_all(unknown);
        for (std::size_t j = 0; j < unknown_at.size(); ++j)
            tokens[unknown_at[j]].stem = std::move(stems[j]);
    }
    return tokens;
}

int edit_distance(std::string_view a, std::string_view b, int max_distance) noexcept {
    const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
    if (std::abs(n - m) > max_distance) return max_distance + 1;
    if (n > 62 || m > 62) return max_distance + 1;
    int prev2[64], prev[64], cur[64];
    for (int j = 0; j <= m; ++j) prev[j] = j;
    for (int i = 1; i <= n; ++i) {
        cur[0] = i;
        int row_min = cur[0];
        for (int j = 1; j <= m; ++j) {
            int cost =
                a[static_cast<std::size_t>(i - 1)] == b[static_cast<std::size_t>(j - 1)] ? 0 : 1;
            int v = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
            if (i > 1 && j > 1 &&
                a[static_cast<std::size_t>(i - 1)] == b[static_cast<std::size_t>(j - 2)] &&
                a[static_cast<std::size_t>(i - 2)] == b[static_cast<std::size_t>(j - 1)])
                v = std::min(v, prev2[j - 2] + 1);
            cur[j] = v;
            row_min = std::min(row_min, v);
        }
        if (row_min > max_distance) return max_distance + 1;
        std::copy(prev, prev + m + 1, prev2);
        std::copy(cur, cur + m + 1, prev);
    }
    return prev[m] > max_distance ? max_distance + 1 : prev[m];
}

}  // namespace sb
