/* A program written against the previous release's header (tests/abi/previous/supportbot.h, the
 * header as of commit fb37834, release 0.2.0), linked and run against the current library: the
 * calls that existed then, with the options structs of older versions (sb_engine_options versions
 * 1 and 2, sb_chat_request version 1) laid out as those versions were. The older structs are
 * allocated at their exact size, so a library that read or wrote past them would be caught by
 * AddressSanitizer in the sanitizer build. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "previous/supportbot.h"

/* When tests/abi/previous/ is refreshed to a newer release, update this guard to a macro that the
 * newer release added: it makes sure the build took the kept header, not the current one. */
#ifdef SB_LIST_OPTIONS_VERSION
#error "previous_client.c must be built against tests/abi/previous/supportbot.h"
#endif

static int failures = 0;
#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            ++failures;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, sb_last_error());                                                  \
        }                                                                                     \
    } while (0)

/* sb_engine_options as versions 1 and 2 declared it. */
typedef struct engine_options_v1 {
    unsigned int version;
    const char* language;
} engine_options_v1;
typedef struct engine_options_v2 {
    unsigned int version;
    const char* language;
    const char* database_url;
    size_t pool_size;
    size_t history_turns;
    double answer_threshold;
    double escalation_threshold;
    unsigned int max_unanswered;
} engine_options_v2;
/* sb_chat_request as version 1 declared it (no streaming callback). */
typedef struct chat_request_v1 {
    unsigned int version;
    const char* bot_id;
    const sb_principal* principal;
    const char* session_id;
    const char* message;
    size_t message_len;
} chat_request_v1;

static const char* kFaqs =
    "[{\"id\": \"refund\", \"question\": \"How do I get a refund?\", \"answer\": \"Open your "
    "order and choose Request refund.\", \"alternates\": [\"can I get my money back\"]},"
    " {\"id\": \"shipping\", \"question\": \"How long does shipping take?\", \"answer\": "
    "\"Orders arrive in 3 to 5 business days.\", \"alternates\": [\"when will my package "
    "arrive\"]},"
    " {\"id\": \"password\", \"question\": \"How do I reset my password?\", \"answer\": \"Use "
    "Forgot password on the sign-in page.\", \"alternates\": [\"I forgot my password\"]}]";

/* Loads kFaqs and checks that a question finds its FAQ. */
static void search_works(sb_engine* engine) {
    sb_load_options load = SB_LOAD_OPTIONS_INIT;
    sb_search_options search = SB_SEARCH_OPTIONS_INIT;
    sb_faqset* set = NULL;
    sb_results* results = NULL;
    sb_result top;
    size_t n = 0;
    const char* q = "can I get my money back";
    CHECK(sb_faqset_load(engine, kFaqs, strlen(kFaqs), SB_FORMAT_JSON, &load, &set) == SB_OK);
    if (!set) return;
    CHECK(sb_faqset_count(set, &n) == SB_OK && n == 3);
    search.k = 2;
    CHECK(sb_faqset_search(set, q, strlen(q), &search, &results) == SB_OK);
    CHECK(sb_results_count(results, &n) == SB_OK && n == 2);
    CHECK(sb_results_get(results, 0, &top) == SB_OK && strcmp(top.id, "refund") == 0);
    sb_results_free(results);
    sb_faqset_free(set);
}

static void versions_and_errors(void) {
    CHECK(sb_abi_version() == SB_ABI_VERSION);
    CHECK(sb_version() != NULL && sb_version()[0] != '\0');
    CHECK(strcmp(sb_status_name(SB_EUNAUTHENTICATED), "SB_EUNAUTHENTICATED") == 0);
    CHECK(sb_engine_open(NULL, NULL) == SB_EINVAL);
    CHECK(sb_last_status() == SB_EINVAL && sb_last_error()[0] != '\0');
}

