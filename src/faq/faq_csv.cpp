// FAQ sets in CSV (RFC 4180), parsed by hand. The first record is the header; columns are found
// by name. Every error names the physical line and the column (field number) where it happened.
#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>

#include "common/error.hpp"
#include "faq/faq.hpp"
#include "faq/faq_internal.hpp"

namespace sb {

namespace {

using faq_detail::kFieldCount;

constexpr std::array<std::string_view, kFieldCount> kColumnNames = {
    "id", "question", "answer", "category", "tags", "alternates"};

struct CsvField {
    std::string text;
    std::size_t line = 0;  // physical line where the field begins
    bool quoted = false;
};

struct CsvRecord {
    std::vector<CsvField> fields;
    std::size_t line = 0;  // physical line where the record begins
};

std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// Reads one record at a time. Throws SB_EPARSE on syntax errors.
class CsvReader {
  public:
    explicit CsvReader(std::string_view data) : data_(data) {
        if (data_.substr(0, 3) == "\xEF\xBB\xBF") data_.remove_prefix(3);
    }

    // Header names, used to name columns in messages once known.
    void set_header(std::vector<std::string> names) { header_ = std::move(names); }

    // "line L, column C" plus the header name of column C when known.
    std::string where(std::size_t line, std::size_t column) const {
        std::string s = "line " + std::to_string(line) + ", column " + std::to_string(column);
        if (column >= 1 && column <= header_.size() && !header_[column - 1].empty()) {
            s += " (\"" + header_[column - 1] + "\")";
        }
        return s;
    }

    // Reads the next non-blank record; false at the end of the input.
    bool next(CsvRecord& rec) {
        for (;;) {
            if (pos_ >= data_.size()) return false;
            rec.fields.clear();
            rec.line = line_;
            read_record(rec);
            const bool blank = rec.fields.size() == 1 && !rec.fields[0].quoted &&
                               faq_detail::trim_ascii(rec.fields[0].text).empty();
            if (!blank) return true;
        }
    }

  private:
    bool at_line_end() const noexcept {
        if (pos_ >= data_.size()) return true;
        if (data_[pos_] == '\n') return true;
        return data_[pos_] == '\r' && (pos_ + 1 == data_.size() || data_[pos_ + 1] == '\n');
    }

    // Consumes a line end (LF, CRLF, or a CR that ends the input); nothing at end of input.
    void consume_line_end() noexcept {
        if (pos_ >= data_.size()) return;
        if (data_[pos_] == '\r') ++pos_;
        if (pos_ < data_.size() && data_[pos_] == '\n') {
            ++pos_;
            ++line_;
        }
    }

    void read_record(CsvRecord& rec) {
        for (;;) {
            CsvField field;
            field.line = line_;
            const std::size_t column = rec.fields.size() + 1;

            // Spaces before an opening quote are allowed: ` "a, b"` is the quoted field "a, b".
            std::size_t p = pos_;
            while (p < data_.size() && (data_[p] == ' ' || data_[p] == '\t')) ++p;
            if (p < data_.size() && data_[p] == '"') {
                pos_ = p + 1;
                field.quoted = true;
                read_quoted(field, column);
            } else {
                read_unquoted(field, column);
            }
            rec.fields.push_back(std::move(field));

            if (pos_ < data_.size() && data_[pos_] == ',') {
                ++pos_;
                continue;
            }
            consume_line_end();
            return;
        }
    }

    void read_unquoted(CsvField& field, std::size_t column) {
        const std::size_t start = pos_;
        while (!at_line_end() && data_[pos_] != ',') {
            if (data_[pos_] == '"') {
                throw Error(SB_EPARSE, where(line_, column) +
                                           ": a quote in the middle of an unquoted field (a "
                                           "field containing quotes must be enclosed in quotes, "
                                           "with each quote doubled)");
            }
            ++pos_;
        }
        field.text.assign(data_.substr(start, pos_ - start));
    }

    void read_quoted(CsvField& field, std::size_t column) {
        for (;;) {
            const std::size_t q = data_.find('"', pos_);
            if (q == std::string_view::npos) {
                throw Error(SB_EPARSE, where(field.line, column) +
                                           ": unterminated quoted field (the quote that opens "
                                           "it is never closed)");
            }
            const std::string_view chunk = data_.substr(pos_, q - pos_);
            line_ += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
            field.text.append(chunk);
            pos_ = q + 1;
            if (pos_ < data_.size() && data_[pos_] == '"') {  // doubled quote
                field.text.push_back('"');
                ++pos_;
                continue;
            }
            break;
        }
        // After the closing quote: optional spaces, then a separator or the end of the line.
        while (pos_ < data_.size() && (data_[pos_] == ' ' || data_[pos_] == '\t')) ++pos_;
        if (!at_line_end() && data_[pos_] != ',') {
            throw Error(SB_EPARSE, where(line_, column) +
                                       ": unexpected character after the closing quote of a "
                                       "quoted field (expected a comma or the end of the line)");
        }
    }

