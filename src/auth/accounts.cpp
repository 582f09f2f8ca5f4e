#include "auth/accounts.hpp"

#include <chrono>
#include <optional>

#include "auth/account.hpp"
#include "auth/authz.hpp"
#include "chat/engine.hpp"
#include "common/error.hpp"
#include "faq/faq.hpp"
#include "store/store.hpp"

namespace sb::auth {

namespace {

// How long an account seen in the store is trusted to still exist: a deletion through another
// engine or process takes effect within this time (through this one, at once).
constexpr std::int64_t kLiveRecheckMs = 1000;
constexpr std::size_t kMaxIdBytes = 128;

const char* kLoginFailed = "wrong e-mail or password";
const char* kTooManyFailures = "too many failed logins; try again later";

void check_id(const std::string& id, const char* what) {
    if (id.empty()) throw Error(SB_EINVAL, std::string(what) + " is empty");
    if (id.size() > kMaxIdBytes)
        throw Error(SB_ELIMIT, std::string(what) + " is longer than " +
                                   std::to_string(kMaxIdBytes) + " bytes");
    if (!is_valid_utf8(id)) throw Error(SB_EPARSE, std::string(what) + " is not valid UTF-8");
    for (unsigned char c : id)
        if (c < 0x20 || c == 0x7f)
            throw Error(SB_EINVAL, std::string(what) + " contains a control character");
}

AccountRole role_of(const std::string& stored) {
    if (stored == "admin") return AccountRole::Admin;
    if (stored == "user") return AccountRole::User;
    if (stored == "agent") return AccountRole::Agent;
    throw Error(SB_EDB, "unknown account role in the database");
}

}  // namespace

Accounts::Accounts(Engine& engine) : engine_(engine) {
    params_.log2_n = engine.options().auth_scrypt_log2_n;
}

std::int64_t Accounts::now_ms() const {
    if (engine_.options().auth_clock_ms) return engine_.options().auth_clock_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

const std::string& Accounts::secret() const {
    const std::string& s = engine_.options().secret_key;
    if (s.empty())
        throw Error(SB_EINVAL, "accounts are disabled: the engine was opened without a secret_key");
    return s;
}

Store& Accounts::store() {
    return engine_.database();
}

const std::string& Accounts::dummy_hash() {
    // Same parameters as real hashes, so that a login for an unknown account costs the same.
    std::call_once(dummy_once_, [this] { dummy_hash_ = hash_password("not a password", params_); });
    return dummy_hash_;
}

std::string Accounts::create(AccountRole role, const std::string& bot_id, std::string_view email,
                             std::string_view password) {
    secret();
    AccountRecord a;
    a.email = normalize_email(email);
    check_password_policy(password);
    if (role != AccountRole::Admin) {
        check_id(bot_id, "bot id");
        if (!store().get_bot(bot_id)) throw Error(SB_ENOTFOUND, "no such bot");
        a.bot_id = bot_id;
    }
    a.id = new_uuid();
    a.role = to_string(role);
    // A duplicate is refused before the costly hash (the insert still catches a race).
    if (store().find_account(a.role, a.bot_id, a.email))
        throw Error(SB_ECONFLICT, "an account with this e-mail is registered already");
    a.password_hash = hash_password(password, params_);
    a.created_ms = now_ms();
    store().create_account(a);
    return a.id;
}

std::string Accounts::register_admin(std::string_view email, std::string_view password) {
    return create(AccountRole::Admin, "", email, password);
}

std::string Accounts::register_user(const std::string& bot_id, std::string_view email,
                                    std::string_view password) {
    return create(AccountRole::User, bot_id, email, password);
}

std::string Accounts::login(AccountRole role, const std::string& bot_id, std::string_view email,
                            std::string_view password) {
    secret();
    const std::string normalized = normalize_email(email);
    if (password.size() > kMaxPasswordBytes)
        throw Error(SB_ELIMIT,
                    "password is longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
    if (role != AccountRole::Admin) check_id(bot_id, "bot id");
    const EngineOptions& o = engine_.options();
    const unsigned max_failures = o.login_max_failures ? o.login_max_failures : 5;
    const std::int64_t window_ms =
        std::int64_t{o.login_window_seconds ? o.login_window_seconds : 900} * 1000;
    // The dummy hash is made before anything else (once per engine), so that the first login
    // for an unknown account does not take longer than the first for a known one.
    dummy_hash();
    // One limit per login scope: the role, the bot (users) and the normalised e-mail.
    const std::string scope = std::string(to_string(role)) + "\n" + bot_id + "\n" + normalized;
    const std::int64_t now = now_ms();
    const std::int64_t window_start = now - window_ms;
    // The attempt is recorded (as a failure until the password is known) in the same atomic
    // step that counts the scope's attempts, before the costly hash: counting first and recording
    // after the hash let parallel attempts all read the same count and all get past the limit.
    if (!store().admit_login_attempt(scope, now, window_start, max_failures))
        throw Error(SB_ELIMIT, kTooManyFailures);

    const auto account = store().find_account(to_string(role), bot_id, normalized);
    // Hash once either way, so that an unknown account takes as long as a wrong password.
    const bool ok = account ? verify_password(password, account->password_hash)
                            : (verify_password(password, dummy_hash()), false);
    if (!ok) throw Error(SB_EUNAUTHENTICATED, kLoginFailed);
    store().clear_login_failures(scope);
    // Raise the cost of hashes made with other parameters, now that the password is known.
    if (needs_rehash(account->password_hash, params_))
        store().set_password_hash(account->id, hash_password(password, params_));
    return token_for(account->id, role, account->bot_id);
}

std::string Accounts::register_agent(const std::string& bot_id, std::string_view email,
                                     std::string_view password) {
    return create(AccountRole::Agent, bot_id, email, password);
}

std::string Accounts::login_agent(const std::string& bot_id, std::string_view email,
                                  std::string_view password) {
    return login(AccountRole::Agent, bot_id, email, password);
}

std::string Accounts::login_admin(std::string_view email, std::string_view password) {
    return login(AccountRole::Admin, "", email, password);
}

std::string Accounts::login_user(const std::string& bot_id, std::string_view email,
                                 std::string_view password) {
    return login(AccountRole::User, bot_id, email, password);
}

std::string Accounts::token_for(const std::string& id, AccountRole role,
                                const std::string& bot_id) {
    TokenClaims c;
    c.sub = id;
    c.role = role;
    c.bot = role != AccountRole::Admin ? bot_id : "";
    c.iat = now_ms() / 1000;
    const unsigned minutes = engine_.options().access_token_minutes;
    c.exp = c.iat + std::int64_t{minutes ? minutes : 30} * 60;
    return sign_token(c, secret());
}

std::string Accounts::issue_token(const std::string& account_id) {
    secret();
    check_id(account_id, "account id");
    const auto a = store().get_account(account_id);
    if (!a) throw Error(SB_ENOTFOUND, "no such account");
    return token_for(a->id, role_of(a->role), a->bot_id);
}

std::string Accounts::lookup(const std::string& bot_id, std::string_view email) {
    secret();
    const std::string normalized = normalize_email(email);
    if (!bot_id.empty()) check_id(bot_id, "bot id");
    const auto a = store().find_account(bot_id.empty() ? "admin" : "user", bot_id, normalized);
    if (!a) throw Error(SB_ENOTFOUND, "no such account");
    return a->id;
}

Principal Accounts::authenticate(std::string_view token) {
    constexpr std::size_t kMaxVerified = 4096;
    const std::int64_t now = now_ms();
    const std::int64_t now_s = now / 1000;
    // The claims go straight into the principal (this runs on every call).
    Principal p;
    auto take = [&p](const TokenClaims& c) {
        p.account_id = c.sub;
        p.role = c.role;
        p.bot_id = c.bot;
        p.expires_ms = c.exp * 1000;
    };
    bool known = false;
    {
        std::lock_guard lock(live_mutex_);
        const auto it = verified_.find(token);
        // The same time checks as verify_token: an expired (or, the clock having gone back,
        // not yet valid) token is verified again below and refused there.
        if (it != verified_.end() && it->second.exp > now_s &&
            it->second.iat <= now_s + kIatSkewSeconds) {
            take(it->second);
            known = true;
        }
    }
    if (!known) {
        TokenClaims c = verify_token(token, secret(), now_s);
        take(c);
        std::lock_guard lock(live_mutex_);
        if (verified_.size() >= kMaxVerified) verified_.clear();
        verified_.insert_or_assign(std::string(token), std::move(c));
    }
    {
        std::lock_guard lock(live_mutex_);
        const auto it = live_.find(p.account_id);
        if (it != live_.end() && now - it->second.checked_ms < kLiveRecheckMs &&
            now >= it->second.checked_ms) {
            if (it->second.role != p.role || it->second.bot_id != p.bot_id)
                throw Error(SB_EUNAUTHENTICATED, "invalid access token: account mismatch");
            p.email = it->second.email;
            return p;
        }
    }
    const auto a = store().get_account(p.account_id);
    if (!a) {
        std::lock_guard lock(live_mutex_);
        live_.erase(p.account_id);
        throw Error(SB_EUNAUTHENTICATED, "the account of this access token no longer exists");
    }
    const AccountRole role = role_of(a->role);
    if (role != p.role || a->bot_id != p.bot_id)
        throw Error(SB_EUNAUTHENTICATED, "invalid access token: account mismatch");
    p.email = a->email;
    std::lock_guard lock(live_mutex_);
    if (live_.size() > 100000) live_.clear();  // bound the memory; entries are cheap to refetch
    live_[p.account_id] = Live{role, a->bot_id, a->email, now};
    return p;
}

void Accounts::delete_account(const Principal& actor, const std::string& account_id) {
    check_id(account_id, "account id");
    const auto target = store().get_account(account_id);
    if (!target) throw Error(SB_ENOTFOUND, "no such account");
    bool allowed = target->id == actor.account_id;
    if (!allowed && actor.role == AccountRole::Admin &&
        (target->role == "user" || target->role == "agent")) {
        const auto bot = store().get_bot(target->bot_id);
        allowed = bot && is_owner(actor, *bot);
    }
    if (!allowed) throw Error(SB_EFORBIDDEN, "this account may not delete that account");
    store().delete_account(account_id);
    std::lock_guard lock(live_mutex_);
    live_.erase(account_id);
}

}  // namespace sb::auth
