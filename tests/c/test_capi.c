/* The C ABI exercised from plain C: versions, options, loading, search, errors, accounts,
 * ownership. */
#define _GNU_SOURCE
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <supportbot/supportbot.h>
#include <unistd.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        ++checks;                                                                             \
        if (!(cond)) {                                                                        \
            ++failures;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, sb_last_error());                                                  \
        }                                                                                     \
    } while (0)

static const char* kFaqs =
    "[{\"id\": \"refund\", \"question\": \"How do I get a refund?\", \"answer\": \"Open your "
    "order and choose Request refund.\", \"alternates\": [\"can I get my money back\", \"refund "
    "my order\"]},"
    " {\"id\": \"shipping\", \"question\": \"How long does shipping take?\", \"answer\": "
    "\"Orders arrive in 3 to 5 business days.\", \"alternates\": [\"when will my package "
    "arrive\", \"delivery time\"]},"
    " {\"id\": \"password\", \"question\": \"How do I reset my password?\", \"answer\": \"Use "
    "Forgot password on the sign-in page.\", \"alternates\": [\"I forgot my password\", \"can't "
    "log in\"]},"
    " {\"id\": \"cancel\", \"question\": \"How do I cancel my subscription?\", \"answer\": \"Go "
    "to Settings, Billing, Cancel plan.\", \"alternates\": [\"stop my plan\", \"end "
    "subscription\"]}]";

static void test_versions(void) {
    CHECK(sb_abi_version() == SB_ABI_VERSION);
    CHECK(strcmp(sb_version(), SB_VERSION_STRING) == 0);
    CHECK(strcmp(sb_status_name(SB_EPARSE), "SB_EPARSE") == 0);
}

static void test_options_versioned(void) {
    sb_search_options so;
    sb_engine_options eo;
    sb_engine* engine = NULL;
    CHECK(sb_search_options_init(&so, SB_SEARCH_OPTIONS_VERSION) == SB_OK);
    CHECK(so.version == SB_SEARCH_OPTIONS_VERSION && so.k == 0 && so.threshold < 0);
    CHECK(sb_search_options_init(&so, 99) == SB_EVERSION);
    CHECK(strstr(sb_last_error(), "99") != NULL);
    CHECK(sb_engine_options_init(&eo, SB_ENGINE_OPTIONS_VERSION) == SB_OK);
    eo.version = 42;
    CHECK(sb_engine_open(&engine, &eo) == SB_EVERSION);
    CHECK(engine == NULL);
    eo.version = SB_ENGINE_OPTIONS_VERSION;
    eo.language = "klingon";
    CHECK(sb_engine_open(&engine, &eo) == SB_EINVAL);
    CHECK(strstr(sb_last_error(), "klingon") != NULL);
    CHECK(sb_engine_open(NULL, NULL) == SB_EINVAL);
}

static void test_load_and_search(void) {
    sb_engine* engine = NULL;
    sb_faqset* set = NULL;
    sb_results* res = NULL;
    sb_search_options opts = SB_SEARCH_OPTIONS_INIT;
    size_t n = 0, index = 0;
    int answered = -1;
    sb_result r;
    sb_faq_entry e;
    const char* alt = NULL;
    const char* q = "i want my money back";

    CHECK(sb_engine_open(&engine, NULL) == SB_OK);
    /* Small-talk entries (the reserved category) are never search results; a set of nothing
     * else is refused. */
    {
        const char* with_small_talk =
            "[{\"id\": \"hours\", \"question\": \"When are you open?\", \"answer\": \"9 to 5.\"},"
            " {\"id\": \"greeting\", \"category\": \"SmallTalk\", \"question\": \"ahoy\","
            " \"answer\": \"Ahoy!\"}]";
        const char* only =
            "[{\"id\": \"greeting\", \"category\": \"smalltalk\", "
            "\"question\": \"ahoy\", \"answer\": \"Ahoy!\"}]";
        CHECK(sb_faqset_load(engine, with_small_talk, strlen(with_small_talk), SB_FORMAT_JSON, NULL,
                             &set) == SB_OK);
        CHECK(sb_faqset_count(set, &n) == SB_OK && n == 1);
        CHECK(sb_faqset_find(set, "greeting", &index) == SB_ENOTFOUND);
        sb_faqset_free(set);
        set = NULL;
        CHECK(sb_faqset_load(engine, only, strlen(only), SB_FORMAT_JSON, NULL, &set) ==
                  SB_EINVALID_DATA &&
              set == NULL);
    }
    CHECK(sb_faqset_load(engine, kFaqs, strlen(kFaqs), SB_FORMAT_JSON, NULL, &set) == SB_OK);
    CHECK(set != NULL);
    if (!set) {
        sb_engine_close(engine);
        return;
    }
    CHECK(sb_faqset_count(set, &n) == SB_OK && n == 4);
    CHECK(sb_faqset_entry(set, 1, &e) == SB_OK);
    CHECK(strcmp(e.id, "shipping") == 0 && e.alternate_count == 2 && e.tag_count == 0);
    CHECK(sb_faqset_entry_alternate(set, 1, 1, &alt) == SB_OK && strcmp(alt, "delivery time") == 0);
    CHECK(sb_faqset_entry_alternate(set, 1, 2, &alt) == SB_ERANGE);
    CHECK(sb_faqset_entry(set, 4, &e) == SB_ERANGE);
    CHECK(sb_faqset_find(set, "password", &index) == SB_OK && index == 2);
    CHECK(sb_faqset_find(set, "nope", &index) == SB_ENOTFOUND);

    opts.k = 3;
    CHECK(sb_faqset_search(set, q, strlen(q), &opts, &res) == SB_OK);
    CHECK(sb_results_count(res, &n) == SB_OK && n == 3);
    CHECK(sb_results_get(res, 0, &r) == SB_OK);
    CHECK(strcmp(r.id, "refund") == 0);
    CHECK(r.confidence >= 0.0 && r.confidence <= 1.0);
    CHECK(sb_results_get(res, 3, &r) == SB_ERANGE);
    CHECK(sb_results_answered(res, &answered) == SB_OK && (answered == 0 || answered == 1));
    sb_results_free(res);
    res = NULL;

    /* A typo in a word the FAQs know. */
    q = "how do I resett my pasword";
    CHECK(sb_faqset_search(set, q, strlen(q), &opts, &res) == SB_OK);
    CHECK(sb_results_get(res, 0, &r) == SB_OK && strcmp(r.id, "password") == 0);
    sb_results_free(res);
    res = NULL;

    /* Threshold 1 never answers; threshold 0 always does. */
    opts.threshold = 1.0;
    q = "refund";
    CHECK(sb_faqset_search(set, q, strlen(q), &opts, &res) == SB_OK);
    CHECK(sb_results_answered(res, &answered) == SB_OK && answered == 0);
    sb_results_free(res);
    res = NULL;
    opts.threshold = 0.0;
    CHECK(sb_faqset_search(set, q, strlen(q), &opts, &res) == SB_OK);
    CHECK(sb_results_answered(res, &answered) == SB_OK && answered == 1);
    sb_results_free(res);
    res = NULL;

    /* Bad input: invalid UTF-8, NaN threshold, NULLs. */
    opts.threshold = -1.0;
    CHECK(sb_faqset_search(set, "\xff\xfe", 2, &opts, &res) == SB_EPARSE);
    CHECK(res == NULL);
    CHECK(strlen(sb_last_error()) > 0);
    opts.threshold = nan("");
    CHECK(sb_faqset_search(set, q, strlen(q), &opts, &res) == SB_EINVAL);
    opts.threshold = -1.0;
    CHECK(sb_faqset_search(set, NULL, 3, &opts, &res) == SB_EINVAL);
    CHECK(sb_faqset_search(NULL, q, strlen(q), &opts, &res) == SB_EINVAL);
    /* A successful call clears the last error. */
    CHECK(sb_faqset_search(set, "", 0, &opts, &res) == SB_OK);
    CHECK(strcmp(sb_last_error(), "") == 0 && sb_last_status() == SB_OK);
    CHECK(sb_results_count(res, &n) == SB_OK && n == 0);
    CHECK(sb_results_answered(res, &answered) == SB_OK && answered == 0);
    sb_results_free(res);

    sb_faqset_free(set);
    sb_engine_close(engine);
}

