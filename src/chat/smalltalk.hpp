// Small talk: greetings, thanks, goodbyes, "are you a bot?", "ok", "yes"/"no", laughter and emoji.
// Such a message gets a short friendly reply of its kind, is not searched in the FAQs, never
// escalates and does not count as a turn the bot could not answer. The built-in phrases and
// replies are English; a bot extends or replaces them with entries of the reserved category
// "smalltalk" in its FAQ file (README.md, "Small talk"), which are kept out of FAQ retrieval.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "faq/faq.hpp"

namespace sb {

// The reserved FAQ category of small-talk entries (compared ASCII case-insensitively).
inline constexpr std::string_view kSmallTalkCategory = "smalltalk";
bool is_smalltalk_entry(const FaqEntry& entry) noexcept;
// Splits a set into its FAQs and its small-talk entries, each in file order.
std::pair<std::vector<FaqEntry>, std::vector<FaqEntry>> split_smalltalk(
    std::vector<FaqEntry> entries);

struct SmallTalkMatch {
    std::string kind;  // "greeting", "thanks", ... or a bot's own entry id
    std::string reply;
};

class SmallTalk {
  public:
    // The built-in English kinds, in the order of precedence when a message mixes them
    // ("hi, thanks, bye" is a goodbye).
    static const std::vector<std::string_view>& builtin_kinds();

    // The built-in set changed by a bot's small-talk entries (validated FAQ entries of the
    // reserved category): an entry whose id is a built-in kind replaces that kind's reply and
    // adds its question and alternates to the kind's phrases (with the tag "replace", they
    // replace the built-in phrases); any other entry is a kind of its own, which takes
    // precedence over the built-in ones. Throws SB_EINVALID_DATA for an entry with no phrase
    // made of words (nothing could ever match it).
    explicit SmallTalk(const std::vector<FaqEntry>& bot_entries = {});

    // The message's small talk, when all of it is small talk (a message that also asks something,
    // "hi, where is my order?", is not); `words` are split_words(fold_text(message)).
    std::optional<SmallTalkMatch> match(std::string_view message,
                                        const std::vector<std::string>& words) const;
    std::optional<SmallTalkMatch> match(std::string_view message) const;

    // The words left once the small talk around a question is taken off ("hi, where is my
    // order? thanks" -> "where is my order"): leading greetings, acknowledgements and thanks,
    // trailing thanks and goodbyes. Returns the words unchanged when nothing else is left.
    std::vector<std::string> strip(const std::vector<std::string>& words) const;

    // The kinds with their reply and phrases, as JSON: [{"kind", "reply", "phrases": [...]}].
    std::string to_json() const;

  private:
    struct Kind {
        std::string name;
        std::string reply;
        std::vector<std::string> phrases;  // normalised words joined by single spaces
        int rank = 0;                      // precedence: higher wins
    };
    // The words of a phrase or message as the lexicon keeps them (elongations undone).
    std::string normal_word(const std::string& w) const;
    // Covers words[from, to) with phrases; the best kind found, or -1.
    int cover(const std::vector<std::string>& words, std::size_t from, std::size_t to) const;
    void add_phrase(std::size_t kind, const std::string& phrase);
    void rebuild_lexicon();

    std::vector<Kind> kinds_;
    std::unordered_map<std::string, std::size_t> lexicon_;  // phrase -> kind
    std::unordered_map<std::string, int> vocabulary_;       // word -> 1 (in a phrase)
    std::size_t longest_ = 1;                               // words in the longest phrase
};

}  // namespace sb
