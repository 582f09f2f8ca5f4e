#include "auth/password.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "auth/base64.hpp"
#include "common/error.hpp"

namespace sb::auth {

namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
// Bounds on parameters read back from the database, so a corrupt row cannot make a login take
// minutes or gigabytes. Tests lower log2_n to keep suites fast; production uses 15 or more.
constexpr unsigned kMinLog2N = 4, kMaxLog2N = 22, kMaxR = 32, kMaxP = 16;

struct KdfFree {
    void operator()(EVP_KDF* k) const noexcept { EVP_KDF_free(k); }
};
struct KdfCtxFree {
    void operator()(EVP_KDF_CTX* c) const noexcept { EVP_KDF_CTX_free(c); }
};

bool params_in_range(const ScryptParams& p) {
    return p.log2_n >= kMinLog2N && p.log2_n <= kMaxLog2N && p.r >= 1 && p.r <= kMaxR && p.p >= 1 &&
           p.p <= kMaxP;
}

std::string openssl_error(const char* what) {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    char buf[256] = "unknown error";
    if (code) ERR_error_string_n(code, buf, sizeof buf);
    return std::string(what) + ": " + buf;
}

std::string derive(std::string_view password, std::string_view salt, const ScryptParams& sp) {
    std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr));
    if (!kdf) throw Error(SB_ERROR, openssl_error("scrypt is not available"));
    std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(EVP_KDF_CTX_new(kdf.get()));
    if (!ctx) throw Error(SB_ENOMEM, openssl_error("scrypt context"));
    std::uint64_t n = std::uint64_t{1} << sp.log2_n;
    std::uint32_t r = sp.r, p = sp.p;
    // 128 * r * N bytes plus slack; OpenSSL refuses parameters needing more than maxmem.
    std::uint64_t maxmem = 128 * std::uint64_t{r} * n * std::uint64_t{p} + (std::uint64_t{1} << 20);
    // OpenSSL does not write through these pointers; an empty password still needs one.
    static const char empty = 0;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(password.empty() ? &empty : password.data()),
            password.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                          salt.size()),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end()};
    std::string out(kHashBytes, '\0');
    if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                       params) != 1)
        throw Error(SB_ERROR, openssl_error("scrypt failed"));
    return out;
}

struct Parsed {
    ScryptParams params;
    std::string salt;
    std::string hash;
};

std::optional<unsigned> parse_uint(std::string_view s) {
    unsigned v = 0;
    if (s.empty() || s.size() > 6 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// Splits s at `sep` into exactly `n` parts, or nothing.
std::optional<std::vector<std::string_view>> split(std::string_view s, char sep, std::size_t n) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t at = s.find(sep, start);
        parts.push_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
        if (at == std::string_view::npos) break;
        start = at + 1;
        if (parts.size() > n) return std::nullopt;
    }
    if (parts.size() != n) return std::nullopt;
    return parts;
}

std::optional<Parsed> parse(std::string_view stored) {
    const auto parts = split(stored, '$', 4);
    if (!parts || (*parts)[0] != "scrypt") return std::nullopt;
    const auto kv = split((*parts)[1], ',', 3);
    if (!kv) return std::nullopt;
    Parsed out;
    const char* names[] = {"ln=", "r=", "p="};
    unsigned* fields[] = {&out.params.log2_n, &out.params.r, &out.params.p};
    for (std::size_t i = 0; i < 3; ++i) {
        const std::string_view item = (*kv)[i];
        const std::string_view name = names[i];
        if (item.substr(0, name.size()) != name) return std::nullopt;
        const auto v = parse_uint(item.substr(name.size()));
        if (!v) return std::nullopt;
        *fields[i] = *v;
    }
    if (!params_in_range(out.params)) return std::nullopt;
    auto salt = base64_decode((*parts)[2], Base64Alphabet::Standard);
    auto hash = base64_decode((*parts)[3], Base64Alphabet::Standard);
    if (!salt || !hash || salt->empty() || hash->size() != kHashBytes) return std::nullopt;
    out.salt = std::move(*salt);
    out.hash = std::move(*hash);
    return out;
}

}  // namespace

std::string hash_password(std::string_view password, const ScryptParams& params) {
    if (!params_in_range(params)) throw Error(SB_EINVAL, "scrypt parameters out of range");
    std::string salt(kSaltBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) !=
        1)
        throw Error(SB_ERROR, openssl_error("no random bytes for a salt"));
    const std::string hash = derive(password, salt, params);
    return "scrypt$ln=" + std::to_string(params.log2_n) + ",r=" + std::to_string(params.r) +
           ",p=" + std::to_string(params.p) + "$" + base64_encode(salt, Base64Alphabet::Standard) +
           "$" + base64_encode(hash, Base64Alphabet::Standard);
}

bool verify_password(std::string_view password, std::string_view stored) {
    const auto parsed = parse(stored);
    if (!parsed) throw Error(SB_EDB, "a stored password hash is not in a known format");
    const std::string candidate = derive(password, parsed->salt, parsed->params);
    return constant_time_equal(candidate, parsed->hash);
}

bool needs_rehash(std::string_view stored, const ScryptParams& wanted) {
    const auto parsed = parse(stored);
    if (!parsed) return true;
    return parsed->params.log2_n != wanted.log2_n || parsed->params.r != wanted.r ||
           parsed->params.p != wanted.p;
}

ScryptParams hash_params(std::string_view stored) {
    const auto parsed = parse(stored);
    if (!parsed) throw Error(SB_EDB, "a stored password hash is not in a known format");
    return parsed->params;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace sb::auth
