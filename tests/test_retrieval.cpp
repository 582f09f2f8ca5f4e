// Text analysis and the retrieval index.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <thread>

#include "common/error.hpp"
#include "retrieval/index.hpp"
#include "retrieval/model.hpp"
#include "retrieval/text.hpp"

namespace {

sb::FaqEntry faq(std::string id, std::string q, std::string a, std::vector<std::string> alts = {}) {
    sb::FaqEntry e;
    e.id = std::move(id);
    e.question = std::move(q);
    e.answer = std::move(a);
    e.alternates = std::move(alts);
    return e;
}

std::vector<sb::FaqEntry> shop() {
    return {
        faq("refund", "How do I get a refund?",
            "Open the order in your account and choose Request refund; refunds reach your card in "
            "5 to 10 business days.",
            {"can I get my money back", "refund my order", "I want a refund for a broken item"}),
        faq("shipping-time", "How long does shipping take?",
            "Standard delivery takes 3 to 5 business days.",
            {"when will my package arrive", "delivery time", "how many days until my order comes"}),
        faq("password", "How do I reset my password?",
            "Use Forgot password on the sign-in page and follow the e-mail link.",
            {"I forgot my password", "can't log in to my account", "password reset link"}),
        faq("cancel-subscription", "How do I cancel my subscription?",
            "Go to Settings, Billing, Cancel plan. You keep access until the period ends.",
            {"stop my membership", "end my plan", "unsubscribe from the paid plan"}),
        faq("payment-methods", "Which payment methods do you accept?",
            "We accept Visa, Mastercard, American Express, PayPal and gift cards.",
            {"can I pay with paypal", "do you take credit cards", "payment options"}),
        faq("international", "Do you ship internationally?",
            "We ship to 40 countries; duties are shown at checkout.",
            {"do you deliver abroad", "shipping to canada", "can I order from outside the US"}),
        faq("warranty", "What does the warranty cover?",
            "Every product has a one-year warranty against manufacturing defects.",
            {"my blender stopped working", "is there a guarantee", "product broke after a month"}),
        faq("gift-card", "How do I use a gift card?",
            "Enter the gift card code at checkout under Payment.",
            {"redeem a gift card", "where do I put my gift code", "gift voucher"}),
    };
}

std::shared_ptr<const sb::FaqIndex> shop_index() {
    return sb::FaqIndex::build(shop(), sb::IndexOptions{});
}

std::string top_id(const sb::FaqIndex& ix, std::string_view q) {
    auto hits = ix.search(q, 3);
    REQUIRE_FALSE(hits.empty());
    return ix.entries()[hits[0].index].id;
}

}  // namespace

TEST_CASE("fold_text normalises case, accents and compatibility forms") {
    CHECK(sb::fold_text("Hello WORLD") == "hello world");
    CHECK(sb::fold_text("Café Crème") == "cafe creme");
    CHECK(sb::fold_text("STRASSE Straße") == "strasse strasse");
    CHECK(sb::fold_text("\xEF\xBC\xA1\xEF\xBC\xA2") == "ab");  // full-width A B
    CHECK(sb::fold_text("ÉCOLE") == "ecole");
}

TEST_CASE("split_words splits on punctuation and keeps apostrophe words whole") {
    auto w = sb::split_words("don't stop-me now, it's 2 a.m.");
    std::vector<std::string> want = {"dont", "stop", "me", "now", "its", "2", "a", "m"};
    CHECK(w == want);
    CHECK(sb::split_words("   ").empty());
    CHECK(sb::split_words("naïve") == std::vector<std::string>{"naïve"});
    CHECK(sb::split_words(sb::fold_text("Naïve Ωmega")) ==
          std::vector<std::string>{"naive", "ωmega"});
}

TEST_CASE("stop words and stemming") {
    CHECK(sb::is_stop_word("the"));
    CHECK(sb::is_stop_word("how"));
    CHECK_FALSE(sb::is_stop_word("refund"));
    sb::Stemmer st("english");
    CHECK(st.stem("refunds") == "refund");
    CHECK(st.stem("shipping") == "ship");
    CHECK(st.stem("cancelled") == st.stem("cancel"));
    CHECK_THROWS_AS(sb::Stemmer("klingon"), sb::Error);
}