static void test_bad_files(void) {
    sb_engine* engine = NULL;
    sb_faqset* set = NULL;
    const char* bad = "[{\"question\": \"q\"}]";
    CHECK(sb_engine_open(&engine, NULL) == SB_OK);
    CHECK(sb_faqset_load(engine, bad, strlen(bad), SB_FORMAT_JSON, NULL, &set) == SB_EINVALID_DATA);
    CHECK(set == NULL);
    CHECK(strstr(sb_last_error(), "answer") != NULL);
    CHECK(sb_faqset_load(engine, "[", 1, SB_FORMAT_JSON, NULL, &set) == SB_EPARSE);
    CHECK(sb_faqset_load_file(engine, "/nonexistent/faqs.json", SB_FORMAT_AUTO, NULL, &set) ==
          SB_EIO);
    CHECK(strstr(sb_last_error(), "/nonexistent/faqs.json") != NULL);
    {
        sb_load_options lo = SB_LOAD_OPTIONS_INIT;
        lo.max_bytes = 10;
        CHECK(sb_faqset_load(engine, kFaqs, strlen(kFaqs), SB_FORMAT_JSON, &lo, &set) == SB_ELIMIT);
    }
    /* NULL frees are no-ops. */
    sb_faqset_free(NULL);
    sb_results_free(NULL);
    sb_engine_close(NULL);
    sb_engine_close(engine);
}

static void test_project_faqs(void) {
    sb_engine* engine = NULL;
    sb_faqset* set = NULL;
    size_t n = 0;
    CHECK(sb_engine_open(&engine, NULL) == SB_OK);
    CHECK(sb_faqset_load_file(engine, SB_SOURCE_DIR "/faqs.json", SB_FORMAT_AUTO, NULL, &set) ==
          SB_OK);
    CHECK(sb_faqset_count(set, &n) == SB_OK && n >= 40);
    sb_faqset_free(set);
    sb_engine_close(engine);
}

/* A caller built against version 1 of sb_engine_options, which had only `language`. */
struct engine_options_v1 {
    unsigned int version;
    const char* language;
};

static void test_engine_options_v1(void) {
    struct engine_options_v1 v1 = {1, "english"};
    sb_engine* engine = NULL;
    CHECK(sb_engine_options_init((sb_engine_options*)&v1, 1) == SB_OK);
    CHECK(v1.version == 1 && v1.language == NULL);
    CHECK(sb_engine_open(&engine, (const sb_engine_options*)&v1) == SB_OK);
    sb_engine_close(engine);
}

/* A caller built against version 2, before the LLM and account fields. The canary after the
 * struct must survive sb_engine_options_init. */
struct engine_options_v2 {
    unsigned int version;
    const char* language;
    const char* database_url;
    size_t pool_size;
    size_t history_turns;
    double answer_threshold;
    double escalation_threshold;
    unsigned int max_unanswered;
};

static void test_engine_options_v2_and_v3(void) {
    struct {
        struct engine_options_v2 v2;
        unsigned char canary[64];
    } old;
    sb_engine_options v3 = SB_ENGINE_OPTIONS_INIT;
    sb_engine* engine = NULL;
    memset(&old, 0x5a, sizeof old);
    CHECK(sb_engine_options_init((sb_engine_options*)&old.v2, 2) == SB_OK);
    CHECK(old.v2.version == 2 && old.v2.database_url == NULL && old.v2.answer_threshold < 0);
    CHECK(old.canary[0] == 0x5a && old.canary[63] == 0x5a);
    old.v2.database_url = "sqlite://:memory:";
    CHECK(sb_engine_open(&engine, (const sb_engine_options*)&old.v2) == SB_OK);
    sb_engine_close(engine);

    /* Version 3: a signing key shorter than 32 bytes and negative timeouts are refused. */
    v3.secret_key = "too short";
    CHECK(sb_engine_open(&engine, &v3) == SB_EINVAL && engine == NULL);
    CHECK(strstr(sb_last_error(), "32") != NULL);
    v3.secret_key = "0123456789abcdef0123456789abcdef";
    v3.llm_timeout_ms = -1;
    CHECK(sb_engine_open(&engine, &v3) == SB_EINVAL && engine == NULL);
    v3.llm_timeout_ms = 0;
    v3.llm_backoff_initial_ms = 500;
    v3.llm_backoff_max_ms = 100;
    CHECK(sb_engine_open(&engine, &v3) == SB_EINVAL && engine == NULL);
    CHECK(strstr(sb_last_error(), "backoff") != NULL);
    v3.llm_backoff_max_ms = 1000;
    v3.llm_deadline_ms = -5;
    CHECK(sb_engine_open(&engine, &v3) == SB_EINVAL && engine == NULL);
    CHECK(strstr(sb_last_error(), "deadline") != NULL);
    v3.llm_deadline_ms = 30000;
    CHECK(sb_engine_open(&engine, &v3) == SB_OK);
    sb_engine_close(engine);
}

/* Registers, then logs in (or, to spare a password hash at the default cost, has the host mint a
 * token); returns the principal (NULL on failure, which a CHECK reports). */
static sb_principal* login_as(sb_engine* engine, const char* bot, const char* email,
                              const char* password, int login) {
    char* token = NULL;
    char* id = NULL;
    sb_principal* p = NULL;
    int rc = bot ? sb_user_register(engine, bot, email, password, &id)
                 : sb_admin_register(engine, email, password, &id);
    CHECK(rc == SB_OK);
    if (login)
        rc = bot ? sb_user_login(engine, bot, email, password, &token)
                 : sb_admin_login(engine, email, password, &token);
    else
        rc = sb_token_issue(engine, id, &token);
    sb_string_free(id);
    CHECK(rc == SB_OK && token != NULL);
    CHECK(sb_principal_from_token(engine, token, &p) == SB_OK && p != NULL);
    sb_string_free(token);
    return p;
}

/* A streaming callback: collects the pieces it is given. */
struct collected {
    char text[2048];
    size_t len;
    int calls;
};
static int collect(void* user_data, const char* text, size_t len) {
    struct collected* c = (struct collected*)user_data;
    if (c->len + len < sizeof c->text) {
        memcpy(c->text + c->len, text, len);
        c->len += len;
        c->text[c->len] = '\0';
    }
    c->calls++;
    return 0;
}

/* Pages of the session list and of a history, first messages, and sb_engine_ping. user1 has
 * one session (`session`: q1, then a request for a human) when this starts. */
