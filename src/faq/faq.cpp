// FAQ ingestion: format dispatch, file loading, UTF-8 validation and the validation shared by the
// JSON and CSV parsers (faq_json.cpp, faq_csv.cpp).
#include "faq/faq.hpp"
#include "faq/faq_internal.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/error.hpp"
#include "common/json.hpp"

namespace sb {

namespace {

constexpr std::size_t kMaxIdBytes = 128;

bool is_ascii_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view skip_bom_and_space(std::string_view s) noexcept {
    if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
    while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
    return s;
}

FaqFormat sniff_format(std::string_view data) noexcept {
    const std::string_view s = skip_bom_and_space(data);
    if (!s.empty() && (s.front() == '[' || s.front() == '{')) return FaqFormat::Json;
    return FaqFormat::Csv;
}

std::string quote_id(std::string_view s) {
    return "\"" + std::string(s) + "\"";
}

// Checks and trims one string field in place. `what` names the field (and item) in messages.
void check_string(std::string& value, const std::string& what, bool must_be_non_empty,
                  const FaqLimits& limits) {
    if (!is_valid_utf8(value)) throw Error(SB_EPARSE, what + " is not valid UTF-8");
    if (value.find('\0') != std::string::npos) {
        throw Error(SB_EINVALID_DATA, what + " contains a NUL character");
    }
    const std::string_view t = faq_detail::trim_ascii(value);
    if (t.size() > limits.max_field_bytes) {
        throw Error(SB_ELIMIT, what + " is " + std::to_string(t.size()) +
                                   " bytes long, more than the limit of " +
                                   std::to_string(limits.max_field_bytes) + " bytes");
    }
    if (must_be_non_empty && t.empty()) throw Error(SB_EINVALID_DATA, what + " is empty");
    value = std::string(t);
}

void check_list(std::vector<std::string>& items, const std::string& what, const FaqLimits& limits) {
    for (std::size_t i = 0; i < items.size(); ++i) {
        check_string(items[i], what + " item " + std::to_string(i + 1), true, limits);
    }
}

}  // namespace

namespace faq_detail {

std::string_view trim_ascii(std::string_view s) noexcept {
    while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
    return s;
}

void check_input_size(std::string_view data, const FaqLimits& limits) {
    if (data.size() > limits.max_bytes) {
        throw Error(SB_ELIMIT, "input is " + std::to_string(data.size()) +
                                   " bytes, more than the limit of " +
                                   std::to_string(limits.max_bytes) + " bytes");
    }
}

std::vector<SynonymGroup> finish_synonyms(std::vector<RawSynonyms>&& raw, const FaqLimits& limits) {
    // Compared as the retrieval compares words: ASCII case aside, spaces collapsed.
    auto key = [](std::string_view s) {
        std::string out;
        bool space = false;
        for (char c : s) {
            if (is_ascii_space(c)) {
                space = !out.empty();
                continue;
            }
            if (space) out += ' ';
            space = false;
            out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        }
        return out;
    };
    std::vector<std::pair<std::string, std::string>> seen;  // synonym key -> its term
    std::size_t total = 0;
    std::vector<SynonymGroup> out;
    for (RawSynonyms& r : raw) {
        SynonymGroup& g = r.group;
        check_string(g.term, r.where + " (the term)", true, limits);
        if (g.synonyms.empty()) throw Error(SB_EINVALID_DATA, r.where + " has no synonyms");
        total += g.synonyms.size();
        if (total > limits.max_synonyms) {
            throw Error(SB_ELIMIT, r.where + ": more than the limit of " +
                                       std::to_string(limits.max_synonyms) + " synonyms");
        }
        const std::string term_key = key(g.term);
        for (std::size_t i = 0; i < g.synonyms.size(); ++i) {
            const std::string what = r.where + " item " + std::to_string(i + 1);
            check_string(g.synonyms[i], what, true, limits);
            const std::string k = key(g.synonyms[i]);
            if (k == term_key) {
                throw Error(SB_EINVALID_DATA, what + " is the term itself (\"" + g.term + "\")");
            }
            for (const auto& [other, term] : seen) {
                if (other == k && term != term_key) {
                    throw Error(SB_EINVALID_DATA, what + " (\"" + g.synonyms[i] +
                                                      "\") already stands for \"" + term + "\"");
                }
            }
            seen.emplace_back(k, term_key);
        }
        out.push_back(std::move(g));
    }
    return out;
}

std::vector<FaqEntry> finish_entries(std::vector<RawEntry>&& raw, const FaqLimits& limits) {
    if (raw.empty()) throw Error(SB_EINVALID_DATA, "no FAQ entries found");
    if (raw.size() > limits.max_entries) {
        throw Error(SB_ELIMIT, "there are " + std::to_string(raw.size()) +
                                   " entries, more than the limit of " +
                                   std::to_string(limits.max_entries));
    }

    for (RawEntry& r : raw) {
        FaqEntry& e = r.entry;
        if (r.has_id) {
            check_string(e.id, r.field_where[kId], true, limits);
            if (e.id.size() > kMaxIdBytes) {
                throw Error(SB_EINVALID_DATA, r.field_where[kId] + " is " +
                                                  std::to_string(e.id.size()) +
                                                  " bytes long; ids may have at most " +
                                                  std::to_string(kMaxIdBytes) + " bytes");
            }
        }
        check_string(e.question, r.field_where[kQuestion], true, limits);
        check_string(e.answer, r.field_where[kAnswer], true, limits);
        check_string(e.category, r.field_where[kCategory], false, limits);
        check_list(e.tags, r.field_where[kTags], limits);
        if (e.alternates.size() > limits.max_alternates) {
            throw Error(SB_ELIMIT, r.field_where[kAlternates] + " has " +
                                       std::to_string(e.alternates.size()) +
                                       " items, more than the limit of " +
                                       std::to_string(limits.max_alternates));
        }
        check_list(e.alternates, r.field_where[kAlternates], limits);
    }

    // Given ids first, so that a generated id colliding with a later given id is reported too.
    std::unordered_map<std::string, std::size_t> seen;  // id -> index into raw
    seen.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (!raw[i].has_id) continue;
        auto [it, inserted] = seen.emplace(raw[i].entry.id, i);
        if (!inserted) {
            throw Error(SB_EINVALID_DATA, raw[i].where + ": duplicate id " +
                                              quote_id(raw[i].entry.id) + " (also used by " +
                                              raw[it->second].where + ")");
        }
    }
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i].has_id) continue;
        std::string id = "faq-" + std::to_string(i + 1);
        auto it = seen.find(id);
        if (it != seen.end()) {
            throw Error(SB_EINVALID_DATA, raw[it->second].where + ": duplicate id " + quote_id(id) +
                                              " (" + raw[i].where + " has no id and was given " +
                                              quote_id(id) + " from its position)");
        }
        raw[i].entry.id = std::move(id);
    }

    std::vector<FaqEntry> out;
    out.reserve(raw.size());
    for (RawEntry& r : raw) out.push_back(std::move(r.entry));
    return out;
}

}  // namespace faq_detail

