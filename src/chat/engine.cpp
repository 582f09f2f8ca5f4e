#include "chat/engine.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <string_view>
#include <utility>

#include "chat/llm_turn.hpp"
#include "chat/smalltalk.hpp"
#include "common/error.hpp"
#include "retrieval/text.hpp"

namespace sb {

namespace {

constexpr std::size_t kMaxSessionIdBytes = 128;
// Attempts at a turn whose session another writer changes meanwhile (compare-and-set fails).
constexpr int kMaxTurnAttempts = 4;
// Sessions an engine remembers as it last wrote them (see Engine::session_lru_).
constexpr std::size_t kSessionCacheSize = 16384;
constexpr std::size_t kMaxUserIdBytes = 256;
constexpr std::size_t kMaxNameBytes = 256;
constexpr std::size_t kSuggestions = 3;
constexpr std::size_t kConsidered = 3;

const char* kEscalationText =
    "I'm passing this conversation to a human agent, who will reply here as soon as possible.";
// The one reply of a wait for an agent (to the first message after the escalation).
const char* kAgentWaitText =
    "Thanks, I've added that to the conversation. An agent will be with you shortly.";

}  // namespace

void check_text(std::string_view value, const char* what, std::size_t max_bytes,
                bool allow_newlines) {
    if (value.empty()) throw Error(SB_EINVAL, std::string(what) + " is empty");
    if (value.size() > max_bytes)
        throw Error(SB_ELIMIT, std::string(what) + " is " + std::to_string(value.size()) +
                                   " bytes; the limit is " + std::to_string(max_bytes));
    // A leading run of printable ASCII (0x20-0x7F) is valid UTF-8 without control characters and
    // ends on a character boundary: only the rest is checked byte by byte. Eight bytes at a time:
    // a byte below 0x20 sets its high bit when 0x20 is taken from it (a borrow into the next
    // byte comes only after such a byte), one of 0x80 or more has it set already. (Four checks
    // a turn, on ids and the message.)
    std::size_t plain = 0;
    for (; plain + 8 <= value.size(); plain += 8) {
        constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
        std::uint64_t x = 0;
        std::memcpy(&x, value.data() + plain, 8);
        if (((x - 0x20 * kOnes) | x) & kHigh) break;
    }
    value.remove_prefix(plain);
    if (!is_valid_utf8(value)) throw Error(SB_EPARSE, std::string(what) + " is not valid UTF-8");
    for (unsigned char c : value) {
        if (c == 0 || (c < 0x20 && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t'))))
            throw Error(SB_EINVAL, std::string(what) + " contains a control character");
    }
}

std::string new_uuid() {
    std::array<unsigned char, 16> b{};
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
        throw Error(SB_ERROR, "the random number generator failed");
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
    char out[37];
    std::snprintf(out, sizeof out,
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return out;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool asks_for_human(std::string_view message) {
    return asks_for_human(split_words(fold_text(message)));
}

bool asks_for_human(const std::vector<std::string>& w) {
    // One pass, each word first sorted by its length (this runs every turn): the words that ask
    // for a person, and the phrases "real person", "live person", "talk to someone", "speak to
    // someone", "speak with someone", "talk to a person", "speak to a person", "a person please",
    // found at their "person" or "someone".
    auto is = [&](std::size_t i, std::string_view s) {
        return i < w.size() && std::string_view(w[i]) == s;
    };
    auto talk_or_speak = [&](std::size_t i) { return is(i, "talk") || is(i, "speak"); };
    for (std::size_t i = 0; i < w.size(); ++i) {
        const std::string_view x = w[i];
        switch (x.size()) {
            case 5:
                if (x == "agent" || x == "human") return true;
                break;
            case 6:
                if (x == "agents" || x == "humans") return true;
                if (x == "person" && i >= 1) {
                    if (is(i - 1, "real") || is(i - 1, "live")) return true;
                    if (is(i - 1, "a") && (is(i + 1, "please") ||
                                           (i >= 3 && is(i - 2, "to") && talk_or_speak(i - 3))))
                        return true;
                }
                break;
            case 7:
                if (x == "someone" && i >= 2 &&
                    ((is(i - 1, "to") && talk_or_speak(i - 2)) ||
                     (is(i - 1, "with") && is(i - 2, "speak"))))
                    return true;
                break;
            case 8:
                if (x == "operator") return true;
                break;
            case 14:
                if (x == "representative") return true;
                break;
            default:
                break;
        }
    }
    return false;
}

bool looks_like_follow_up(std::string_view message) {
    return looks_like_follow_up(split_words(fold_text(message)));
}

bool looks_like_follow_up(const std::vector<std::string>& w) {
    if (w.empty()) return false;
    static constexpr std::array<std::string_view, 13> kAnaphora = {
        "else", "it",    "its",   "one",  "ones", "same", "that",
        "them", "there", "these", "they", "this", "those"};  // sorted
    static_assert(std::is_sorted(kAnaphora.begin(), kAnaphora.end()));
    // "there" of "is there ...?", "are there any ...", "there is ..." points at nothing before.
    auto existential = [&](std::size_t i) {
        static constexpr std::array<std::string_view, 11> kBe = {
            "are", "arent", "be",   "been",   "is",  "isnt",
            "was", "wasnt", "were", "werent", "will"};  // sorted
        static_assert(std::is_sorted(kBe.begin(), kBe.end()));
        auto be = [&](std::size_t j) {
            return j < w.size() &&
                   std::binary_search(kBe.begin(), kBe.end(), std::string_view(w[j]));
        };
        return w[i] == "there" && ((i > 0 && be(i - 1)) || be(i + 1));
    };
    for (std::size_t i = 0; i < w.size(); ++i) {
        const std::string_view x = w[i];
        // Every anaphor has 2 to 5 letters and starts with one of these: most words are passed
        // over before the search.
        if (x.size() < 2 || x.size() > 5) continue;
        if (x[0] != 'e' && x[0] != 'i' && x[0] != 'o' && x[0] != 's' && x[0] != 't') continue;
        if (std::binary_search(kAnaphora.begin(), kAnaphora.end(), x) && !existential(i))
            return true;
    }
    const std::string_view first = w.front();
    if (first == "and" || first == "also" || first == "then") return true;
    // "what about ...", "how about ...".
    for (std::size_t i = 1; i < w.size(); ++i)
        if (w[i] == "about" && (w[i - 1] == "what" || w[i - 1] == "how")) return true;
    return false;
}

std::optional<std::size_t> clarification_choice(const std::vector<std::string>& w,
                                                std::size_t candidates) {
    if (w.empty() || candidates == 0) return std::nullopt;
    // Words that may surround a choice ("I mean the second one please").
    static constexpr std::array<std::string_view, 26> kAround = {
        "a",    "choose", "i",        "id",   "im",     "is",  "it",   "its", "like",
        "mean", "meant",  "my",       "no",   "number", "ok",  "okay", "one", "option",
        "pick", "please", "question", "take", "that",   "the", "want", "yes"};
    static_assert(std::is_sorted(kAround.begin(), kAround.end()));
    static constexpr std::array<std::string_view, 16> kElse = {
        "another", "different", "else", "neither", "nope", "none",  "nothing", "of",
        "other",   "something", "them", "these",   "this", "those", "wrong",   "not"};
    auto around = [&](std::string_view x) {
        return std::binary_search(kAround.begin(), kAround.end(), x);
    };
    std::optional<std::size_t> chosen;
    bool something_else = false;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const std::string_view x = w[i];
        std::optional<std::size_t> c;
        if (x == "1" || x == "first" || x == "1st" || x == "top") c = 0;
        if (x == "2" || x == "second" || x == "2nd" || x == "two") c = 1;
        if (x == "3" || x == "third" || x == "3rd" || x == "three") c = 2;
        if (x == "last" || x == "bottom") c = candidates - 1;
        // "one" alone is the first of several ("option one"), but "that one" is not a number.
        if (x == "one" && i > 0 && (w[i - 1] == "option" || w[i - 1] == "number")) c = 0;
        if (c) {
            if (chosen && *chosen != *c) return std::nullopt;  // "1 or 2"
            chosen = c;
            continue;
        }
        if (x == "neither" || x == "none" || x == "else" || x == "other" || x == "another" ||
            x == "different" || x == "nope" || x == "nothing" || x == "not" || x == "wrong") {
            something_else = true;
            continue;
        }
        if (std::find(kElse.begin(), kElse.end(), x) != kElse.end()) continue;
        if (around(x)) continue;
        // "yes", "correct", "that one", "right": the one candidate there is.
        if (x == "yeah" || x == "yep" || x == "yup" || x == "correct" || x == "right" ||
            x == "exactly" || x == "sure" || x == "yes")
            continue;
        return std::nullopt;  // other words: not (only) a choice
    }
    if (chosen && something_else) return std::nullopt;
    if (chosen) return *chosen < candidates ? chosen : std::nullopt;
    if (something_else) return kChoseSomethingElse;
    // "no" (and nothing else that chooses) declines; "yes", "that one" take a lone candidate.
    const bool says_no = std::find(w.begin(), w.end(), "no") != w.end();
    if (says_no) return kChoseSomethingElse;
    if (candidates == 1) {
        for (const std::string& x : w)
            if (x == "yes" || x == "yeah" || x == "yep" || x == "yup" || x == "correct" ||
                x == "right" || x == "exactly" || x == "sure" || x == "that" || x == "it" ||
                x == "this")
                return std::size_t{0};
    }
    return std::nullopt;
}

std::vector<std::size_t> clarification_candidates(const std::vector<SearchHit>& hits,
                                                  double threshold, double escalate_below) {
    std::vector<std::size_t> out;
    if (hits.empty()) return out;
    const double best = hits[0].confidence;
    const double plausible = std::max(threshold / 4, escalate_below);
    if (best <= 0 || best < plausible) return out;
    const double close = kClarifyRatio * best;
    std::size_t n = 1;
    while (n < hits.size() && n < 3 && hits[n].confidence >= close &&
           hits[n].confidence >= plausible)
        ++n;
    if (best >= threshold && n < 2) return out;  // a clear answer
    for (std::size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
}

Engine::Engine(EngineOptions options) : options_(std::move(options)) {
    if (options_.history_turns == 0) options_.history_turns = 6;
    if (options_.max_unanswered <= 0) options_.max_unanswered = 2;
    if (options_.pool_size == 0) options_.pool_size = 4;
    llm_ = llm::make_client(options_.llm);  // SB_EINVAL for an unknown provider or bad options
}

Engine::~Engine() = default;

Store& Engine::store() {
    // Opened at first use, so that an engine used only for FAQ search touches no database.
    std::call_once(store_once_, [this] {
        StoreOptions so;
        so.pool_size = options_.pool_size;
        store_ = Store::open(options_.database_url, so);
    });
    return *store_;
}

void Engine::ping() {
    try {
        store().ping();
    } catch (const Error& e) {
        // A URL it cannot open or a schema from a newer version: the database does not answer
        // either, as far as a health check is concerned.
        if (e.status() == SB_EDB || e.status() == SB_ENOMEM) throw;
        throw Error(SB_EDB, e.what());
    }
}

Engine::BotModels Engine::build_models(std::vector<FaqEntry> entries,
                                       std::vector<SynonymGroup> synonyms) const {
    auto [faqs, smalltalk] = split_smalltalk(std::move(entries));
    if (faqs.empty())
        throw Error(SB_EINVALID_DATA, "a bot needs at least one FAQ entry besides small talk");
    BotModels m;
    m.smalltalk = std::make_shared<const SmallTalk>(smalltalk);  // checked before the long build
    IndexOptions io;
    io.language = options_.language;
    io.synonyms = std::move(synonyms);
    m.index = FaqIndex::build(std::move(faqs), io);
    return m;
}

std::string Engine::create_bot(const std::string& owner, const std::string& name,
                               std::vector<FaqEntry> faqs, std::vector<SynonymGroup> synonyms) {
    check_text(owner, "owner", kMaxUserIdBytes, false);
    check_text(name, "bot name", kMaxNameBytes, false);
    if (faqs.empty()) throw Error(SB_EINVALID_DATA, "a bot needs at least one FAQ entry");
    // Build the index first: a set that cannot be indexed is refused before anything is stored.
    BotModels models = build_models(faqs, synonyms);
    BotRecord bot;
    bot.id = new_uuid();
    bot.owner = owner;
    bot.name = name;
    bot.created_ms = now_ms();
    bot.faq_revision = 1;
    bot.faq_count = faqs.size();
    store().create_bot(bot, faqs, synonyms);
    std::lock_guard<std::mutex> lock(cache_mutex_);
    cache_[bot.id] = {1, std::move(models), std::move(synonyms)};
    return bot.id;
}

int Engine::replace_faqs(const std::string& bot_id, std::vector<FaqEntry> faqs,
                         std::vector<SynonymGroup> synonyms) {
    if (faqs.empty()) throw Error(SB_EINVALID_DATA, "a bot needs at least one FAQ entry");
    BotModels models;
    // A change of small talk alone keeps the cached FAQ index (building one takes a while): the
    // same FAQs, with the same synonyms.
    auto [new_faqs, new_smalltalk] = split_smalltalk(faqs);
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = cache_.find(bot_id);
        if (it != cache_.end() && it->second.models.index) {
            const auto& old = it->second.models.index->entries();
            auto same = [](const FaqEntry& a, const FaqEntry& b) {
                return a.id == b.id && a.question == b.question && a.answer == b.answer &&
                       a.category == b.category && a.tags == b.tags && a.alternates == b.alternates;
            };
            auto same_group = [](const SynonymGroup& a, const SynonymGroup& b) {
                return a.term == b.term && a.synonyms == b.synonyms;
            };
            const auto& old_synonyms = it->second.synonyms;
            if (old.size() == new_faqs.size() &&
                std::equal(old.begin(), old.end(), new_faqs.begin(), same) &&
                old_synonyms.size() == synonyms.size() &&
                std::equal(old_synonyms.begin(), old_synonyms.end(), synonyms.begin(), same_group))
                models.index = it->second.models.index;
        }
    }
    if (models.index) {
        models.smalltalk = std::make_shared<const SmallTalk>(new_smalltalk);
    } else {
        models = build_models(faqs, synonyms);
    }
    const int revision = store().replace_faqs(bot_id, faqs, synonyms);
    std::lock_guard<std::mutex> lock(cache_mutex_);
    bot_cache_.erase(bot_id);
    CachedIndex& c = cache_[bot_id];
    if (c.revision < revision) c = {revision, std::move(models), std::move(synonyms)};
    return revision;
}

int Engine::replace_smalltalk(const std::string& bot_id, std::vector<FaqEntry> entries) {
    for (FaqEntry& e : entries) e.category = std::string(kSmallTalkCategory);
    StoredFaqs stored = store().load_faqs(bot_id);  // SB_ENOTFOUND
    auto faqs = split_smalltalk(std::move(stored.entries)).first;
    for (FaqEntry& e : entries) faqs.push_back(std::move(e));
    // The set is validated as a file would be (ids unique, fields within limits); its synonyms
    // stay as they are.
    return replace_faqs(bot_id, parse_faqs_json(faqs_to_json(faqs), FaqLimits{}),
                        std::move(stored.synonyms));
}

std::string Engine::smalltalk_json(const std::string& bot_id) {
    return models_for(get_bot(bot_id)).smalltalk->to_json();
}

BotRecord Engine::get_bot(const std::string& bot_id) {
    auto bot = store().get_bot(bot_id);
    if (!bot) throw Error(SB_ENOTFOUND, "no bot with id \"" + bot_id + "\"");
    return *bot;
}

std::shared_ptr<const BotRecord> Engine::cached_bot(const std::string& bot_id) {
    // A chat turn needs the bot's FAQ revision, which another process sharing the database may
    // change: it is read again when the cached copy is older than kBotRecheckMs, so such a change
    // takes effect within that time (changes made through this engine, at once).
    constexpr std::int64_t kBotRecheckMs = 1000;
    const std::int64_t now = now_ms();
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = bot_cache_.find(bot_id);
        if (it != bot_cache_.end() && now - it->second.second < kBotRecheckMs)
            return it->second.first;
    }
    auto bot = std::make_shared<const BotRecord>(get_bot(bot_id));
    std::lock_guard<std::mutex> lock(cache_mutex_);
    bot_cache_[bot_id] = {bot, now};
    return bot;
}

std::vector<BotRecord> Engine::list_bots(const std::optional<std::string>& owner) {
    return store().list_bots(owner);
}

std::shared_ptr<const FaqIndex> Engine::index(const std::string& bot_id) {
    // The current revision, which another process may have changed.
    return index_for(get_bot(bot_id));
}

Engine::BotModels Engine::models_for(const BotRecord& bot) {
    const std::string& bot_id = bot.id;
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = cache_.find(bot_id);
        if (it != cache_.end() && it->second.revision >= bot.faq_revision) return it->second.models;
    }
    std::lock_guard<std::mutex> build(build_mutex_);
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = cache_.find(bot_id);
        if (it != cache_.end() && it->second.revision >= bot.faq_revision) return it->second.models;
    }
    StoredFaqs stored = store().load_faqs(bot_id);
    BotModels built = build_models(std::move(stored.entries), stored.synonyms);
    std::lock_guard<std::mutex> lock(cache_mutex_);
    CachedIndex& c = cache_[bot_id];
    if (c.revision < stored.revision) c = {stored.revision, built, std::move(stored.synonyms)};
    return c.models;
}

// Engine::Turn is in chat/llm_turn.hpp, which the LLM step shares.

namespace {

// Related questions to offer next: the runners-up of the search, then FAQs of the same
// category, skipping what was answered already in this session.
std::vector<std::string> suggest(const FaqIndex& index, const std::vector<SearchHit>& hits,
                                 const std::set<std::string>& answered_before, bool include_top) {
    const auto& entries = index.entries();
    std::vector<std::string> out;
    out.reserve(kSuggestions);
    // The entries offered or skipped so far: a handful, so a small array.
    std::vector<std::uint32_t> taken;
    taken.reserve(kSuggestions + 1);
    auto is_taken = [&](std::uint32_t i) {
        return std::find(taken.begin(), taken.end(), i) != taken.end();
    };
    if (!hits.empty() && !include_top) taken.push_back(hits[0].index);
    auto offer = [&](std::uint32_t i) {
        if (out.size() >= kSuggestions || is_taken(i) || answered_before.count(entries[i].id))
            return;
        taken.push_back(i);
        out.push_back(entries[i].question);
    };
    for (std::size_t h = include_top ? 0 : 1; h < hits.size(); ++h) offer(hits[h].index);
    if (!hits.empty() && !entries[hits[0].index].category.empty()) {
        const std::string& category = entries[hits[0].index].category;
        for (std::uint32_t i = 0; i < entries.size() && out.size() < kSuggestions; ++i)
            if (entries[i].category == category) offer(i);
    }
    return out;
}

}  // namespace

ChatReply Engine::chat(const ChatRequest& request) {
    const auto started = std::chrono::steady_clock::now();
    check_text(request.bot_id, "bot id", kMaxSessionIdBytes, false);
    check_text(request.user_id, "user id", kMaxUserIdBytes, false);
    if (request.session_id)
        check_text(*request.session_id, "session id", kMaxSessionIdBytes, false);
    check_text(request.message, "message", options_.max_message_bytes, true);
    const std::shared_ptr<const BotRecord> bot_record = cached_bot(request.bot_id);
    const BotRecord& bot = *bot_record;
    // What the LLM answered, kept across the attempts below: a redone turn does not ask again.
    LlmOutcome llm_memo;

    for (int attempt = 0;; ++attempt) {
        // The session: the caller's id (new or theirs), or a new one. The first attempt trusts
        // the cached record, which the store's compare-and-set checks; a retry reads afresh.
        SessionRecord session;
        bool create = false;
        if (request.session_id) {
            std::optional<SessionRecord> found;
            if (attempt == 0) found = cached_session(*request.session_id);
            // An id this engine has not written is taken for a new session without reading it
            // first: the store refuses to create a session that exists (SB_ECONFLICT) and the
            // turn is redone from a read below, so a new session costs one round trip to the
            // database, not two. With an LLM the read comes first: a redone turn reuses the
            // model's answer, which must have seen the session's history.
            if (!found && (attempt > 0 || llm_)) found = store().get_session(*request.session_id);
            if (found) {
                if (found->bot_id != request.bot_id || found->user_id != request.user_id)
                    throw Error(SB_EFORBIDDEN,
                                "this session id cannot be used; choose another or leave it out");
                if (found->status == SessionStatus::Closed)
                    throw Error(SB_ECONFLICT, "the session is closed");
                session = std::move(*found);
            } else {
                create = true;
            }
        } else {
            create = true;
        }
        const std::int64_t t = now_ms();
        if (create) {
            session.id = request.session_id ? *request.session_id : new_uuid();
            session.bot_id = request.bot_id;
            session.user_id = request.user_id;
            session.created_ms = t;
            session.status = SessionStatus::Open;
        }

        MessageRecord user_message;
        user_message.session_id = session.id;
        user_message.role = Role::User;
        user_message.text = request.message;
        user_message.created_ms = t;

        // Waiting for a human agent, or with one: the bot does not answer (no search, no LLM).
        // The message is stored for the agent; the user is told once per wait that an agent
        // will be with them.
        if (!create && (session.status == SessionStatus::Escalated ||
                        session.status == SessionStatus::Agent)) {
            ChatReply reply;
            reply.session_id = session.id;
            reply.responder = "handover";
            reply.escalation_reason = session.escalation_reason;
            TurnRecord record;
            record.session = std::move(session);  // `session` is not used below
            record.session.last_active_ms = t;
            record.messages.push_back(std::move(user_message));
            if (record.session.status == SessionStatus::Escalated && !record.session.wait_acked) {
                MessageRecord ack;
                ack.session_id = record.session.id;
                ack.role = Role::Assistant;
                ack.text = kAgentWaitText;
                ack.created_ms = t;
                ack.responder = "handover";
                ack.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - started)
                                     .count();
                reply.text = ack.text;
                reply.latency_ms = ack.latency_ms;
                record.messages.push_back(std::move(ack));
                record.session.wait_acked = true;
            }
            // HANDOVER SEAM (webhooks): a user message stored in an escalated or agent session.
            // The webhook outbox's "message" event belongs in this same TurnRecord, so that it is
            // committed with the message; the host's on_session_message hook fires below.
            try {
                store().record_turn(record);
            } catch (const Error& e) {
                if (e.status() == SB_ECONFLICT) {
                    forget_session(record.session.id);
                    if (attempt < kMaxTurnAttempts - 1) continue;
                }
                throw;
            }
            record.session.revision += 1;
            remember_session(record.session);
            if (options_.on_session_message) {
                SessionMessageEvent ev;
                ev.bot_id = record.session.bot_id;
                ev.session_id = record.session.id;
                ev.user_id = record.session.user_id;
                ev.status = record.session.status;
                ev.role = Role::User;
                ev.text = request.message;
                run_hook(options_.on_session_message, ev, "new-message");
            }
            if (request.on_text && !reply.text.empty()) {
                try {
                    request.on_text(reply.text);
                } catch (...) {
                }
            }
            return reply;
        }

        Turn turn;
        std::string failure;
        int failure_status = SB_OK;
        try {
            turn = respond(bot, session, create, request.message, request, llm_memo);
            turn.streamed = turn.streamed || llm_memo.streamed;
        } catch (const Error& e) {
            failure = e.what();
            failure_status = e.status();
        } catch (const std::exception& e) {
            failure = e.what();
            failure_status = SB_ERROR;
        }

        MessageRecord reply_message;
        reply_message.session_id = session.id;
        reply_message.role = Role::Assistant;
        reply_message.created_ms = now_ms();
        reply_message.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count();
        TurnRecord record;
        record.create_session = create;
        record.session = std::move(session);  // `session` is not used below
        record.session.last_active_ms = reply_message.created_ms;
        if (failure_status != SB_OK) {
            // Nothing the user typed is lost: the message is stored with an error reply.
            reply_message.text = "Sorry, something went wrong on our side. Please try again.";
            reply_message.responder = "error";
            reply_message.error = true;
        } else {
            turn.reply.latency_ms = reply_message.latency_ms;
            turn.reply.session_id = record.session.id;
            reply_message.text = turn.reply.text;
            reply_message.faq_ids = turn.used_faq_ids;
            reply_message.confidence = turn.reply.confidence;
            reply_message.escalated = turn.reply.escalated;
            reply_message.escalation_reason = turn.reply.escalation_reason;
            reply_message.responder = turn.reply.responder;
            reply_message.fallback = turn.reply.fallback;
            reply_message.prompt_tokens = turn.reply.prompt_tokens;
            reply_message.completion_tokens = turn.reply.completion_tokens;
            record.session.status = turn.status;
            record.session.escalation_reason = turn.escalation_reason;
            record.session.unanswered_streak = turn.unanswered_streak;
            if (turn.status == SessionStatus::Escalated) {
                // A new wait for an agent starts: the queue orders by this time.
                record.session.escalated_ms = reply_message.created_ms;
                record.session.claimed_by.clear();
                record.session.claimed_ms = 0;
                record.session.wait_acked = false;
            }
        }
        record.messages.reserve(2);
        record.messages.push_back(std::move(user_message));
        record.messages.push_back(std::move(reply_message));
        try {
            store().record_turn(record);
        } catch (const Error& e) {
            // Another thread or process created the same session id first, or updated the
            // session since it was read: read it again and redo the turn.
            if (e.status() == SB_ECONFLICT && request.session_id) {
                forget_session(record.session.id);
                if (attempt < kMaxTurnAttempts - 1) continue;
            }
            // The reply failed and so did saving it (the database is down): report the first
            // failure.
            if (failure_status != SB_OK)
                throw Error(static_cast<sb_status>(failure_status),
                            failure + " (and the message could not be saved: " + e.what() + ")");
            throw;
        }
        record.session.revision = create ? 0 : record.session.revision + 1;
        remember_session(record.session);
        if (failure_status != SB_OK)
            throw Error(static_cast<sb_status>(failure_status),
                        failure + " (the message was saved with an error reply)");
        // The turn escalated and is committed: the host may open a ticket. (The webhooks'
        // "escalation" event is enqueued in the turn's own transaction.)
        if (turn.reply.escalated && options_.on_escalation) {
            EscalationEvent ev;
            ev.bot_id = record.session.bot_id;
            ev.session_id = record.session.id;
            ev.user_id = record.session.user_id;
            ev.reason = turn.reply.escalation_reason;
            ev.message = request.message;
            run_hook(options_.on_escalation, ev, "escalation");
        }
        // A reply that was not streamed reaches a streaming host in one piece, once saved.
        if (request.on_text && !turn.streamed) {
            try {
                request.on_text(turn.reply.text);
            } catch (...) {
                // The host's callback failed; the turn is saved and its reply returned anyway.
            }
        }
        return std::move(turn.reply);  // a member of a local: not moved by itself
    }
}

