// Accounts and authorisation: password hashing, access tokens, e-mail and password rules (no
// database), then logins, throttling and the whole authorisation matrix through the C ABI over a
// real database (SQLite, and PostgreSQL when SB_TEST_PG_URL is set: the "chat: auth" cases run in
// ctest's store_postgres too).
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "auth/account.hpp"
#include "auth/accounts.hpp"
#include "auth/base64.hpp"
#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "capi/capi_internal.hpp"
#include "chat/engine.hpp"
#include "common/error.hpp"
#include "supportbot/supportbot.h"

namespace {

using sb::auth::AccountRole;
using sb::auth::Base64Alphabet;
using sb::test::database_urls;
using sb::test::status_of;
using sb::test::TempDir;

const std::string kSecret = "test secret key: thirty-two bytes or more";

std::string b64u(std::string_view s) {
    return sb::auth::base64_encode(s, Base64Alphabet::Url);
}

// A token with exactly this header and payload JSON, correctly signed with `secret`: so that a
// case fails on the one property it is about, not on the signature.
std::string craft(const std::string& header, const std::string& payload,
                  const std::string& secret = kSecret) {
    const std::string input = b64u(header) + "." + b64u(payload);
    return input + "." + b64u(sb::auth::hmac_sha256(secret, input));
}

constexpr std::int64_t kNow = 1'900'000'000;  // seconds
const std::string kHs256 = R"({"alg":"HS256","typ":"JWT"})";

std::string payload(const std::string& extra = R"("role":"admin")", std::int64_t iat = kNow - 10,
                    std::int64_t exp = kNow + 600) {
    return R"({"sub":"acct-1",)" + extra + R"(,"iat":)" + std::to_string(iat) + R"(,"exp":)" +
           std::to_string(exp) + "}";
}

int verify_status(const std::string& token, const std::string& secret = kSecret,
                  std::int64_t now = kNow) {
    return status_of([&] { sb::auth::verify_token(token, secret, now); });
}

}  // namespace

// ---- Password hashing ------------------------------------------------------------------------

TEST_CASE("auth: password hashes use scrypt with N=2^15, r=8, p=1 by default") {
    const std::string h = sb::auth::hash_password("correct Horse 1");
    CHECK(h.rfind("scrypt$ln=15,r=8,p=1$", 0) == 0);
    const auto params = sb::auth::hash_params(h);
    CHECK(params.log2_n == 15);
    CHECK(params.r == 8);
    CHECK(params.p == 1);
    // 16-byte salt and 32-byte hash, base64 without padding: 22 and 43 characters.
    std::vector<std::string> parts;
    for (std::size_t at = 0;;) {
        const std::size_t next = h.find('$', at);
        parts.push_back(h.substr(at, next == std::string::npos ? next : next - at));
        if (next == std::string::npos) break;
        at = next + 1;
    }
    REQUIRE(parts.size() == 4);
    CHECK(parts[2].size() == 22);
    CHECK(parts[3].size() == 43);
    CHECK(parts[2].find('=') == std::string::npos);
    CHECK(parts[3].find('=') == std::string::npos);
    CHECK(sb::auth::verify_password("correct Horse 1", h));
    CHECK_FALSE(sb::auth::needs_rehash(h));
}

TEST_CASE("auth: hashes verify the right password only, with a fresh salt each") {
    const sb::auth::ScryptParams cheap{10, 8, 1};
    const std::string a = sb::auth::hash_password("pass-word-1", cheap);
    const std::string b = sb::auth::hash_password("pass-word-1", cheap);
    CHECK(a != b);  // different salts
    CHECK(a.substr(0, a.rfind('$')) != b.substr(0, b.rfind('$')));
    CHECK(sb::auth::verify_password("pass-word-1", a));
    CHECK(sb::auth::verify_password("pass-word-1", b));
    CHECK_FALSE(sb::auth::verify_password("pass-word-2", a));
    CHECK_FALSE(sb::auth::verify_password("Pass-word-1", a));
    CHECK_FALSE(sb::auth::verify_password("", a));
    CHECK_FALSE(sb::auth::verify_password("pass-word-1 ", a));
    // The parameters are read from the hash itself, so raising them later keeps old hashes valid
    // and marks them for rehashing.
    CHECK(sb::auth::needs_rehash(a, sb::auth::kDefaultScrypt));
    CHECK_FALSE(sb::auth::needs_rehash(a, cheap));
    CHECK(sb::auth::needs_rehash("garbage", cheap));
    // Out-of-range parameters are refused.
    CHECK(status_of([] { sb::auth::hash_password("x", {40, 8, 1}); }) == SB_EINVAL);
    CHECK(status_of([] { sb::auth::hash_password("x", {10, 0, 1}); }) == SB_EINVAL);
}

TEST_CASE("auth: scrypt matches the RFC 7914 test vector") {
    // scrypt("password", "NaCl", N=1024, r=8, p=16): the first 32 bytes of the 64 in the RFC.
    const unsigned char expected[32] = {0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34, 0x72, 0x00,
                                        0x78, 0x56, 0xe7, 0x19, 0x0d, 0x01, 0xe9, 0xfe,
                                        0x7c, 0x6a, 0xd7, 0xcb, 0xc8, 0x23, 0x78, 0x30,
                                        0xe7, 0x73, 0x76, 0x63, 0x4b, 0x37, 0x31, 0x62};
    const std::string hash(reinterpret_cast<const char*>(expected), sizeof expected);
    const std::string stored = "scrypt$ln=10,r=8,p=16$" +
                               sb::auth::base64_encode("NaCl", Base64Alphabet::Standard) + "$" +
                               sb::auth::base64_encode(hash, Base64Alphabet::Standard);
    CHECK(sb::auth::verify_password("password", stored));
    CHECK_FALSE(sb::auth::verify_password("passwore", stored));
}

TEST_CASE("auth: malformed stored hashes are database errors, never a match") {
    const std::string good = sb::auth::hash_password("pass-word-1", {10, 8, 1});
    for (const std::string& bad :
         {std::string(""), std::string("scrypt"), std::string("bcrypt$ln=10,r=8,p=1$AAAA$AAAA"),
          std::string("scrypt$ln=10,r=8$AAAA$AAAA"), std::string("scrypt$ln=99,r=8,p=1$AAAA$AAAA"),
          std::string("scrypt$ln=10,r=8,p=1$AAAA$AAAA"),  // hash too short
          good + "$", good.substr(0, good.size() - 1), good + "A",
          std::string("scrypt$ln=010,r=8,p=1") + good.substr(good.find("$", 8))}) {
        CAPTURE(bad);
        CHECK(status_of([&] { sb::auth::verify_password("pass-word-1", bad); }) == SB_EDB);
    }
}

TEST_CASE("auth: constant-time comparison") {
    using sb::auth::constant_time_equal;
    CHECK(constant_time_equal("", ""));
    CHECK(constant_time_equal("abc", "abc"));
    CHECK_FALSE(constant_time_equal("abc", "abd"));
    CHECK_FALSE(constant_time_equal("xbc", "abc"));
    CHECK_FALSE(constant_time_equal("abc", "abcd"));
    CHECK_FALSE(constant_time_equal("abc", ""));
    const std::string a(32, '\0'), b = std::string(31, '\0') + '\1';
    CHECK_FALSE(constant_time_equal(a, b));  // embedded NULs compared as bytes
}

