/* Compiled by header_check.sh as C99 and C11 (gcc, clang) and as C++11 and C++20 (g++, clang++)
 * with every warning an error: the public header must be clean in all of them. It uses each
 * options struct's *_INIT macro, the enums and a few declarations. */
#include <supportbot/supportbot.h>

static unsigned int sum_versions(void) {
    sb_engine_options engine_options = SB_ENGINE_OPTIONS_INIT;
    sb_load_options load_options = SB_LOAD_OPTIONS_INIT;
    sb_search_options search_options = SB_SEARCH_OPTIONS_INIT;
    sb_chat_request chat_request = SB_CHAT_REQUEST_INIT;
    sb_list_options list_options = SB_LIST_OPTIONS_INIT;
    return engine_options.version + load_options.version + search_options.version +
           chat_request.version + list_options.version;
}

static int check_status(sb_status status, sb_format format, sb_session_status session_status,
                        sb_role role, sb_account_role account_role) {
    return status == SB_OK && format == SB_FORMAT_AUTO && session_status == SB_SESSION_OPEN &&
           role == SB_ROLE_USER && account_role == SB_ACCOUNT_ADMIN;
}

int main(void) {
    int (*open_engine)(sb_engine**, const sb_engine_options*) = sb_engine_open;
    const char* (*last_error)(void) = sb_last_error;
    sb_result result;
    sb_reply_info reply;
    result.confidence = 0.5;
    reply.escalated = 0;
    if (!open_engine || !last_error) return 1;
    if (!check_status(SB_OK, SB_FORMAT_AUTO, SB_SESSION_OPEN, SB_ROLE_USER, SB_ACCOUNT_ADMIN))
        return 1;
    return sum_versions() > 0u && SB_ABI_VERSION > 0 && result.confidence > 0.0 &&
                   reply.escalated == 0
               ? 0
               : 1;
}
