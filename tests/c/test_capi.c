/* The C ABI exercised from plain C: versions, options, loading, search, errors, ownership. */
#define _GNU_SOURCE
#include <math.h>
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
    CHECK(sb_engine_open(&engine, &v3) == SB_OK);
    sb_engine_close(engine);
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
    struct collected got = {{0}, 0, 0};
    int fallback = -1;
    int64_t tokens_in = -1, tokens_out = -1;

    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    snprintf(url, sizeof url, "sqlite://%s/capi.db", dir);
    opts.database_url = url;
    CHECK(sb_engine_open(&engine, &opts) == SB_OK);
    CHECK(sb_bot_create_from_file(engine, "admin-1", "Shop", SB_SOURCE_DIR "/faqs.json",
                                  SB_FORMAT_AUTO, NULL, &bot) == SB_OK);
    CHECK(bot != NULL && strlen(bot) == 36);
    if (!bot) {
        sb_engine_close(engine);
        return;
    }
    CHECK(sb_bot_list(engine, "admin-1", &bots) == SB_OK);
    CHECK(sb_bots_count(bots, &n) == SB_OK && n == 1);
    CHECK(sb_bots_at(bots, 0, &bi) == SB_OK && strcmp(bi.id, bot) == 0 && bi.faq_count >= 40);
    CHECK(sb_bots_at(bots, 1, &bi) == SB_ERANGE);
    sb_bots_free(bots);
    CHECK(sb_bot_get(engine, "nope", &bots) == SB_ENOTFOUND && bots == NULL);

    req.bot_id = bot;
    req.user_id = "user-1";
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

    /* Another user cannot use the session; a missing message is refused. */
    req.user_id = "user-2";
    CHECK(sb_chat_send(engine, &req, &reply) == SB_EFORBIDDEN && reply == NULL);
    req.user_id = "user-1";
    req.message = NULL;
    req.message_len = 5;
    CHECK(sb_chat_send(engine, &req, &reply) == SB_EINVAL);
    req.version = 7;
    CHECK(sb_chat_send(engine, &req, &reply) == SB_EVERSION);

    CHECK(sb_session_list(engine, bot, "user-1", &sessions) == SB_OK);
    CHECK(sb_sessions_count(sessions, &n) == SB_OK && n == 1);
    CHECK(sb_sessions_at(sessions, 0, &si) == SB_OK);
    CHECK(si.status == SB_SESSION_ESCALATED && si.message_count == 4);
    sb_sessions_free(sessions);

    CHECK(sb_session_history(engine, bot, "user-1", session, &messages) == SB_OK);
    CHECK(sb_messages_count(messages, &n) == SB_OK && n == 4);
    CHECK(sb_messages_at(messages, 0, &mi) == SB_OK && mi.role == SB_ROLE_USER &&
          strcmp(mi.text, q1) == 0);
    CHECK(sb_messages_at(messages, 1, &mi) == SB_OK && mi.role == SB_ROLE_ASSISTANT &&
          mi.faq_count == 1);
    CHECK(sb_messages_faq_id(messages, 1, 0, &text) == SB_OK &&
          strcmp(text, "password-reset") == 0);
    CHECK(sb_messages_at(messages, 3, &mi) == SB_OK && mi.escalated == 1);
    sb_messages_free(messages);
    CHECK(sb_session_history(engine, bot, "user-2", session, &messages) == SB_ENOTFOUND);

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

int main(void) {
    test_versions();
    test_options_versioned();
    test_load_and_search();
    test_bad_files();
    test_project_faqs();
    test_engine_options_v1();
    test_engine_options_v2_and_v3();
    test_chat();
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
