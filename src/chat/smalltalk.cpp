#include "chat/smalltalk.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <limits>

#include "common/error.hpp"
#include "common/json.hpp"
#include "retrieval/text.hpp"

namespace sb {

namespace {

struct BuiltinKind {
    std::string_view name;
    std::string_view reply;
    std::vector<std::string_view> phrases;
};

// Lowest precedence first: a message that mixes kinds takes the last one's reply.
const std::vector<BuiltinKind>& builtins() {
    static const std::vector<BuiltinKind> kinds = {
        {"emoji", "How can I help you today?", {}},
        {"laughter",
         "Glad to hear it! Anything else I can help with?",
         {"lol", "lolz", "lmao", "lmfao", "rofl", "hehe", "hihi", "xd", "jaja", "funny",
          "thats funny", "very funny"}},
        {"ack",
         "Great! Let me know if there's anything else I can help with.",
         {"ok",
          "okay",
          "k",
          "kk",
          "okk",
          "okey",
          "okie",
          "oki",
          "okey dokey",
          "okie dokie",
          "alright",
          "all right",
          "aight",
          "cool",
          "great",
          "good",
          "nice",
          "fine",
          "perfect",
          "awesome",
          "excellent",
          "wonderful",
          "amazing",
          "brilliant",
          "fantastic",
          "lovely",
          "super",
          "sweet",
          "neat",
          "wow",
          "got it",
          "gotcha",
          "i see",
          "understood",
          "i understand",
          "noted",
          "roger",
          "sounds good",
          "sounds great",
          "makes sense",
          "that makes sense",
          "fair enough",
          "good to know",
          "will do",
          "that helps",
          "that helped",
          "that helps a lot",
          "thats helpful",
          "that is helpful",
          "helpful",
          "very helpful",
          "thats great",
          "that is great",
          "great news",
          "good news",
          "thats good",
          "thats perfect",
          "right",
          "correct",
          "exactly",
          "ah ok",
          "oh ok",
          "oh i see",
          "ok cool",
          "ok great",
          "ok good",
          "thats fine",
          "that works",
          "works for me",
          "done",
          "ok done"}},
        {"yes",
         "Sure, what would you like to know?",
         {"yes", "yeah", "yep", "yup", "ya", "yea", "yes please", "sure", "of course", "absolutely",
          "definitely", "indeed", "affirmative", "yes i do", "i do"}},
        {"no",
         "Alright! If anything else comes up, just ask.",
         {"no", "nope", "nah", "no thanks", "no thank you", "not really", "no need", "nothing",
          "negative", "not now", "maybe later", "im good", "i am good", "im fine", "i dont",
          "no i dont", "not at the moment", "nothing else thanks"}},
        {"greeting",
         "Hello! How can I help you today?",
         {"hi",
          "hello",
          "hey",
          "hiya",
          "heya",
          "howdy",
          "yo",
          "greetings",
          "hallo",
          "helo",
          "hellow",
          "hii",
          "heyy",
          "hola",
          "bonjour",
          "good morning",
          "morning",
          "good afternoon",
          "good evening",
          "evening",
          "good day",
          "anyone there",
          "is anyone there",
          "anybody there",
          "is anybody there",
          "anyone here",
          "is anyone here",
          "are you there",
          "you there",
          "hello anyone",
          "hi again",
          "hello again",
          "im back",
          "test",
          "testing"}},
        {"nevermind",
         "No problem! Is there anything else I can help with?",
         {"never mind", "nevermind", "nvm", "forget it", "forget about it", "no worries",
          "no problem", "np", "its ok", "its okay", "its fine", "all good", "sorry", "my bad",
          "oops", "ignore that", "ignore me", "sorry wrong chat", "wrong chat"}},
        {"help",
         "Of course. What would you like to know? Ask me in your own words.",
         {"help",
          "help me",
          "help please",
          "please help",
          "i need help",
          "need help",
          "i need some help",
          "can you help",
          "can you help me",
          "could you help me",
          "can you help me please",
          "can u help me",
          "can u help",
          "i have a question",
          "i have a few questions",
          "i have some questions",
          "i have another question",
          "another question",
          "quick question",
          "question",
          "got a question",
          "can i ask a question",
          "can i ask you something",
          "can i ask something",
          "may i ask a question",
          "i need assistance",
          "assistance",
          "i need support",
          "support"}},
        {"thanks",
         "You're welcome! Is there anything else I can help with?",
         {"thanks",
          "thank you",
          "thx",
          "thnx",
          "thanx",
          "thnks",
          "thks",
          "tks",
          "ty",
          "tyvm",
          "tysm",
          "thankyou",
          "thank u",
          "thanks a lot",
          "thanks a bunch",
          "thanks so much",
          "thank you so much",
          "thank you very much",
          "thanks very much",
          "many thanks",
          "much appreciated",
          "appreciate it",
          "i appreciate it",
          "appreciated",
          "cheers",
          "thanks for your help",
          "thank you for your help",
          "thanks for the help",
          "thanks for helping",
          "thanks for helping me",
          "thank you for helping",
          "thanks for the info",
          "thanks for the information",
          "thank you for the information",
          "thanks for that",
          "thank you for that",
          "ta",
          "merci",
          "gracias",
          "danke",
          "thanks again",
          "thank you again",
          "thanks anyway",
          "thank you anyway",
          "thanks tho",
          "thanks though",
          "thanks heaps",
          "great help",
          "you are great",
          "youre great",
          "you are the best",
          "youre the best",
          "you rock",
          "love it",
          "love you"}},
        {"goodbye",
         "Goodbye, and thanks for getting in touch! Come back any time.",
         {"bye",
          "goodbye",
          "good bye",
          "bye bye",
          "byebye",
          "see you",
          "see ya",
          "see you later",
          "see you soon",
          "later",
          "laters",
          "cya",
          "take care",
          "have a nice day",
          "have a good day",
          "have a great day",
          "have a nice one",
          "have a good one",
          "have a nice evening",
          "have a good night",
          "good night",
          "gn",
          "farewell",
          "talk later",
          "talk to you later",
          "ttyl",
          "thats all",
          "that is all",
          "thats it",
          "that is it",
          "thats all i needed",
          "thats all for now",
          "nothing else",
          "im done",
          "i am done",
          "all done",
          "bye for now",
          "gotta go",
          "i have to go",
          "you too",
          "same to you",
          "you as well"}},
        {"how_are_you",
         "I'm doing well, thanks for asking! How can I help you today?",
         {"how are you",
          "how r u",
          "how are u",
          "how are you doing",
          "how are you today",
          "how are you doing today",
          "how is it going",
          "hows it going",
          "how do you do",
          "whats up",
          "sup",
          "wassup",
          "how have you been",
          "how you doing",
          "hows your day",
          "how is your day",
          "how are things",
          "you ok",
          "you good",
          "are you ok",
          "are you well",
          "how is everything"}},
        {"bot",
         "I'm an automated assistant: I answer from this help centre's articles. If you'd "
         "rather talk to a person, just say \"talk to an agent\".",
         {"are you a bot",
          "are you a robot",
          "are you human",
          "are you a human",
          "are you real",
          "are you a real person",
          "are you a person",
          "is this a bot",
          "is this a robot",
          "is this a real person",
          "is this a person",
          "is this a human",
          "is this real",
          "is this automated",
          "are you automated",
          "am i talking to a bot",
          "am i talking to a robot",
          "am i talking to a human",
          "am i talking to a real person",
          "am i talking to a person",
          "am i chatting with a bot",
          "am i speaking to a bot",
          "am i speaking to a human",
          "are you ai",
          "are you an ai",
          "is this ai",
          "is this an ai",
          "are you a machine",
          "are you a computer",
          "are you a chatbot",
          "is this a chatbot",
          "who are you",
          "what are you",
          "who is this",
          "whats your name",
          "what is your name",
          "who am i talking to",
          "who am i speaking to",
          "who am i speaking with",
          "robot",
          "human or bot",
          "bot or human",
          "or a bot",
          "or a human",
          "or a robot",
          "or bot",
          "or human"}},
    };
    return kinds;
}

// Words that go with any small talk without changing it ("thanks so much guys").
constexpr std::array<std::string_view, 27> kFillers = {
    "again",  "ah",     "all",  "and",    "bot", "buddy", "d",    "dear",  "everyone",
    "folks",  "friend", "guys", "hm",     "hmm", "just",  "mate", "oh",    "p",
    "please", "pls",    "plz",  "really", "so",  "team",  "then", "there", "well"};

constexpr std::size_t kFiller = std::numeric_limits<std::size_t>::max();

bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// "haha", "hahaha", "ahah", "hehehe", "jajaja", "lolol", "lmaooo", "xdd".
bool is_laugh(std::string_view w) {
    if (w.size() >= 4) {
        std::size_t h = 0, v = 0;
        bool ok = true;
        for (char c : w) {
            if (c == 'h' || c == 'j') {
                ++h;
            } else if (c == 'a' || c == 'e' || c == 'i' || c == 'o') {
                ++v;
            } else {
                ok = false;
                break;
            }
        }
        if (ok && h >= 2 && v >= 1 && h + 1 >= v) {
            // alternating: no two vowels in a row
            bool alternating = true;
            for (std::size_t i = 1; i < w.size(); ++i)
                if (w[i] != 'h' && w[i] != 'j' && w[i - 1] != 'h' && w[i - 1] != 'j')
                    alternating = false;
            if (alternating) return true;
        }
    }
    if (w.size() >= 3 && w.rfind("lol", 0) == 0 &&
        w.find_first_not_of("lo") == std::string_view::npos)
        return true;
    if (w.rfind("lmao", 0) == 0 && w.find_first_not_of("lmao") == std::string_view::npos)
        return true;
    if (w.size() >= 2 && w[0] == 'x' && w.find_first_not_of('d', 1) == std::string_view::npos)
        return true;
    return false;
}

// Runs of three or more of one letter cut to `keep` ("heyyy" -> "hey" with 1).
std::string squeeze(const std::string& w, std::size_t keep) {
    std::string out;
    for (std::size_t i = 0; i < w.size();) {
        std::size_t j = i;
        while (j < w.size() && w[j] == w[i]) ++j;
        out.append(j - i >= 3 ? keep : j - i, w[i]);
        i = j;
    }
    return out;
}

// Damerau-Levenshtein distance of at most one (one insertion, deletion, substitution or
// transposition of neighbours).
bool within_one_edit(std::string_view a, std::string_view b) {
    if (a.size() > b.size()) std::swap(a, b);
    if (b.size() - a.size() > 1) return false;
    std::size_t i = 0;
    while (i < a.size() && a[i] == b[i]) ++i;
    if (i == a.size()) return true;
    if (a.size() == b.size()) {
        if (a.substr(i + 1) == b.substr(i + 1)) return true;  // substitution
        return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] &&
               a.substr(i + 2) == b.substr(i + 2);  // transposition
    }
    return a.substr(i) == b.substr(i + 1);  // insertion
}

// Emoji (and emoticons) that read as a kind of small talk; 0 for none.
enum class Mood { None, Other, Laugh, Ack, Wave, Thanks };

Mood mood_of_code_point(utf8proc_int32_t c) {
    switch (c) {
        case 0x1F602:
        case 0x1F923:
        case 0x1F606:
        case 0x1F605:
        case 0x1F601:
        case 0x1F604:
        case 0x1F600:
        case 0x1F639:
        case 0x1F603:
            return Mood::Laugh;
        case 0x1F44D:
        case 0x1F44C:
        case 0x1F642:
        case 0x1F60A:
        case 0x2705:
        case 0x1F44F:
        case 0x263A:
        case 0x1F609:
        case 0x2764:
        case 0x1F4AF:
        case 0x1F60D:
        case 0x1F970:
        case 0x2714:
            return Mood::Ack;
        case 0x1F44B:
            return Mood::Wave;
        case 0x1F64F:
            return Mood::Thanks;
        default:
            break;
    }
    // Pictographs, symbols and dingbats: emoji of no particular kind.
    if ((c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0x2600 && c <= 0x27BF)) return Mood::Other;
    return Mood::None;
}

Mood mood_of(std::string_view message) {
    Mood best = Mood::None;
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(message.data());
    auto left = static_cast<utf8proc_ssize_t>(message.size());
    while (left > 0) {
        utf8proc_int32_t c = 0;
        utf8proc_ssize_t len = utf8proc_iterate(p, left, &c);
        if (len <= 0) break;
        const Mood m = mood_of_code_point(c);
        if (m != Mood::None && (best == Mood::None || best == Mood::Other)) best = m;
        p += len;
        left -= len;
    }
    if (best == Mood::None) {
        for (std::string_view e : {":)", ":-)", ":D", ":-D", "=)", ";)", ";-)", "(:", ":p", ":P"})
            if (message.find(e) != std::string_view::npos) return Mood::Ack;
    }
    return best;
}

std::string join(const std::vector<std::string>& words, std::size_t from, std::size_t to) {
    std::string s;
    for (std::size_t i = from; i < to; ++i) {
        if (i > from) s += ' ';
        s += words[i];
    }
    return s;
}

}  // namespace

