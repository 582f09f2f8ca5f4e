// Base64 without padding, in the standard alphabet (password hashes) and the URL-safe one (JWT).
// Decoding is strict: only the alphabet's characters, no padding, no whitespace, and the unused
// low bits of the last character must be zero, so that every byte string has exactly one
// encoding (a token cannot be altered without changing its bytes).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sb::auth {

enum class Base64Alphabet { Standard, Url };

std::string base64_encode(std::string_view bytes, Base64Alphabet alphabet);
// nullopt when text is not a canonical unpadded encoding in that alphabet.
std::optional<std::string> base64_decode(std::string_view text, Base64Alphabet alphabet);

}  // namespace sb::auth