TEST_CASE("a stem cache gives the stems the stemmer gives, and only for the words it holds") {
    sb::Stemmer st("english");
    sb::StemCache cache;
    std::string_view stem;
    CHECK_FALSE(cache.find("refunds", stem));  // empty
    const std::string known = "Refunds for cancelled orders: shipping, Ünïcode and 42 items";
    const auto known_tokens = sb::analyse(known, st);
    REQUIRE(known_tokens.size() == 9);  // distinct words
    for (const sb::Token& t : known_tokens) cache.add(t.word, t.stem);
    // Several hundred words: the table grows while keeping the ones before.
    for (int i = 0; i < 600; ++i) {
        const std::string w = "word" + std::to_string(i) + "ing";
        cache.add(w, st.stem(w));
    }
    const std::string longest(255, 'x'), too_long(256, 'y');
    cache.add(longest, "x");
    cache.add(too_long, "y");
    cache.add("refunds", "not the first stem");  // a word keeps its first stem
    CHECK(cache.size() == 9 + 600 + 1);

    REQUIRE(cache.find("refunds", stem));
    CHECK(stem == "refund");
    REQUIRE(cache.find("cancelled", stem));
    CHECK(stem == st.stem("cancelled"));
    REQUIRE(cache.find("word599ing", stem));
    CHECK(stem == st.stem("word599ing"));
    REQUIRE(cache.find(longest, stem));
    CHECK(stem == "x");
    CHECK_FALSE(cache.find(too_long, stem));
    CHECK_FALSE(cache.find("refund", stem));  // not added
    CHECK_FALSE(cache.find("refundss", stem));
    CHECK_FALSE(cache.find("", stem));

    // Known, unknown and mixed text analyse exactly as without the cache.
    for (const std::string& text :
         {known, std::string("my refunds arrived; the shipping was cancelled"),
          std::string("entirely novel vocabulary here"), std::string(""), std::string("!!! ...")}) {
        INFO(text);
        const auto plain = sb::analyse(text, st);
        const auto cached = sb::analyse(text, st, &cache);
        REQUIRE(plain.size() == cached.size());
        for (std::size_t i = 0; i < plain.size(); ++i) {
            CHECK(plain[i].word == cached[i].word);
            CHECK(plain[i].stem == cached[i].stem);
            CHECK(plain[i].stop == cached[i].stop);
        }
    }
}

TEST_CASE("edit_distance counts insertions, deletions, substitutions and transpositions") {
    CHECK(sb::edit_distance("refund", "refund", 2) == 0);
    CHECK(sb::edit_distance("refund", "refnud", 2) == 1);  // transposition
    CHECK(sb::edit_distance("refund", "refunds", 2) == 1);
    CHECK(sb::edit_distance("refund", "rfund", 2) == 1);
    CHECK(sb::edit_distance("refund", "rxfxnd", 2) == 2);
    CHECK(sb::edit_distance("refund", "banana", 2) == 3);  // over the bound
}

TEST_CASE("the index ranks the right FAQ first for phrasings it has not seen") {
    auto ix = shop_index();
    CHECK(top_id(*ix, "how can I get a refund") == "refund");
    CHECK(top_id(*ix, "money back please") == "refund");
    CHECK(top_id(*ix, "how long until my package is delivered") == "shipping-time");
    CHECK(top_id(*ix, "I can't remember my password") == "password");
    CHECK(top_id(*ix, "cancel my membership") == "cancel-subscription");
    CHECK(top_id(*ix, "do you accept paypal?") == "payment-methods");
    CHECK(top_id(*ix, "do you ship to Canada") == "international");
    CHECK(top_id(*ix, "My blender broke, is it under warranty?") == "warranty");
}

TEST_CASE("typos in query words are tolerated") {
    auto ix = shop_index();
    CHECK(top_id(*ix, "how do I get a refnud") == "refund");
    CHECK(top_id(*ix, "resett my pasword") == "password");
    CHECK(top_id(*ix, "cancle my subscripton") == "cancel-subscription");
    CHECK(top_id(*ix, "warrenty") == "warranty");
}

