#include "auth/jwt.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <simdjson.h>

#include <set>

#include "auth/base64.hpp"
#include "auth/password.hpp"
#include "common/error.hpp"
#include "common/json.hpp"

namespace sb::auth {

namespace {

constexpr std::size_t kMinSecretBytes = 32;
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

[[noreturn]] void reject(const std::string& why) {
    throw Error(SB_EUNAUTHENTICATED, "invalid access token: " + why);
}

// The object's fields, refusing duplicate names (which parsers resolve differently).
simdjson::dom::object parse_object(simdjson::dom::parser& parser, const std::string& json,
                                   const char* what) {
    simdjson::dom::element doc;
    if (parser.parse(json).get(doc)) reject(std::string(what) + " is not JSON");
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) reject(std::string(what) + " is not a JSON object");
    std::set<std::string_view> seen;
    for (auto field : obj)
        if (!seen.insert(field.key).second)
            reject(std::string(what) + " has a duplicate field \"" + std::string(field.key) + "\"");
    return obj;
}

}  // namespace

const char* to_string(AccountRole r) noexcept {
    return r == AccountRole::Admin ? "admin" : r == AccountRole::Agent ? "agent" : "user";
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len))
        throw Error(SB_ERROR, "HMAC-SHA256 failed");
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string sign_token(const TokenClaims& c, std::string_view secret) {
    if (secret.size() < kMinSecretBytes)
        throw Error(SB_EINVAL, "the token secret is shorter than 32 bytes");
    std::string payload = "{\"sub\":";
    json_append_string(payload, c.sub);
    payload += ",\"role\":";
    json_append_string(payload, to_string(c.role));
    if (c.role != AccountRole::Admin) {
        payload += ",\"bot\":";
        json_append_string(payload, c.bot);
    }
    payload += ",\"iat\":" + std::to_string(c.iat) + ",\"exp\":" + std::to_string(c.exp) + "}";
    std::string input = base64_encode(kHeader, Base64Alphabet::Url) + "." +
                        base64_encode(payload, Base64Alphabet::Url);
    const std::string mac = hmac_sha256(secret, input);
    return input + "." + base64_encode(mac, Base64Alphabet::Url);
}

TokenClaims verify_token(std::string_view token, std::string_view secret, std::int64_t now_s) {
    if (secret.size() < kMinSecretBytes)
        throw Error(SB_EINVAL, "the token secret is shorter than 32 bytes");
    if (token.empty()) reject("empty");
    if (token.size() > kMaxTokenBytes) reject("too long");
    const std::size_t dot1 = token.find('.');
    const std::size_t dot2 = dot1 == token.npos ? token.npos : token.find('.', dot1 + 1);
    if (dot2 == token.npos || token.find('.', dot2 + 1) != token.npos)
        reject("not three dot-separated parts");
    const std::string_view header_b64 = token.substr(0, dot1);
    const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
    const std::string_view sig_b64 = token.substr(dot2 + 1);
    const auto header = base64_decode(header_b64, Base64Alphabet::Url);
    const auto payload = base64_decode(payload_b64, Base64Alphabet::Url);
    const auto sig = base64_decode(sig_b64, Base64Alphabet::Url);
    if (!header || !payload || !sig) reject("bad base64url");

    // The header first: only HS256 is accepted, whatever the signature.
    simdjson::dom::parser parser;
    {
        const auto h = parse_object(parser, *header, "header");
        std::string_view alg;
        bool has_alg = false;
        for (auto field : h) {
            if (field.key == "alg") {
                if (field.value.get_string().get(alg)) reject("alg is not a string");
                has_alg = true;
            } else if (field.key == "typ") {
                std::string_view typ;
                if (field.value.get_string().get(typ) || typ != "JWT") reject("typ is not JWT");
            } else {
                reject("unsupported header field \"" + std::string(field.key) + "\"");
            }
        }
        if (!has_alg) reject("no alg");
        if (alg != "HS256") reject("alg \"" + std::string(alg) + "\" is not accepted");
    }
    const std::string expected =
        hmac_sha256(secret, token.substr(0, dot2));  // header.payload as sent
    if (!constant_time_equal(expected, *sig)) reject("bad signature");

    TokenClaims c;
    bool has_sub = false, has_role = false, has_bot = false, has_iat = false, has_exp = false;
    const auto p = parse_object(parser, *payload, "payload");
    for (auto field : p) {
        const std::string_view key = field.key;
        if (key == "sub") {
            std::string_view v;
            if (field.value.get_string().get(v) || v.empty()) reject("sub is not a string");
            c.sub = std::string(v);
            has_sub = true;
        } else if (key == "role") {
            std::string_view v;
            if (field.value.get_string().get(v)) reject("role is not a string");
            if (v == "admin")
                c.role = AccountRole::Admin;
            else if (v == "user")
                c.role = AccountRole::User;
            else if (v == "agent")
                c.role = AccountRole::Agent;
            else
                reject("unknown role");
            has_role = true;
        } else if (key == "bot") {
            std::string_view v;
            if (field.value.get_string().get(v) || v.empty()) reject("bot is not a string");
            c.bot = std::string(v);
            has_bot = true;
        } else if (key == "iat" || key == "exp") {
            std::int64_t v = 0;
            // Integers only: a double (1.5e9) or a string is refused.
            if (!field.value.is_int64() || field.value.get_int64().get(v))
                reject(std::string(key) + " is not an integer");
            (key == "iat" ? c.iat : c.exp) = v;
            (key == "iat" ? has_iat : has_exp) = true;
        }
        // Other registered or private claims are ignored.
    }
    if (!has_sub || !has_role || !has_iat || !has_exp) reject("a required claim is missing");
    if (c.role != AccountRole::Admin && !has_bot) reject("a user or agent token names no bot");
    if (c.role == AccountRole::Admin && has_bot) reject("an admin token names a bot");
    if (c.exp <= c.iat) reject("exp is not after iat");
    if (c.iat > now_s + kIatSkewSeconds) reject("issued in the future");
    if (c.exp <= now_s) reject("expired");
    return c;
}

}  // namespace sb::auth