bool is_smalltalk_entry(const FaqEntry& entry) noexcept {
    return ascii_iequals(entry.category, kSmallTalkCategory);
}

std::pair<std::vector<FaqEntry>, std::vector<FaqEntry>> split_smalltalk(
    std::vector<FaqEntry> entries) {
    std::pair<std::vector<FaqEntry>, std::vector<FaqEntry>> out;
    for (FaqEntry& e : entries)
        (is_smalltalk_entry(e) ? out.second : out.first).push_back(std::move(e));
    return out;
}

const std::vector<std::string_view>& SmallTalk::builtin_kinds() {
    static const std::vector<std::string_view> names = [] {
        std::vector<std::string_view> v;
        for (const auto& k : builtins()) v.push_back(k.name);
        return v;
    }();
    return names;
}

SmallTalk::SmallTalk(const std::vector<FaqEntry>& bot_entries) {
    for (const auto& b : builtins()) {
        Kind k;
        k.name = std::string(b.name);
        k.reply = std::string(b.reply);
        k.rank = static_cast<int>(kinds_.size());
        for (std::string_view p : b.phrases) k.phrases.emplace_back(p);
        kinds_.push_back(std::move(k));
    }
    int own_rank = 1000;
    for (const FaqEntry& e : bot_entries) {
        std::vector<std::string> phrases;
        phrases.push_back(e.question);
        for (const std::string& a : e.alternates) phrases.push_back(a);
        std::vector<std::string> normal;
        for (const std::string& p : phrases) {
            const std::vector<std::string> w = split_words(fold_text(p));
            if (!w.empty()) normal.push_back(join(w, 0, w.size()));
        }
        if (normal.empty())
            throw Error(SB_EINVALID_DATA,
                        "small-talk entry \"" + e.id + "\" has no phrase with words in it");
        auto it = std::find_if(kinds_.begin(), kinds_.end(),
                               [&](const Kind& k) { return k.name == e.id; });
        const bool replace = std::any_of(e.tags.begin(), e.tags.end(), [](const std::string& t) {
            return ascii_iequals(t, "replace");
        });
        if (it == kinds_.end()) {
            Kind k;
            k.name = e.id;
            k.rank = own_rank++;
            kinds_.push_back(std::move(k));
            it = kinds_.end() - 1;
        }
        it->reply = e.answer;
        if (replace) it->phrases.clear();
        for (std::string& p : normal) it->phrases.push_back(std::move(p));
    }
    rebuild_lexicon();
}