bool is_valid_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned char lo = 0x80;  // allowed range of the second byte
        unsigned char hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c == 0xE0) {
            len = 3;
            lo = 0xA0;  // no overlongs
        } else if (c >= 0xE1 && c <= 0xEC) {
            len = 3;
        } else if (c == 0xED) {
            len = 3;
            hi = 0x9F;  // no surrogates
        } else if (c >= 0xEE && c <= 0xEF) {
            len = 3;
        } else if (c == 0xF0) {
            len = 4;
            lo = 0x90;  // no overlongs
        } else if (c >= 0xF1 && c <= 0xF3) {
            len = 4;
        } else if (c == 0xF4) {
            len = 4;
            hi = 0x8F;  // <= U+10FFFF
        } else {
            return false;  // continuation byte, C0/C1 overlong lead, or F5..FF
        }
        if (n - i < len) return false;
        if (p[i + 1] < lo || p[i + 1] > hi) return false;
        for (std::size_t k = 2; k < len; ++k) {
            if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
        }
        i += len;
    }
    return true;
}

FaqSet parse_faq_set(std::string_view data, FaqFormat format, const FaqLimits& limits) {
    faq_detail::check_input_size(data, limits);
    if (format == FaqFormat::Auto) format = sniff_format(data);
    switch (format) {
        case FaqFormat::Json:
            return parse_faq_set_json(data, limits);
        case FaqFormat::Csv:
            return parse_faq_set_csv(data, limits);
        case FaqFormat::Auto:
            break;
    }
    throw Error(SB_EINVAL, "unknown FAQ format");
}