TEST_CASE("auth: base64 decoding is strict") {
    using sb::auth::base64_decode;
    using sb::auth::base64_encode;
    for (const std::string& s :
         {std::string(""), std::string("f"), std::string("fo"), std::string("foo"),
          std::string("foob"), std::string("\xff\xfe")}) {
        for (auto alphabet : {Base64Alphabet::Standard, Base64Alphabet::Url}) {
            const std::string e = base64_encode(s, alphabet);
            CHECK(e.find('=') == std::string::npos);
            REQUIRE(base64_decode(e, alphabet).has_value());
            CHECK(*base64_decode(e, alphabet) == s);
        }
    }
    CHECK(base64_encode("\xfb\xff", Base64Alphabet::Url) == "-_8");
    CHECK(base64_encode("\xfb\xff", Base64Alphabet::Standard) == "+/8");
    CHECK_FALSE(base64_decode("+/8", Base64Alphabet::Url).has_value());
    CHECK_FALSE(base64_decode("-_8", Base64Alphabet::Standard).has_value());
    CHECK_FALSE(base64_decode("Zm8=", Base64Alphabet::Url).has_value());  // padding
    CHECK_FALSE(base64_decode("Zm9", Base64Alphabet::Url).has_value());   // non-zero spare bits
    CHECK_FALSE(base64_decode("Z", Base64Alphabet::Url).has_value());     // impossible length
    CHECK_FALSE(base64_decode("Zm 8", Base64Alphabet::Url).has_value());
    CHECK_FALSE(base64_decode("Zm\n8", Base64Alphabet::Url).has_value());
}

// ---- Tokens ------------------------------------------------------------------------------------

TEST_CASE("auth: tokens round-trip with their claims") {
    sb::auth::TokenClaims c;
    c.sub = "acct-1";
    c.role = AccountRole::User;
    c.bot = "bot-1";
    c.iat = kNow;
    c.exp = kNow + 1800;
    const std::string t = sb::auth::sign_token(c, kSecret);
    CHECK(std::count(t.begin(), t.end(), '.') == 2);
    CHECK(t.substr(0, t.find('.')) == b64u(kHs256));
    const auto back = sb::auth::verify_token(t, kSecret, kNow + 60);
    CHECK(back.sub == "acct-1");
    CHECK(back.role == AccountRole::User);
    CHECK(back.bot == "bot-1");
    CHECK(back.iat == kNow);
    CHECK(back.exp == kNow + 1800);
    c.role = AccountRole::Admin;
    c.bot = "";
    const auto admin = sb::auth::verify_token(sb::auth::sign_token(c, kSecret), kSecret, kNow);
    CHECK(admin.role == AccountRole::Admin);
    CHECK(admin.bot.empty());
    // Short secrets are refused both ways.
    CHECK(status_of([&] { sb::auth::sign_token(c, "short"); }) == SB_EINVAL);
    CHECK(status_of([&] { sb::auth::verify_token(t, std::string(31, 'k'), kNow); }) == SB_EINVAL);
    // The crafting helper makes tokens the verifier accepts (so the cases below test one thing).
    CHECK(verify_status(craft(kHs256, payload())) == SB_OK);
    CHECK(verify_status(craft(R"({"alg":"HS256"})", payload())) == SB_OK);
}

TEST_CASE("auth: tampered, foreign and malformed tokens are refused") {
    const std::string good = craft(kHs256, payload());
    const auto dot1 = good.find('.');
    const auto dot2 = good.rfind('.');
    const std::string head = good.substr(0, dot1);
    const std::string body = good.substr(dot1 + 1, dot2 - dot1 - 1);
    const std::string sig = good.substr(dot2 + 1);
    std::string flipped_sig = sig;
    flipped_sig[3] = flipped_sig[3] == 'A' ? 'B' : 'A';

    struct Case {
        const char* name;
        std::string token;
    };
    const std::vector<Case> cases = {
        {"alg none, unsigned", b64u(R"({"alg":"none","typ":"JWT"})") + "." + body + "."},
        {"alg none, signed anyway", craft(R"({"alg":"none","typ":"JWT"})", payload())},
        {"alg HS512", craft(R"({"alg":"HS512","typ":"JWT"})", payload())},
        {"alg RS256", craft(R"({"alg":"RS256","typ":"JWT"})", payload())},
        {"alg hs256 (case)", craft(R"({"alg":"hs256","typ":"JWT"})", payload())},
        {"alg missing", craft(R"({"typ":"JWT"})", payload())},
        {"alg not a string", craft(R"({"alg":256,"typ":"JWT"})", payload())},
        {"alg twice", craft(R"({"alg":"HS256","alg":"none"})", payload())},
        {"typ not JWT", craft(R"({"alg":"HS256","typ":"JWS"})", payload())},
        {"unknown header field", craft(R"({"alg":"HS256","kid":"k1"})", payload())},
        {"header altered, old signature",
         b64u(R"({"alg":"HS256","typ":"JWT","x":1})") + "." + body + "." + sig},
        {"payload altered, old signature",
         head + "." + b64u(payload(R"("role":"admin","x":1)")) + "." + sig},
        {"role raised, old signature",
         b64u(kHs256) + "." + b64u(payload(R"("role":"user","bot":"b")")) + "." + sig},
        {"signature altered", head + "." + body + "." + flipped_sig},
        {"signature truncated", head + "." + body + "." + sig.substr(0, sig.size() - 2)},
        {"signature empty", head + "." + body + "."},
        {"wrong secret", craft(kHs256, payload(), kSecret + "!")},
        {"two parts", head + "." + body},
        {"one part", head},
        {"four parts", good + "." + sig},
        {"empty", ""},
        {"dots only", ".."},
        {"padding", head + "." + body + "=" + "." + sig},
        {"bad base64 character", head + "." + body + "*." + sig},
        {"standard alphabet", head + "." + body + "." + sig + "+"},
        {"whitespace", " " + good},
        {"header not JSON", craft("{alg:HS256}", payload())},
        {"header an array", craft(R"(["HS256"])", payload())},
        {"payload not JSON", craft(kHs256, "{\"sub\":")},
        {"payload an array", craft(kHs256, "[1,2]")},
        {"payload duplicate sub",
         craft(kHs256, R"({"sub":"a","sub":"b","role":"admin","iat":1,"exp":9999999999})")},
        {"sub a number", craft(kHs256, R"({"sub":7,"role":"admin","iat":1,"exp":9999999999})")},
        {"sub empty", craft(kHs256, R"({"sub":"","role":"admin","iat":1,"exp":9999999999})")},
        {"sub missing", craft(kHs256, R"({"role":"admin","iat":1,"exp":9999999999})")},
        {"role unknown", craft(kHs256, payload(R"("role":"root")"))},
        {"role a number", craft(kHs256, payload(R"("role":1)"))},
        {"role missing", craft(kHs256, R"({"sub":"a","iat":1,"exp":9999999999})")},
        {"exp a string", craft(kHs256, R"({"sub":"a","role":"admin","iat":1,"exp":"9999999999"})")},
        {"exp a float", craft(kHs256, R"({"sub":"a","role":"admin","iat":1,"exp":9999999999.5})")},
        {"exp missing", craft(kHs256, R"({"sub":"a","role":"admin","iat":1})")},
        {"iat a string", craft(kHs256, R"({"sub":"a","role":"admin","iat":"1","exp":9999999999})")},
        {"iat missing", craft(kHs256, R"({"sub":"a","role":"admin","exp":9999999999})")},
        {"expired", craft(kHs256, payload(R"("role":"admin")", kNow - 700, kNow - 1))},
        {"expires now", craft(kHs256, payload(R"("role":"admin")", kNow - 700, kNow))},
        {"issued in the future",
         craft(kHs256, payload(R"("role":"admin")", kNow + 3600, kNow + 7200))},
        {"exp before iat", craft(kHs256, payload(R"("role":"admin")", kNow + 10, kNow + 5))},
        {"user without bot", craft(kHs256, payload(R"("role":"user")"))},
        {"user with empty bot", craft(kHs256, payload(R"("role":"user","bot":"")"))},
        {"user with numeric bot", craft(kHs256, payload(R"("role":"user","bot":5)"))},
        {"admin with bot", craft(kHs256, payload(R"("role":"admin","bot":"b")"))},
        {"too long",
         craft(kHs256, payload(R"("role":"admin","pad":")" + std::string(9000, 'x') + "\""))},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        CHECK(verify_status(c.token) == SB_EUNAUTHENTICATED);
    }
    // A small skew of iat is allowed (clocks of several hosts), the rest of the token unchanged.
    CHECK(verify_status(craft(kHs256, payload(R"("role":"admin")", kNow + 30, kNow + 600))) ==
          SB_OK);
    CHECK(verify_status(craft(kHs256, payload(R"("role":"user","bot":"b")"))) == SB_OK);
}

