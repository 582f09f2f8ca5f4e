#include "auth/base64.hpp"

#include <array>
#include <cstdint>

namespace sb::auth {

namespace {

const char* alphabet_of(Base64Alphabet a) {
    return a == Base64Alphabet::Url
               ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
               : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

// Character -> 6-bit value, or -1.
std::array<int, 256> table_of(Base64Alphabet a) {
    std::array<int, 256> t{};
    t.fill(-1);
    const char* chars = alphabet_of(a);
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(chars[i])] = i;
    return t;
}

}  // namespace

std::string base64_encode(std::string_view bytes, Base64Alphabet alphabet) {
    const char* chars = alphabet_of(alphabet);
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                                std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
        out += chars[(v >> 18) & 63];
        out += chars[(v >> 12) & 63];
        out += chars[(v >> 6) & 63];
        out += chars[v & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
        out += chars[(v >> 18) & 63];
        out += chars[(v >> 12) & 63];
    } else if (rest == 2) {
        const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8);
        out += chars[(v >> 18) & 63];
        out += chars[(v >> 12) & 63];
        out += chars[(v >> 6) & 63];
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text, Base64Alphabet alphabet) {
    static const std::array<int, 256> standard = table_of(Base64Alphabet::Standard);
    static const std::array<int, 256> url = table_of(Base64Alphabet::Url);
    const std::array<int, 256>& t = alphabet == Base64Alphabet::Url ? url : standard;
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char ch : text) {
        const int v = t[static_cast<unsigned char>(ch)];
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    // Leftover bits (2 or 4) must be zero: otherwise two texts would decode to the same bytes.
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

}  // namespace sb::auth