static void engine_options_version_1(void) {
    /* Exactly the size of version 1: the library must neither read nor write past it. */
    engine_options_v1* v1 = malloc(sizeof *v1);
    sb_engine* engine = NULL;
    if (!v1) return;
    CHECK(sb_engine_options_init((sb_engine_options*)v1, 1) == SB_OK);
    CHECK(v1->version == 1 && v1->language == NULL);
    v1->language = "english";
    CHECK(sb_engine_open(&engine, (const sb_engine_options*)v1) == SB_OK);
    if (engine) search_works(engine);
    sb_engine_close(engine);
    v1->language = "klingon";
    CHECK(sb_engine_open(&engine, (const sb_engine_options*)v1) == SB_EINVAL && engine == NULL);
    free(v1);
}

static void engine_options_version_2(void) {
    engine_options_v2* v2 = malloc(sizeof *v2);
    sb_engine* engine = NULL;
    char* bot = NULL;
    if (!v2) return;
    CHECK(sb_engine_options_init((sb_engine_options*)v2, 2) == SB_OK);
    CHECK(v2->version == 2 && v2->database_url == NULL && v2->answer_threshold < 0 &&
          v2->max_unanswered == 0);
    v2->database_url = "sqlite://:memory:";
    v2->max_unanswered = 3;
    CHECK(sb_engine_open(&engine, (const sb_engine_options*)v2) == SB_OK);
    if (engine) {
        search_works(engine);
        /* Version 2 had no secret_key: calls acting for an account are refused, not crashing. */
        CHECK(sb_admin_register(engine, "a@example.com", "Password-123", NULL) == SB_EINVAL);
        CHECK(sb_bot_create(engine, NULL, "x", kFaqs, strlen(kFaqs), SB_FORMAT_JSON, NULL, &bot) !=
              SB_OK);
        CHECK(bot == NULL);
    }
    sb_engine_close(engine);
    v2->answer_threshold = 1.5;
    CHECK(sb_engine_open(&engine, (const sb_engine_options*)v2) == SB_EINVAL && engine == NULL);
    free(v2);
}

static int on_text(void* user_data, const char* text, size_t len) {
    size_t* total = (size_t*)user_data;
    (void)text;
    *total += len;
    return 0;
}

/* Accounts, a bot, chat (request versions 1 and 2), sessions, history and reports, with the
 * engine options of the previous release (version 3). */
