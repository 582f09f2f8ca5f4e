// FAQ sets in JSON, parsed with the simdjson DOM API (error codes, no exceptions). This is the only
// file that includes simdjson.h: it is slow to compile.
#include <simdjson.h>

#include <array>
#include <string>
#include <utility>

#include "common/error.hpp"
#include "faq/faq.hpp"
#include "faq/faq_internal.hpp"

namespace sb {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr std::array<std::string_view, faq_detail::kFieldCount> kFieldNames = {
    "id", "question", "answer", "category", "tags", "alternates"};

const char* type_name(element_type t) noexcept {
    switch (t) {
        case element_type::ARRAY:
            return "an array";
        case element_type::OBJECT:
            return "an object";
        case element_type::INT64:
        case element_type::UINT64:
            return "an integer";
        case element_type::DOUBLE:
            return "a non-integer number";
        case element_type::STRING:
            return "a string";
        case element_type::BOOL:
            return "a boolean";
        case element_type::NULL_VALUE:
            return "null";
    }
    return "an unknown value";
}

[[noreturn]] void wrong_type(const std::string& what, const char* expected, element value) {
    throw Error(SB_EINVALID_DATA,
                what + " must be " + expected + ", not " + type_name(value.type()));
}

std::string get_string(element value, const std::string& what) {
    std::string_view s;
    if (value.get_string().get(s) != simdjson::SUCCESS) wrong_type(what, "a string", value);
    return std::string(s);
}

std::vector<std::string> get_string_array(element value, const std::string& what) {
    simdjson::dom::array arr;
    if (value.get_array().get(arr) != simdjson::SUCCESS) {
        wrong_type(what, "an array of strings", value);
    }
    std::vector<std::string> out;
    std::size_t i = 0;
    for (element item : arr) {
        ++i;
        out.push_back(get_string(item, what + " item " + std::to_string(i)));
    }
    return out;
}

faq_detail::RawEntry read_entry(element value, std::size_t number) {
    using namespace faq_detail;
    RawEntry r;
    r.where = "entry " + std::to_string(number);
    for (std::size_t f = 0; f < kFieldCount; ++f) {
        r.field_where[f] = r.where + ": \"" + std::string(kFieldNames[f]) + "\"";
    }

    simdjson::dom::object obj;
    if (value.get_object().get(obj) != simdjson::SUCCESS) {
        throw Error(SB_EINVALID_DATA,
                    r.where + " must be an object, not " + type_name(value.type()));
    }

    std::array<bool, kFieldCount> seen{};
    for (simdjson::dom::key_value_pair kv : obj) {
        std::size_t f = 0;
        while (f < kFieldCount && kFieldNames[f] != kv.key) ++f;
        if (f == kFieldCount) continue;  // unknown fields are ignored
        if (seen[f]) throw Error(SB_EINVALID_DATA, r.field_where[f] + " appears more than once");
        seen[f] = true;
        const std::string& what = r.field_where[f];
        switch (f) {
            case kId: {
                r.has_id = true;
                int64_t i = 0;
                uint64_t u = 0;
                if (kv.value.type() == element_type::STRING) {
                    r.entry.id = get_string(kv.value, what);
                } else if (kv.value.get_int64().get(i) == simdjson::SUCCESS) {
                    r.entry.id = std::to_string(i);
                } else if (kv.value.get_uint64().get(u) == simdjson::SUCCESS) {
                    r.entry.id = std::to_string(u);
                } else {
                    wrong_type(what, "a string or an integer", kv.value);
                }
                break;
            }
            case kQuestion:
                r.entry.question = get_string(kv.value, what);
                break;
            case kAnswer:
                r.entry.answer = get_string(kv.value, what);
                break;
            case kCategory:
                r.entry.category = get_string(kv.value, what);
                break;
            case kTags:
                r.entry.tags = get_string_array(kv.value, what);
                break;
            case kAlternates:
                r.entry.alternates = get_string_array(kv.value, what);
                break;
            default:
                break;
        }
    }
    for (std::size_t f : {kQuestion, kAnswer}) {
        if (!seen[f]) throw Error(SB_EINVALID_DATA, r.field_where[f] + " is missing");
    }
    return r;
}

// The groups of a "synonyms" object ({"term": ["synonym", ...], ...}), in the object's order.
std::vector<faq_detail::RawSynonyms> read_synonyms(element syn) {
    simdjson::dom::object groups;
    if (syn.get_object().get(groups) != simdjson::SUCCESS) {
        wrong_type("\"synonyms\"", "an object of arrays of strings", syn);
    }
    std::vector<faq_detail::RawSynonyms> out;
    for (auto kv : groups) {
        faq_detail::RawSynonyms r;
        r.group.term = std::string(kv.key);
        r.where = "\"synonyms\": \"" + r.group.term + "\"";
        r.group.synonyms = get_string_array(kv.value, r.where);
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace

std::vector<SynonymGroup> parse_synonyms_json(std::string_view data, const FaqLimits& limits) {
    faq_detail::check_input_size(data, limits);
    const simdjson::padded_string padded(data.data(), data.size());
    simdjson::dom::parser parser;
    element root;
    if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
        throw Error(SB_EPARSE, std::string("invalid JSON: ") + simdjson::error_message(err));
    }
    return faq_detail::finish_synonyms(read_synonyms(root), limits);
}

FaqSet parse_faq_set_json(std::string_view data, const FaqLimits& limits) {
    faq_detail::check_input_size(data, limits);
    if (data.substr(0, 3) == "\xEF\xBB\xBF") data.remove_prefix(3);

    const simdjson::padded_string padded(data.data(), data.size());
    simdjson::dom::parser parser;
    element root;
    if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
        throw Error(SB_EPARSE, std::string("invalid JSON: ") + simdjson::error_message(err));
    }

    simdjson::dom::array entries;
    std::vector<faq_detail::RawSynonyms> synonyms;
    if (root.type() == element_type::OBJECT) {
        element syn;
        if (root.at_key("synonyms").get(syn) == simdjson::SUCCESS) synonyms = read_synonyms(syn);
        element faqs;
        if (root.at_key("faqs").get(faqs) != simdjson::SUCCESS) {
            throw Error(SB_EINVALID_DATA,
                        "the top-level object has no \"faqs\" array; expected an array of FAQ "
                        "entries or {\"faqs\": [...]}");
        }
        if (faqs.get_array().get(entries) != simdjson::SUCCESS) {
            throw Error(SB_EINVALID_DATA,
                        std::string("\"faqs\" must be an array, not ") + type_name(faqs.type()));
        }
    } else if (root.get_array().get(entries) != simdjson::SUCCESS) {
        throw Error(SB_EINVALID_DATA,
                    std::string("expected an array of FAQ entries or {\"faqs\": [...]}, not ") +
                        type_name(root.type()));
    }

    std::vector<faq_detail::RawEntry> raw;
    std::size_t number = 0;
    for (element value : entries) {
        ++number;
        if (number > limits.max_entries) {
            throw Error(SB_ELIMIT, "more than the limit of " + std::to_string(limits.max_entries) +
                                       " entries");
        }
        raw.push_back(read_entry(value, number));
    }
    FaqSet set;
    set.entries = faq_detail::finish_entries(std::move(raw), limits);
    set.synonyms = faq_detail::finish_synonyms(std::move(synonyms), limits);
    return set;
}

}  // namespace sb
