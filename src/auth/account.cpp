#include "auth/account.hpp"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "common/error.hpp"
#include "faq/faq.hpp"

namespace sb::auth {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string fold(std::string_view s) {
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(
        reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
        static_cast<utf8proc_ssize_t>(s.size()), &out,
        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
    if (n < 0) {
        std::free(out);
        throw Error(SB_EINVAL, "e-mail address is not valid UTF-8");
    }
    std::string result(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
    std::free(out);
    return result;
}

void check_domain(std::string_view domain) {
    std::size_t labels = 0;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = domain.find('.', start);
        const std::string_view label =
            domain.substr(start, dot == domain.npos ? domain.npos : dot - start);
        if (label.empty() || label.size() > 63)
            throw Error(SB_EINVAL, "e-mail address has an empty or over-long domain label");
        if (label.front() == '-' || label.back() == '-')
            throw Error(SB_EINVAL, "e-mail domain label starts or ends with '-'");
        for (char ch : label) {
            const auto c = static_cast<unsigned char>(ch);
            const bool ok = c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-';
            if (!ok) throw Error(SB_EINVAL, "e-mail domain contains an invalid character");
        }
        ++labels;
        if (dot == domain.npos) break;
        start = dot + 1;
    }
    if (labels < 2) throw Error(SB_EINVAL, "e-mail domain needs at least two labels");
}

}  // namespace

std::string normalize_email(std::string_view email) {
    if (email.size() > 4 * kMaxEmailBytes)
        throw Error(SB_ELIMIT,
                    "e-mail address is longer than " + std::to_string(kMaxEmailBytes) + " bytes");
    while (!email.empty() && is_space(email.front())) email.remove_prefix(1);
    while (!email.empty() && is_space(email.back())) email.remove_suffix(1);
    if (email.empty()) throw Error(SB_EINVAL, "e-mail address is empty");
    if (!is_valid_utf8(email)) throw Error(SB_EINVAL, "e-mail address is not valid UTF-8");
    std::string e = fold(email);
    if (e.size() > kMaxEmailBytes)
        throw Error(SB_ELIMIT,
                    "e-mail address is longer than " + std::to_string(kMaxEmailBytes) + " bytes");
    const std::size_t at = e.find('@');
    if (at == std::string::npos || e.find('@', at + 1) != std::string::npos)
        throw Error(SB_EINVAL, "e-mail address needs exactly one '@'");
    const std::string_view local = std::string_view(e).substr(0, at);
    const std::string_view domain = std::string_view(e).substr(at + 1);
    if (local.empty() || local.size() > 64)
        throw Error(SB_EINVAL, "e-mail address has an empty or over-long local part");
    for (char ch : local) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7f || std::string_view("(),:;<>[\\]\"").find(ch) != e.npos)
            throw Error(SB_EINVAL, "e-mail local part contains an invalid character");
    }
    if (local.front() == '.' || local.back() == '.' || local.find("..") != local.npos)
        throw Error(SB_EINVAL, "e-mail local part has a misplaced '.'");
    check_domain(domain);
    return e;
}

void check_password_policy(std::string_view password) {
    if (password.size() > kMaxPasswordBytes)
        throw Error(SB_ELIMIT,
                    "password is longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
    if (!is_valid_utf8(password)) throw Error(SB_EINVAL, "password is not valid UTF-8");
    std::size_t chars = 0;
    bool lower = false, upper = false, digit = false, other = false;
    for (char ch : password) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) throw Error(SB_EINVAL, "password contains a control character");
        if ((c & 0xc0) != 0x80) ++chars;  // count code points, not continuation bytes
        if (c >= 'a' && c <= 'z')
            lower = true;
        else if (c >= 'A' && c <= 'Z')
            upper = true;
        else if (c >= '0' && c <= '9')
            digit = true;
        else
            other = true;
    }
    if (chars < kMinPasswordChars)
        throw Error(SB_EINVAL, "password is shorter than " + std::to_string(kMinPasswordChars) +
                                   " characters");
    if (int{lower} + int{upper} + int{digit} + int{other} < 2)
        throw Error(SB_EINVAL,
                    "password uses only one kind of character; mix letters, digits or symbols");
}

}  // namespace sb::auth
