#include "retrieval/model.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <cmath>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_set>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/error.hpp"

namespace sb {

namespace {

// BM25F parameters: field weights for question, alternates and answer; k1 and b.
constexpr std::array<float, kFields> kFieldWeight = {2.0f, 1.0f, 1.0f};
constexpr float kK1 = 1.2f;
constexpr float kB = 0.75f;

// Classifier: feature-group weights (each group is L2-normalised, then weighted), training.
constexpr float kWordGroup = 1.0f;
constexpr float kBigramGroup = 0.6f;
constexpr float kCharGroup = 1.0f;
constexpr float kAnswerSampleWeight = 0.3f;
constexpr std::size_t kEpochs = 12;
constexpr std::size_t kMinSteps = 60000;
constexpr std::size_t kMaxEpochs = 200;
constexpr float kLearningRate = 0.8f;
constexpr float kL2 = 1e-6f;
// Largest set the classifier is trained for: docs x training samples (cost of an epoch).
constexpr double kMaxTrainCost = 6.0e7;
constexpr std::size_t kMaxClasses = 5000;
// Threads an index build uses at most (the calibration folds and the final model train side by
// side; there are at most kMaxFolds + 1 of them).
constexpr std::size_t kMaxBuildThreads = 5;
// Ranking: weight of the normalised lexical score added to the classifier's log-probability.
constexpr float kNeighbourBlend = 2.0f;
constexpr float kLexicalBlend = 1.0f;

// Customer support's own words: each line a group of words that stand for one another in
// customer questions (inflected forms listed as they are written). A query word the FAQs never
// use is read as the group's word they use most, at a low weight (kSynonymWeight): "parcel" for
// "order", "reimbursement" for "refund".
constexpr std::string_view kSupportLexicon[] = {
    "order orders parcel parcels package packages shipment shipments packet",
    "delivery deliveries shipping dispatch",
    "deliver delivered ship shipped dispatched send sent",
    "refund refunds refunded reimbursement reimbursed reimburse repayment",
    "return returns returned",
    "track tracking trace locate",
    "account accounts profile",
    "login signin logon",
    "password passwords passcode",
    "cancel cancelled canceled cancelling canceling terminate unsubscribe",
    "subscription subscriptions membership memberships",
    "pay paying paid",
    "payment payments charge charges billing",
    "invoice invoices bill bills receipt receipts",
    "price prices cost costs fee fees",
    "broken damaged defective faulty",
    "late delayed overdue",
    "change modify update edit alter",
    "delete remove erase",
    "coupon coupons voucher vouchers promo",
    "store stores shop shops showroom",
    "buy purchase",
    "email emails",
    "phone telephone mobile cellphone",
    "address addresses postcode zipcode",
    "agent human representative person operator",
};
// Weight of a word read through a synonym: half a word (as a corrected typo counts half).
constexpr float kSynonymWeight = 0.5f;

std::uint32_t trigram_key(std::string_view s, std::size_t i) {
    return static_cast<std::uint32_t>(hash_bytes(s.substr(i, 3), 7));
}

// The distinct trigrams of "^word$", sorted, into out; padded is working memory (both reused by
// typo correction, which runs for every unknown word of a query).
void word_trigrams(std::string_view word, std::string& padded, std::vector<std::uint32_t>& out) {
    padded.assign(1, '^');
    padded += word;
    padded += '$';
    out.clear();
    for (std::size_t i = 0; i + 3 <= padded.size(); ++i) out.push_back(trigram_key(padded, i));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
}

bool all_digits(std::string_view w) {
    return std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
}

float bm25_idf(std::size_t n, std::size_t df) {
    return std::log(1.0f + (static_cast<float>(n) - static_cast<float>(df) + 0.5f) /
                               (static_cast<float>(df) + 0.5f));
}

float sigmoid(double z) {
    return static_cast<float>(1.0 / (1.0 + std::exp(-z)));
}

}  // namespace

// ---- Corpus --------------------------------------------------------------------------------

std::vector<std::uint32_t> Corpus::all() const {
    std::vector<std::uint32_t> v(phrasings.size());
    std::iota(v.begin(), v.end(), 0u);
    return v;
}

Corpus analyse_corpus(const std::vector<FaqEntry>& entries, const Stemmer& stemmer) {
    Corpus c;
    c.docs = entries.size();
    for (std::size_t d = 0; d < entries.size(); ++d) {
        const auto doc = static_cast<std::uint32_t>(d);
        const FaqEntry& e = entries[d];
        c.phrasings.push_back({doc, Field::Question, analyse(e.question, stemmer)});
        for (const auto& alt : e.alternates)
            c.phrasings.push_back({doc, Field::Alternate, analyse(alt, stemmer)});
        c.phrasings.push_back({doc, Field::Answer, analyse(e.answer, stemmer)});
    }
    return c;
}

Query analyse_query(std::string_view text, const Stemmer& stemmer, const StemCache* cache) {
    return Query{analyse(text, stemmer, cache)};
}

// ---- Lexical index -------------------------------------------------------------------------

LexicalIndex LexicalIndex::build(const Corpus& corpus,
                                 const std::vector<std::uint32_t>& phrasings) {
    LexicalIndex ix;
    ix.docs_ = corpus.docs;
    const std::size_t n = corpus.docs;

    // Per document and field: term frequencies and lengths.
    struct DocTerms {
        std::unordered_map<std::uint32_t, std::array<float, kFields>> tf;
        std::array<float, kFields> len{};
    };
    std::vector<DocTerms> docs(n);
    // Phrasings come grouped by document, so a word's document frequency is counted by
    // remembering the last document it was seen in.
    std::vector<std::uint32_t> word_last_doc;
    for (std::uint32_t pi : phrasings) {
        const Phrasing& p = corpus.phrasings[pi];
        const auto f = static_cast<std::size_t>(p.field);
        for (const Token& t : p.tokens) {
            if (t.stop) continue;
            auto [it, added] =
                ix.term_ids_.try_emplace(t.stem, static_cast<std::uint32_t>(ix.term_ids_.size()));
            auto& tf = docs[p.doc].tf[it->second];
            tf[f] += 1.0f;
            docs[p.doc].len[f] += 1.0f;
            auto [wit, wadded] =
                ix.word_ids_.try_emplace(t.word, static_cast<std::uint32_t>(ix.words_.size()));
            if (wadded) {
                ix.words_.push_back(t.word);
                ix.word_stems_.push_back(t.stem);
                ix.word_df_.push_back(0);
                word_last_doc.push_back(UINT32_MAX);
            }
            if (word_last_doc[wit->second] != p.doc) {
                word_last_doc[wit->second] = p.doc;
                ++ix.word_df_[wit->second];
            }
        }
    }
    std::array<float, kFields> avg{};
    std::array<float, kFields> with{};
    for (const auto& d : docs)
        for (std::size_t f = 0; f < kFields; ++f)
            if (d.len[f] > 0) {
                avg[f] += d.len[f];
                with[f] += 1;
            }
    for (std::size_t f = 0; f < kFields; ++f) avg[f] = with[f] > 0 ? avg[f] / with[f] : 1.0f;

    const std::size_t terms = ix.term_ids_.size();
    std::vector<std::uint32_t> df(terms, 0);
    for (const auto& d : docs)
        for (const auto& [term, tf] : d.tf) ++df[term];
    ix.idf_.resize(terms);
    for (std::size_t t = 0; t < terms; ++t) ix.idf_[t] = bm25_idf(n, df[t]);

    ix.offsets_.assign(terms + 1, 0);
    for (std::size_t t = 0; t < terms; ++t) ix.offsets_[t + 1] = ix.offsets_[t] + df[t];
    ix.post_docs_.resize(ix.offsets_[terms]);
    ix.post_weights_.resize(ix.offsets_[terms]);
    ix.term_max_.assign(terms, 0.0f);
    std::vector<std::uint32_t> fill(ix.offsets_.begin(), ix.offsets_.end() - 1);
    for (std::uint32_t d = 0; d < n; ++d) {
        for (const auto& [term, tf] : docs[d].tf) {
            float pseudo = 0;
            for (std::size_t f = 0; f < kFields; ++f) {
                if (tf[f] == 0) continue;
                float norm = 1.0f - kB + kB * docs[d].len[f] / avg[f];
                pseudo += kFieldWeight[f] * tf[f] / norm;
            }
            std::uint32_t at = fill[term]++;
            ix.post_docs_[at] = d;
            ix.post_weights_[at] = pseudo * (kK1 + 1.0f) / (pseudo + kK1);
            ix.term_max_[term] = std::max(ix.term_max_[term], ix.post_weights_[at]);
        }
    }
    // Postings were filled in document order, so each list is sorted by document.

    std::string padded;
    std::vector<std::uint32_t> grams;
    for (std::size_t w = 0; w < ix.words_.size(); ++w) {
        if (ix.words_[w].size() < 3 || all_digits(ix.words_[w])) continue;
        word_trigrams(ix.words_[w], padded, grams);
        for (std::uint32_t g : grams) ix.trigram_words_[g].push_back(static_cast<std::uint32_t>(w));
    }
    ix.add_synonyms(kSupportLexicon);
    return ix;
}

void LexicalIndex::add_synonyms(std::span<const std::string_view> groups) {
    for (std::string_view line : groups) {
        std::vector<std::string> group = split_words(line);
        // The group's word the vocabulary knows, in the most documents (the first of those).
        std::uint32_t best = 0;
        bool found = false;
        for (const std::string& w : group) {
            auto it = word_ids_.find(w);
            if (it == word_ids_.end()) continue;
            if (!found || word_df_[it->second] > word_df_[best]) best = it->second;
            found = true;
        }
        if (!found) continue;
        for (const std::string& w : group)
            if (!word_ids_.count(w)) synonyms_.try_emplace(w, best);
    }
}

bool LexicalIndex::read_synonym(Token& token) const {
    auto it = synonyms_.find(token.word);
    if (it == synonyms_.end()) return false;
    token.word = words_[it->second];
    token.stem = word_stems_[it->second];
    return true;
}

bool LexicalIndex::correct(Token& token, Scratch& scratch) const {
    const std::string& w = token.word;
    // edit_distance compares words of up to 62 bytes; no longer word is ever corrected.
    if (w.size() < 4 || w.size() > 62 || all_digits(w)) return false;
    const int max_d = w.size() >= 8 ? 2 : 1;
    std::vector<std::uint32_t>& grams = scratch.grams;
    word_trigrams(w, scratch.padded, grams);
    // Trigrams shared with each vocabulary word that has any: a count per word, and the words.
    std::vector<std::uint16_t>& shared = scratch.shared;
    std::vector<std::uint32_t>& sharing = scratch.sharing;
    if (shared.size() != words_.size()) shared.assign(words_.size(), 0);
    sharing.clear();
    for (std::uint32_t g : grams) {
        auto it = trigram_words_.find(g);
        if (it == trigram_words_.end()) continue;
        for (std::uint32_t cand : it->second)
            if (shared[cand]++ == 0) sharing.push_back(cand);
    }
    // Each edit changes at most three trigrams.
    const int need = std::max(1, static_cast<int>(grams.size()) - 3 * max_d);
    int best_d = max_d + 1;
    std::uint32_t best = 0;
    for (std::uint32_t cand : sharing) {
        const int count = shared[cand];
        shared[cand] = 0;
        if (count < need) continue;
        int d = edit_distance(w, words_[cand], max_d);
        // The closest word; of those, the most frequent; of those, the first in the vocabulary.
        if (d < best_d || (d == best_d && (word_df_[cand] > word_df_[best] ||
                                           (word_df_[cand] == word_df_[best] && cand < best)))) {
            best_d = d;
            best = cand;
        }
    }
    if (best_d > max_d) return false;
    token.word = words_[best];
    token.stem = word_stems_[best];
    return true;
}

LexicalMatch LexicalIndex::resolve(Query& query, Scratch& scratch) const {
    LexicalMatch m;
    m.terms.reserve(query.tokens.size());
    const float unknown_idf = bm25_idf(docs_, 0);
    for (Token& t : query.tokens) {
        if (t.stop) continue;
        auto it = term_ids_.find(t.stem);
        bool corrected = false;
        bool synonym = false;
        if (it == term_ids_.end() && !word_ids_.count(t.word)) {
            if (read_synonym(t)) {
                it = term_ids_.find(t.stem);
                synonym = true;
            } else if (correct(t, scratch)) {
                it = term_ids_.find(t.stem);
                corrected = true;
            }
        }
        if (it == term_ids_.end()) {
            m.query_idf_mass += unknown_idf;
            continue;
        }
        const float idf = idf_[it->second];
        m.query_idf_mass += idf;
        // A corrected word may be a typo, or a word the FAQs simply do not know: half known.
        // A word read through a synonym is known at the synonym's weight, and scores at it.
        m.known_idf_mass += corrected ? 0.5f * idf : synonym ? kSynonymWeight * idf : idf;
        m.terms.push_back({it->second, synonym ? kSynonymWeight * idf : idf});
    }
    return m;
}

void LexicalIndex::score(const LexicalMatch& match, std::vector<float>& scores,
                         std::vector<std::uint32_t>& touched) const {
    for (const QueryTerm& qt : match.terms) {
        for (std::uint32_t i = offsets_[qt.term]; i < offsets_[qt.term + 1]; ++i) {
            std::uint32_t d = post_docs_[i];
            if (scores[d] == 0) touched.push_back(d);
            scores[d] += qt.idf * post_weights_[i];
        }
    }
}

std::vector<std::pair<std::uint32_t, float>> LexicalIndex::top(const LexicalMatch& match,
                                                               std::size_t k) const {
    // MaxScore, document at a time: the query's postings are walked together in document order.
    // A list whose term, with every term of lower bound, cannot lift a document above the k-th
    // best score so far is "non-essential": it no longer brings documents in, and is only
    // probed (by galloping) for documents that the essential lists bring. Exact.
    struct Cursor {
        const std::uint32_t* doc;
        const std::uint32_t* end;
        const float* weight;
        float idf;
        float bound;
    };
    std::vector<Cursor> cur;
    for (const QueryTerm& qt : match.terms) {
        const std::uint32_t b = offsets_[qt.term], e = offsets_[qt.term + 1];
        cur.push_back({post_docs_.data() + b, post_docs_.data() + e, post_weights_.data() + b,
                       qt.idf, qt.idf * term_max_[qt.term]});
    }
    std::sort(cur.begin(), cur.end(),
              [](const Cursor& a, const Cursor& b) { return a.bound < b.bound; });
    const std::size_t m = cur.size();
    std::vector<float> upto(m);  // bound of lists 0..i together
    for (std::size_t i = 0; i < m; ++i) upto[i] = (i ? upto[i - 1] : 0.0f) + cur[i].bound;

    using Entry = std::pair<float, std::uint32_t>;  // score, doc
    // Heap order: the front is the worst kept (lowest score; on a tie, the later document).
    auto better = [](const Entry& a, const Entry& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    std::vector<Entry> heap;
    heap.reserve(k + 1);
    float theta = 0;            // the k-th best score, once k documents are kept
    std::size_t essential = 0;  // lists [essential, m) are essential
    while (k > 0) {
        std::uint32_t d = UINT32_MAX;
        for (std::size_t i = essential; i < m; ++i)
            if (cur[i].doc != cur[i].end) d = std::min(d, *cur[i].doc);
        if (d == UINT32_MAX) break;
        float score = 0;
        for (std::size_t i = essential; i < m; ++i) {
            Cursor& c = cur[i];
            if (c.doc != c.end && *c.doc == d) {
                score += c.idf * *c.weight;
                ++c.doc;
                ++c.weight;
            }
        }
        const bool full = heap.size() == k;
        bool hopeless = false;
        for (std::size_t i = essential; i-- > 0;) {
            if (full && score + upto[i] <= theta) {
                hopeless = true;
                break;
            }
            Cursor& c = cur[i];
            if (c.doc == c.end || *c.doc > d) continue;
            // Gallop to the first posting >= d.
            std::size_t step = 1;
            const std::uint32_t* lo = c.doc;
            while (lo + step < c.end && lo[step] < d) {
                lo += step;
                step *= 2;
            }
            const std::uint32_t* hi = std::min(lo + step + 1, c.end);
            const std::uint32_t* at = std::lower_bound(lo, hi, d);
            c.weight += at - c.doc;
            c.doc = at;
            if (at != c.end && *at == d) score += c.idf * *c.weight;
        }
        if (hopeless || (full && !better({score, d}, heap.front()))) continue;
        if (full) {
            std::pop_heap(heap.begin(), heap.end(), better);
            heap.back() = {score, d};
        } else {
            heap.push_back({score, d});
        }
        std::push_heap(heap.begin(), heap.end(), better);
        if (heap.size() == k) {
            theta = heap.front().first;
            while (essential < m && upto[essential] <= theta) ++essential;
        }
    }
    std::sort(heap.begin(), heap.end(), better);
    std::vector<std::pair<std::uint32_t, float>> out;
    out.reserve(heap.size());
    for (const Entry& e : heap) out.push_back({e.second, e.first});
    return out;
}

std::size_t LexicalIndex::memory_bytes() const noexcept {
    std::size_t n = offsets_.capacity() * 4 + post_docs_.capacity() * 4 + term_max_.capacity() * 4 +
                    post_weights_.capacity() * 4 + idf_.capacity() * 4 + word_df_.capacity() * 4;
    for (const auto& [k, v] : term_ids_) n += k.capacity() + sizeof(v) + 32;
    for (const auto& w : words_) n += w.capacity() + sizeof(std::string);
    for (const auto& w : word_stems_) n += w.capacity() + sizeof(std::string);
    n += (word_ids_.size() + synonyms_.size()) * (sizeof(std::string) + 4 + 16);
    for (const auto& [k, v] : trigram_words_) n += v.capacity() * 4 + 48;
    return n;
}

// ---- Classifier ----------------------------------------------------------------------------

namespace {

struct RawFeature {
    std::uint64_t hash;
    int group;  // 0 word, 1 bigram, 2 char
};

// Features of a phrasing: stems, stem bigrams, and character 3- to 5-grams of the folded words
// joined by spaces (so n-grams also span word boundaries, which catches short phrases). Each is
// given to emit(hash, group); text is working memory.
template <typename Emit>
void each_raw_feature(const std::vector<Token>& tokens, std::string& text, const Emit& emit) {
    text.assign(1, ' ');
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const Token& t = tokens[i];
        emit(hash_bytes(t.stem, 1), 0);
        if (i + 1 < tokens.size()) {
            std::uint64_t h = hash_bytes(t.stem, 2) * 31 + hash_bytes(tokens[i + 1].stem, 3);
            emit(h, 1);
        }
        text += t.word;
        text += ' ';
    }
    // The 3-, 4- and 5-grams starting at one place share their first bytes: one FNV-1a pass
    // over the five bytes, the length mixed in at the end.
    constexpr std::uint64_t kBasis = 1469598103934665603ull ^ (13 * 0x9E3779B97F4A7C15ull);
    for (std::size_t s = 0; s + 3 <= text.size(); ++s) {
        std::uint64_t h = kBasis;
        const std::size_t end = std::min(text.size(), s + 5);
        for (std::size_t i = s; i < end; ++i) {
            h ^= static_cast<unsigned char>(text[i]);
            h *= 1099511628211ull;
            if (i >= s + 2) {
                const std::uint64_t x = (h ^ (i - s + 1)) * 0xD6E8FEB86659FD93ull;
                emit(x ^ (x >> 32), 2);
            }
        }
    }
}

std::vector<RawFeature> raw_features(const std::vector<Token>& tokens) {
    std::vector<RawFeature> out;
    std::string text;
    each_raw_feature(tokens, text, [&](std::uint64_t h, int group) { out.push_back({h, group}); });
    return out;
}

constexpr std::array<float, 3> kGroupWeight = {kWordGroup, kBigramGroup, kCharGroup};

// Sublinear TF-IDF per feature, each group L2-normalised and weighted, then the whole vector
// L2-normalised. `sorted` holds the known features of a phrasing, one item per occurrence, in
// feature id order; id(item), idf(item) and group(item) describe an item. emit(item, value) is
// called once per distinct feature, in id order. Training and queries share this, so a query's
// vector is computed exactly as the training phrasings' were.
template <typename Item, typename Id, typename Idf, typename Group, typename Emit>
void weigh(std::span<const Item> sorted, const Id& id, const Idf& idf, const Group& group,
           std::vector<float>& values, std::vector<std::uint32_t>& starts, const Emit& emit) {
    // A distinct feature is a run of equal ids; starts[v] is where the v-th begins.
    values.clear();
    starts.clear();
    std::array<float, 3> norm{};
    for (std::size_t i = 0; i < sorted.size();) {
        std::size_t j = i + 1;
        while (j < sorted.size() && id(sorted[j]) == id(sorted[i])) ++j;
        // Term frequency: 1 + ln(count), which is exactly 1 for the usual count of 1.
        const auto count = static_cast<float>(j - i);
        const float w = (j - i == 1 ? 1.0f : 1.0f + std::log(count)) * idf(sorted[i]);
        values.push_back(w);
        starts.push_back(static_cast<std::uint32_t>(i));
        norm[group(sorted[i])] += w * w;
        i = j;
    }
    std::array<float, 3> scale{};
    for (std::size_t g = 0; g < scale.size(); ++g)
        scale[g] = kGroupWeight[g] / std::sqrt(std::max(norm[g], 1e-12f));
    for (std::size_t v = 0; v < values.size(); ++v) values[v] *= scale[group(sorted[starts[v]])];
    float total = 0;
    for (float x : values) total += x * x;
    total = std::sqrt(std::max(total, 1e-12f));
    for (std::size_t v = 0; v < values.size(); ++v) emit(sorted[starts[v]], values[v] / total);
}

// The training phrasing's vector: its raw features looked up in the vocabulary.
SparseVector vectorise(const std::vector<RawFeature>& raw,
                       const std::unordered_map<std::uint64_t, std::uint32_t>& feature_ids,
                       const std::vector<float>& idf, const std::vector<std::uint8_t>& groups) {
    std::vector<std::uint32_t> ids;
    ids.reserve(raw.size());
    for (const RawFeature& f : raw) {
        auto it = feature_ids.find(f.hash);
        if (it != feature_ids.end()) ids.push_back(it->second);
    }
    std::sort(ids.begin(), ids.end());
    SparseVector v;
    std::vector<float> values;
    std::vector<std::uint32_t> starts;
    weigh(
        std::span<const std::uint32_t>(ids), [](std::uint32_t f) { return f; },
        [&](std::uint32_t f) { return idf[f]; },
        [&](std::uint32_t f) { return static_cast<std::size_t>(groups[f]); }, values, starts,
        [&](std::uint32_t f, float x) {
            v.ids.push_back(f);
            v.values.push_back(x);
        });
    return v;
}

std::size_t slot_of(std::uint64_t key, std::size_t mask) noexcept {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

}  // namespace

bool Classifier::worth_training(const Corpus& corpus) noexcept {
    if (corpus.docs < 2 || corpus.docs > kMaxClasses) return false;
    return static_cast<double>(corpus.docs) * static_cast<double>(corpus.phrasings.size()) <=
           kMaxTrainCost;
}

Classifier Classifier::train(const Corpus& corpus, const std::vector<std::uint32_t>& phrasings) {
    Classifier model;
    model.classes_ = corpus.docs;
    const std::size_t c = corpus.docs;

    // Vocabulary and document frequencies over the training phrasings.
    std::vector<std::vector<RawFeature>> raws;
    raws.reserve(phrasings.size());
    std::vector<std::uint32_t> df;
    std::vector<std::uint8_t> groups;
    std::unordered_map<std::uint64_t, std::uint32_t> feature_ids;
    for (std::uint32_t pi : phrasings) {
        raws.push_back(raw_features(corpus.phrasings[pi].tokens));
        std::unordered_set<std::uint32_t> seen;
        for (const RawFeature& f : raws.back()) {
            auto [it, added] =
                feature_ids.try_emplace(f.hash, static_cast<std::uint32_t>(feature_ids.size()));
            if (added) {
                df.push_back(0);
                groups.push_back(static_cast<std::uint8_t>(f.group));
            }
            if (seen.insert(it->second).second) ++df[it->second];
        }
    }
    // Bigrams and character n-grams seen in one phrasing only are dropped (most of the
    // vocabulary, little of the signal); every word is kept. The kept ones are numbered densely
    // by group, and within a group by falling document frequency (see Classifier's members).
    constexpr std::uint32_t kMinDf = 2;
    {
        std::vector<std::uint32_t> kept;
        for (std::uint32_t f = 0; f < df.size(); ++f)
            if (groups[f] == 0 || df[f] >= kMinDf) kept.push_back(f);
        std::sort(kept.begin(), kept.end(), [&](std::uint32_t a, std::uint32_t b) {
            if (groups[a] != groups[b]) return groups[a] < groups[b];
            if (df[a] != df[b]) return df[a] > df[b];
            return a < b;
        });
        std::vector<std::uint32_t> remap(df.size(), UINT32_MAX);
        std::vector<std::uint32_t> kept_df(kept.size());
        std::vector<std::uint8_t> kept_groups(kept.size());
        for (std::uint32_t i = 0; i < kept.size(); ++i) {
            remap[kept[i]] = i;
            kept_df[i] = df[kept[i]];
            kept_groups[i] = groups[kept[i]];
        }
        for (auto it = feature_ids.begin(); it != feature_ids.end();) {
            if (remap[it->second] == UINT32_MAX) {
                it = feature_ids.erase(it);
            } else {
                it->second = remap[it->second];
                ++it;
            }
        }
        df = std::move(kept_df);
        groups = std::move(kept_groups);
        for (std::size_t g = 0; g < model.group_begin_.size(); ++g)
            model.group_begin_[g] = static_cast<std::uint32_t>(
                std::lower_bound(groups.begin(), groups.end(), g) - groups.begin());
    }
    const std::size_t nf = feature_ids.size();
    std::vector<float> idf(nf);
    const auto docs_n = static_cast<float>(phrasings.size());
    for (std::size_t f = 0; f < nf; ++f)
        idf[f] = std::log((1.0f + docs_n) / (1.0f + static_cast<float>(df[f]))) + 1.0f;

    std::vector<SparseVector> xs;
    std::vector<std::uint32_t> ys;
    std::vector<float> sample_weight;
    for (std::size_t i = 0; i < phrasings.size(); ++i) {
        const Phrasing& p = corpus.phrasings[phrasings[i]];
        xs.push_back(vectorise(raws[i], feature_ids, idf, groups));
        ys.push_back(p.doc);
        sample_weight.push_back(p.field == Field::Answer ? kAnswerSampleWeight : 1.0f);
    }
    raws.clear();

    // Nearest-neighbour postings over the question and alternate phrasings.
    {
        // Features in more than 2% of the phrasings (function words, common n-grams) carry little
        // of a phrasing's identity and most of the postings: leaving them out of the neighbour
        // index makes it three times faster, and the similarity no worse.
        constexpr double kNnMaxDf = 0.02;
        const auto max_df = static_cast<std::uint32_t>(kNnMaxDf * static_cast<double>(xs.size()));
        auto in_nn = [&](std::uint32_t f) { return df[f] <= max_df; };
        std::vector<std::uint32_t> count(nf + 1, 0);
        for (std::size_t i = 0; i < xs.size(); ++i) {
            if (sample_weight[i] < 1.0f) continue;
            for (std::uint32_t f : xs[i].ids)
                if (in_nn(f)) ++count[f + 1];
        }
        for (std::size_t f = 0; f < nf; ++f) count[f + 1] += count[f];
        model.nn_offsets_ = count;
        model.nn_postings_.resize(count[nf]);
        std::vector<std::uint32_t> fill(count.begin(), count.end() - 1);
        for (std::size_t i = 0; i < xs.size(); ++i) {
            if (sample_weight[i] < 1.0f) continue;
            const auto row = static_cast<std::uint32_t>(model.nn_label_.size());
            model.nn_label_.push_back(ys[i]);
            for (std::size_t j = 0; j < xs[i].ids.size(); ++j) {
                if (!in_nn(xs[i].ids[j])) continue;
                std::uint32_t at = fill[xs[i].ids[j]]++;
                model.nn_postings_[at] = {row, xs[i].values[j]};
            }
        }
    }

    // SGD on the softmax cross-entropy with a decaying learning rate and L2 decay, applied
    // lazily through a global scale (weights = scale * stored).
    std::vector<float> weights(nf * c, 0.0f);
    model.bias_.assign(c, 0.0f);
    std::vector<std::uint32_t> order(xs.size());
    std::iota(order.begin(), order.end(), 0u);
    std::mt19937 rng(12345);
    std::vector<float> z(c);
    double scale = 1.0;
    std::size_t step = 0;
    // Small sets get more passes so that every model sees enough updates.
    const int epochs = static_cast<int>(std::clamp<std::size_t>(
        kMinSteps / std::max<std::size_t>(xs.size(), 1), kEpochs, kMaxEpochs));
    const double total_steps = static_cast<double>(epochs) * static_cast<double>(xs.size());
    for (int epoch = 0; epoch < epochs; ++epoch) {
        std::shuffle(order.begin(), order.end(), rng);
        for (std::uint32_t i : order) {
            const SparseVector& x = xs[i];
            const double lr =
                kLearningRate * (1.0 - static_cast<double>(step) / total_steps) + 1e-3;
            ++step;
            for (std::size_t k = 0; k < c; ++k) z[k] = model.bias_[k];
            for (std::size_t j = 0; j < x.ids.size(); ++j) {
                const float* w = &weights[static_cast<std::size_t>(x.ids[j]) * c];
                const auto xv = static_cast<float>(x.values[j] * scale);
                for (std::size_t k = 0; k < c; ++k) z[k] += xv * w[k];
            }
            float mx = *std::max_element(z.begin(), z.end());
            float sum = 0;
            for (float& v : z) {
                v = std::exp(v - mx);
                sum += v;
            }
            for (float& v : z) v /= sum;
            z[ys[i]] -= 1.0f;  // gradient of the loss wrt logits
            const auto g = static_cast<float>(lr * sample_weight[i]);
            scale *= (1.0 - lr * kL2);
            for (std::size_t j = 0; j < x.ids.size(); ++j) {
                float* w = &weights[static_cast<std::size_t>(x.ids[j]) * c];
                const auto xv = static_cast<float>(g * x.values[j] / scale);
                for (std::size_t k = 0; k < c; ++k) w[k] -= xv * z[k];
            }
            for (std::size_t k = 0; k < c; ++k) model.bias_[k] -= g * z[k];
            if (scale < 1e-3) {
                for (float& w : weights) w = static_cast<float>(w * scale);
                scale = 1.0;
            }
        }
    }
    for (float& w : weights) w = static_cast<float>(w * scale);

    // Store the weights as 8-bit integers with a scale per feature: a quarter of the memory, and
    // no measurable change in ranking.
    model.w_scale_.resize(nf);
    model.w_quant_.resize(nf * c);
    for (std::size_t f = 0; f < nf; ++f) {
        const float* row = &weights[f * c];
        float mx = 0;
        for (std::size_t k = 0; k < c; ++k) mx = std::max(mx, std::abs(row[k]));
        const float unit = mx > 0 ? mx / 127.0f : 1.0f;
        model.w_scale_[f] = unit;
        for (std::size_t k = 0; k < c; ++k)
            model.w_quant_[f * c + k] = static_cast<std::int8_t>(std::lround(row[k] / unit));
    }

    // Feature hashes in an open-addressing table (at most three quarters full, linear probing)
    // for lookups at query time.
    std::size_t capacity = 16;
    while (4 * nf > 3 * capacity) capacity *= 2;
    model.slots_.assign(capacity, Slot{});
    model.slot_mask_ = capacity - 1;
    for (const auto& [h, id] : feature_ids) {
        const std::uint64_t key = h == 0 ? 1 : h;  // 0 marks an empty slot
        std::size_t at = slot_of(key, model.slot_mask_);
        while (model.slots_[at].key != 0) at = (at + 1) & model.slot_mask_;
        model.slots_[at] = {key, id, idf[id]};
    }
    return model;
}

void Classifier::features(const std::vector<Token>& tokens, Scratch& scratch) const {
    // Hash every raw feature and prefetch its slot, then resolve them: the table is larger than
    // the caches, and a query has a hundred or more features, so the lookups overlap instead of
    // waiting for memory one after the other.
    // The buffers are sized for the most features the tokens can give (a word and a bigram per
    // token, three character n-grams per byte of the joined text) and written without checks.
    std::size_t most = 3;
    for (const Token& t : tokens) most += 2 + 3 * (t.word.size() + 1);
    if (scratch.hashes.size() < most) scratch.hashes.resize(most);
    std::uint64_t* hashes = scratch.hashes.data();
    std::size_t n = 0;
    each_raw_feature(tokens, scratch.text, [&](std::uint64_t h, int) {
        const std::uint64_t key = h == 0 ? 1 : h;
        assert(n < most);
        hashes[n++] = key;
        __builtin_prefetch(&slots_[slot_of(key, slot_mask_)]);
    });
    // Only grown (a resize that grows value-initialises what it adds, every query).
    if (scratch.found.size() < n) scratch.found.resize(n);
    std::uint64_t* found = scratch.found.data();
    std::size_t m = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t key = hashes[i];
        for (std::size_t at = slot_of(key, slot_mask_); slots_[at].key != 0;
             at = (at + 1) & slot_mask_) {
            if (slots_[at].key == key) {
                const std::uint32_t id = slots_[at].id;
                found[m++] = std::uint64_t{id} << 32 | std::bit_cast<std::uint32_t>(slots_[at].idf);
                // What the scorers read of this feature, fetched while the rest is resolved and
                // weighed: its weight row (every line of it) and its postings range.
                const std::int8_t* row = &w_quant_[static_cast<std::size_t>(id) * classes_];
                for (std::size_t b = 0; b < classes_; b += 64) __builtin_prefetch(row + b);
                __builtin_prefetch(&nn_offsets_[id]);
                break;
            }
        }
    }
    const std::span<std::uint64_t> known(found, m);
    // By id (a feature's idf is the same wherever it occurs, so this is the order by id alone).
    std::sort(known.begin(), known.end());
    auto id_of = [](std::uint64_t f) { return static_cast<std::uint32_t>(f >> 32); };
    scratch.active.clear();
    weigh(
        std::span<const std::uint64_t>(known), id_of,
        [](std::uint64_t f) { return std::bit_cast<float>(static_cast<std::uint32_t>(f)); },
        [&](std::uint64_t f) { return group_of(id_of(f)); }, scratch.values, scratch.run_starts,
        [&](std::uint64_t f, float x) {
            scratch.active.push_back({id_of(f), x});
        });
    // The postings nearest() reads.
    for (const Scratch::Active& a : scratch.active) {
        const std::uint32_t nn = nn_offsets_[a.id];
        if (nn != nn_offsets_[a.id + 1]) __builtin_prefetch(&nn_postings_[nn]);
    }
}

namespace {

// out[k] = bias[k] + sum over the query's features of value * scale * weight[k], for k in
// [0, classes). Each class's sum is the same float multiplications and additions in the same order
// (bias first, then the features in order; no fused multiply-add) in both versions below, so every
// machine ranks alike.
void weighted_rows_plain(const Scratch::Active* active, std::size_t n, const float* scale,
                         const std::int8_t* w, std::size_t classes, std::size_t k0,
                         const float* bias, float* out) {
    for (std::size_t k = k0; k < classes; ++k) out[k] = bias[k];
    for (std::size_t i = 0; i < n; ++i) {
        const float xv = active[i].value * scale[active[i].id];
        const std::int8_t* row = w + static_cast<std::size_t>(active[i].id) * classes;
        for (std::size_t k = k0; k < classes; ++k) out[k] += xv * static_cast<float>(row[k]);
    }
}

#if defined(__x86_64__)
// The low 8 bytes of b as 8 floats.
__attribute__((target("avx2"))) inline __m256 widen(__m128i b) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
}

// With AVX2: blocks of 32 classes summed in four registers across all the features (the plain
// loop loads and stores every class's sum once per feature), the rest by the plain loop.
__attribute__((target("avx2"))) void weighted_rows_avx2(const Scratch::Active* active,
                                                        std::size_t n, const float* scale,
                                                        const std::int8_t* w, std::size_t classes,
                                                        const float* bias, float* out) {
    std::size_t k0 = 0;
    for (; k0 + 32 <= classes; k0 += 32) {
        __m256 a0 = _mm256_loadu_ps(bias + k0), a1 = _mm256_loadu_ps(bias + k0 + 8);
        __m256 a2 = _mm256_loadu_ps(bias + k0 + 16), a3 = _mm256_loadu_ps(bias + k0 + 24);
        for (std::size_t i = 0; i < n; ++i) {
            const __m256 x = _mm256_set1_ps(active[i].value * scale[active[i].id]);
            const std::int8_t* row = w + static_cast<std::size_t>(active[i].id) * classes + k0;
            const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row));
            const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 16));
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(x, widen(lo)));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(x, widen(_mm_srli_si128(lo, 8))));
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(x, widen(hi)));
            a3 = _mm256_add_ps(a3, _mm256_mul_ps(x, widen(_mm_srli_si128(hi, 8))));
        }
        _mm256_storeu_ps(out + k0, a0);
        _mm256_storeu_ps(out + k0 + 8, a1);
        _mm256_storeu_ps(out + k0 + 16, a2);
        _mm256_storeu_ps(out + k0 + 24, a3);
    }
    if (k0 < classes) weighted_rows_plain(active, n, scale, w, classes, k0, bias, out);
}
#endif