void SmallTalk::rebuild_lexicon() {
    lexicon_.clear();
    vocabulary_.clear();
    longest_ = 1;
    for (std::string_view f : kFillers) lexicon_.emplace(std::string(f), kFiller);
    // By rank, so that a phrase two kinds share belongs to the one that takes precedence (a
    // bot's own kinds).
    std::vector<std::size_t> order(kinds_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return kinds_[a].rank < kinds_[b].rank; });
    for (std::size_t k : order)
        for (const std::string& p : kinds_[k].phrases) add_phrase(k, p);
}

void SmallTalk::add_phrase(std::size_t kind, const std::string& phrase) {
    lexicon_[phrase] = kind;
    std::size_t words = 1, start = 0;
    for (std::size_t i = 0; i <= phrase.size(); ++i) {
        if (i == phrase.size() || phrase[i] == ' ') {
            if (i > start) vocabulary_[phrase.substr(start, i - start)] = 1;
            start = i + 1;
            if (i < phrase.size()) ++words;
        }
    }
    longest_ = std::max(longest_, words);
}

std::string SmallTalk::normal_word(const std::string& w) const {
    if (vocabulary_.count(w) || lexicon_.count(w)) return w;
    if (is_laugh(w)) return "lol";
    for (std::size_t keep : {2u, 1u}) {
        std::string s = squeeze(w, keep);
        if (s != w && (vocabulary_.count(s) || lexicon_.count(s))) return s;
        if (s != w && is_laugh(s)) return "lol";
    }
    // A slip of one letter in a longer word ("thnaks", "goodbey").
    if (w.size() >= 6) {
        for (const auto& [v, unused] : vocabulary_) {
            (void)unused;
            if (v.size() >= 5 && within_one_edit(w, v)) return v;
        }
    }
    return w;
}