// ---- E-mail and password rules ---------------------------------------------------------------

TEST_CASE("auth: e-mail addresses are normalised and checked") {
    using sb::auth::normalize_email;
    CHECK(normalize_email("ann@example.com") == "ann@example.com");
    CHECK(normalize_email("  Ann.Lee+support@Example.COM \t") == "ann.lee+support@example.com");
    CHECK(normalize_email("J\xC3\x9CRGEN@b\xC3\xBC"
                          "cher.DE") ==
          "j\xC3\xBCrgen@b\xC3\xBC"
          "cher.de");
    // NFC: a decomposed u + combining diaeresis is the same account as the composed one.
    CHECK(normalize_email("ju\xCC\x88rgen@example.com") == "j\xC3\xBCrgen@example.com");
    for (const char* bad : {"",
                            "   ",
                            "ann",
                            "ann@",
                            "@example.com",
                            "ann@@example.com",
                            "a@b@example.com",
                            "ann@localhost",
                            "ann@example..com",
                            "ann@-example.com",
                            "ann@example-.com",
                            "ann smith@example.com",
                            "ann@exa mple.com",
                            "ann@exa_mple.com",
                            "<ann>@example.com",
                            ".ann@example.com",
                            "ann.@example.com",
                            "an..n@example.com",
                            "ann@example.com\n.evil",
                            "ann\x01@example.com",
                            "\xff@example.com"}) {
        CAPTURE(bad);
        CHECK(status_of([&] { normalize_email(bad); }) == SB_EINVAL);
    }
    CHECK(status_of([] { normalize_email(std::string(70, 'a') + "@example.com"); }) == SB_EINVAL);
    CHECK(status_of([] { normalize_email("a@" + std::string(250, 'b') + ".com"); }) == SB_ELIMIT);
}

TEST_CASE("auth: the password policy") {
    using sb::auth::check_password_policy;
    for (const char* ok : {"abcdefg1", "ABCDEFG1", "abcdEFGH", "abcdefg!", "12345678x",
                           "correct horse battery staple", "p\xC3\xA4sswort1"}) {
        CAPTURE(ok);
        CHECK(status_of([&] { check_password_policy(ok); }) == SB_OK);
    }
    std::string message;
    for (const char* bad :
         {"", "abc1", "abcdefg", "abcdefgh", "ABCDEFGH", "12345678", "!!!!!!!!",
          "\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4",  // 7 characters (14 bytes)
          "abcdefg\n1", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"}) {
        CAPTURE(bad);
        CHECK(status_of([&] { check_password_policy(bad); }, &message) == SB_EINVAL);
        if (std::strlen(bad) > 3) CHECK(message.find(bad) == std::string::npos);  // never echoed
    }
    CHECK(status_of([] { check_password_policy("aA1" + std::string(1100, 'x')); }) == SB_ELIMIT);
}

// ---- Accounts over a database, through the C ABI ----------------------------------------------

namespace {

// A clock the test can move: tokens and failed logins are checked against it.
struct TestClock {
    std::shared_ptr<std::atomic<std::int64_t>> offset_ms =
        std::make_shared<std::atomic<std::int64_t>>(0);
    std::function<std::int64_t()> fn() const {
        auto off = offset_ms;
        return [off] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() +
                   off->load();
        };
    }
};

struct EngineFree {
    void operator()(sb_engine* e) const noexcept { sb_engine_close(e); }
};
using EnginePtr = std::unique_ptr<sb_engine, EngineFree>;

// An engine as sb_engine_open makes it, with cheap password hashes and the test's clock.
EnginePtr open_engine(const std::string& url, const TestClock& clock, unsigned max_failures = 5,
                      unsigned window_seconds = 900, unsigned log2_n = 10) {
    sb::EngineOptions o;
    o.database_url = url;
    o.secret_key = kSecret;
    o.auth_scrypt_log2_n = log2_n;
    o.auth_clock_ms = clock.fn();
    o.login_max_failures = max_failures;
    o.login_window_seconds = window_seconds;
    EnginePtr e(new sb_engine);
    e->engine = std::make_unique<sb::Engine>(std::move(o));
    e->accounts = std::make_unique<sb::auth::Accounts>(*e->engine);
    return e;
}

std::string take(char* s) {
    std::string out = s ? s : "";
    sb_string_free(s);
    return out;
}

struct PrincipalFree {
    void operator()(sb_principal* p) const noexcept { sb_principal_free(p); }
};
using PrincipalPtr = std::unique_ptr<sb_principal, PrincipalFree>;

struct Account {
    std::string id;
    std::string email;
    std::string token;
    PrincipalPtr principal;
};

Account make_account(sb_engine* e, const std::string& bot, const std::string& tag) {
    Account a;
    a.email = tag + "-" + sb::new_uuid().substr(0, 8) + "@example.com";
    const std::string password = "pw-" + tag + "-Secret";
    char* id = nullptr;
    REQUIRE(((bot.empty() ? sb_admin_register(e, a.email.c_str(), password.c_str(), &id)
                          : sb_user_register(e, bot.c_str(), a.email.c_str(), password.c_str(),
                                             &id)) == SB_OK));
    a.id = take(id);
    char* token = nullptr;
    REQUIRE(((bot.empty() ? sb_admin_login(e, a.email.c_str(), password.c_str(), &token)
                          : sb_user_login(e, bot.c_str(), a.email.c_str(), password.c_str(),
                                          &token)) == SB_OK));
    a.token = take(token);
    sb_principal* p = nullptr;
    REQUIRE(sb_principal_from_token(e, a.token.c_str(), &p) == SB_OK);
    a.principal.reset(p);
    return a;
}

const char* kFaqs =
    R"([{"id":"refund","question":"How do I get a refund?","answer":"Open your order."},
        {"id":"shipping","question":"How long does shipping take?","answer":"3 to 5 days."}])";