// out[i] = e^(v[i] - mx) for v[i] <= mx, as float: the range reduction and polynomial of
// Cephes' expf (x = k ln 2 + r, |r| <= ln 2 / 2; relative error about 1e-7), then 2^k from the
// exponent bits. Both versions below do the same float operations in the same order (no fused
// multiply-add), so every machine gets the same bits; an argument below -87 (or NaN) gives 0.
// The softmax needs an exponential per class and query: the library's exp costs five times as
// much.
constexpr float kExpLow = -87.0f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr std::array<float, 6> kExpPoly = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                           4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

float exp_one(float v, float mx) noexcept {
    const float x = v - mx;
    if (!(x >= kExpLow)) return 0.0f;
    const float k = std::floor(x * kLog2e + 0.5f);
    float r = x - k * kLn2Hi;
    r = r - k * kLn2Lo;
    const float z = r * r;
    float p = kExpPoly[0];
    for (std::size_t i = 1; i < kExpPoly.size(); ++i) p = p * r + kExpPoly[i];
    float y = p * z;
    y = y + r;
    y = y + 1.0f;
    const auto pow2 =
        std::bit_cast<float>(static_cast<std::uint32_t>(static_cast<int>(k) + 127) << 23);
    return y * pow2;
}

void exp_shifted_plain(const float* v, float mx, std::size_t n, std::size_t i0, float* out) {
    for (std::size_t i = i0; i < n; ++i) out[i] = exp_one(v[i], mx);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void exp_shifted_avx2(const float* v, float mx, std::size_t n,
                                                      float* out) {
    const __m256 m = _mm256_set1_ps(mx), low = _mm256_set1_ps(kExpLow);
    const __m256 log2e = _mm256_set1_ps(kLog2e), half = _mm256_set1_ps(0.5f);
    const __m256 hi = _mm256_set1_ps(kLn2Hi), lo = _mm256_set1_ps(kLn2Lo);
    const __m256 one = _mm256_set1_ps(1.0f);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_sub_ps(_mm256_loadu_ps(v + i), m);
        const __m256 keep = _mm256_cmp_ps(x, low, _CMP_GE_OQ);
        const __m256 k = _mm256_floor_ps(_mm256_add_ps(_mm256_mul_ps(x, log2e), half));
        __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(k, hi));
        r = _mm256_sub_ps(r, _mm256_mul_ps(k, lo));
        const __m256 z = _mm256_mul_ps(r, r);
        __m256 p = _mm256_set1_ps(kExpPoly[0]);
        for (std::size_t j = 1; j < kExpPoly.size(); ++j)
            p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(kExpPoly[j]));
        __m256 y = _mm256_mul_ps(p, z);
        y = _mm256_add_ps(y, r);
        y = _mm256_add_ps(y, one);
        const __m256i e =
            _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(k), _mm256_set1_epi32(127)), 23);
        y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
        _mm256_storeu_ps(out + i, _mm256_and_ps(y, keep));
    }
    exp_shifted_plain(v, mx, n, i, out);
}
#endif

