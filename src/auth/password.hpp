// Password hashing with scrypt (OpenSSL 3's EVP_KDF), stored as a self-describing string
//   scrypt$ln=15,r=8,p=1$<salt>$<hash>
// (salt: 16 random bytes, hash: 32 bytes, both base64 without padding), so that the parameters can
// be raised later: a stored hash is verified with its own parameters, and needs_rehash tells when
// it was made with weaker ones than wanted. Verification compares in constant time.
#pragma once

#include <string>
#include <string_view>

namespace sb::auth {

struct ScryptParams {
    unsigned log2_n = 15;  // N = 2^log2_n
    unsigned r = 8;
    unsigned p = 1;
};

// The default (and minimum production) parameters: N = 2^15, r = 8, p = 1 (32 MiB per hash).
constexpr ScryptParams kDefaultScrypt{};

// Hashes a password with a fresh random salt. Throws SB_EINVAL for parameters out of range and
// SB_ERROR when OpenSSL fails.
std::string hash_password(std::string_view password, const ScryptParams& params = kDefaultScrypt);

// True when password matches the stored hash. Throws SB_EDB when the stored string is not a hash
// this library made (corrupt data), never for a wrong password.
bool verify_password(std::string_view password, std::string_view stored);

// True when the stored hash was made with parameters other than `wanted` (or is unreadable).
bool needs_rehash(std::string_view stored, const ScryptParams& wanted = kDefaultScrypt);

// The parameters of a stored hash. Throws SB_EDB when it is not one.
ScryptParams hash_params(std::string_view stored);

// Equal length and equal bytes, compared in time that depends only on the lengths
// (CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace sb::auth