std::string make_bot(sb_engine* e, const sb_principal* admin) {
    char* id = nullptr;
    REQUIRE(sb_bot_create(e, admin, "Shop", kFaqs, std::strlen(kFaqs), SB_FORMAT_JSON, nullptr,
                          &id) == SB_OK);
    return take(id);
}

// A new session of `who` with the bot; "" when refused.
std::string start_session(sb_engine* e, const sb_principal* who, const std::string& bot) {
    sb_chat_request r = SB_CHAT_REQUEST_INIT;
    r.bot_id = bot.c_str();
    r.principal = who;
    r.message = "how long does shipping take";
    r.message_len = std::strlen(r.message);
    sb_reply* reply = nullptr;
    if (sb_chat_send(e, &r, &reply) != SB_OK) return "";
    sb_reply_info info;
    REQUIRE(sb_reply_get(reply, &info) == SB_OK);
    std::string id = info.session_id;
    sb_reply_free(reply);
    return id;
}

}  // namespace

// authenticate() keeps the tokens it verified: a kept token must still expire, a token that
// differs from it by one byte must still be checked, and a deleted account must still be refused.
TEST_CASE("chat: auth verified tokens are kept, but still expire and are checked byte for byte") {
    TempDir dir;
    const std::string url = "sqlite://" + dir.path().string() + "/kept.db";
    TestClock clock;
    EnginePtr e = open_engine(url, clock);
    Account admin = make_account(e.get(), "", "kept");
    auto status_of = [&](const std::string& token) {
        try {
            (void)e->accounts->authenticate(token);
            return SB_OK;
        } catch (const sb::Error& err) {
            return err.status();
        }
    };
    CHECK(status_of(admin.token) == SB_OK);
    CHECK(status_of(admin.token) == SB_OK);  // the kept verification
    // One byte of the signature changed, of the payload changed, or the token cut short.
    std::string forged = admin.token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    CHECK(status_of(forged) == SB_EUNAUTHENTICATED);
    std::string payload = admin.token;
    const std::size_t dot = payload.find('.');
    payload[dot + 2] = payload[dot + 2] == 'A' ? 'B' : 'A';
    CHECK(status_of(payload) == SB_EUNAUTHENTICATED);
    CHECK(status_of(admin.token.substr(0, admin.token.size() - 1)) == SB_EUNAUTHENTICATED);
    CHECK(status_of(admin.token) == SB_OK);
    // Past its expiry (30 minutes) the kept token is refused; with the clock back, accepted.
    clock.offset_ms->store(31 * 60 * 1000);
    CHECK(status_of(admin.token) == SB_EUNAUTHENTICATED);
    clock.offset_ms->store(0);
    CHECK(status_of(admin.token) == SB_OK);
    // Its account deleted, the kept token is refused (after the one-second existence cache).
    REQUIRE(sb_account_delete(e.get(), admin.principal.get(), admin.id.c_str()) == SB_OK);
    CHECK(status_of(admin.token) == SB_EUNAUTHENTICATED);
}

TEST_CASE("chat: auth registration, login and principals") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "auth.db")) {
        CAPTURE(url);
        TestClock clock;
        EnginePtr e = open_engine(url, clock);
        Account admin = make_account(e.get(), "", "owner");
        sb_principal_info info;
        REQUIRE(sb_principal_get(admin.principal.get(), &info) == SB_OK);
        CHECK(info.account_id == admin.id);
        CHECK(info.role == SB_ACCOUNT_ADMIN);
        CHECK(std::string(info.bot_id).empty());
        CHECK(info.email == admin.email);
        const std::int64_t now = e->accounts->now_ms();
        CHECK(info.expires_ms > now + 29 * 60 * 1000);
        CHECK(info.expires_ms <= now + 30 * 60 * 1000 + 1000);

        // The same e-mail, differently written, is a duplicate; as a user of a bot it is not.
        std::string upper = admin.email;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        CHECK(sb_admin_register(e.get(), (" " + upper).c_str(), "another-Pass1", nullptr) ==
              SB_ECONFLICT);
        CHECK(std::string(sb_last_error()).find("registered already") != std::string::npos);
        const std::string bot = make_bot(e.get(), admin.principal.get());
        CHECK(sb_user_register(e.get(), bot.c_str(), admin.email.c_str(), "another-Pass1",
                               nullptr) == SB_OK);
        CHECK(sb_user_register(e.get(), bot.c_str(), upper.c_str(), "another-Pass1", nullptr) ==
              SB_ECONFLICT);
        CHECK(sb_user_register(e.get(), "no-such-bot", "x@example.com", "another-Pass1", nullptr) ==
              SB_ENOTFOUND);
        // Logging in with the e-mail written differently works; the token carries the id.
        char* token = nullptr;
        REQUIRE(sb_admin_login(e.get(), upper.c_str(), "pw-owner-Secret", &token) == SB_OK);
        sb_principal* p = nullptr;
        REQUIRE(sb_principal_from_token(e.get(), token, &p) == SB_OK);
        sb_string_free(token);
        REQUIRE(sb_principal_get(p, &info) == SB_OK);
        CHECK(info.account_id == admin.id);
        sb_principal_free(p);
        // The host may mint a token for an account it names.
        REQUIRE(sb_token_issue(e.get(), admin.id.c_str(), &token) == SB_OK);
        p = nullptr;
        CHECK(sb_principal_from_token(e.get(), token, &p) == SB_OK);
        sb_principal_free(p);
        sb_string_free(token);
        CHECK(sb_token_issue(e.get(), "no-such-account", &token) == SB_ENOTFOUND);
        char* id = nullptr;
        CHECK(sb_account_lookup(e.get(), nullptr, upper.c_str(), &id) == SB_OK);
        CHECK(take(id) == admin.id);
        CHECK(sb_account_lookup(e.get(), bot.c_str(), "nobody@example.com", &id) == SB_ENOTFOUND);
        // A token signed with another key is refused.
        p = nullptr;
        const std::string foreign = craft(kHs256,
                                          R"({"sub":")" + admin.id + R"(","role":"admin","iat":)" +
                                              std::to_string(now / 1000) + R"(,"exp":)" +
                                              std::to_string(now / 1000 + 600) + "}",
                                          kSecret + "x");
        CHECK(sb_principal_from_token(e.get(), foreign.c_str(), &p) == SB_EUNAUTHENTICATED);
        CHECK(p == nullptr);
        CHECK(sb_principal_from_token(e.get(), nullptr, &p) == SB_EUNAUTHENTICATED);
        // Bad arguments.
        CHECK(sb_admin_register(e.get(), "ok@example.com", nullptr, nullptr) == SB_EINVAL);
        CHECK(sb_admin_login(e.get(), "ok@example.com", "x", nullptr) == SB_EINVAL);
        CHECK(sb_user_login(e.get(), nullptr, "ok@example.com", "x", &token) == SB_EINVAL);
        CHECK(sb_admin_register(e.get(), "ok@example.com", "weakweak", nullptr) == SB_EINVAL);
        CHECK(std::string(sb_last_error()).find("weakweak") == std::string::npos);
    }
}

