// Shared by the C ABI's source files: the handles' definitions, and the helpers that turn C++
// errors into status codes and the thread-local last-error message.
#pragma once

#include <exception>
#include <memory>
#include <new>
#include <string>

#include "auth/accounts.hpp"
#include "chat/engine.hpp"
#include "common/error.hpp"
#include "faq/faq.hpp"
#include "supportbot/supportbot.h"

struct sb_engine {
    std::unique_ptr<sb::Engine> engine;
    std::unique_ptr<sb::auth::Accounts> accounts;  // over *engine
};

// A verified token. The token is kept and verified again at every call (signature, expiry, the
// account still existing), so a principal stops working when its token expires.
struct sb_principal {
    std::string token;
    sb::auth::Principal principal;
};

namespace sb::capi {

int set_error(int status, std::string message) noexcept;
const char* last_error_message() noexcept;
int last_status() noexcept;
int ok() noexcept;

// Runs fn, mapping every exception to a status and message.
template <typename Fn>
int guarded(Fn&& fn) noexcept {
    try {
        fn();
        return ok();
    } catch (const sb::Error& e) {
        return set_error(e.status(), e.what());
    } catch (const std::bad_alloc&) {
        return set_error(SB_ENOMEM, "out of memory");
    } catch (const std::exception& e) {
        return set_error(SB_ERROR, std::string("internal error: ") + e.what());
    } catch (...) {
        return set_error(SB_ERROR, "internal error");
    }
}

inline void require(bool condition, const char* message) {
    if (!condition) throw sb::Error(SB_EINVAL, message);
}

void check_version(unsigned int version, unsigned int current, const char* what);
sb::FaqLimits limits_from(const sb_load_options* opts);
sb::FaqFormat format_from(sb_format format);
// Parses FAQ bytes or a file as the C ABI's loaders do: the entries and the synonyms declared.
sb::FaqSet load_set(const char* data, size_t len, sb_format format, const sb_load_options* opts);
sb::FaqSet load_set_file(const char* path, sb_format format, const sb_load_options* opts);

// Who a call acts for: the principal verified again now. SB_EUNAUTHENTICATED for NULL, an
// expired token or a deleted account.
sb::auth::Principal authenticated(sb_engine* engine, const sb_principal* principal);

sb::Engine& engine_of(sb_engine* engine);               // SB_EINVAL for NULL
std::string text_arg(const char* s, const char* what);  // SB_EINVAL for NULL
char* copy_string(const std::string& s);                // malloc'ed; sb_string_free releases
// The session, after checking the principal may use it: SB_ENOTFOUND when it does not exist,
// SB_EFORBIDDEN when it is neither the principal's nor of a bot the principal owns.
sb::SessionRecord accessible_session(sb::Engine& e, const sb::auth::Principal& p,
                                     const char* session_id);

}  // namespace sb::capi