int SmallTalk::cover(const std::vector<std::string>& words, std::size_t from,
                     std::size_t to) const {
    // Fewest phrases first (so "no thanks" is one phrase, not "no" and "thanks"), then the
    // kind of highest precedence. State per position: phrases used, best kind (-1: fillers).
    constexpr int kUnreached = std::numeric_limits<int>::max();
    const std::size_t n = to - from;
    std::vector<int> count(n + 1, kUnreached);
    std::vector<long> best(n + 1, -2);
    count[0] = 0;
    best[0] = -1;
    auto rank_of = [&](long k) { return k < 0 ? -1 : kinds_[static_cast<std::size_t>(k)].rank; };
    for (std::size_t i = 0; i < n; ++i) {
        if (count[i] == kUnreached) continue;
        std::string key;
        for (std::size_t len = 1; len <= longest_ && i + len <= n; ++len) {
            if (len > 1) key += ' ';
            key += words[from + i + len - 1];
            const auto it = lexicon_.find(key);
            if (it == lexicon_.end()) continue;
            const bool filler = it->second == kFiller;
            const long kind = filler ? best[i] : static_cast<long>(it->second);
            const long merged = rank_of(kind) >= rank_of(best[i]) ? kind : best[i];
            const int c = count[i] + (filler ? 0 : 1);
            const std::size_t j = i + len;
            if (c < count[j] || (c == count[j] && rank_of(merged) > rank_of(best[j]))) {
                count[j] = c;
                best[j] = merged;
            }
        }
    }
    if (count[n] == kUnreached) return -1;
    return static_cast<int>(best[n]);
}