TEST_CASE("chat: auth failed logins are limited per e-mail and scope, and reveal nothing") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "auth.db")) {
        CAPTURE(url);
        TestClock clock;
        EnginePtr e = open_engine(url, clock, 3, 60);
        Account admin = make_account(e.get(), "", "admin");
        const std::string bot = make_bot(e.get(), admin.principal.get());
        Account user = make_account(e.get(), bot, "user");
        const std::string ghost = "ghost-" + sb::new_uuid().substr(0, 8) + "@example.com";
        char* token = nullptr;

        // Wrong password and unknown account: same status, same message.
        REQUIRE(sb_user_login(e.get(), bot.c_str(), user.email.c_str(), "wrong-Pass1", &token) ==
                SB_EUNAUTHENTICATED);
        const std::string wrong_message = sb_last_error();
        REQUIRE(sb_user_login(e.get(), bot.c_str(), ghost.c_str(), "wrong-Pass1", &token) ==
                SB_EUNAUTHENTICATED);
        CHECK(sb_last_error() == wrong_message);
        CHECK(sb_user_login(e.get(), "no-such-bot", user.email.c_str(), "pw-user-Secret", &token) ==
              SB_EUNAUTHENTICATED);
        CHECK(sb_last_error() == wrong_message);
        CHECK(wrong_message.find(user.email) == std::string::npos);
        CHECK(token == nullptr);

        // Two more failures reach the limit (3): then even the right password is refused.
        CHECK(sb_user_login(e.get(), bot.c_str(), user.email.c_str(), "wrong-Pass2", &token) ==
              SB_EUNAUTHENTICATED);
        CHECK(sb_user_login(e.get(), bot.c_str(), user.email.c_str(), "wrong-Pass3", &token) ==
              SB_EUNAUTHENTICATED);
        CHECK(sb_user_login(e.get(), bot.c_str(), user.email.c_str(), "pw-user-Secret", &token) ==
              SB_ELIMIT);
        const std::string limited = sb_last_error();
        CHECK(limited == "too many failed logins; try again later");
        // Unknown accounts are limited alike, with the same message.
        for (int i = 0; i < 2; ++i)
            CHECK(sb_user_login(e.get(), bot.c_str(), ghost.c_str(), "wrong-Pass1", &token) ==
                  SB_EUNAUTHENTICATED);
        CHECK(sb_user_login(e.get(), bot.c_str(), ghost.c_str(), "wrong-Pass1", &token) ==
              SB_ELIMIT);
        CHECK(sb_last_error() == limited);
        // The limit is per scope: the same e-mail as an admin, or the admin, are not limited.
        CHECK(sb_admin_login(e.get(), user.email.c_str(), "pw-user-Secret", &token) ==
              SB_EUNAUTHENTICATED);
        CHECK(sb_admin_login(e.get(), admin.email.c_str(), "pw-admin-Secret", &token) == SB_OK);
        sb_string_free(token);
        token = nullptr;
        // It is shared through the database: another engine on it sees it.
        {
            EnginePtr e2 = open_engine(url, clock, 3, 60);
            CHECK(sb_user_login(e2.get(), bot.c_str(), user.email.c_str(), "pw-user-Secret",
                                &token) == SB_ELIMIT);
        }
        // After the window, the right password works again (and clears the count).
        clock.offset_ms->store(61'000);
        CHECK(sb_user_login(e.get(), bot.c_str(), user.email.c_str(), "pw-user-Secret", &token) ==
              SB_OK);
        sb_string_free(token);
        token = nullptr;
        for (int i = 0; i < 2; ++i)
            CHECK(sb_user_login(e.get(), bot.c_str(), user.email.c_str(), "wrong-Pass1", &token) ==
                  SB_EUNAUTHENTICATED);
        CHECK(sb_user_login(e.get(), bot.c_str(), user.email.c_str(), "pw-user-Secret", &token) ==
              SB_OK);
        sb_string_free(token);
    }
}

TEST_CASE("chat: auth concurrent wrong passwords do not get past the failed-login limit") {
    // All threads try a wrong password at the same moment: the limit (3) holds for them together,
    // not only one after another (each used to count the failures before its hash and record its
    // own after, so that all of them read the same count and none was refused).
    TempDir dir;
    constexpr unsigned kLimit = 3;
    constexpr int kThreads = 16;
    for (const std::string& url : database_urls(dir, "auth.db")) {
        CAPTURE(url);
        TestClock clock;
        // A hash costly enough (2^12) that the attempts overlap, still cheap next to the default.
        EnginePtr e = open_engine(url, clock, kLimit, 60, 12);
        Account admin = make_account(e.get(), "", "admin");
        const std::string bot = make_bot(e.get(), admin.principal.get());
        Account user = make_account(e.get(), bot, "user");
        std::atomic<int> unauthenticated{0};
        std::atomic<int> limited{0};
        std::atomic<int> other{0};
        std::latch start(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&] {
                start.arrive_and_wait();
                char* token = nullptr;
                const int rc =
                    sb_user_login(e.get(), bot.c_str(), user.email.c_str(), "wrong-Pass1", &token);
                sb_string_free(token);
                if (rc == SB_EUNAUTHENTICATED)
                    ++unauthenticated;
                else if (rc == SB_ELIMIT)
                    ++limited;
                else
                    ++other;
            });
        }
        for (auto& th : threads) th.join();
        CHECK(other.load() == 0);
        // Nothing clears the count meanwhile, so exactly `limit` passwords were checked.
        CHECK(unauthenticated.load() == static_cast<int>(kLimit));
        CHECK(limited.load() == kThreads - static_cast<int>(kLimit));
        // Within the window the right password is refused too.
        char* token = nullptr;
        CHECK(sb_user_login(e.get(), bot.c_str(), user.email.c_str(), "pw-user-Secret", &token) ==
              SB_ELIMIT);
        CHECK(token == nullptr);
        // After the window it works again.
        clock.offset_ms->store(61'000);
        CHECK(sb_user_login(e.get(), bot.c_str(), user.email.c_str(), "pw-user-Secret", &token) ==
              SB_OK);
        sb_string_free(token);
    }
}

TEST_CASE("chat: auth an unknown account takes about as long to refuse as a wrong password") {
    TempDir dir;
    const std::string url = database_urls(dir, "auth.db").front();
    TestClock clock;
    // A cost where hashing dominates (about 16 MiB and tens of milliseconds).
    EnginePtr e = open_engine(url, clock, 1000, 900, 14);
    Account admin = make_account(e.get(), "", "timing");
    char* token = nullptr;
    auto time_login = [&](const std::string& email) {
        std::vector<double> ms;
        for (int i = 0; i < 3; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            CHECK(sb_admin_login(e.get(), email.c_str(), "wrong-Pass1", &token) ==
                  SB_EUNAUTHENTICATED);
            ms.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count());
        }
        std::sort(ms.begin(), ms.end());
        return ms[1];
    };
    const double known = time_login(admin.email);
    const double unknown = time_login("nobody-" + sb::new_uuid().substr(0, 8) + "@example.com");
    MESSAGE("wrong password " << known << " ms, unknown account " << unknown << " ms");
    // Both compute one hash: neither is a small fraction of the other.
    CHECK(unknown > known / 3);
    CHECK(known > unknown / 3);
}