static void test_pages(sb_engine* engine, const char* bot, sb_principal* user1, sb_principal* user2,
                       sb_principal* admin, sb_principal* admin2, const char* session,
                       const char* q1) {
    sb_list_options lo;
    sb_list_options bad = SB_LIST_OPTIONS_INIT;
    sb_chat_request req = SB_CHAT_REQUEST_INIT;
    sb_reply* reply = NULL;
    sb_reply_info info;
    sb_sessions* page = NULL;
    sb_messages* messages = NULL;
    sb_session_info si;
    sb_message_info mi;
    const char* next = NULL;
    const char* first = NULL;
    char cursor[512];
    char second[64];
    const char* q3 = "when will my package arrive";
    size_t n = 0;
    int64_t last_id = 0;
    int pages = 0;

    CHECK(sb_engine_ping(engine) == SB_OK);
    CHECK(sb_engine_ping(NULL) == SB_EINVAL);
    CHECK(sb_list_options_init(&lo, SB_LIST_OPTIONS_VERSION) == SB_OK);
    CHECK(lo.version == SB_LIST_OPTIONS_VERSION && lo.limit == 0 && lo.cursor == NULL);
    CHECK(sb_list_options_init(&lo, 99) == SB_EVERSION);

    /* The old list fills first messages too. */
    CHECK(sb_session_list(engine, user1, bot, &page) == SB_OK);
    CHECK(sb_sessions_first_message(page, 0, &first) == SB_OK && strcmp(first, q1) == 0);
    CHECK(sb_sessions_first_message(page, 1, &first) == SB_ERANGE);
    CHECK(sb_sessions_next_cursor(page, &next) == SB_OK && next == NULL);
    sb_sessions_free(page);
    page = NULL;

    /* A second session of user1, active last (a later millisecond): it comes first. */
    usleep(3000);
    req.bot_id = bot;
    req.principal = user1;
    req.message = q3;
    req.message_len = strlen(q3);
    CHECK(sb_chat_send(engine, &req, &reply) == SB_OK);
    CHECK(sb_reply_get(reply, &info) == SB_OK);
    snprintf(second, sizeof second, "%s", info.session_id);
    sb_reply_free(reply);

    /* Pages of one session: the second, then the first, and no cursor after it. */
    lo.limit = 1;
    CHECK(sb_session_list_page(engine, user1, bot, &lo, &page) == SB_OK);
    CHECK(sb_sessions_count(page, &n) == SB_OK && n == 1);
    CHECK(sb_sessions_at(page, 0, &si) == SB_OK && strcmp(si.id, second) == 0);
    CHECK(sb_sessions_first_message(page, 0, &first) == SB_OK && strcmp(first, q3) == 0);
    CHECK(sb_sessions_next_cursor(page, &next) == SB_OK && next != NULL);
    snprintf(cursor, sizeof cursor, "%s", next ? next : "");
    sb_sessions_free(page);
    page = NULL;
    CHECK(strncmp(cursor, "v1.", 3) == 0);
    lo.cursor = cursor;
    CHECK(sb_session_list_page(engine, user1, bot, &lo, &page) == SB_OK);
    CHECK(sb_sessions_count(page, &n) == SB_OK && n == 1);
    CHECK(sb_sessions_at(page, 0, &si) == SB_OK && strcmp(si.id, session) == 0);
    CHECK(si.message_count == 4);
    CHECK(sb_sessions_next_cursor(page, &next) == SB_OK && next == NULL);
    sb_sessions_free(page);
    page = NULL;
    /* The owner's list is another list: user1's cursor is refused there. */
    CHECK(sb_session_list_page(engine, admin, bot, &lo, &page) == SB_EINVAL && page == NULL);
    CHECK(strstr(sb_last_error(), "cursor") != NULL);
    /* Authorisation as for sb_session_list. */
    lo.cursor = NULL;
    CHECK(sb_session_list_page(engine, admin2, bot, &lo, &page) == SB_EFORBIDDEN && page == NULL);
    CHECK(sb_session_list_page(engine, NULL, bot, &lo, &page) == SB_EUNAUTHENTICATED);
    CHECK(sb_session_list_page(engine, user2, bot, &lo, &page) == SB_OK);
    CHECK(sb_sessions_count(page, &n) == SB_OK && n == 0);
    CHECK(sb_sessions_next_cursor(page, &next) == SB_OK && next == NULL);
    sb_sessions_free(page);
    page = NULL;
    /* limit 0 and NULL options: the whole list, as sb_session_list. */
    lo.limit = 0;
    CHECK(sb_session_list_page(engine, admin, bot, &lo, &page) == SB_OK);
    CHECK(sb_sessions_count(page, &n) == SB_OK && n == 2);
    CHECK(sb_sessions_next_cursor(page, &next) == SB_OK && next == NULL);
    sb_sessions_free(page);
    page = NULL;
    CHECK(sb_session_list_page(engine, user1, bot, NULL, &page) == SB_OK);
    CHECK(sb_sessions_count(page, &n) == SB_OK && n == 2);
    sb_sessions_free(page);
    page = NULL;
    bad.version = 2;
    CHECK(sb_session_list_page(engine, user1, bot, &bad, &page) == SB_EVERSION && page == NULL);
    bad.version = SB_LIST_OPTIONS_VERSION;
    bad.cursor = "not a cursor";
    CHECK(sb_session_list_page(engine, user1, bot, &bad, &page) == SB_EINVAL && page == NULL);

    /* The history of the first session, three messages a page: 3 + 1. */
    lo.limit = 3;
    lo.cursor = NULL;
    for (pages = 0; pages < 5; ++pages) {
        CHECK(sb_session_history_page(engine, admin, session, &lo, &messages) == SB_OK);
        CHECK(sb_messages_count(messages, &n) == SB_OK && n == (pages == 0 ? 3u : 1u));
        CHECK(sb_messages_at(messages, 0, &mi) == SB_OK && mi.id > last_id);
        if (pages == 0) CHECK(mi.role == SB_ROLE_USER && strcmp(mi.text, q1) == 0);
        last_id = mi.id;
        CHECK(sb_messages_next_cursor(messages, &next) == SB_OK);
        if (next) snprintf(cursor, sizeof cursor, "%s", next);
        sb_messages_free(messages);
        messages = NULL;
        if (!next) break;
        lo.cursor = cursor;
    }
    CHECK(pages == 1);
    /* A history's cursor is refused for another session's history and for the list. */
    CHECK(sb_session_history_page(engine, user1, second, &lo, &messages) == SB_EINVAL &&
          messages == NULL);
    CHECK(sb_session_list_page(engine, user1, bot, &lo, &page) == SB_EINVAL && page == NULL);
    CHECK(sb_session_history_page(engine, user2, session, NULL, &messages) == SB_EFORBIDDEN &&
          messages == NULL);
    CHECK(sb_session_history_page(engine, admin2, session, NULL, &messages) == SB_EFORBIDDEN);
    CHECK(sb_session_history_page(engine, user1, "no-such-session", NULL, &messages) ==
          SB_ENOTFOUND);
    CHECK(sb_session_history_page(engine, user1, session, NULL, &messages) == SB_OK);
    CHECK(sb_messages_count(messages, &n) == SB_OK && n == 4);
    CHECK(sb_messages_next_cursor(messages, &next) == SB_OK && next == NULL);
    CHECK(sb_messages_next_cursor(messages, NULL) == SB_EINVAL);
    sb_messages_free(messages);
}