std::optional<SmallTalkMatch> SmallTalk::match(std::string_view message) const {
    return match(message, split_words(fold_text(message)));
}

std::optional<SmallTalkMatch> SmallTalk::match(std::string_view message,
                                               const std::vector<std::string>& words) const {
    auto kind_named = [&](std::string_view name) -> std::optional<SmallTalkMatch> {
        for (const Kind& k : kinds_)
            if (k.name == name) return SmallTalkMatch{k.name, k.reply};
        return std::nullopt;
    };
    std::vector<std::string> normal;
    normal.reserve(words.size());
    bool only_fillers = true;
    for (const std::string& w : words) {
        normal.push_back(normal_word(w));
        const auto it = lexicon_.find(normal.back());
        // A word that is in no phrase: not small talk (most questions stop here).
        if (it == lexicon_.end() && !vocabulary_.count(normal.back())) return std::nullopt;
        if (it == lexicon_.end() || it->second != kFiller) only_fillers = false;
    }
    if (words.empty() || only_fillers) {
        // Emoji, emoticons or punctuation alone ("👍", ":)", "??"), perhaps with a filler.
        switch (mood_of(message)) {
            case Mood::Laugh:
                return kind_named("laughter");
            case Mood::Ack:
                return kind_named("ack");
            case Mood::Wave:
                return kind_named("greeting");
            case Mood::Thanks:
                return kind_named("thanks");
            case Mood::Other:
                return kind_named("emoji");
            case Mood::None:
                break;
        }
        if (words.empty()) return kind_named("emoji");
        return std::nullopt;
    }
    const int k = cover(normal, 0, normal.size());
    if (k < 0) return std::nullopt;
    const Kind& kind = kinds_[static_cast<std::size_t>(k)];
    return SmallTalkMatch{kind.name, kind.reply};
}