static void accounts_and_chat(const char* dir) {
    char url[512];
    sb_engine_options opts = SB_ENGINE_OPTIONS_INIT;
    sb_engine* engine = NULL;
    char *token = NULL, *bot = NULL, *json = NULL;
    sb_principal *admin = NULL, *user = NULL;
    sb_principal_info who;
    chat_request_v1* v1 = malloc(sizeof *v1);
    sb_chat_request v2 = SB_CHAT_REQUEST_INIT;
    sb_reply* reply = NULL;
    sb_reply_info info;
    sb_sessions* sessions = NULL;
    sb_session_info session;
    sb_messages* messages = NULL;
    sb_message_info message;
    sb_bots* bots = NULL;
    sb_bot_info bot_info;
    size_t n = 0, streamed = 0;
    int fallback = -1;
    char session_id[160];
    const char* q = "when will my package arrive";

    if (!v1) return;
    snprintf(url, sizeof url, "sqlite://%s/previous.db", dir);
    opts.database_url = url;
    opts.secret_key = "the previous release's client key, 32+ bytes";
    CHECK(sb_engine_open(&engine, &opts) == SB_OK);
    if (!engine) {
        free(v1);
        return;
    }
    CHECK(sb_admin_register(engine, "owner@example.com", "owner-Password-1", NULL) == SB_OK);
    CHECK(sb_admin_login(engine, "owner@example.com", "owner-Password-1", &token) == SB_OK);
    CHECK(sb_principal_from_token(engine, token, &admin) == SB_OK);
    sb_string_free(token);
    token = NULL;
    CHECK(sb_principal_get(admin, &who) == SB_OK && who.role == SB_ACCOUNT_ADMIN);
    CHECK(sb_bot_create(engine, admin, "Shop", kFaqs, strlen(kFaqs), SB_FORMAT_JSON, NULL, &bot) ==
          SB_OK);
    if (!bot) goto done;
    CHECK(sb_bot_list(engine, admin, &bots) == SB_OK);
    CHECK(sb_bots_count(bots, &n) == SB_OK && n == 1);
    CHECK(sb_bots_at(bots, 0, &bot_info) == SB_OK && strcmp(bot_info.id, bot) == 0 &&
          bot_info.faq_count == 3);
    sb_bots_free(bots);
    CHECK(sb_user_register(engine, bot, "ann@example.com", "ann-Password-1", NULL) == SB_OK);
    CHECK(sb_user_login(engine, bot, "ann@example.com", "ann-Password-1", &token) == SB_OK);
    CHECK(sb_principal_from_token(engine, token, &user) == SB_OK);
    sb_string_free(token);

    /* Chat request version 1, exactly that size. */
    v1->version = 1;
    v1->bot_id = bot;
    v1->principal = user;
    v1->session_id = NULL;
    v1->message = q;
    v1->message_len = strlen(q);
    CHECK(sb_chat_send(engine, (const sb_chat_request*)v1, &reply) == SB_OK);
    CHECK(sb_reply_get(reply, &info) == SB_OK);
    CHECK(info.answered == 1 && strstr(info.text, "3 to 5 business days") != NULL);
    CHECK(strcmp(info.responder, "offline") == 0);
    CHECK(sb_reply_usage(reply, &fallback, NULL, NULL) == SB_OK && fallback == 0);
    snprintf(session_id, sizeof session_id, "%s", info.session_id);
    sb_reply_free(reply);
    reply = NULL;

    /* Version 2 (the previous release's current one), streaming, in the same session. */
    v2.bot_id = bot;
    v2.principal = user;
    v2.session_id = session_id;
    v2.message = "I forgot my password";
    v2.message_len = strlen(v2.message);
    v2.on_text = on_text;
    v2.user_data = &streamed;
    CHECK(sb_chat_send(engine, &v2, &reply) == SB_OK);
    CHECK(sb_reply_get(reply, &info) == SB_OK && strcmp(info.session_id, session_id) == 0);
    CHECK(streamed == strlen(info.text));
    sb_reply_free(reply);

    CHECK(sb_session_list(engine, user, bot, &sessions) == SB_OK);
    CHECK(sb_sessions_count(sessions, &n) == SB_OK && n == 1);
    CHECK(sb_sessions_at(sessions, 0, &session) == SB_OK && session.message_count == 4);
    sb_sessions_free(sessions);
    CHECK(sb_session_history(engine, admin, session_id, &messages) == SB_OK);
    CHECK(sb_messages_count(messages, &n) == SB_OK && n == 4);
    CHECK(sb_messages_at(messages, 1, &message) == SB_OK && message.role == SB_ROLE_ASSISTANT);
    sb_messages_free(messages);
    CHECK(sb_session_summarize(engine, user, session_id, &json) == SB_OK && json &&
          strstr(json, "\"resolved\"") != NULL);
    sb_string_free(json);
    json = NULL;
    CHECK(sb_bot_analytics(engine, admin, bot, 0, INT64_MAX, &json) == SB_OK && json &&
          strstr(json, "\"sessions\"") != NULL);
    sb_string_free(json);
    CHECK(sb_session_close(engine, user, session_id) == SB_OK);
    v1->session_id = session_id;
    CHECK(sb_chat_send(engine, (const sb_chat_request*)v1, &reply) == SB_ECONFLICT);
    CHECK(reply == NULL);
    v1->version = 3; /* a version this header never had */
    CHECK(sb_chat_send(engine, (const sb_chat_request*)v1, &reply) == SB_EVERSION);

done:
    sb_principal_free(user);
    sb_principal_free(admin);
    sb_string_free(bot);
    sb_engine_close(engine);
    free(v1);
}

int main(void) {
    char dir[] = "/tmp/sb-abi-previous-XXXXXX";
    char path[600];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    versions_and_errors();
    engine_options_version_1();
    engine_options_version_2();
    accounts_and_chat(dir);
    {
        const char* suffixes[] = {"", "-wal", "-shm", "-journal"};
        size_t i;
        for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; ++i) {
            snprintf(path, sizeof path, "%s/previous.db%s", dir, suffixes[i]);
            remove(path);
        }
        if (rmdir(dir) != 0) perror(dir);
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("the previous release's header: all checks passed against libsupportbot %s\n",
           sb_version());
    return 0;
}