TEST_CASE("results carry scores, confidences in [0,1], and k is honoured") {
    auto ix = shop_index();
    auto hits = ix->search("refund for my order", 5);
    REQUIRE(hits.size() == 5);
    std::set<std::uint32_t> seen;
    for (std::size_t i = 0; i < hits.size(); ++i) {
        CHECK(hits[i].confidence >= 0.0);
        CHECK(hits[i].confidence <= 1.0);
        if (i > 0) CHECK(hits[i - 1].score >= hits[i].score);
        if (i > 0) CHECK(hits[i - 1].confidence >= hits[i].confidence);
        seen.insert(hits[i].index);
    }
    CHECK(seen.size() == 5);
    CHECK(ix->search("refund", 1).size() == 1);
    CHECK(ix->search("refund", 100).size() == ix->entries().size());
    CHECK(ix->search("", 5).empty());
    CHECK(ix->search("?!", 5).empty());
    CHECK(ix->default_threshold() > 0.0);
    CHECK(ix->default_threshold() < 1.0);
    CHECK(ix->memory_bytes() > 0);
}

TEST_CASE("an out-of-scope question gets a lower confidence than a covered one") {
    auto ix = shop_index();
    auto in = ix->search("how do I get my money back", 1);
    auto out = ix->search("what is the capital of mongolia", 1);
    REQUIRE(in.size() == 1);
    REQUIRE(out.size() == 1);
    CHECK(in[0].confidence > out[0].confidence);
    CHECK(in[0].confidence >= ix->default_threshold());
    CHECK(out[0].confidence < ix->default_threshold());
}

TEST_CASE("large sets use the lexical index alone and still rank well") {
    std::vector<sb::FaqEntry> entries;
    for (int i = 0; i < 6000; ++i) {
        entries.push_back(faq("item-" + std::to_string(i),
                              "How do I return product model " + std::to_string(i) + "?",
                              "Return model " + std::to_string(i) + " within 30 days."));
    }
    entries.push_back(faq("zebra", "Do you sell zebra-striped umbrellas?", "Yes, in three sizes."));
    auto ix = sb::FaqIndex::build(std::move(entries), sb::IndexOptions{});
    CHECK(top_id(*ix, "zebra umbrella") == "zebra");
    CHECK(top_id(*ix, "return model 4321") == "item-4321");
    auto hits = ix->search("zebra umbrellas", 1);
    CHECK(hits[0].confidence >= ix->default_threshold());
    auto miss = ix->search("quantum chromodynamics lecture", 1);
    CHECK((miss.empty() || miss[0].confidence < ix->default_threshold()));
}

TEST_CASE("one index answers many threads at once, the same as one thread") {
    auto ix = shop_index();
    const std::vector<std::string> queries = {
        "refund please",     "resett pasword", "ship to canada", "pay with paypal",
        "gift voucher code", "stop my plan",   "delivery time"};
    std::vector<std::string> want;
    for (const auto& q : queries) want.push_back(top_id(*ix, q));
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 200; ++round) {
                for (std::size_t i = 0; i < queries.size(); ++i) {
                    auto hits = ix->search(queries[i], 3);
                    if (hits.empty() || ix->entries()[hits[0].index].id != want[i])
                        ++mismatches[static_cast<std::size_t>(t)];
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int m : mismatches) CHECK(m == 0);
}

TEST_CASE("building is deterministic") {
    auto a = shop_index();
    auto b = shop_index();
    CHECK(a->default_threshold() == b->default_threshold());
    auto ha = a->search("my order has not arrived", 3);
    auto hb = b->search("my order has not arrived", 3);
    REQUIRE(ha.size() == hb.size());
    for (std::size_t i = 0; i < ha.size(); ++i) {
        CHECK(ha[i].index == hb[i].index);
        CHECK(ha[i].score == hb[i].score);
    }
}

// The build trains its models side by side; the index must not depend on how many threads did.
TEST_CASE("building gives the same index on 1, 2 or 5 threads") {
    auto build = [](unsigned threads) {
        sb::IndexOptions o;
        o.build_threads = threads;
        return sb::FaqIndex::build(shop(), o);
    };
    auto one = build(1);
    for (unsigned threads : {2u, 5u, 0u}) {
        CAPTURE(threads);
        auto other = build(threads);
        CHECK(other->default_threshold() == one->default_threshold());
        for (const char* q : {"my order has not arrived", "can i get my money back",
                              "how long does delivery take", "reset password", "weather today"}) {
            CAPTURE(q);
            auto a = one->search(q, 5);
            auto b = other->search(q, 5);
            REQUIRE(a.size() == b.size());
            for (std::size_t i = 0; i < a.size(); ++i) {
                CHECK(a[i].index == b[i].index);
                CHECK(a[i].score == b[i].score);
                CHECK(a[i].confidence == b[i].confidence);
            }
        }
    }
}

