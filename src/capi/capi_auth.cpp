// The C ABI of accounts, access tokens and principals.
#include <memory>
#include <string>

#include "auth/accounts.hpp"
#include "capi/capi_internal.hpp"

namespace sb::capi {

sb::auth::Principal authenticated(sb_engine* engine, const sb_principal* principal) {
    require(engine != nullptr, "engine is NULL");
    if (!principal)
        throw sb::Error(SB_EUNAUTHENTICATED, "no principal: this call needs a logged-in account");
    return engine->accounts->authenticate(principal->token);
}

}  // namespace sb::capi

namespace {

using namespace sb::capi;

sb::auth::Accounts& accounts_of(sb_engine* engine) {
    require(engine != nullptr, "engine is NULL");
    return *engine->accounts;
}

}  // namespace

extern "C" {

int sb_admin_register(sb_engine* engine, const char* email, const char* password,
                      char** out_account_id) {
    if (out_account_id) *out_account_id = nullptr;
    return guarded([&] {
        auto& a = accounts_of(engine);
        const std::string id =
            a.register_admin(text_arg(email, "email"), text_arg(password, "password"));
        if (out_account_id) *out_account_id = copy_string(id);
    });
}

int sb_user_register(sb_engine* engine, const char* bot_id, const char* email, const char* password,
                     char** out_account_id) {
    if (out_account_id) *out_account_id = nullptr;
    return guarded([&] {
        auto& a = accounts_of(engine);
        const std::string id = a.register_user(text_arg(bot_id, "bot_id"), text_arg(email, "email"),
                                               text_arg(password, "password"));
        if (out_account_id) *out_account_id = copy_string(id);
    });
}

int sb_admin_login(sb_engine* engine, const char* email, const char* password, char** out_token) {
    if (out_token) *out_token = nullptr;
    return guarded([&] {
        auto& a = accounts_of(engine);
        require(out_token != nullptr, "out_token is NULL");
        *out_token =
            copy_string(a.login_admin(text_arg(email, "email"), text_arg(password, "password")));
    });
}

int sb_user_login(sb_engine* engine, const char* bot_id, const char* email, const char* password,
                  char** out_token) {
    if (out_token) *out_token = nullptr;
    return guarded([&] {
        auto& a = accounts_of(engine);
        require(out_token != nullptr, "out_token is NULL");
        *out_token = copy_string(a.login_user(text_arg(bot_id, "bot_id"), text_arg(email, "email"),
                                              text_arg(password, "password")));
    });
}

int sb_token_issue(sb_engine* engine, const char* account_id, char** out_token) {
    if (out_token) *out_token = nullptr;
    return guarded([&] {
        auto& a = accounts_of(engine);
        require(out_token != nullptr, "out_token is NULL");
        *out_token = copy_string(a.issue_token(text_arg(account_id, "account_id")));
    });
}

int sb_account_lookup(sb_engine* engine, const char* bot_id, const char* email,
                      char** out_account_id) {
    if (out_account_id) *out_account_id = nullptr;
    return guarded([&] {
        auto& a = accounts_of(engine);
        require(out_account_id != nullptr, "out_account_id is NULL");
        *out_account_id = copy_string(a.lookup(bot_id ? bot_id : "", text_arg(email, "email")));
    });
}

int sb_principal_from_token(sb_engine* engine, const char* token, sb_principal** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        auto& a = accounts_of(engine);
        require(out != nullptr, "out is NULL");
        if (!token) throw sb::Error(SB_EUNAUTHENTICATED, "no access token");
        auto p = std::make_unique<sb_principal>();
        p->token = token;
        p->principal = a.authenticate(p->token);
        *out = p.release();
    });
}

void sb_principal_free(sb_principal* principal) {
    delete principal;
}

int sb_principal_get(const sb_principal* principal, sb_principal_info* out) {
    return guarded([&] {
        require(principal != nullptr && out != nullptr, "principal or out is NULL");
        const sb::auth::Principal& p = principal->principal;
        out->account_id = p.account_id.c_str();
        out->role = p.role == sb::auth::AccountRole::Admin   ? SB_ACCOUNT_ADMIN
                    : p.role == sb::auth::AccountRole::Agent ? SB_ACCOUNT_AGENT
                                                             : SB_ACCOUNT_USER;
        out->bot_id = p.bot_id.c_str();
        out->email = p.email.c_str();
        out->expires_ms = p.expires_ms;
    });
}

int sb_account_delete(sb_engine* engine, const sb_principal* principal, const char* account_id) {
    return guarded([&] {
        const sb::auth::Principal actor = authenticated(engine, principal);
        engine->accounts->delete_account(actor, text_arg(account_id, "account_id"));
    });
}

}  // extern "C"