static void test_chat(void) {
    char dir[] = "/tmp/sb-capi-XXXXXX";
    char url[256];
    char* bot = NULL;
    sb_engine* engine = NULL;
    sb_engine_options opts = SB_ENGINE_OPTIONS_INIT;
    sb_chat_request req = SB_CHAT_REQUEST_INIT;
    sb_reply* reply = NULL;
    sb_reply_info info;
    sb_reply_faq faq;
    sb_bots* bots = NULL;
    sb_bot_info bi;
    sb_sessions* sessions = NULL;
    sb_session_info si;
    sb_messages* messages = NULL;
    sb_message_info mi;
    const char* text = NULL;
    char session[64];
    size_t n = 0;
    const char* q1 = "how do I reset my password?";
    const char* q2 = "can I talk to a human";
    sb_principal* admin = NULL;
    sb_principal* admin2 = NULL;
    sb_principal* user1 = NULL;
    sb_principal* user2 = NULL;
    sb_principal_info pi;
    char* token = NULL;
    char* account = NULL;
    sb_principal* none = NULL;
    int i = 0;
    struct collected got = {{0}, 0, 0};
    int fallback = -1;
    int64_t tokens_in = -1, tokens_out = -1;

    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    snprintf(url, sizeof url, "sqlite://%s/capi.db", dir);
    opts.database_url = url;
    opts.login_max_failures = 2;
    /* Without a secret key there are no accounts. */
    CHECK(sb_engine_open(&engine, &opts) == SB_OK);
    CHECK(sb_admin_register(engine, "a@example.com", "Secret-pass-1", NULL) == SB_EINVAL);
    sb_engine_close(engine);
    opts.secret_key = "a test signing key, 32 bytes long!";
    CHECK(sb_engine_open(&engine, &opts) == SB_OK);

    admin = login_as(engine, NULL, "  Owner@Example.COM ", "owner-Password-1", 1);
    admin2 = login_as(engine, NULL, "other@example.com", "other-Password-1", 0);
    CHECK(sb_principal_get(admin, &pi) == SB_OK && pi.role == SB_ACCOUNT_ADMIN &&
          strcmp(pi.email, "owner@example.com") == 0 && strcmp(pi.bot_id, "") == 0);
    /* Registration: duplicates (after normalisation), weak passwords, bad e-mails. */
    CHECK(sb_admin_register(engine, "OWNER@example.com", "owner-Password-2", NULL) == SB_ECONFLICT);
    CHECK(sb_admin_register(engine, "new@example.com", "short1", NULL) == SB_EINVAL);
    CHECK(sb_admin_register(engine, "new@example.com", "alllowercase", NULL) == SB_EINVAL);
    CHECK(sb_admin_register(engine, "not-an-email", "owner-Password-1", NULL) == SB_EINVAL);
    CHECK(sb_admin_register(engine, NULL, "owner-Password-1", NULL) == SB_EINVAL);

    /* A bot needs an admin principal. */
    CHECK(sb_bot_create_from_file(engine, NULL, "Shop", SB_SOURCE_DIR "/faqs.json", SB_FORMAT_AUTO,
                                  NULL, &bot) == SB_EUNAUTHENTICATED &&
          bot == NULL);
    CHECK(sb_bot_create_from_file(engine, admin, "Shop", SB_SOURCE_DIR "/faqs.json", SB_FORMAT_AUTO,
                                  NULL, &bot) == SB_OK);
    CHECK(bot != NULL && strlen(bot) == 36);
    if (!bot) {
        sb_engine_close(engine);
        return;
    }
    CHECK(sb_bot_list(engine, admin, &bots) == SB_OK);
    CHECK(sb_bots_count(bots, &n) == SB_OK && n == 1);
    CHECK(sb_bots_at(bots, 0, &bi) == SB_OK && strcmp(bi.id, bot) == 0 && bi.faq_count >= 40);
    CHECK(sb_principal_get(admin, &pi) == SB_OK && strcmp(bi.owner, pi.account_id) == 0);
    CHECK(sb_bots_at(bots, 1, &bi) == SB_ERANGE);
    sb_bots_free(bots);
    CHECK(sb_bot_list(engine, admin2, &bots) == SB_OK);
    CHECK(sb_bots_count(bots, &n) == SB_OK && n == 0);
    sb_bots_free(bots);
    bots = NULL;
    CHECK(sb_bot_get(engine, admin, "nope", &bots) == SB_ENOTFOUND && bots == NULL);
    CHECK(sb_bot_get(engine, admin2, bot, &bots) == SB_EFORBIDDEN && bots == NULL);
    CHECK(sb_bot_replace_faqs(engine, admin2, bot, kFaqs, strlen(kFaqs), SB_FORMAT_JSON, NULL) ==
          SB_EFORBIDDEN);

    user1 = login_as(engine, bot, "user1@example.com", "user1-Password", 1);
    user2 = login_as(engine, bot, "user2@example.com", "user2-Password", 0);
    CHECK(sb_principal_get(user1, &pi) == SB_OK && pi.role == SB_ACCOUNT_USER &&
          strcmp(pi.bot_id, bot) == 0 && pi.expires_ms > 0);
    CHECK(sb_user_register(engine, "no-such-bot", "x@example.com", "user1-Password", NULL) ==
          SB_ENOTFOUND);
    CHECK(sb_bot_replace_faqs(engine, user1, bot, kFaqs, strlen(kFaqs), SB_FORMAT_JSON, NULL) ==
          SB_EFORBIDDEN);
    CHECK(sb_bot_get(engine, user1, bot, &bots) == SB_OK);
    CHECK(sb_bots_at(bots, 0, &bi) == SB_OK && strcmp(bi.owner, "") == 0);
    sb_bots_free(bots);

    /* Logins: wrong password and unknown account alike; then the limit, even for the right one. */
    CHECK(sb_user_login(engine, bot, "user1@example.com", "wrong-Password", &token) ==
              SB_EUNAUTHENTICATED &&
          token == NULL);
    CHECK(sb_user_login(engine, bot, "nobody@example.com", "wrong-Password", &token) ==
              SB_EUNAUTHENTICATED &&
          token == NULL);
    CHECK(sb_admin_login(engine, "user1@example.com", "user1-Password", &token) ==
          SB_EUNAUTHENTICATED);
    for (i = 0; i < 2; ++i)
        CHECK(sb_admin_login(engine, "other@example.com", "bad-Password", &token) ==
              SB_EUNAUTHENTICATED);
    CHECK(sb_admin_login(engine, "other@example.com", "other-Password-1", &token) == SB_ELIMIT);
    CHECK(strstr(sb_last_error(), "too many failed logins") != NULL);
    CHECK(sb_principal_from_token(engine, "not.a.token", &none) == SB_EUNAUTHENTICATED &&
          none == NULL);

    req.bot_id = bot;
    req.principal = user1;
    req.message = q1;
    req.message_len = strlen(q1);
    req.on_text = collect;
    req.user_data = &got;
    CHECK(sb_chat_send(engine, &req, &reply) == SB_OK);
    CHECK(sb_reply_get(reply, &info) == SB_OK);
    /* The offline responder hands the whole reply to on_text once. */
    CHECK(got.calls == 1 && strcmp(got.text, info.text) == 0);
    CHECK(sb_reply_usage(reply, &fallback, &tokens_in, &tokens_out) == SB_OK);
    CHECK(fallback == 0 && tokens_in == 0 && tokens_out == 0);
    req.on_text = NULL;
    CHECK(info.answered == 1 && info.escalated == 0);
    CHECK(strcmp(info.responder, "offline") == 0);
    CHECK(strlen(info.text) > 0 && strlen(info.session_id) == 36);
    CHECK(info.suggestion_count > 0 && info.faq_count > 0);
    CHECK(sb_reply_faq_at(reply, 0, &faq) == SB_OK && strcmp(faq.id, "password-reset") == 0);
    CHECK(sb_reply_suggestion(reply, 0, &text) == SB_OK && text && strlen(text) > 0);
    CHECK(sb_reply_suggestion(reply, 99, &text) == SB_ERANGE);
    snprintf(session, sizeof session, "%s", info.session_id);
    sb_reply_free(reply);
    reply = NULL;

    req.session_id = session;
    req.message = q2;
    req.message_len = strlen(q2);
    CHECK(sb_chat_send(engine, &req, &reply) == SB_OK);
    CHECK(sb_reply_get(reply, &info) == SB_OK);
    CHECK(info.escalated == 1 && strcmp(info.escalation_reason, "user_requested") == 0);
    sb_reply_free(reply);
    reply = NULL;

    /* Another user cannot use the session, nor another admin the bot; no principal is refused. */
    req.principal = user2;
    CHECK(sb_chat_send(engine, &req, &reply) == SB_EFORBIDDEN && reply == NULL);
    req.principal = admin2;
    CHECK(sb_chat_send(engine, &req, &reply) == SB_EFORBIDDEN && reply == NULL);
    req.principal = NULL;
    CHECK(sb_chat_send(engine, &req, &reply) == SB_EUNAUTHENTICATED && reply == NULL);
    req.principal = user1;
    req.message = NULL;
    req.message_len = 5;
    CHECK(sb_chat_send(engine, &req, &reply) == SB_EINVAL);
    req.version = 7;
    CHECK(sb_chat_send(engine, &req, &reply) == SB_EVERSION);

    CHECK(sb_session_list(engine, user1, bot, &sessions) == SB_OK);
    CHECK(sb_sessions_count(sessions, &n) == SB_OK && n == 1);
    CHECK(sb_sessions_at(sessions, 0, &si) == SB_OK);
    CHECK(si.status == SB_SESSION_ESCALATED && si.message_count == 4);
    sb_sessions_free(sessions);
    CHECK(sb_session_list(engine, user2, bot, &sessions) == SB_OK);
    CHECK(sb_sessions_count(sessions, &n) == SB_OK && n == 0);
    sb_sessions_free(sessions);
    CHECK(sb_session_list(engine, admin, bot, &sessions) == SB_OK); /* the owner sees all */
    CHECK(sb_sessions_count(sessions, &n) == SB_OK && n == 1);
    sb_sessions_free(sessions);
    CHECK(sb_session_list(engine, admin2, bot, &sessions) == SB_EFORBIDDEN);

    CHECK(sb_session_history(engine, admin, session, &messages) == SB_OK);
    sb_messages_free(messages);
    CHECK(sb_session_history(engine, user1, session, &messages) == SB_OK);
    CHECK(sb_messages_count(messages, &n) == SB_OK && n == 4);
    CHECK(sb_messages_at(messages, 0, &mi) == SB_OK && mi.role == SB_ROLE_USER &&
          strcmp(mi.text, q1) == 0);
    CHECK(sb_messages_at(messages, 1, &mi) == SB_OK && mi.role == SB_ROLE_ASSISTANT &&
          mi.faq_count == 1);
    CHECK(sb_messages_faq_id(messages, 1, 0, &text) == SB_OK &&
          strcmp(text, "password-reset") == 0);
    CHECK(sb_messages_at(messages, 3, &mi) == SB_OK && mi.escalated == 1);
    sb_messages_free(messages);
    messages = NULL;
    CHECK(sb_session_history(engine, user2, session, &messages) == SB_EFORBIDDEN &&
          messages == NULL);
    CHECK(sb_session_history(engine, admin2, session, &messages) == SB_EFORBIDDEN);
    CHECK(sb_session_history(engine, user1, "no-such-session", &messages) == SB_ENOTFOUND);
    test_pages(engine, bot, user1, user2, admin, admin2, session, q1);
    CHECK(sb_session_close(engine, user2, session) == SB_EFORBIDDEN);
    CHECK(sb_session_close(engine, user1, session) == SB_OK);

    /* Deleting: a user may not delete another; the owner admin may delete its bot's user, whose
     * principal then stops working. */
    CHECK(sb_principal_get(user2, &pi) == SB_OK);
    account = strdup(pi.account_id);
    CHECK(sb_account_delete(engine, user1, account) == SB_EFORBIDDEN);
    CHECK(sb_account_delete(engine, admin2, account) == SB_EFORBIDDEN);
    CHECK(sb_account_delete(engine, admin, account) == SB_OK);
    CHECK(sb_account_delete(engine, admin, account) == SB_ENOTFOUND);
    CHECK(sb_session_list(engine, user2, bot, &sessions) == SB_EUNAUTHENTICATED);
    CHECK(sb_token_issue(engine, account, &token) == SB_ENOTFOUND);
    /* Small talk: the bot's own through the C ABI (its owner only), readable by its users. */
    {
        const char* own =
            "[{\"id\": \"greeting\", \"question\": \"ahoy\", "
            "\"answer\": \"Ahoy there! Ask me about your order.\"}]";
        const char* hello = "ahoy";
        char* json = NULL;
        CHECK(sb_bot_set_smalltalk(engine, admin2, bot, own, strlen(own), SB_FORMAT_JSON, NULL) ==
              SB_EFORBIDDEN);
        CHECK(sb_bot_set_smalltalk(engine, user1, bot, own, strlen(own), SB_FORMAT_JSON, NULL) ==
              SB_EFORBIDDEN);
        CHECK(sb_bot_set_smalltalk(engine, admin, bot, "[{\"id\": 1}]", 11, SB_FORMAT_JSON, NULL) ==
              SB_EINVALID_DATA);
        CHECK(sb_bot_set_smalltalk(engine, admin, bot, own, strlen(own), SB_FORMAT_JSON, NULL) ==
              SB_OK);
        CHECK(sb_bot_smalltalk(engine, user1, bot, &json) == SB_OK && json != NULL &&
              strstr(json, "Ahoy there!") != NULL && strstr(json, "\"thanks\"") != NULL);
        sb_string_free(json);
        json = NULL;
        CHECK(sb_bot_smalltalk(engine, admin2, bot, &json) == SB_EFORBIDDEN && json == NULL);
        req.version = SB_CHAT_REQUEST_VERSION;
        req.on_text = NULL;
        req.session_id = NULL;
        req.principal = admin; /* the owner trying its bot */
        req.message = hello;
        req.message_len = strlen(hello);
        CHECK(sb_chat_send(engine, &req, &reply) == SB_OK);
        CHECK(sb_reply_get(reply, &info) == SB_OK);
        CHECK(strcmp(info.responder, "smalltalk") == 0 && info.escalated == 0 &&
              info.answered == 0 && strcmp(info.text, "Ahoy there! Ask me about your order.") == 0);
        sb_reply_free(reply);
        reply = NULL;
        /* Removed again: the built-in greeting reply is back. */
        CHECK(sb_bot_set_smalltalk(engine, admin, bot, "[]", 2, SB_FORMAT_JSON, NULL) == SB_OK);
        req.message = "hello";
        req.message_len = 5;
        CHECK(sb_chat_send(engine, &req, &reply) == SB_OK);
        CHECK(sb_reply_get(reply, &info) == SB_OK);
        CHECK(strcmp(info.responder, "smalltalk") == 0 && strstr(info.text, "Ahoy") == NULL);
        sb_reply_free(reply);
        reply = NULL;
        req.session_id = session;
        req.principal = user1;
    }

    free(account);

    sb_principal_free(admin);
    sb_principal_free(admin2);
    sb_principal_free(user1);
    sb_principal_free(user2);
    sb_string_free(bot);
    sb_engine_close(engine);
    {
        char path[300];
        snprintf(path, sizeof path, "%s/capi.db", dir);
        remove(path);
        snprintf(path, sizeof path, "%s/capi.db-wal", dir);
        remove(path);
        snprintf(path, sizeof path, "%s/capi.db-shm", dir);
        remove(path);
        rmdir(dir);
    }
}