TEST_CASE("an unknown stemmer language is refused") {
    sb::IndexOptions o;
    o.language = "nope";
    CHECK_THROWS_AS(sb::FaqIndex::build(shop(), o), sb::Error);
}

TEST_CASE("MaxScore top-k equals exhaustive BM25F scoring") {
    // A corpus with a skewed vocabulary: a few very common words and many rare ones.
    std::mt19937 rng(3);
    std::vector<std::string> vocab;
    for (int i = 0; i < 400; ++i) vocab.push_back("w" + std::to_string(i) + "x");
    auto word = [&] {
        std::uniform_real_distribution<double> u(0, 1);
        return vocab[static_cast<std::size_t>(std::pow(u(rng), 3.0) * 399.0)];
    };
    std::vector<sb::FaqEntry> entries;
    for (int d = 0; d < 3000; ++d) {
        std::string q, a;
        for (int i = 0; i < 6; ++i) q += word() + " ";
        for (int i = 0; i < 12; ++i) a += word() + " ";
        entries.push_back(faq("d" + std::to_string(d), q, a));
    }
    sb::Stemmer stemmer("english");
    sb::Corpus corpus = sb::analyse_corpus(entries, stemmer);
    sb::LexicalIndex ix = sb::LexicalIndex::build(corpus, corpus.all());
    std::vector<float> scores(corpus.docs, 0.0f);
    std::vector<std::uint32_t> touched;
    sb::Scratch scratch;
    int compared = 0;
    for (int t = 0; t < 300; ++t) {
        std::string text;
        const int words = 1 + static_cast<int>(rng() % 7);
        for (int i = 0; i < words; ++i) text += word() + " ";
        sb::Query q = sb::analyse_query(text, stemmer);
        sb::LexicalMatch m = ix.resolve(q, scratch);
        for (std::uint32_t d : touched) scores[d] = 0.0f;
        touched.clear();
        ix.score(m, scores, touched);
        std::vector<std::pair<float, std::uint32_t>> all;
        for (std::uint32_t d : touched) all.push_back({scores[d], d});
        std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
            return a.first > b.first || (a.first == b.first && a.second < b.second);
        });
        for (std::size_t k : {1u, 3u, 6u, 20u}) {
            auto top = ix.top(m, k);
            REQUIRE(top.size() == std::min(k, all.size()));
            for (std::size_t i = 0; i < top.size(); ++i) {
                CHECK(top[i].second == doctest::Approx(all[i].first).epsilon(1e-5));
                // Same document unless two scores tie to within float rounding.
                if (top[i].first != all[i].second)
                    CHECK(top[i].second == doctest::Approx(all[i].first).epsilon(1e-6));
                ++compared;
            }
        }
    }
    CHECK(compared > 1000);
}

TEST_CASE("the built-in lexicon reads a word the FAQs never use as one they do, at half weight") {
    sb::Stemmer stemmer("english");
    const std::vector<sb::FaqEntry> faqs = {
        faq("track", "How can I track my order?", "Use the link in the shipping e-mail."),
        faq("refund", "How long does a refund take?", "Five to ten business days."),
        faq("hours", "When are you open?", "Nine to five, Monday to Friday."),
    };
    sb::Corpus corpus = sb::analyse_corpus(faqs, stemmer);
    sb::LexicalIndex ix = sb::LexicalIndex::build(corpus, corpus.all());
    sb::Scratch scratch;

    sb::Query parcel = sb::analyse_query("where is my parcel", stemmer);
    sb::LexicalMatch m = ix.resolve(parcel, scratch);
    REQUIRE(m.terms.size() == 1);
    // "parcel" is read as "order", the word of its group the FAQs use.
    sb::Query order = sb::analyse_query("where is my order", stemmer);
    sb::LexicalMatch direct = ix.resolve(order, scratch);
    REQUIRE(direct.terms.size() == 1);
    CHECK(m.terms[0].term == direct.terms[0].term);
    CHECK(m.terms[0].idf == doctest::Approx(0.5 * direct.terms[0].idf));
    CHECK(m.known_idf_mass == doctest::Approx(0.5 * m.query_idf_mass));
    CHECK(direct.known_idf_mass == doctest::Approx(direct.query_idf_mass));
    CHECK(parcel.tokens.back().word == "order");  // what the classifier sees too

    // The whole index: "parcel" and "reimbursement" reach their FAQs, and a word of no group
    // stays unknown.
    auto index = sb::FaqIndex::build(faqs, sb::IndexOptions{});
    CHECK(top_id(*index, "where is my parcel") == "track");
    CHECK(top_id(*index, "how long for a reimbursement") == "refund");
    sb::Query other = sb::analyse_query("where is my giraffe", stemmer);
    CHECK(ix.resolve(other, scratch).terms.empty());
}