void exp_shifted(const float* v, float mx, std::size_t n, float* out) {
#if defined(__x86_64__)
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) return exp_shifted_avx2(v, mx, n, out);
#endif
    exp_shifted_plain(v, mx, n, 0, out);
}

void weighted_rows(const Scratch::Active* active, std::size_t n, const float* scale,
                   const std::int8_t* w, std::size_t classes, const float* bias, float* out) {
#if defined(__x86_64__)
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) return weighted_rows_avx2(active, n, scale, w, classes, bias, out);
#endif
    weighted_rows_plain(active, n, scale, w, classes, 0, bias, out);
}

}  // namespace

void Classifier::log_probs(Scratch& scratch) const {
    std::vector<float>& out = scratch.log_probs;
    out.resize(classes_);
    weighted_rows(scratch.active.data(), scratch.active.size(), w_scale_.data(), w_quant_.data(),
                  classes_, bias_.data(), out.data());
    const float mx = *std::max_element(out.begin(), out.end());
    std::vector<float>& e = scratch.exps;
    e.resize(classes_);
    exp_shifted(out.data(), mx, classes_, e.data());
    double sum = 0;
    for (float v : e) sum += v;
    const auto log_sum = static_cast<float>(std::log(sum)) + mx;
    for (float& v : out) v -= log_sum;
}