/* Session summaries and analytics: JSON out, argument checks. */
static void test_insights(void) {
    char dir[] = "/tmp/sb-capi-insights-XXXXXX";
    char url[256];
    char* bot = NULL;
    char* json = NULL;
    char session[64];
    sb_engine* engine = NULL;
    sb_engine_options opts = SB_ENGINE_OPTIONS_INIT;
    sb_chat_request req = SB_CHAT_REQUEST_INIT;
    sb_reply* reply = NULL;
    sb_reply_info info;
    size_t processed = 99, skipped = 99;
    const char* q = "how do I reset my password?";
    sb_principal* admin = NULL;
    sb_principal* other_admin = NULL;
    sb_principal* user1 = NULL;
    sb_principal* user2 = NULL;

    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    snprintf(url, sizeof url, "sqlite://%s/insights.db", dir);
    opts.database_url = url;
    opts.secret_key = "insights-test-secret-0123456789abcdef";
    CHECK(sb_engine_open(&engine, &opts) == SB_OK);
    admin = login_as(engine, NULL, "owner@example.com", "owner-Password-1", 0);
    other_admin = login_as(engine, NULL, "other@example.com", "other-Password-1", 0);
    CHECK(sb_bot_create_from_file(engine, admin, "Shop", SB_SOURCE_DIR "/faqs.json", SB_FORMAT_AUTO,
                                  NULL, &bot) == SB_OK);
    if (!bot) {
        sb_engine_close(engine);
        return;
    }
    user1 = login_as(engine, bot, "one@example.com", "user1-Password", 0);
    user2 = login_as(engine, bot, "two@example.com", "user2-Password", 0);
    req.bot_id = bot;
    req.principal = user1;
    req.message = q;
    req.message_len = strlen(q);
    CHECK(sb_chat_send(engine, &req, &reply) == SB_OK);
    CHECK(sb_reply_get(reply, &info) == SB_OK);
    snprintf(session, sizeof session, "%s", info.session_id);
    sb_reply_free(reply);

    /* Analytics as JSON. */
    CHECK(sb_bot_analytics(engine, admin, bot, 0, INT64_MAX, &json) == SB_OK);
    CHECK(json != NULL && strstr(json, "\"sessions\":1,") != NULL);
    CHECK(json != NULL && strstr(json, "\"narrative\":null") != NULL);
    sb_string_free(json);
    json = NULL;
    CHECK(sb_bot_analytics(engine, admin, bot, 0, 0, &json) == SB_OK);
    CHECK(json != NULL && strstr(json, "\"sessions\":0,") != NULL);
    sb_string_free(json);
    json = (char*)1;
    CHECK(sb_bot_analytics(engine, admin, bot, 10, 5, &json) == SB_EINVAL && json == NULL);
    CHECK(strstr(sb_last_error(), "after") != NULL);
    CHECK(sb_bot_analytics(engine, admin, "no-such-bot", 0, 5, &json) == SB_ENOTFOUND &&
          json == NULL);
    CHECK(sb_bot_analytics(engine, admin, NULL, 0, 5, &json) == SB_EINVAL);
    CHECK(sb_bot_analytics(engine, admin, bot, 0, 5, NULL) == SB_EINVAL);
    CHECK(sb_bot_analytics(NULL, admin, bot, 0, 5, &json) == SB_EINVAL);

    /* A user's own session; not another user's. */
    CHECK(sb_session_summarize(engine, user1, session, &json) == SB_OK);
    CHECK(json != NULL && strstr(json, "\"source\":\"offline\"") != NULL);
    CHECK(json != NULL && strstr(json, "\"resolved\":true") != NULL);
    sb_string_free(json);
    json = (char*)1;
    CHECK(sb_session_summarize(engine, user2, session, &json) == SB_EFORBIDDEN && json == NULL);
    CHECK(sb_session_summarize(engine, user1, "no-such-session", &json) == SB_ENOTFOUND);
    CHECK(sb_session_summarize(engine, NULL, session, &json) == SB_EUNAUTHENTICATED);
    CHECK(sb_session_summarize(engine, other_admin, session, &json) == SB_EFORBIDDEN);
    /* The bot's owner may summarise any session of its bot. */
    CHECK(sb_session_summarize(engine, admin, session, &json) == SB_OK);
    sb_string_free(json);
    json = NULL;
    /* Admin operations: not for users, other admins, or nobody. */
    CHECK(sb_bot_analytics(engine, user1, bot, 0, 5, &json) == SB_EFORBIDDEN && json == NULL);
    CHECK(sb_bot_analytics(engine, other_admin, bot, 0, 5, &json) == SB_EFORBIDDEN);
    CHECK(sb_bot_analytics(engine, NULL, bot, 0, 5, &json) == SB_EUNAUTHENTICATED);
    CHECK(sb_bot_summaries(engine, user1, bot, 0, 5, &json) == SB_EFORBIDDEN);
    CHECK(sb_bot_summarize_sessions(engine, other_admin, bot, NULL, NULL) == SB_EFORBIDDEN);
    CHECK(sb_session_summarize(engine, user1, NULL, &json) == SB_EINVAL);
    CHECK(sb_session_summarize(engine, user1, session, NULL) == SB_EINVAL);

    /* The admin's run: the one session is summarised already. */
    CHECK(sb_bot_summarize_sessions(engine, admin, bot, &processed, &skipped) == SB_OK);
    CHECK(processed == 0 && skipped == 1);
    CHECK(sb_bot_summarize_sessions(engine, admin, bot, NULL, NULL) == SB_OK);
    CHECK(sb_bot_summarize_sessions(engine, admin, "no-such-bot", &processed, &skipped) ==
              SB_ENOTFOUND &&
          processed == 0 && skipped == 0);

    CHECK(sb_bot_summaries(engine, admin, bot, 0, INT64_MAX, &json) == SB_OK);
    CHECK(json != NULL && json[0] == '[' && strstr(json, session) != NULL);
    sb_string_free(json);
    CHECK(sb_bot_summaries(engine, admin, bot, 0, 1, &json) == SB_OK);
    CHECK(json != NULL && strcmp(json, "[]") == 0);
    sb_string_free(json);
    json = (char*)1;
    CHECK(sb_bot_summaries(engine, admin, bot, 2, 1, &json) == SB_EINVAL && json == NULL);
    CHECK(sb_bot_summaries(engine, admin, bot, 0, 1, NULL) == SB_EINVAL);

    sb_principal_free(admin);
    sb_principal_free(other_admin);
    sb_principal_free(user1);
    sb_principal_free(user2);
    sb_string_free(bot);
    sb_engine_close(engine);
    {
        char path[300];
        snprintf(path, sizeof path, "%s/insights.db", dir);
        remove(path);
        snprintf(path, sizeof path, "%s/insights.db-wal", dir);
        remove(path);
        snprintf(path, sizeof path, "%s/insights.db-shm", dir);
        remove(path);
        rmdir(dir);
    }
}

