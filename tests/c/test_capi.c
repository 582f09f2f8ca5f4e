/* The C ABI exercised from plain C: versions, options, loading, search, errors, ownership. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <supportbot/supportbot.h>

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

int main(void) {
    test_versions();
    test_options_versioned();
    test_load_and_search();
    test_bad_files();
    test_project_faqs();
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