TEST_CASE("chat: auth hashes made with weaker parameters are raised at login") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "auth.db")) {
        CAPTURE(url);
        TestClock clock;
        std::string id, email;
        {
            EnginePtr weak = open_engine(url, clock, 5, 900, 8);
            Account a = make_account(weak.get(), "", "rehash");
            id = a.id;
            email = a.email;
            auto stored = weak->engine->database().get_account(id);
            REQUIRE(stored);
            CHECK(sb::auth::hash_params(stored->password_hash).log2_n == 8);
        }
        EnginePtr stronger = open_engine(url, clock, 5, 900, 11);
        char* token = nullptr;
        REQUIRE(sb_admin_login(stronger.get(), email.c_str(), "pw-rehash-Secret", &token) == SB_OK);
        sb_string_free(token);
        auto stored = stronger->engine->database().get_account(id);
        REQUIRE(stored);
        CHECK(sb::auth::hash_params(stored->password_hash).log2_n == 11);
        CHECK(sb::auth::verify_password("pw-rehash-Secret", stored->password_hash));
        token = nullptr;
        CHECK(sb_admin_login(stronger.get(), email.c_str(), "pw-rehash-Secret", &token) == SB_OK);
        sb_string_free(token);
    }
}

TEST_CASE("chat: auth deleting accounts") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "auth.db")) {
        CAPTURE(url);
        TestClock clock;
        EnginePtr e = open_engine(url, clock);
        Account owner = make_account(e.get(), "", "owner");
        Account other = make_account(e.get(), "", "other");
        const std::string bot = make_bot(e.get(), owner.principal.get());
        Account u1 = make_account(e.get(), bot, "u1");
        Account u2 = make_account(e.get(), bot, "u2");
        CHECK(sb_account_delete(e.get(), nullptr, u1.id.c_str()) == SB_EUNAUTHENTICATED);
        CHECK(sb_account_delete(e.get(), u2.principal.get(), u1.id.c_str()) == SB_EFORBIDDEN);
        CHECK(sb_account_delete(e.get(), u1.principal.get(), owner.id.c_str()) == SB_EFORBIDDEN);
        CHECK(sb_account_delete(e.get(), other.principal.get(), u1.id.c_str()) == SB_EFORBIDDEN);
        CHECK(sb_account_delete(e.get(), owner.principal.get(), other.id.c_str()) == SB_EFORBIDDEN);
        CHECK(sb_account_delete(e.get(), owner.principal.get(), "no-such-account") == SB_ENOTFOUND);
        // A user deletes itself; its principal and its token stop working at once.
        CHECK(sb_account_delete(e.get(), u1.principal.get(), u1.id.c_str()) == SB_OK);
        sb_bots* bots = nullptr;
        CHECK(sb_bot_list(e.get(), u1.principal.get(), &bots) == SB_EUNAUTHENTICATED);
        sb_principal* p = nullptr;
        CHECK(sb_principal_from_token(e.get(), u1.token.c_str(), &p) == SB_EUNAUTHENTICATED);
        CHECK(std::string(sb_last_error()).find("no longer exists") != std::string::npos);
        // The owner deletes a user of its bot; an admin deletes itself.
        CHECK(sb_account_delete(e.get(), owner.principal.get(), u2.id.c_str()) == SB_OK);
        CHECK(sb_principal_from_token(e.get(), u2.token.c_str(), &p) == SB_EUNAUTHENTICATED);
        CHECK(sb_account_delete(e.get(), other.principal.get(), other.id.c_str()) == SB_OK);
        CHECK(sb_bot_list(e.get(), other.principal.get(), &bots) == SB_EUNAUTHENTICATED);
        // Another engine on the database notices within a second (its check is cached).
        EnginePtr e2 = open_engine(url, clock);
        CHECK(sb_principal_from_token(e2.get(), other.token.c_str(), &p) == SB_EUNAUTHENTICATED);
        // The e-mail can be registered again: a new account, which old tokens do not reach.
        CHECK(sb_user_register(e.get(), bot.c_str(), u1.email.c_str(), "pw-u1-Secret", nullptr) ==
              SB_OK);
        CHECK(sb_principal_from_token(e.get(), u1.token.c_str(), &p) == SB_EUNAUTHENTICATED);
    }
}

// ---- The authorisation matrix ---------------------------------------------------------------