Engine::Turn Engine::respond(const BotRecord& bot, const SessionRecord& session, bool is_new,
                             const std::string& message, const ChatRequest& request,
                             LlmOutcome& memo) {
    Turn turn;
    turn.reply.responder = "offline";
    turn.status = session.status;
    turn.escalation_reason = session.escalation_reason;
    turn.unanswered_streak = session.unanswered_streak;

    const BotModels models = models_for(bot);
    const FaqIndex& ix = *models.index;
    const auto& entries = ix.entries();
    const double threshold =
        options_.answer_threshold >= 0 ? options_.answer_threshold : ix.default_threshold();
    const double escalate_below =
        options_.escalation_threshold >= 0 ? options_.escalation_threshold : threshold / 4;

    // The recent turns are read only when a turn needs them: a follow-up, the LLM's prompt, or
    // a message that may answer a clarification; every other turn saves the read.
    std::vector<std::string> words = split_words(fold_text(message));
    const bool follow_up = !is_new && looks_like_follow_up(words);
    std::vector<MessageRecord> history;
    bool history_read = false;
    auto read_history = [&] {
        if (history_read || is_new) return;
        history_read = true;
        history = store().history(session.id, 2 * options_.history_turns);
    };
    if (follow_up || llm_) read_history();
    // The clarification the previous reply asked, if any: its candidates' entries.
    auto pending_clarification = [&]() -> std::vector<std::uint32_t> {
        read_history();
        std::vector<std::uint32_t> out;
        if (history.empty() || history.back().role != Role::Assistant ||
            history.back().responder != "clarification")
            return out;
        for (const std::string& id : history.back().faq_ids) {
            for (std::uint32_t i = 0; i < entries.size(); ++i)
                if (entries[i].id == id) {
                    out.push_back(i);
                    break;
                }
        }
        return out;
    };

    auto escalate = [&](const char* reason, const std::string& text) {
        turn.reply.escalated = true;
        turn.reply.escalation_reason = reason;
        turn.reply.text = text;
        turn.status = SessionStatus::Escalated;
        turn.escalation_reason = reason;
    };
    std::set<std::string> answered_before;
    auto answer = [&](std::uint32_t entry, double confidence, const std::vector<SearchHit>& hits) {
        const FaqEntry& faq = entries[entry];
        turn.reply.answered = true;
        turn.reply.confidence = confidence;
        turn.used_faq_ids = {faq.id};
        turn.unanswered_streak = 0;
        turn.reply.text =
            confidence >= 2 * threshold || confidence >= 0.5
                ? faq.answer
                : "Here is what I found about \"" + faq.question + "\": " + faq.answer;
        turn.reply.suggestions = suggest(ix, hits, answered_before, false);
    };
    auto miss = [&](const std::vector<SearchHit>& hits, const char* rephrase) {
        turn.unanswered_streak = session.unanswered_streak + 1;
        if (turn.unanswered_streak >= options_.max_unanswered) {
            escalate("repeated_unanswered",
                     std::string("I still couldn't find an answer. ") + kEscalationText);
            return false;
        }
        turn.reply.text = rephrase;
        turn.reply.suggestions = suggest(ix, hits, {}, true);
        return true;
    };
    const char* kRephrase =
        "I'm not sure I have an answer for that. Could you rephrase it, or pick one of the "
        "suggested questions?";

    // An answer to the previous turn's "Did you mean ...?": "2", "the first one", "none".
    if (!is_new) {
        if (clarification_choice(words, 3) || clarification_choice(words, 1)) {
            const std::vector<std::uint32_t> pending = pending_clarification();
            if (!pending.empty()) {
                const auto again = clarification_choice(words, pending.size());
                if (!again) {
                    // Not a choice by number; handled below (a suggestion's text is a question).
                } else if (*again != kChoseSomethingElse && *again < pending.size()) {
                    const std::uint32_t e = pending[*again];
                    std::vector<SearchHit> hits = {{e, 0, 1.0}};
                    for (std::uint32_t p : pending)
                        if (p != e) hits.push_back({p, 0, 0.0});
                    turn.reply.faqs.push_back({entries[e].id, entries[e].question, 1.0});
                    answer(e, 1.0, hits);
                    turn.reply.text = entries[e].answer;
                    if (llm_) write_with_llm(bot, ix, hits, history, message, request, turn, memo);
                    return turn;
                }
                if (again && *again == kChoseSomethingElse) {
                    // A rephrase is asked for (never a hand-over at once); the next miss counts.
                    turn.unanswered_streak = session.unanswered_streak + 1;
                    turn.reply.text =
                        "No problem. Could you tell me a bit more about what you need, in your "
                        "own words?";
                    return turn;
                }
            }
        }
    }

    // Small talk: a short reply of its own, no search, no LLM, no change to the count of misses.
    if (auto small = models.smalltalk->match(message, words)) {
        turn.reply.responder = "smalltalk";
        turn.reply.text = small->reply;
        return turn;
    }

    if (asks_for_human(words)) {
        escalate("user_requested", std::string("Of course. ") + kEscalationText);
        turn.unanswered_streak = 0;
        return turn;
    }

    // The question without the small talk around it ("hi, ... thanks").
    words = models.smalltalk->strip(words);

    const MessageRecord* previous_user = nullptr;
    for (std::size_t i = 0; i < history.size(); ++i) {
        const MessageRecord& m = history[i];
        // A follow-up refers to the last question, not to small talk after it.
        if (m.role == Role::User && follow_up &&
            !(i + 1 < history.size() && history[i + 1].responder == "smalltalk"))
            previous_user = &m;
        if (m.role == Role::Assistant && m.responder != "clarification")
            for (const auto& id : m.faq_ids) answered_before.insert(id);
    }

    // Contextual retrieval: a follow-up is searched together with the previous question.
    std::vector<SearchHit> hits = ix.search_words(std::move(words), 5);  // `words` not used below
    if (previous_user) {
        std::vector<SearchHit> with_context = ix.search(previous_user->text + "\n" + message, 5);
        if (!with_context.empty() && with_context[0].confidence >= threshold) hits = with_context;
    }

    for (std::size_t i = 0; i < hits.size() && i < kConsidered; ++i)
        turn.reply.faqs.push_back(
            {entries[hits[i].index].id, entries[hits[i].index].question, hits[i].confidence});
    const double best = hits.empty() ? 0.0 : hits[0].confidence;
    turn.reply.confidence = best;

    const std::vector<std::size_t> candidates =
        clarification_candidates(hits, threshold, escalate_below);
    if (!hits.empty() && best >= threshold && candidates.empty()) {
        answer(hits[0].index, best, hits);
        if (llm_) write_with_llm(bot, ix, hits, history, message, request, turn, memo);
        return turn;
    }

    // Not a clear answer: ask "Did you mean ...?" (the offline responder; an LLM is given the
    // candidates and writes its own reply). No question is asked twice in a row. A near miss
    // asks in place of "could you rephrase", so it counts as a miss (and a miss that would
    // escalate still does); two close FAQs above the threshold would have been answered, so
    // asking about them does not count.
    const bool near_miss = best < threshold;
    const int streak_if_asked = session.unanswered_streak + (near_miss ? 1 : 0);
    if (!candidates.empty() && !llm_ && streak_if_asked < options_.max_unanswered &&
        pending_clarification().empty()) {
        turn.reply.responder = "clarification";
        turn.unanswered_streak = streak_if_asked;
        if (candidates.size() == 1) {
            turn.reply.text = "Did you mean \"" + entries[hits[candidates[0]].index].question +
                              "\"? If not, choose \"" + std::string(kSomethingElse) +
                              "\" or tell me a bit more.";
        } else {
            turn.reply.text = "I found more than one answer that might fit. Did you mean:";
            for (std::size_t i = 0; i < candidates.size(); ++i)
                turn.reply.text += "\n" + std::to_string(i + 1) + ". " +
                                   entries[hits[candidates[i]].index].question;
            turn.reply.text += "\nOr is it something else?";
        }
        for (std::size_t c : candidates) {
            turn.used_faq_ids.push_back(entries[hits[c].index].id);
            turn.reply.suggestions.push_back(entries[hits[c].index].question);
        }
        turn.reply.suggestions.emplace_back(kSomethingElse);
        return turn;
    }
    if (!hits.empty() && best >= threshold) {
        answer(hits[0].index, best, hits);  // close, but a question was just asked
        if (llm_) write_with_llm(bot, ix, hits, history, message, request, turn, memo);
        return turn;
    }

    if (best < escalate_below) {
        turn.unanswered_streak = session.unanswered_streak + 1;
        escalate("low_confidence",
                 std::string("I couldn't find an answer to that. ") + kEscalationText);
    } else if (miss(hits, kRephrase)) {
        if (llm_) write_with_llm(bot, ix, hits, history, message, request, turn, memo);
    }
    return turn;
}