void Classifier::nearest(Scratch& scratch) const {
    // Similarities are sums of positive products, so a phrasing no query feature reaches stays at
    // 0 and cannot raise its FAQ's maximum (which starts at 0): only the phrasings reached are
    // visited, then set back to 0 (the buffer is all zero between queries; `reached` has room
    // for every phrasing, so recording one never allocates, and nothing here can throw).
    std::vector<float>& sim = scratch.similarity;
    std::vector<std::uint32_t>& reached = scratch.reached;
    if (sim.size() != nn_label_.size()) sim.assign(nn_label_.size(), 0.0f);
    reached.clear();
    reached.reserve(nn_label_.size());
    for (const Scratch::Active& a : scratch.active) {
        const float v = a.value;
        for (std::uint32_t i = nn_offsets_[a.id]; i < nn_offsets_[a.id + 1]; ++i) {
            const std::uint32_t p = nn_postings_[i].phrasing;
            if (sim[p] == 0.0f) reached.push_back(p);
            sim[p] += v * nn_postings_[i].value;
        }
    }
    std::vector<float>& out = scratch.neighbour;
    out.assign(classes_, 0.0f);
    for (const std::uint32_t p : reached) {
        out[nn_label_[p]] = std::max(out[nn_label_[p]], sim[p]);
        sim[p] = 0.0f;
    }
}