namespace {

// Who calls: the columns of the matrix.
enum Who {
    kOwner,        // the admin owning bot A
    kOtherAdmin,   // an admin owning bot B
    kUser,         // a user of bot A (the one whose session is used)
    kOtherUser,    // another user of bot A
    kForeignUser,  // a user of bot B
    kNoPrincipal,  // NULL
    kExpired,      // the owner's principal after its token expired
    kTampered,     // a principal whose token is a user's token altered to claim admin
    kDeleted,      // an admin whose account was deleted
    kWhoCount
};
const char* const kWhoNames[] = {"owner admin",   "other admin",         "user of the bot",
                                 "other user",    "user of another bot", "no principal",
                                 "expired token", "tampered token",      "deleted account"};

constexpr int OK = SB_OK, NF = SB_ENOTFOUND, FB = SB_EFORBIDDEN, UA = SB_EUNAUTHENTICATED;
// A listing that succeeds and includes what it must not show otherwise.
constexpr int SEEN = 1;

struct World {
    sb_engine* e = nullptr;
    std::string bot_a, bot_b;
    std::string user_id;  // the user's account id
    std::string session;  // a session of the user with bot A
};

struct Op {
    const char* name;
    std::function<int(World&, const sb_principal*)> run;
    int expected[kWhoCount];
};

bool bots_include(const sb_bots* bots, const std::string& id) {
    size_t n = 0;
    sb_bots_count(bots, &n);
    for (size_t i = 0; i < n; ++i) {
        sb_bot_info b;
        sb_bots_at(bots, i, &b);
        if (id == b.id) return true;
    }
    return false;
}

std::vector<Op> operations() {
    auto faqs = [] { return std::strlen(kFaqs); };
    return {
        {"sb_bot_create",
         [faqs](World& w, const sb_principal* p) {
             char* id = nullptr;
             const int rc =
                 sb_bot_create(w.e, p, "New", kFaqs, faqs(), SB_FORMAT_JSON, nullptr, &id);
             sb_string_free(id);
             return rc;
         },
         {OK, OK, FB, FB, FB, UA, UA, UA, UA}},
        {"sb_bot_replace_faqs",
         [faqs](World& w, const sb_principal* p) {
             return sb_bot_replace_faqs(w.e, p, w.bot_a.c_str(), kFaqs, faqs(), SB_FORMAT_JSON,
                                        nullptr);
         },
         {OK, FB, FB, FB, FB, UA, UA, UA, UA}},
        {"sb_bot_replace_faqs (no such bot)",
         [faqs](World& w, const sb_principal* p) {
             return sb_bot_replace_faqs(w.e, p, "no-such-bot", kFaqs, faqs(), SB_FORMAT_JSON,
                                        nullptr);
         },
         {NF, NF, NF, NF, NF, UA, UA, UA, UA}},
        {"sb_bot_replace_faqs_from_file",
         [](World& w, const sb_principal* p) {
             return sb_bot_replace_faqs_from_file(
                 w.e, p, w.bot_a.c_str(), SB_SOURCE_DIR "/faqs.json", SB_FORMAT_AUTO, nullptr);
         },
         {OK, FB, FB, FB, FB, UA, UA, UA, UA}},
        {"sb_bot_get",
         [](World& w, const sb_principal* p) {
             sb_bots* bots = nullptr;
             int rc = sb_bot_get(w.e, p, w.bot_a.c_str(), &bots);
             if (rc == SB_OK) {
                 sb_bot_info b;
                 sb_bots_at(bots, 0, &b);
                 if (std::string(b.owner).size()) rc = SEEN;  // the owner's id
             }
             sb_bots_free(bots);
             return rc;
         },
         {SEEN, FB, OK, OK, FB, UA, UA, UA, UA}},
        {"sb_bot_get (no such bot)",
         [](World& w, const sb_principal* p) {
             sb_bots* bots = nullptr;
             const int rc = sb_bot_get(w.e, p, "no-such-bot", &bots);
             sb_bots_free(bots);
             return rc;
         },
         {NF, NF, NF, NF, NF, UA, UA, UA, UA}},
        {"sb_bot_list (shows bot A?)",
         [](World& w, const sb_principal* p) {
             sb_bots* bots = nullptr;
             int rc = sb_bot_list(w.e, p, &bots);
             if (rc == SB_OK && bots_include(bots, w.bot_a)) rc = SEEN;
             sb_bots_free(bots);
             return rc;
         },
         {SEEN, OK, SEEN, SEEN, OK, UA, UA, UA, UA}},
        {"sb_chat_send (new session with bot A)",
         [](World& w, const sb_principal* p) {
             sb_chat_request r = SB_CHAT_REQUEST_INIT;
             r.bot_id = w.bot_a.c_str();
             r.principal = p;
             r.message = "refund please";
             r.message_len = std::strlen(r.message);
             sb_reply* reply = nullptr;
             const int rc = sb_chat_send(w.e, &r, &reply);
             sb_reply_free(reply);
             return rc;
         },
         {OK, FB, OK, OK, FB, UA, UA, UA, UA}},
        {"sb_chat_send (the user's session)",
         [](World& w, const sb_principal* p) {
             sb_chat_request r = SB_CHAT_REQUEST_INIT;
             r.bot_id = w.bot_a.c_str();
             r.principal = p;
             r.session_id = w.session.c_str();
             r.message = "and shipping?";
             r.message_len = std::strlen(r.message);
             sb_reply* reply = nullptr;
             const int rc = sb_chat_send(w.e, &r, &reply);
             sb_reply_free(reply);
             return rc;
         },
         {FB, FB, OK, FB, FB, UA, UA, UA, UA}},
        {"sb_chat_send (no such bot)",
         [](World& w, const sb_principal* p) {
             sb_chat_request r = SB_CHAT_REQUEST_INIT;
             r.bot_id = "no-such-bot";
             r.principal = p;
             r.message = "hello";
             r.message_len = 5;
             sb_reply* reply = nullptr;
             const int rc = sb_chat_send(w.e, &r, &reply);
             sb_reply_free(reply);
             return rc;
         },
         {NF, NF, NF, NF, NF, UA, UA, UA, UA}},
        {"sb_session_list (shows the user's session?)",
         [](World& w, const sb_principal* p) {
             sb_sessions* list = nullptr;
             int rc = sb_session_list(w.e, p, w.bot_a.c_str(), &list);
             if (rc == SB_OK) {
                 size_t n = 0;
                 sb_sessions_count(list, &n);
                 for (size_t i = 0; i < n; ++i) {
                     sb_session_info s;
                     sb_sessions_at(list, i, &s);
                     if (w.session == s.id) rc = SEEN;
                 }
             }
             sb_sessions_free(list);
             return rc;
         },
         {SEEN, FB, SEEN, OK, FB, UA, UA, UA, UA}},
        {"sb_session_list (no such bot)",
         [](World& w, const sb_principal* p) {
             sb_sessions* list = nullptr;
             const int rc = sb_session_list(w.e, p, "no-such-bot", &list);
             sb_sessions_free(list);
             return rc;
         },
         {NF, NF, NF, NF, NF, UA, UA, UA, UA}},
        {"sb_session_list_page (shows the user's session on a page of one?)",
         [](World& w, const sb_principal* p) {
             // Pages of one row, following the cursors, so that every page call is made.
             sb_list_options o = SB_LIST_OPTIONS_INIT;
             o.limit = 1;
             std::string cursor;
             int rc = SB_OK;
             for (int pages = 0; rc == SB_OK && pages < 100; ++pages) {
                 o.cursor = cursor.empty() ? nullptr : cursor.c_str();
                 sb_sessions* list = nullptr;
                 rc = sb_session_list_page(w.e, p, w.bot_a.c_str(), &o, &list);
                 if (rc != SB_OK) break;
                 sb_session_info s;
                 if (sb_sessions_at(list, 0, &s) == SB_OK && w.session == s.id) rc = SEEN;
                 const char* next = nullptr;
                 sb_sessions_next_cursor(list, &next);
                 cursor = next ? next : "";
                 sb_sessions_free(list);
                 if (cursor.empty()) break;
             }
             return rc;
         },
         {SEEN, FB, SEEN, OK, FB, UA, UA, UA, UA}},
        {"sb_session_list_page (no such bot)",
         [](World& w, const sb_principal* p) {
             sb_list_options o = SB_LIST_OPTIONS_INIT;
             o.limit = 1;
             sb_sessions* list = nullptr;
             const int rc = sb_session_list_page(w.e, p, "no-such-bot", &o, &list);
             sb_sessions_free(list);
             return rc;
         },
         {NF, NF, NF, NF, NF, UA, UA, UA, UA}},
        {"sb_session_history_page",
         [](World& w, const sb_principal* p) {
             sb_list_options o = SB_LIST_OPTIONS_INIT;
             o.limit = 1;
             sb_messages* list = nullptr;
             int rc = sb_session_history_page(w.e, p, w.session.c_str(), &o, &list);
             const char* next = nullptr;
             if (rc == SB_OK) rc = sb_messages_next_cursor(list, &next);
             // The session has a question and its reply: a second page follows.
             if (rc == SB_OK && next) {
                 o.cursor = next;
                 sb_messages* second = nullptr;
                 rc = sb_session_history_page(w.e, p, w.session.c_str(), &o, &second);
                 sb_messages_free(second);
             }
             sb_messages_free(list);
             return rc;
         },
         {OK, FB, OK, FB, FB, UA, UA, UA, UA}},
        {"sb_session_history_page (no such session)",
         [](World& w, const sb_principal* p) {
             sb_messages* list = nullptr;
             const int rc = sb_session_history_page(w.e, p, "no-such-session", nullptr, &list);
             sb_messages_free(list);
             return rc;
         },
         {NF, NF, NF, NF, NF, UA, UA, UA, UA}},
        {"sb_session_history",
         [](World& w, const sb_principal* p) {
             sb_messages* list = nullptr;
             const int rc = sb_session_history(w.e, p, w.session.c_str(), &list);
             sb_messages_free(list);
             return rc;
         },
         {OK, FB, OK, FB, FB, UA, UA, UA, UA}},
        {"sb_session_history (no such session)",
         [](World& w, const sb_principal* p) {
             sb_messages* list = nullptr;
             const int rc = sb_session_history(w.e, p, "no-such-session", &list);
             sb_messages_free(list);
             return rc;
         },
         {NF, NF, NF, NF, NF, UA, UA, UA, UA}},
        {"sb_session_close (a new session of the user)",
         [](World& w, const sb_principal* p) {
             // A fresh session each time, so a successful close leaves the others open.
             return sb_session_close(w.e, p, w.session.c_str());
         },
         {OK, FB, OK, FB, FB, UA, UA, UA, UA}},
        {"sb_session_summarize (the user's session)",
         [](World& w, const sb_principal* p) {
             char* json = nullptr;
             const int rc = sb_session_summarize(w.e, p, w.session.c_str(), &json);
             sb_string_free(json);
             return rc;
         },
         {OK, FB, OK, FB, FB, UA, UA, UA, UA}},
        {"sb_session_summarize (no such session)",
         [](World& w, const sb_principal* p) {
             char* json = nullptr;
             const int rc = sb_session_summarize(w.e, p, "no-such-session", &json);
             sb_string_free(json);
             return rc;
         },
         {NF, NF, NF, NF, NF, UA, UA, UA, UA}},
        {"sb_bot_summarize_sessions",
         [](World& w, const sb_principal* p) {
             return sb_bot_summarize_sessions(w.e, p, w.bot_a.c_str(), nullptr, nullptr);
         },
         {OK, FB, FB, FB, FB, UA, UA, UA, UA}},
        {"sb_bot_summaries",
         [](World& w, const sb_principal* p) {
             char* json = nullptr;
             const int rc = sb_bot_summaries(w.e, p, w.bot_a.c_str(), 0, INT64_MAX, &json);
             sb_string_free(json);
             return rc;
         },
         {OK, FB, FB, FB, FB, UA, UA, UA, UA}},
        {"sb_bot_analytics",
         [](World& w, const sb_principal* p) {
             char* json = nullptr;
             const int rc = sb_bot_analytics(w.e, p, w.bot_a.c_str(), 0, INT64_MAX, &json);
             sb_string_free(json);
             return rc;
         },
         {OK, FB, FB, FB, FB, UA, UA, UA, UA}},
        {"sb_bot_analytics (no such bot)",
         [](World& w, const sb_principal* p) {
             char* json = nullptr;
             const int rc = sb_bot_analytics(w.e, p, "no-such-bot", 0, INT64_MAX, &json);
             sb_string_free(json);
             return rc;
         },
         {NF, NF, NF, NF, NF, UA, UA, UA, UA}},
        {"sb_account_delete (a user of bot A)",
         [](World& w, const sb_principal* p) {
             return sb_account_delete(w.e, p, w.user_id.c_str());
         },
         {OK, FB, OK, FB, FB, UA, UA, UA, UA}},
    };
}

}  // namespace