std::vector<SessionRecord> Engine::sessions(const std::string& bot_id, const std::string& user_id) {
    check_text(bot_id, "bot id", kMaxSessionIdBytes, false);
    check_text(user_id, "user id", kMaxUserIdBytes, false);
    get_bot(bot_id);
    return store().list_sessions(bot_id, user_id);
}

SessionRecord Engine::owned_session(const std::string& bot_id, const std::string& user_id,
                                    const std::string& session_id) {
    check_text(session_id, "session id", kMaxSessionIdBytes, false);
    auto s = store().get_session(session_id);
    // A session of another user or bot is reported exactly like one that does not exist.
    if (!s || s->bot_id != bot_id || s->user_id != user_id)
        throw Error(SB_ENOTFOUND, "no such session for this user and bot");
    return *s;
}

void Engine::close_session(const std::string& bot_id, const std::string& user_id,
                           const std::string& session_id) {
    for (int attempt = 0;; ++attempt) {
        SessionRecord s = owned_session(bot_id, user_id, session_id);
        if (s.status == SessionStatus::Closed) return;
        TurnRecord record;
        record.session = s;
        record.session.status = SessionStatus::Closed;
        record.session.last_active_ms = now_ms();
        try {
            store().record_turn(record);
        } catch (const Error& e) {
            // A turn updated the session since it was read: read it again.
            if (e.status() == SB_ECONFLICT && attempt < kMaxTurnAttempts - 1) continue;
            throw;
        }
        record.session.revision = s.revision + 1;
        remember_session(record.session);
        return;
    }
}

