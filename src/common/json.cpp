#include "common/json.hpp"

#include <simdjson.h>

#include "common/error.hpp"

namespace sb {

void json_append_string(std::string& out, std::string_view s) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
}

std::string json_string(std::string_view s) {
    std::string out;
    json_append_string(out, s);
    return out;
}

std::vector<std::string> json_string_array(std::string_view json) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element doc;
    if (parser.parse(padded).get(doc))
        throw Error(SB_EPARSE, "invalid JSON array of strings");
    simdjson::dom::array arr;
    if (doc.get_array().get(arr)) throw Error(SB_EPARSE, "expected a JSON array of strings");
    std::vector<std::string> out;
    for (simdjson::dom::element e : arr) {
        std::string_view v;
        if (e.get_string().get(v)) throw Error(SB_EPARSE, "expected a JSON array of strings");
        out.emplace_back(v);
    }
    return out;
}

}  // namespace sb