/* The hand-over: agents of a bot, the queue, claims, agent replies, hand-backs, the hooks, and
 * authorisation (an agent of bot A cannot see bot B's queue, nor change FAQs or see analytics). */
struct hook_log {
    int escalations;
    int messages;
    int agent_messages;
    char reason[64];
    char last[256];
};
static int on_escalation(void* user_data, const sb_escalation_event* ev) {
    struct hook_log* log = (struct hook_log*)user_data;
    log->escalations++;
    snprintf(log->reason, sizeof log->reason, "%s", ev->reason);
    snprintf(log->last, sizeof log->last, "%s", ev->message);
    return log->escalations == 1 ? 0 : -1; /* the second one fails: ignored */
}
static int on_session_message(void* user_data, const sb_session_message_event* ev) {
    struct hook_log* log = (struct hook_log*)user_data;
    log->messages++;
    if (ev->role == SB_ROLE_AGENT) log->agent_messages++;
    return 7; /* always "fails": ignored */
}

static sb_reply* say(sb_engine* engine, const char* bot, sb_principal* p, const char* session,
                     const char* text, sb_reply_info* info) {
    sb_chat_request req = SB_CHAT_REQUEST_INIT;
    sb_reply* reply = NULL;
    req.bot_id = bot;
    req.principal = p;
    req.session_id = session;
    req.message = text;
    req.message_len = strlen(text);
    CHECK(sb_chat_send(engine, &req, &reply) == SB_OK && reply != NULL);
    if (reply) CHECK(sb_reply_get(reply, info) == SB_OK);
    return reply;
}