void Classifier::score(const std::vector<Token>& tokens, Scratch& scratch) const {
    features(tokens, scratch);
    log_probs(scratch);
    nearest(scratch);
}

std::size_t Classifier::memory_bytes() const noexcept {
    return slots_.capacity() * sizeof(Slot) + w_quant_.capacity() + w_scale_.capacity() * 4 +
           bias_.capacity() * 4 + nn_offsets_.capacity() * 4 +
           nn_postings_.capacity() * sizeof(Posting) + nn_label_.capacity() * 4;
}

// ---- Ranking -------------------------------------------------------------------------------

std::vector<Scored> rank(Query& query, const LexicalIndex& lexical, const Classifier* classifier,
                         const Calibrator& calibrator, std::size_t k, Scratch& scratch) {
    LexicalMatch match = lexical.resolve(query, scratch);
    const std::size_t n = lexical.docs();
    std::vector<float>& lex = scratch.scores;
    std::vector<std::uint32_t>& touched = scratch.touched;
    // Per-document scores are only needed to blend with the classifier (sets of at most
    // kMaxClasses FAQs); the lexical-only path takes its top k from LexicalIndex::top.
    if (classifier && lex.size() != n) lex.assign(n, 0.0f);
    touched.clear();
    // Leaves the scratch scores all zero again however this function exits.
    struct Reset {
        Scratch& s;
        ~Reset() {
            for (std::uint32_t d : s.touched) s.scores[d] = 0.0f;
            s.touched.clear();
        }
    } reset{scratch};
    if (classifier) lexical.score(match, lex, touched);
    float best_possible = 0;
    for (const QueryTerm& t : match.terms) best_possible += t.idf * (kK1 + 1.0f);
    // The best possible score counts every non-stop word of the query, known or not.
    const float coverage =
        match.query_idf_mass > 0 ? match.known_idf_mass / match.query_idf_mass : 0.0f;
    const float lex_norm = best_possible > 0 ? 1.0f / best_possible : 0.0f;

    std::vector<Scored> all;
    if (classifier) {
        classifier->score(query.tokens, scratch);
        const std::vector<float>& lp = scratch.log_probs;
        const std::vector<float>& nn = scratch.neighbour;
        // Only the best k are kept, in order, as they come (a candidate joins when it beats the
        // k-th so far): no record is made for the other documents.
        const std::size_t keep = std::min(k, n);
        all.reserve(keep + 1);
        auto before = [](const Scored& a, double score, std::uint32_t doc) {
            return a.score > score || (a.score == score && a.doc < doc);
        };
        for (std::uint32_t d = 0; d < n && keep > 0; ++d) {
            const float lexical_match = lex[d] * lex_norm;
            const double score = lp[d] + kLexicalBlend * lexical_match + kNeighbourBlend * nn[d];
            if (all.size() == keep && before(all.back(), score, d)) continue;
            std::size_t at = all.size();
            while (at > 0 && !before(all[at - 1], score, d)) --at;
            Scored& s = *all.insert(all.begin() + static_cast<std::ptrdiff_t>(at), Scored{});
            s.doc = d;
            s.score = score;
            s.evidence.log_prob = lp[d];
            s.evidence.lexical_match = lexical_match;
            s.evidence.neighbour = nn[d];
            if (all.size() > keep) all.pop_back();
        }
    } else {
        // The best k, plus one for the margin.
        for (const auto& [d, score] : lexical.top(match, k + 1)) {
            Scored s;
            s.doc = d;
            s.evidence.lexical_match = score * lex_norm;
            s.score = score;
            all.push_back(s);
        }
    }
    const std::size_t keep = std::min(k, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                      [](const Scored& a, const Scored& b) {
                          return a.score > b.score || (a.score == b.score && a.doc < b.doc);
                      });
    all.resize(keep);
    for (std::size_t i = 0; i < all.size(); ++i) {
        Evidence& e = all[i].evidence;
        e.coverage = coverage;
        // Gap to the best other candidate, in the units the ranking used.
        double other = i == 0 ? (all.size() > 1 ? all[1].score : all[0].score - 1.0) : all[0].score;
        double gap = all[i].score - other;
        e.margin = static_cast<float>(classifier ? gap : gap * lex_norm);
        all[i].confidence = calibrator.confidence(e);
        // A lower-ranked FAQ is never more likely to be the answer than a higher-ranked one.
        if (i > 0) all[i].confidence = std::min(all[i].confidence, all[i - 1].confidence);
    }
    return all;
}

