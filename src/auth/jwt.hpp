// Access tokens: JWT (RFC 7519) signed with HS256 (HMAC-SHA256, OpenSSL), header
// {"alg":"HS256","typ":"JWT"}, base64url without padding. Verification is strict: exactly three
// parts, canonical base64url, a JSON object header whose alg is HS256 (none, HS512, RS256 or a
// missing alg are refused) with no other field than typ ("JWT"), the HMAC compared in constant
// time, and typed claims: sub (string), role ("admin", "user" or "agent"), bot (string, required
// for users and agents and absent for admins), iat and exp (integers, seconds); exp must be after
// now and after iat, and iat not more than kIatSkewSeconds in the future. Every failure is
// SB_EUNAUTHENTICATED.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sb::auth {

// Agents (migration 6) answer the escalated sessions of one bot, and may do nothing else.
enum class AccountRole { Admin, User, Agent };
const char* to_string(AccountRole r) noexcept;  // "admin", "user", "agent"

struct TokenClaims {
    std::string sub;  // the account id
    AccountRole role = AccountRole::User;
    std::string bot;       // users and agents: their bot; admins: ""
    std::int64_t iat = 0;  // Unix seconds
    std::int64_t exp = 0;  // Unix seconds
};

constexpr std::int64_t kIatSkewSeconds = 60;
constexpr std::size_t kMaxTokenBytes = 8192;

// Signs the claims. The secret must be at least 32 bytes (SB_EINVAL otherwise).
std::string sign_token(const TokenClaims& claims, std::string_view secret);

// Verifies a token at time now_s (Unix seconds) and returns its claims; throws
// SB_EUNAUTHENTICATED with the reason otherwise.
TokenClaims verify_token(std::string_view token, std::string_view secret, std::int64_t now_s);

// HMAC-SHA256 of data (raw 32 bytes).
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace sb::auth