std::vector<FaqEntry> parse_faqs(std::string_view data, FaqFormat format, const FaqLimits& limits) {
    return parse_faq_set(data, format, limits).entries;
}

std::vector<FaqEntry> parse_faqs_json(std::string_view data, const FaqLimits& limits) {
    return parse_faq_set_json(data, limits).entries;
}

std::vector<FaqEntry> parse_faqs_csv(std::string_view data, const FaqLimits& limits) {
    return parse_faq_set_csv(data, limits).entries;
}

namespace {

struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

std::string io_error(const std::string& path, const char* what, int err) {
    return path + ": " + what + ": " + std::strerror(err);
}

std::string read_file_limited(const std::string& path, const FaqLimits& limits) {
    errno = 0;
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) throw Error(SB_EIO, io_error(path, "cannot open file", errno));
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        throw Error(SB_EIO, io_error(path, "cannot read file", EISDIR));
    }

    // Size first, so that an oversized file is refused without reading it.
    if (std::fseek(f.get(), 0, SEEK_END) == 0) {
        const long size = std::ftell(f.get());
        if (size >= 0 && static_cast<unsigned long>(size) > limits.max_bytes) {
            throw Error(SB_ELIMIT, path + ": file is " + std::to_string(size) +
                                       " bytes, more than the limit of " +
                                       std::to_string(limits.max_bytes) + " bytes");
        }
        std::rewind(f.get());
    }

    // Read with a cap anyway: the size may be unknown (pipes) or change while reading.
    std::string data;
    std::array<char, 65536> buf{};
    for (;;) {
        const std::size_t got = std::fread(buf.data(), 1, buf.size(), f.get());
        data.append(buf.data(), got);
        if (data.size() > limits.max_bytes) {
            throw Error(SB_ELIMIT, path + ": file is more than the limit of " +
                                       std::to_string(limits.max_bytes) + " bytes");
        }
        if (got < buf.size()) {
            if (std::ferror(f.get()))
                throw Error(SB_EIO, io_error(path, "cannot read file", errno));
            break;
        }
    }
    return data;
}

bool ends_with_ci(std::string_view s, std::string_view suffix) noexcept {
    if (s.size() < suffix.size()) return false;
    s = s.substr(s.size() - suffix.size());
    return std::equal(s.begin(), s.end(), suffix.begin(), [](char a, char b) {
        const char la = (a >= 'A' && a <= 'Z') ? static_cast<char>(a - 'A' + 'a') : a;
        return la == b;
    });
}

}  // namespace

std::vector<FaqEntry> load_faqs_file(const std::string& path, FaqFormat format,
                                     const FaqLimits& limits) {
    return load_faq_set_file(path, format, limits).entries;
}

FaqSet load_faq_set_file(const std::string& path, FaqFormat format, const FaqLimits& limits) {
    const std::string data = read_file_limited(path, limits);
    if (format == FaqFormat::Auto) {
        if (ends_with_ci(path, ".json")) {
            format = FaqFormat::Json;
        } else if (ends_with_ci(path, ".csv")) {
            format = FaqFormat::Csv;
        }
    }
    try {
        return parse_faq_set(data, format, limits);
    } catch (const Error& e) {
        throw Error(e.status(), path + ": " + e.what());
    }
}

std::string synonyms_to_json(const std::vector<SynonymGroup>& groups) {
    std::string out = "{";
    for (std::size_t g = 0; g < groups.size(); ++g) {
        if (g) out += ",\n";
        json_append_string(out, groups[g].term);
        out += ":[";
        for (std::size_t i = 0; i < groups[g].synonyms.size(); ++i) {
            if (i) out += ',';
            json_append_string(out, groups[g].synonyms[i]);
        }
        out += ']';
    }
    out += '}';
    return out;
}

}  // namespace sb