static void test_handover(void) {
    char dir[] = "/tmp/sb-capi-handover-XXXXXX";
    char url[256];
    char* bot_a = NULL;
    char* bot_b = NULL;
    char* id = NULL;
    char* token = NULL;
    char* json = NULL;
    sb_engine* engine = NULL;
    sb_engine_options opts = SB_ENGINE_OPTIONS_INIT;
    struct hook_log log;
    sb_principal *owner_a = NULL, *owner_b = NULL, *agent_a = NULL, *agent_b = NULL, *user = NULL;
    sb_principal_info pi;
    sb_escalations* queue = NULL;
    sb_escalation_info ei;
    sb_messages* messages = NULL;
    sb_message_info mi;
    sb_sessions* sessions = NULL;
    sb_session_info si;
    sb_reply* reply = NULL;
    sb_reply_info info;
    sb_list_options page = SB_LIST_OPTIONS_INIT;
    const char* text = NULL;
    const char* cursor = NULL;
    char agent_a_id[64] = "";
    size_t n = 0, i = 0;
    union {
        sb_engine_options o;
        unsigned char bytes[sizeof(sb_engine_options)];
    } v3;

    /* A caller built against version 3 gets only the fields it has. */
    memset(&v3, 0x5a, sizeof v3);
    CHECK(sb_engine_options_init(&v3.o, 3) == SB_OK && v3.o.version == 3);
    CHECK(v3.bytes[offsetof(sb_engine_options, on_escalation)] == 0x5a);
    CHECK(v3.bytes[sizeof v3 - 1] == 0x5a);

    memset(&log, 0, sizeof log);
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    snprintf(url, sizeof url, "sqlite://%s/handover.db", dir);
    opts.database_url = url;
    opts.secret_key = "handover-test-secret-0123456789abcdef";
    opts.on_escalation = on_escalation;
    opts.escalation_user_data = &log;
    opts.on_session_message = on_session_message;
    opts.session_message_user_data = &log;
    CHECK(sb_engine_open(&engine, &opts) == SB_OK);
    owner_a = login_as(engine, NULL, "owner-a@example.com", "owner-Password-1", 0);
    owner_b = login_as(engine, NULL, "owner-b@example.com", "owner-Password-1", 0);
    CHECK(sb_bot_create_from_file(engine, owner_a, "A", SB_SOURCE_DIR "/faqs.json", SB_FORMAT_AUTO,
                                  NULL, &bot_a) == SB_OK);
    CHECK(sb_bot_create_from_file(engine, owner_b, "B", SB_SOURCE_DIR "/faqs.json", SB_FORMAT_AUTO,
                                  NULL, &bot_b) == SB_OK);
    if (!bot_a || !bot_b) {
        sb_engine_close(engine);
        return;
    }
    user = login_as(engine, bot_a, "user@example.com", "user1-Password", 0);

    /* Agents: only the owner adds, lists and removes them. */
    CHECK(sb_agent_add(engine, owner_b, bot_a, "sam@example.com", "agent-Password-1", &id) ==
              SB_EFORBIDDEN &&
          id == NULL);
    CHECK(sb_agent_add(engine, user, bot_a, "sam@example.com", "agent-Password-1", &id) ==
          SB_EFORBIDDEN);
    CHECK(sb_agent_add(engine, owner_a, bot_a, "sam@example.com", "agent-Password-1", &id) ==
          SB_OK);
    if (id) snprintf(agent_a_id, sizeof agent_a_id, "%s", id);
    sb_string_free(id);
    id = NULL;
    CHECK(sb_agent_add(engine, owner_a, bot_a, "SAM@example.com", "agent-Password-1", NULL) ==
          SB_ECONFLICT);
    CHECK(sb_agent_add(engine, owner_b, bot_b, "bea@example.com", "agent-Password-1", NULL) ==
          SB_OK);
    CHECK(sb_agent_login(engine, bot_a, "sam@example.com", "agent-Password-1", &token) == SB_OK);
    CHECK(sb_principal_from_token(engine, token, &agent_a) == SB_OK);
    sb_string_free(token);
    token = NULL;
    CHECK(sb_agent_login(engine, bot_b, "sam@example.com", "agent-Password-1", &token) ==
          SB_EUNAUTHENTICATED);
    CHECK(sb_agent_login(engine, bot_b, "bea@example.com", "agent-Password-1", &token) == SB_OK);
    CHECK(sb_principal_from_token(engine, token, &agent_b) == SB_OK);
    sb_string_free(token);
    CHECK(sb_principal_get(agent_a, &pi) == SB_OK && pi.role == SB_ACCOUNT_AGENT &&
          strcmp(pi.bot_id, bot_a) == 0);
    CHECK(sb_agent_list(engine, owner_a, bot_a, &json) == SB_OK && json &&
          strstr(json, "sam@example.com") && !strstr(json, "bea@example.com"));
    sb_string_free(json);
    json = NULL;
    CHECK(sb_agent_list(engine, agent_a, bot_a, &json) == SB_EFORBIDDEN && json == NULL);

    /* An agent does nothing but answer sessions: no FAQ changes, no analytics, no chat. */
    CHECK(sb_bot_replace_faqs(engine, agent_a, bot_a, kFaqs, strlen(kFaqs), SB_FORMAT_JSON, NULL) ==
          SB_EFORBIDDEN);
    CHECK(sb_bot_analytics(engine, agent_a, bot_a, 0, INT64_MAX, &json) == SB_EFORBIDDEN);
    CHECK(sb_bot_summarize_sessions(engine, agent_a, bot_a, NULL, NULL) == SB_EFORBIDDEN);
    {
        sb_chat_request req = SB_CHAT_REQUEST_INIT;
        req.bot_id = bot_a;
        req.principal = agent_a;
        req.message = "hello";
        req.message_len = 5;
        CHECK(sb_chat_send(engine, &req, &reply) == SB_EFORBIDDEN && reply == NULL);
    }

    /* Escalation: the hook hears it; the session joins the queue. */
    reply = say(engine, bot_a, user, "ho-1", "How long does shipping take?", &info);
    CHECK(info.answered == 1);
    sb_reply_free(reply);
    reply = say(engine, bot_a, user, "ho-1", "can I talk to a human", &info);
    CHECK(info.escalated == 1);
    sb_reply_free(reply);
    CHECK(log.escalations == 1 && strcmp(log.reason, "user_requested") == 0 &&
          strcmp(log.last, "can I talk to a human") == 0);
    reply = say(engine, bot_a, user, "ho-2", "I want a real person", &info);
    CHECK(info.escalated == 1); /* the hook fails this time: the turn stands */
    sb_reply_free(reply);
    CHECK(log.escalations == 2);

    CHECK(sb_escalation_queue(engine, agent_b, bot_a, NULL, &queue) == SB_EFORBIDDEN &&
          queue == NULL);
    CHECK(sb_escalation_queue(engine, user, bot_a, NULL, &queue) == SB_EFORBIDDEN);
    CHECK(sb_escalation_queue(engine, owner_b, bot_a, NULL, &queue) == SB_EFORBIDDEN);
    CHECK(sb_escalation_queue(engine, agent_b, bot_b, NULL, &queue) == SB_OK);
    CHECK(sb_escalations_count(queue, &n) == SB_OK && n == 0);
    sb_escalations_free(queue);
    page.limit = 1;
    CHECK(sb_escalation_queue(engine, agent_a, bot_a, &page, &queue) == SB_OK);
    CHECK(sb_escalations_count(queue, &n) == SB_OK && n == 1);
    CHECK(sb_escalations_at(queue, 0, &ei) == SB_OK && strcmp(ei.session_id, "ho-1") == 0 &&
          strcmp(ei.reason, "user_requested") == 0 &&
          strcmp(ei.last_message, "can I talk to a human") == 0 && ei.wait_ms >= 0 &&
          ei.escalated_ms > 0 && ei.message_count == 4);
    CHECK(sb_escalations_at(queue, 1, &ei) == SB_ERANGE);
    CHECK(sb_escalations_next_cursor(queue, &cursor) == SB_OK && cursor != NULL);
    {
        sb_escalations* next = NULL;
        page.cursor = cursor;
        CHECK(sb_escalation_queue(engine, agent_a, bot_a, &page, &next) == SB_OK);
        CHECK(sb_escalations_count(next, &n) == SB_OK && n == 1);
        CHECK(sb_escalations_at(next, 0, &ei) == SB_OK && strcmp(ei.session_id, "ho-2") == 0);
        sb_escalations_free(next);
        /* A cursor from another bot's queue is refused. */
        CHECK(sb_escalation_queue(engine, agent_b, bot_b, &page, &next) == SB_EINVAL);
        page.cursor = "v1.bm9wZQ";
        CHECK(sb_escalation_queue(engine, agent_a, bot_a, &page, &next) == SB_EINVAL);
    }
    sb_escalations_free(queue);

    /* Waiting: one acknowledgement, then silence. */
    reply = say(engine, bot_a, user, "ho-1", "How long does shipping take?", &info);
    CHECK(strcmp(info.responder, "handover") == 0 && info.answered == 0 && strlen(info.text) > 0);
    sb_reply_free(reply);
    reply = say(engine, bot_a, user, "ho-1", "hello?", &info);
    CHECK(strcmp(info.responder, "handover") == 0 && strcmp(info.text, "") == 0);
    sb_reply_free(reply);
    CHECK(log.messages == 2);

    /* Claims: only agents of this bot; one at a time. */
    CHECK(sb_session_claim(engine, agent_b, "ho-1") == SB_EFORBIDDEN);
    CHECK(sb_session_claim(engine, user, "ho-1") == SB_EFORBIDDEN);
    CHECK(sb_session_claim(engine, agent_a, "no-such-session") == SB_ENOTFOUND);
    CHECK(sb_session_agent_reply(engine, agent_a, "ho-1", "Hi", 2) == SB_ECONFLICT);
    CHECK(sb_session_claim(engine, agent_a, "ho-1") == SB_OK);
    CHECK(sb_session_claim(engine, owner_a, "ho-1") == SB_ECONFLICT);
    CHECK(sb_session_agent_reply(engine, owner_a, "ho-1", "Hi", 2) == SB_ECONFLICT);
    CHECK(sb_session_agent_reply(engine, agent_a, "ho-1", NULL, 2) == SB_EINVAL);
    CHECK(sb_session_agent_reply(engine, agent_a, "ho-1", "", 0) == SB_EINVAL);
    text = "Hi, Sam here. Your parcel left today.";
    CHECK(sb_session_agent_reply(engine, agent_a, "ho-1", text, strlen(text)) == SB_OK);
    CHECK(log.agent_messages == 1);
    reply = say(engine, bot_a, user, "ho-1", "Great, thanks!", &info);
    CHECK(strcmp(info.responder, "handover") == 0 && strcmp(info.text, "") == 0);
    sb_reply_free(reply);

    /* The session's status and history, for the user and the agent alike. */
    CHECK(sb_session_list(engine, agent_a, bot_a, &sessions) == SB_OK);
    CHECK(sb_sessions_count(sessions, &n) == SB_OK && n == 2);
    for (i = 0; i < n; ++i) {
        CHECK(sb_sessions_at(sessions, i, &si) == SB_OK);
        if (strcmp(si.id, "ho-1") == 0) CHECK(si.status == SB_SESSION_AGENT);
        if (strcmp(si.id, "ho-2") == 0) CHECK(si.status == SB_SESSION_ESCALATED);
    }
    sb_sessions_free(sessions);
    CHECK(sb_session_history(engine, agent_b, "ho-1", &messages) == SB_EFORBIDDEN);
    CHECK(sb_session_history(engine, user, "ho-1", &messages) == SB_OK);
    CHECK(sb_messages_count(messages, &n) == SB_OK && n == 9);
    CHECK(sb_messages_at(messages, 7, &mi) == SB_OK && mi.role == SB_ROLE_AGENT &&
          strcmp(mi.text, text) == 0);
    CHECK(sb_messages_agent_id(messages, 7, &text) == SB_OK && strcmp(text, agent_a_id) == 0);
    CHECK(sb_messages_agent_id(messages, 6, &text) == SB_OK && strcmp(text, "") == 0);
    CHECK(sb_messages_at(messages, 8, &mi) == SB_OK && mi.role == SB_ROLE_USER);
    CHECK(sb_messages_agent_id(messages, 9, &text) == SB_ERANGE);
    sb_messages_free(messages);

    /* Hand back: the bot answers again. Close the other as an agent. */
    CHECK(sb_session_release(engine, agent_b, "ho-1") == SB_EFORBIDDEN);
    CHECK(sb_session_release(engine, agent_a, "ho-1") == SB_OK);
    CHECK(sb_session_release(engine, agent_a, "ho-1") == SB_ECONFLICT);
    reply = say(engine, bot_a, user, "ho-1", "How long does shipping take?", &info);
    CHECK(info.answered == 1 && strcmp(info.responder, "handover") != 0);
    sb_reply_free(reply);
    CHECK(sb_session_close(engine, agent_b, "ho-2") == SB_EFORBIDDEN);
    CHECK(sb_session_close(engine, agent_a, "ho-2") == SB_OK);
    CHECK(sb_escalation_queue(engine, agent_a, bot_a, NULL, &queue) == SB_OK);
    CHECK(sb_escalations_count(queue, &n) == SB_OK && n == 0);
    sb_escalations_free(queue);

    /* Removing an agent ends its access. */
    CHECK(sb_agent_remove(engine, owner_b, bot_a, agent_a_id) == SB_EFORBIDDEN);
    CHECK(sb_agent_remove(engine, owner_a, bot_a, "no-such-account") == SB_ENOTFOUND);
    CHECK(sb_agent_remove(engine, owner_a, bot_a, agent_a_id) == SB_OK);
    CHECK(sb_escalation_queue(engine, agent_a, bot_a, NULL, &queue) == SB_EUNAUTHENTICATED);

    sb_principal_free(owner_a);
    sb_principal_free(owner_b);
    sb_principal_free(agent_a);
    sb_principal_free(agent_b);
    sb_principal_free(user);
    sb_string_free(bot_a);
    sb_string_free(bot_b);
    sb_engine_close(engine);
    {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
}

int main(void) {
    test_versions();
    test_options_versioned();
    test_load_and_search();
    test_bad_files();
    test_project_faqs();
    test_engine_options_v1();
    test_engine_options_v2_and_v3();
    test_chat();
    test_insights();
    test_handover();
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
