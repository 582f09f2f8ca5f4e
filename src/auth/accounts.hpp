// Accounts of an engine: registration, login (with the failed-login limit), access tokens, and the
// verification of a token into a Principal. Admin accounts own bots; user accounts belong to one
// bot. Works on the engine's store; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/jwt.hpp"
#include "auth/password.hpp"

namespace sb {
class Engine;
class Store;
}  // namespace sb

namespace sb::auth {

// Who a call acts for: made from a verified token and a live account.
struct Principal {
    std::string account_id;
    AccountRole role = AccountRole::User;
    std::string bot_id;           // users: their bot; admins: ""
    std::string email;            // normalised
    std::int64_t expires_ms = 0;  // when the token expires (Unix milliseconds)
};

class Accounts {
  public:
    explicit Accounts(Engine& engine);
    Accounts(const Accounts&) = delete;
    Accounts& operator=(const Accounts&) = delete;

    // Register an account; return its id. SB_EINVAL for a bad e-mail or a password the policy
    // refuses, SB_ECONFLICT when the e-mail is registered already in that scope, SB_ENOTFOUND
    // when a user's bot does not exist.
    std::string register_admin(std::string_view email, std::string_view password);
    std::string register_user(const std::string& bot_id, std::string_view email,
                              std::string_view password);

    // An agent account of a bot (the caller checks that the actor owns the bot); errors as for
    // register_user.
    std::string register_agent(const std::string& bot_id, std::string_view email,
                               std::string_view password);

    // Log in; return an access token. A wrong password and an unknown account (or bot) both fail
    // with SB_EUNAUTHENTICATED, the same message, and one password hash computed (against a
    // dummy hash when there is no account). After login_max_failures failures of this e-mail and
    // scope within login_window_seconds, every attempt fails with SB_ELIMIT until the window
    // passes, whether the account exists or not and whatever the password.
    std::string login_admin(std::string_view email, std::string_view password);
    std::string login_user(const std::string& bot_id, std::string_view email,
                           std::string_view password);
    std::string login_agent(const std::string& bot_id, std::string_view email,
                            std::string_view password);

    // A token for an account, without its password: for hosts, which hold the signing key anyway.
    // SB_ENOTFOUND when there is no such account.
    std::string issue_token(const std::string& account_id);
    // The id of the admin (bot_id "") or user of a bot with this e-mail; SB_ENOTFOUND when none.
    // For hosts, like issue_token.
    std::string lookup(const std::string& bot_id, std::string_view email);

    // Verifies a token (jwt.hpp) and that its account still exists with the token's role and
    // bot (checked in the store at most once a second per account). SB_EUNAUTHENTICATED
    // otherwise.
    Principal authenticate(std::string_view token);

    // An admin deletes itself or a user or agent of one of its bots; others delete themselves.
    // SB_ENOTFOUND when there is no such account, SB_EFORBIDDEN when it is not the actor's to
    // delete.
    void delete_account(const Principal& actor, const std::string& account_id);

    std::int64_t now_ms() const;

  private:
    std::string login(AccountRole role, const std::string& bot_id, std::string_view email,
                      std::string_view password);
    std::string create(AccountRole role, const std::string& bot_id, std::string_view email,
                       std::string_view password);
    std::string token_for(const std::string& id, AccountRole role, const std::string& bot_id);
    const std::string& secret() const;
    Store& store();
    const std::string& dummy_hash();

    struct Live {
        AccountRole role = AccountRole::User;
        std::string bot_id;
        std::string email;
        std::int64_t checked_ms = 0;
    };

    Engine& engine_;
    ScryptParams params_;
    std::once_flag dummy_once_;
    std::string dummy_hash_;
    struct TokenHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    std::mutex live_mutex_;
    std::unordered_map<std::string, Live> live_;  // accounts seen to exist, and when
    // Tokens whose signature and claims were verified, by their exact bytes: a host presents the
    // same token on every call, and verifying it again (base64, JSON, HMAC) is most of what
    // authenticating costs. Their times are checked again on every use; bounded (cleared when
    // full). Only tokens signed with this engine's key get in.
    std::unordered_map<std::string, TokenClaims, TokenHash, std::equal_to<>> verified_;
};

}  // namespace sb::auth