TEST_CASE("chat: auth matrix: every operation for every kind of caller") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "auth.db")) {
        CAPTURE(url);
        TestClock clock;
        EnginePtr e = open_engine(url, clock);
        Account owner = make_account(e.get(), "", "owner");
        Account other_admin = make_account(e.get(), "", "other-admin");
        World w;
        w.e = e.get();
        w.bot_a = make_bot(e.get(), owner.principal.get());
        w.bot_b = make_bot(e.get(), other_admin.principal.get());
        Account foreign = make_account(e.get(), w.bot_b, "foreign");
        Account other_user = make_account(e.get(), w.bot_a, "other-user");
        // The tampered principal: a user's token with its payload changed to claim admin (the
        // signature left as it was).
        Account victim = make_account(e.get(), w.bot_a, "victim");
        const auto dot1 = victim.token.find('.'), dot2 = victim.token.rfind('.');
        const auto body = sb::auth::base64_decode(victim.token.substr(dot1 + 1, dot2 - dot1 - 1),
                                                  Base64Alphabet::Url);
        REQUIRE(body);
        std::string forged = *body;
        const auto bot_at = forged.find(",\"bot\":");
        const auto bot_end = forged.find('"', forged.find('"', bot_at + 7) + 1);
        forged.erase(bot_at, bot_end + 1 - bot_at);
        forged.replace(forged.find("\"user\""), 6, "\"admin\"");
        std::unique_ptr<sb_principal> tampered(new sb_principal{
            victim.token.substr(0, dot1) + "." + b64u(forged) + victim.token.substr(dot2),
            sb::auth::Principal{}});
        sb_principal* check = nullptr;
        CHECK(sb_principal_from_token(e.get(), tampered->token.c_str(), &check) ==
              SB_EUNAUTHENTICATED);
        // The deleted admin.
        Account deleted = make_account(e.get(), "", "deleted");
        REQUIRE(sb_account_delete(e.get(), deleted.principal.get(), deleted.id.c_str()) == SB_OK);

        for (const Op& op : operations()) {
            for (int who = 0; who < kWhoCount; ++who) {
                CAPTURE(op.name);
                CAPTURE(kWhoNames[who]);
                // Fresh per cell: the user (an account a cell may delete) and its session.
                Account user = make_account(e.get(), w.bot_a, "user");
                w.user_id = user.id;
                w.session = start_session(e.get(), user.principal.get(), w.bot_a);
                REQUIRE(!w.session.empty());
                const sb_principal* p = nullptr;
                switch (who) {
                    case kOwner:
                    case kExpired:
                        p = owner.principal.get();
                        break;
                    case kOtherAdmin:
                        p = other_admin.principal.get();
                        break;
                    case kUser:
                        p = user.principal.get();
                        break;
                    case kOtherUser:
                        p = other_user.principal.get();
                        break;
                    case kForeignUser:
                        p = foreign.principal.get();
                        break;
                    case kNoPrincipal:
                        p = nullptr;
                        break;
                    case kTampered:
                        p = tampered.get();
                        break;
                    case kDeleted:
                        p = deleted.principal.get();
                        break;
                }
                if (who == kExpired) clock.offset_ms->store(31 * 60 * 1000);  // lifetime: 30 min
                const int rc = op.run(w, p);
                const std::string message = rc < 0 ? sb_last_error() : "";
                clock.offset_ms->store(0);
                CHECK(rc == op.expected[who]);
                // Refusals name nobody: neither owners nor users nor e-mails.
                if (rc == SB_EFORBIDDEN || rc == SB_EUNAUTHENTICATED || rc == SB_ENOTFOUND) {
                    for (const std::string& secret :
                         {owner.id, owner.email, other_admin.id, user.id, user.email, other_user.id,
                          foreign.id, w.session})
                        CHECK(message.find(secret) == std::string::npos);
                }
            }
        }
    }
}

TEST_CASE("chat: auth one engine and its principals are shared by several threads") {
    TempDir dir;
    for (const std::string& url : database_urls(dir, "auth.db")) {
        CAPTURE(url);
        TestClock clock;
        EnginePtr e = open_engine(url, clock);
        Account owner = make_account(e.get(), "", "owner");
        const std::string bot = make_bot(e.get(), owner.principal.get());
        std::vector<Account> users;
        for (int i = 0; i < 4; ++i) users.push_back(make_account(e.get(), bot, "t"));
        std::atomic<int> failures{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int n = 0; n < 10; ++n) {
                    // Each thread chats as its user, and all read through the owner's principal.
                    if (start_session(e.get(), users[static_cast<std::size_t>(t)].principal.get(),
                                      bot)
                            .empty())
                        ++failures;
                    sb_sessions* list = nullptr;
                    if (sb_session_list(e.get(), owner.principal.get(), bot.c_str(), &list) !=
                        SB_OK)
                        ++failures;
                    sb_sessions_free(list);
                }
            });
        }
        for (auto& th : threads) th.join();
        CHECK(failures.load() == 0);
        sb_sessions* list = nullptr;
        REQUIRE(sb_session_list(e.get(), owner.principal.get(), bot.c_str(), &list) == SB_OK);
        size_t n = 0;
        CHECK(sb_sessions_count(list, &n) == SB_OK);
        CHECK(n == 40);
        sb_sessions_free(list);
    }
}