// ---- Calibration ---------------------------------------------------------------------------

double Calibrator::fitted(const Evidence& e) const noexcept {
    auto v = e.vector();
    double z = 0;
    for (std::size_t i = 0; i < v.size(); ++i) z += weights[i] * v[i];
    return sigmoid(z);
}

double Calibrator::confidence(const Evidence& e) const noexcept {
    // A question whose content words the FAQs barely know cannot be answered with confidence,
    // however the classifier spreads its probability: small FAQ sets see few such questions when
    // calibrating, so this is stated rather than learnt.
    const double known = std::min(1.0, static_cast<double>(e.coverage) / 0.25);
    // Nor can an FAQ that shares no content word with the question (even after typo
    // correction) be taken at the classifier's word alone: its confidence is halved.
    const double overlap = e.lexical_match > 0 ? 1.0 : 0.5;
    return fitted(e) * (0.1 + 0.9 * known) * overlap;
}

namespace {

// Where an FAQ set has few phrasings to calibrate on, the fit stays near these weights (what the
// fits on large labelled sets look like), for log-prob, margin, coverage, lexical match,
// neighbour similarity and bias.
constexpr std::array<double, 6> kPriorWeights = {1.4, 0.4, 0.7, 0.3, 2.1, -1.5};
// The same for sets ranked by the lexical index alone (no classifier, no neighbours).
constexpr std::array<double, 6> kLexicalPriorWeights = {0.0, 4.0, 3.0, 6.0, 0.0, -6.0};
constexpr std::size_t kMaxCalibrationQueries = 3000;
// How many samples the prior is worth.
constexpr double kPriorStrength = 100.0;
// Budget for calibration folds: documents x phrasings trained on, summed over the folds.
constexpr double kCalibrationBudget = 6.0e6;
constexpr std::size_t kMaxFolds = 4;

struct CalibrationSample {
    Evidence evidence;
    int label;  // 1 answered right, 0 wrong or uncovered
    bool covered;
    double weight = 1;
};

// Weighted logistic regression on the evidence, by gradient descent, with a Gaussian prior
// around the prior worth kPriorStrength samples.
Calibrator fit_calibrator(const std::vector<CalibrationSample>& samples,
                          const std::array<double, 6>& prior) {
    Calibrator c;
    c.weights = prior;
    double total = 0;
    for (const auto& s : samples) total += s.weight;
    if (total <= 0) return c;
    const double n_eff = static_cast<double>(samples.size());
    const double tau = kPriorStrength / n_eff;
    // The prior's pull alone moves a weight by step * tau of its distance to the prior each
    // iteration: past 2 that overshoots further every time and the fit diverges (a small FAQ set
    // gives few calibration samples, so a large tau). The step shrinks with tau to stay stable;
    // with 100 samples or more (tau <= 1) it is the plain 0.5.
    const double step = 0.5 / std::max(1.0, tau);
    for (int it = 0; it < 500; ++it) {
        std::array<double, 6> grad{};
        for (const auto& s : samples) {
            auto v = s.evidence.vector();
            const double g = (c.fitted(s.evidence) - s.label) * s.weight / total;
            for (std::size_t i = 0; i < 6; ++i) grad[i] += g * static_cast<double>(v[i]);
        }
        for (std::size_t i = 0; i < 6; ++i)
            c.weights[i] -= step * (grad[i] + tau * (c.weights[i] - prior[i]));
    }
    return c;
}

// The decision. A covered question answered with the right FAQ is a success, an uncovered one
// escalated is a success, and a covered one answered wrong or escalated is a failure either way:
// so the bot should answer exactly when "the best FAQ is right" is likelier than "no FAQ covers
// the question". The confidence is the calibrated probability of the first against the two
// (wrong answers to covered questions are left out of the calibration: they weigh on neither
// side), and the bot answers above one half.
constexpr double kDecisionThreshold = 0.5;

// How much of the traffic no FAQ covers, before any question is seen. An FAQ set carries the
// evidence: each phrasing of an FAQ is a question that was asked and covered. With m phrasings
// per FAQ on average and none uncovered, Laplace's rule gives 1 / (m + 1) for the next question
// being of a kind not seen yet: one half for a set of bare questions, a sixth for five phrasings,
// a hundredth for sets mined from traffic logs (a hundred phrasings an FAQ). Not fitted to any
// data set.
double uncovered_prior(const Corpus& corpus) {
    std::size_t asked = 0;
    for (const Phrasing& p : corpus.phrasings) asked += p.field == Field::Answer ? 0 : 1;
    const double m =
        static_cast<double>(asked) / static_cast<double>(std::max<std::size_t>(corpus.docs, 1));
    return 1.0 / (std::max(m, 1.0) + 1.0);
}

}  // namespace