TEST_CASE("a word the FAQs use is never read as another of its group") {
    sb::Stemmer stemmer("english");
    const std::vector<sb::FaqEntry> faqs = {
        faq("track", "How can I track my order?", "Use the link in the shipping e-mail."),
        faq("parcel", "Can I send a parcel abroad?", "Yes, to 40 countries."),
    };
    sb::Corpus corpus = sb::analyse_corpus(faqs, stemmer);
    sb::LexicalIndex ix = sb::LexicalIndex::build(corpus, corpus.all());
    sb::Scratch scratch;
    sb::Query q = sb::analyse_query("parcel", stemmer);
    sb::LexicalMatch m = ix.resolve(q, scratch);
    REQUIRE(m.terms.size() == 1);
    CHECK(q.tokens[0].word == "parcel");
    CHECK(m.known_idf_mass == doctest::Approx(m.query_idf_mass));
    // Groups given later do not override one already read: the first group naming a word wins.
    const std::string_view groups[] = {"order parcel shipment", "shipment giraffe"};
    ix.add_synonyms(groups);
    sb::Query s = sb::analyse_query("shipment", stemmer);
    ix.resolve(s, scratch);
    CHECK(s.tokens[0].word == "order");  // the built-in lexicon already had it so
}

TEST_CASE(
    "the default decision answers when a right answer is likelier than an uncovered question") {
    // One half on the calibrated scale, whatever the set's size or number of phrasings.
    auto small = shop_index();
    CHECK(small->default_threshold() == 0.5);
    std::vector<sb::FaqEntry> bare;
    for (const auto& e : shop()) bare.push_back(faq(e.id, e.question, e.answer));
    auto questions_only = sb::FaqIndex::build(bare, sb::IndexOptions{});
    CHECK(questions_only->default_threshold() == 0.5);
    // A set of bare questions (a prior of one half uncovered) still finds the covered question.
    auto with = small->search("how do I get a refund", 1);
    auto without = questions_only->search("how do I get a refund", 1);
    REQUIRE(with.size() == 1);
    REQUIRE(without.size() == 1);
    CHECK(small->entries()[with[0].index].id == "refund");
    CHECK(questions_only->entries()[without[0].index].id == "refund");
}

TEST_CASE("a set's own synonyms are read as their terms, in queries and in the FAQs alike") {
    std::vector<sb::FaqEntry> faqs = shop();
    faqs.push_back(
        faq("store-hours", "When is the showroom open?", "Nine to five, Monday to Friday."));
    sb::IndexOptions with;
    with.synonyms = {{"refund", {"cash back"}}, {"store", {"showroom"}}};
    auto ix = sb::FaqIndex::build(faqs, with);
    auto plain = sb::FaqIndex::build(faqs, sb::IndexOptions{});
    // In queries: a phrase, read as the term, gives the term's results exactly.
    auto syn = ix->search("I want cash back", 3);
    auto term = ix->search("I want refund", 3);
    REQUIRE(syn.size() == term.size());
    for (std::size_t i = 0; i < syn.size(); ++i) {
        CHECK(syn[i].index == term[i].index);
        CHECK(syn[i].confidence == doctest::Approx(term[i].confidence));
    }
    CHECK(top_id(*ix, "I want cash back") == "refund");
    // In the FAQs: "showroom" is indexed as "store", so a question with "store" finds it, and
    // gives the same results as one with "showroom".
    auto store = ix->search("when does the store open", 1);
    auto showroom = ix->search("when does the showroom open", 1);
    REQUIRE(store.size() == 1);
    REQUIRE(showroom.size() == 1);
    CHECK(ix->entries()[store[0].index].id == "store-hours");
    CHECK(store[0].index == showroom[0].index);
    CHECK(store[0].confidence == doctest::Approx(showroom[0].confidence));
    // The entries keep their own text.
    CHECK(ix->entries().back().question == "When is the showroom open?");
    CHECK(plain->entries().size() == ix->entries().size());
}