std::optional<SessionRecord> Engine::cached_session(const std::string& session_id) {
    std::lock_guard lock(session_mutex_);
    const auto it = session_index_.find(session_id);
    if (it == session_index_.end()) return std::nullopt;
    session_lru_.splice(session_lru_.begin(), session_lru_, it->second);
    return *it->second;
}

void Engine::remember_session(const SessionRecord& session) {
    std::lock_guard lock(session_mutex_);
    const auto it = session_index_.find(session.id);
    if (it != session_index_.end()) {
        *it->second = session;
        session_lru_.splice(session_lru_.begin(), session_lru_, it->second);
        return;
    }
    session_lru_.push_front(session);
    session_index_.emplace(session.id, session_lru_.begin());
    if (session_lru_.size() > kSessionCacheSize) {
        session_index_.erase(session_lru_.back().id);
        session_lru_.pop_back();
    }
}

void Engine::forget_session(const std::string& session_id) {
    std::lock_guard lock(session_mutex_);
    const auto it = session_index_.find(session_id);
    if (it == session_index_.end()) return;
    session_lru_.erase(it->second);
    session_index_.erase(it);
}

std::vector<MessageRecord> Engine::history(const std::string& bot_id, const std::string& user_id,
                                           const std::string& session_id) {
    owned_session(bot_id, user_id, session_id);
    return store().history(session_id, 0);
}

}  // namespace sb