std::vector<std::string> SmallTalk::strip(const std::vector<std::string>& words) const {
    if (words.size() < 2) return words;
    // Small talk around a question is a few words: prefixes and suffixes of up to kAround
    // words are tried (so a long message costs no more than a short one).
    constexpr std::size_t kAround = 12;
    std::vector<std::string> normal = words;
    for (std::size_t i = 0; i < normal.size(); ++i)
        if (i <= kAround || i + kAround + 1 >= normal.size()) normal[i] = normal_word(words[i]);
    auto is = [&](int k, std::initializer_list<std::string_view> names) {
        if (k < 0) return false;
        const std::string& n = kinds_[static_cast<std::size_t>(k)].name;
        return std::find(names.begin(), names.end(), n) != names.end();
    };
    std::size_t begin = 0, end = normal.size();
    for (std::size_t j = std::min(normal.size() - 1, kAround); j >= 1; --j) {
        if (is(cover(normal, 0, j), {"greeting", "ack", "thanks", "help", "laughter"})) {
            begin = j;
            break;
        }
    }
    for (std::size_t j = std::max(begin + 1, end > kAround ? end - kAround : 0); j < end; ++j) {
        if (is(cover(normal, j, end), {"thanks", "goodbye", "laughter"})) {
            end = j;
            break;
        }
    }
    if (begin == 0 && end == normal.size()) return words;
    return std::vector<std::string>(words.begin() + static_cast<std::ptrdiff_t>(begin),
                                    words.begin() + static_cast<std::ptrdiff_t>(end));
}

std::string SmallTalk::to_json() const {
    std::string o = "[";
    for (std::size_t i = 0; i < kinds_.size(); ++i) {
        if (i) o += ',';
        o += "{\"kind\":";
        json_append_string(o, kinds_[i].name);
        o += ",\"reply\":";
        json_append_string(o, kinds_[i].reply);
        o += ",\"phrases\":[";
        for (std::size_t j = 0; j < kinds_[i].phrases.size(); ++j) {
            if (j) o += ',';
            json_append_string(o, kinds_[i].phrases[j]);
        }
        o += "]}";
    }
    return o + "]";
}

}  // namespace sb