    std::string_view data_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;
    std::vector<std::string> header_;
};

// Splits on any of `separators`, trims the parts and drops empty ones.
std::vector<std::string> split_list(std::string_view s, std::string_view separators) {
    std::vector<std::string> out;
    for (;;) {
        const std::size_t cut = s.find_first_of(separators);
        const std::string_view part = faq_detail::trim_ascii(s.substr(0, cut));
        if (!part.empty()) out.emplace_back(part);
        if (cut == std::string_view::npos) break;
        s.remove_prefix(cut + 1);
    }
    return out;
}

}  // namespace

FaqSet parse_faq_set_csv(std::string_view data, const FaqLimits& limits) {
    using namespace faq_detail;
    check_input_size(data, limits);

    CsvReader reader(data);
    CsvRecord header;
    if (!reader.next(header)) {
        throw Error(SB_EINVALID_DATA, "no FAQ entries found (the CSV input is empty)");
    }

    // Column index (0-based) of each known field, found by header name.
    std::array<std::optional<std::size_t>, kFieldCount> col{};
    std::vector<std::string> names;
    std::optional<std::size_t> synonyms_col;
    for (std::size_t c = 0; c < header.fields.size(); ++c) {
        const std::string name = lower_ascii(trim_ascii(header.fields[c].text));
        if (name == "synonyms") synonyms_col = c;
        if (!name.empty()) {
            const auto dup = std::find(names.begin(), names.end(), name);
            if (dup != names.end()) {
                throw Error(SB_EINVALID_DATA, reader.where(header.fields[c].line, c + 1) +
                                                  ": duplicate column name \"" + name +
                                                  "\" in the header (also " + "column " +
                                                  std::to_string(dup - names.begin() + 1) + ")");
            }
        }
        names.push_back(name);
        for (std::size_t f = 0; f < kFieldCount; ++f) {
            if (name == kColumnNames[f]) col[f] = c;
        }
    }
    for (std::size_t f : {kQuestion, kAnswer}) {
        if (!col[f]) {
            throw Error(SB_EINVALID_DATA, "line " + std::to_string(header.line) +
                                              " (the header): missing required column \"" +
                                              std::string(kColumnNames[f]) + "\"");
        }
    }
    reader.set_header(names);

    std::vector<RawEntry> raw;
    std::vector<RawSynonyms> synonyms;
    CsvRecord rec;
    while (reader.next(rec)) {
        const std::size_t n = rec.fields.size();
        if (n != names.size()) {
            // Name the first extra field, or the first missing one.
            const std::size_t column = n > names.size() ? names.size() + 1 : n + 1;
            const std::size_t line =
                n > names.size() ? rec.fields[names.size()].line : rec.fields.back().line;
            throw Error(SB_EPARSE, reader.where(line, column) + ": the record has " +
                                       std::to_string(n) + " field" + (n == 1 ? "" : "s") +
                                       " but the header has " + std::to_string(names.size()));
        }
        if (raw.size() == limits.max_entries) {
            throw Error(SB_ELIMIT, "line " + std::to_string(rec.line) +
                                       ": more than the limit of " +
                                       std::to_string(limits.max_entries) + " entries");
        }

        RawEntry r;
        r.where = "line " + std::to_string(rec.line);
        for (std::size_t f = 0; f < kFieldCount; ++f) {
            if (col[f]) r.field_where[f] = reader.where(rec.fields[*col[f]].line, *col[f] + 1);
        }
        auto text = [&](std::size_t f) -> std::string& { return rec.fields[*col[f]].text; };
        FaqEntry& e = r.entry;
        if (col[kId] && !trim_ascii(text(kId)).empty()) {  // an empty id cell means "no id"
            r.has_id = true;
            e.id = std::move(text(kId));
        }
        e.question = std::move(text(kQuestion));
        e.answer = std::move(text(kAnswer));
        if (col[kCategory]) e.category = std::move(text(kCategory));
        if (col[kTags]) e.tags = split_list(text(kTags), "|;");
        if (col[kAlternates]) e.alternates = split_list(text(kAlternates), "|");
        // Synonym groups, whatever row holds them: "term = a | b", several separated by ";".
        if (synonyms_col) {
            const CsvField& cell = rec.fields[*synonyms_col];
            for (const std::string& group : split_list(cell.text, ";")) {
                RawSynonyms s;
                s.where = reader.where(cell.line, *synonyms_col + 1);
                const std::size_t eq = group.find('=');
                if (eq == std::string::npos) {
                    throw Error(SB_EINVALID_DATA, s.where + ": \"" + group +
                                                      "\" is not of the form \"term = a | b\"");
                }
                s.group.term = group.substr(0, eq);
                s.group.synonyms = split_list(std::string_view(group).substr(eq + 1), "|");
                synonyms.push_back(std::move(s));
            }
        }
        raw.push_back(std::move(r));
    }
    FaqSet set;
    set.entries = finish_entries(std::move(raw), limits);
    set.synonyms = finish_synonyms(std::move(synonyms), limits);
    return set;
}

}  // namespace sb