namespace {

// Runs task(0) ... task(n - 1), on up to `threads` threads (the caller's included), and rethrows
// the first exception a task threw once all have finished.
void run_tasks(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& task) {
    std::atomic<std::size_t> next{0};
    std::mutex error_mutex;
    std::exception_ptr error;
    auto worker = [&] {
        for (std::size_t i = next++; i < n; i = next++) {
            try {
                task(i);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
            }
        }
    };
    std::vector<std::thread> pool;
    try {
        for (std::size_t t = 1; t < std::min(threads, n); ++t) pool.emplace_back(worker);
    } catch (const std::system_error&) {
        // No more threads to be had: the ones there are (and this one) do the work.
    }
    worker();
    for (std::thread& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace

Model build_model(const Corpus& corpus, bool with_classifier, std::size_t threads) {
    std::mt19937 rng(20261125);
    std::vector<std::uint32_t> doc_order(corpus.docs);
    std::iota(doc_order.begin(), doc_order.end(), 0u);
    std::shuffle(doc_order.begin(), doc_order.end(), rng);
    std::vector<std::size_t> fold_of(corpus.docs);
    for (std::size_t i = 0; i < doc_order.size(); ++i) fold_of[doc_order[i]] = i % kMaxFolds;

    // Training a classifier costs documents x phrasings; a lexical index is cheap, one fold
    // is enough for the sets that use it alone (large ones).
    const double cost =
        static_cast<double>(corpus.docs) * static_cast<double>(corpus.phrasings.size());
    std::size_t folds = with_classifier
                            ? std::clamp<std::size_t>(
                                  static_cast<std::size_t>(kCalibrationBudget / cost), 1, kMaxFolds)
                            : 1;
    if (corpus.docs < kMaxFolds) folds = 0;
    const std::array<double, 6>& prior = with_classifier ? kPriorWeights : kLexicalPriorWeights;
    Calibrator fallback;
    fallback.weights = prior;
    fallback.threshold = kDecisionThreshold;

    // The folds are drawn first, in order (one random sequence, so the model is the same
    // whatever the number of threads); the training runs after.
    struct Fold {
        std::vector<std::uint32_t> train, held_in, held_out;
    };
    std::vector<Fold> plan;
    std::bernoulli_distribution hold(0.2);
    for (std::size_t fold = 0; fold < folds; ++fold) {
        // A quarter of the FAQs is held out entirely: their phrasings play uncovered questions.
        // A fifth of the other FAQs' alternates is held out as covered questions.
        Fold f;
        for (std::uint32_t i = 0; i < corpus.phrasings.size(); ++i) {
            const Phrasing& p = corpus.phrasings[i];
            if (fold_of[p.doc] == fold) {
                if (p.field != Field::Answer) f.held_out.push_back(i);
            } else if (p.field == Field::Alternate && hold(rng)) {
                f.held_in.push_back(i);
            } else {
                f.train.push_back(i);
            }
        }
        if (f.held_in.empty() || f.held_out.empty()) continue;
        // Large sets: a sample of the held-out phrasings is enough.
        for (auto* held : {&f.held_in, &f.held_out}) {
            if (held->size() <= kMaxCalibrationQueries) continue;
            std::shuffle(held->begin(), held->end(), rng);
            held->resize(kMaxCalibrationQueries);
        }
        plan.push_back(std::move(f));
    }

    // Each fold trains a model on its part and ranks the held-out phrasings with it; the final
    // classifier trains on everything. They are independent: run side by side (this is most of
    // the time it takes to build an index), their results gathered in fold order.
    Model out;
    std::vector<std::vector<CalibrationSample>> fold_samples(plan.size());
    auto run_fold = [&](std::size_t fi) {
        const Fold& f = plan[fi];
        LexicalIndex lexical = LexicalIndex::build(corpus, f.train);
        std::unique_ptr<Classifier> model;
        if (with_classifier)
            model = std::make_unique<Classifier>(Classifier::train(corpus, f.train));
        Scratch scratch;
        auto add = [&](std::uint32_t pi, bool covered) {
            const Phrasing& p = corpus.phrasings[pi];
            Query q{p.tokens};
            if (q.tokens.empty()) return;
            std::vector<Scored> r = rank(q, lexical, model.get(), fallback, 2, scratch);
            if (r.empty()) return;
            int label = covered && r[0].doc == p.doc ? 1 : 0;
            fold_samples[fi].push_back({r[0].evidence, label, covered});
        };
        for (std::uint32_t pi : f.held_in) add(pi, true);
        for (std::uint32_t pi : f.held_out) add(pi, false);
    };
    const std::size_t tasks = plan.size() + (with_classifier ? 1 : 0);
    if (threads == 0) threads = std::thread::hardware_concurrency();
    run_tasks(tasks, std::clamp<std::size_t>(threads, 1, kMaxBuildThreads), [&](std::size_t i) {
        if (i < plan.size())
            run_fold(i);
        else
            out.classifier = std::make_unique<Classifier>(Classifier::train(corpus, corpus.all()));
    });

    std::vector<CalibrationSample> samples;
    for (auto& fs : fold_samples) samples.insert(samples.end(), fs.begin(), fs.end());
    // Covered and uncovered questions get the shares of the weight the prior gives them, whatever
    // their counts; then the covered ones answered wrong leave (see kDecisionThreshold).
    const double prior_uncovered = uncovered_prior(corpus);
    std::size_t covered = 0;
    for (const auto& s : samples) covered += s.covered ? 1 : 0;
    const std::size_t uncovered = samples.size() - covered;
    for (auto& s : samples) {
        s.weight =
            s.covered
                ? (1.0 - prior_uncovered) / static_cast<double>(std::max<std::size_t>(covered, 1))
                : prior_uncovered / static_cast<double>(std::max<std::size_t>(uncovered, 1));
    }
    std::erase_if(samples, [](const CalibrationSample& x) { return x.covered && x.label == 0; });
    if (samples.empty()) {
        out.calibrator = fallback;
    } else {
        out.calibrator = fit_calibrator(samples, prior);
        out.calibrator.threshold = kDecisionThreshold;
    }
    return out;
}

}  // namespace sb
