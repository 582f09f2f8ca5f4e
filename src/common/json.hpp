// Small JSON helpers: string escaping for writers, and reading an array of strings.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sb {

// Appends s as a JSON string literal (with quotes) to out. s must be valid UTF-8.
void json_append_string(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

// Parses a JSON array of strings. Throws sb::Error(SB_EPARSE) on anything else.
std::vector<std::string> json_string_array(std::string_view json);

}  // namespace sb
