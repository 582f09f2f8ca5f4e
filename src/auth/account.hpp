// Account names and passwords: e-mail normalisation and the password policy.
#pragma once

#include <string>
#include <string_view>

namespace sb::auth {

constexpr std::size_t kMaxEmailBytes = 254;
constexpr std::size_t kMinPasswordChars = 8;
constexpr std::size_t kMaxPasswordBytes = 1024;

// The login name of an e-mail address: surrounding whitespace trimmed, then the whole address
// (local part and domain) Unicode case-folded and NFC-composed with utf8proc, so that
// "  Ann@Example.COM " and "ann@example.com" are one account. Lowercasing the local part is a
// deliberate choice (RFC 5321 lets it be case-sensitive; no real provider treats it so).
// Syntax check, basic on purpose: valid UTF-8, at most 254 bytes, exactly one '@', a local part
// of 1..64 bytes without spaces, control characters or any of "(),:;<>[\]", and a domain of
// dot-separated non-empty labels (at least two) of letters, digits, '-' or non-ASCII characters,
// no label starting or ending with '-'. Throws SB_EINVAL (SB_ELIMIT when too long) saying which.
std::string normalize_email(std::string_view email);

// The password policy: at least 8 characters (code points), at most 1024 bytes, valid UTF-8
// without control characters, and not all of one class (lowercase letters, uppercase letters,
// digits, others). Throws SB_EINVAL (SB_ELIMIT when too long) naming the rule, never the password.
void check_password_policy(std::string_view password);

}  // namespace sb::auth
