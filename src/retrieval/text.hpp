// Text analysis for retrieval: Unicode normalisation and case folding (utf8proc), tokenisation,
// stop words and Snowball stemming (libstemmer).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct sb_stemmer;

namespace sb {

// NFKC, case-folded, accents stripped; ASCII input takes a fast path. Input must be valid UTF-8.
std::string fold_text(std::string_view text);

// Splits folded text into word tokens: runs of letters and digits. Apostrophes inside a word are
// dropped ("don't" -> "dont"); every other character separates words.
std::vector<std::string> split_words(std::string_view folded);

bool is_stop_word(std::string_view folded_word) noexcept;

// A pool of Snowball stemmers (a stemmer is not thread-safe; the pool hands one to each caller).
class Stemmer {
  public:
    explicit Stemmer(const std::string& language);  // throws sb::Error(SB_EINVAL) if unknown
    ~Stemmer();
    Stemmer(const Stemmer&) = delete;
    Stemmer& operator=(const Stemmer&) = delete;

    std::string stem(std::string_view word) const;
    // Stems many words with one stemmer taken from the pool.
    std::vector<std::string> stem_all(const std::vector<std::string>& words) const;

  private:
    struct sb_stemmer* take() const;
    void give(struct sb_stemmer* s) const;

    std::string language_;
    mutable std::mutex mutex_;
    mutable std::vector<struct sb_stemmer*> pool_;
};

// A token of analysed text.
struct Token {
    std::string word;  // folded surface form
    std::string stem;
    bool stop = false;
};

// The stems of known words (an FAQ set's vocabulary, as its own text was analysed), so that a
// query's usual words are not stemmed again: a lookup costs a tenth of a Snowball stem. Filled
// once, then only read (safe from many threads).
class StemCache {
  public:
    // Adds a word and the stem the stemmer gave it; a word already there keeps its first stem.
    // Words or stems longer than 255 bytes are not kept.
    void add(std::string_view word, std::string_view stem);
    // The stem of a known word; false when the word is not known.
    bool find(std::string_view word, std::string_view& stem) const noexcept;
    std::size_t size() const noexcept { return count_; }
    std::size_t memory_bytes() const noexcept;

  private:
    struct Slot {
        std::uint32_t offset = 0;  // into text_: the word's bytes, then the stem's
        std::uint32_t hash = 0;
        std::uint8_t word_len = 0;  // 0: an empty slot (no empty word is kept)
        std::uint8_t stem_len = 0;
    };
    void grow();

    std::string text_;
    std::vector<Slot> slots_;  // open addressing, at most three quarters full
    std::size_t count_ = 0;
};

// Folds, splits and stems text; words the cache knows take its stem.
std::vector<Token> analyse(std::string_view text, const Stemmer& stemmer,
                           const StemCache* cache = nullptr);
// The same for words already folded and split (split_words(fold_text(text))).
std::vector<Token> analyse_words(std::vector<std::string> words, const Stemmer& stemmer,
                                 const StemCache* cache = nullptr);

// 64-bit FNV-1a with a seed, for feature hashing.
inline std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed) noexcept {
    std::uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

// Optimal-string-alignment (Damerau) edit distance, giving up above max_distance (returns
// max_distance + 1 then).
int edit_distance(std::string_view a, std::string_view b, int max_distance) noexcept;

}  // namespace sb
