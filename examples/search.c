/* A minimal host program in C: load an FAQ file, ask one question, print the ranked answers. */
#include <stdio.h>
#include <string.h>
#include <supportbot/supportbot.h>

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "faqs.json";
    const char* question = argc > 2 ? argv[2] : "how do I get a refund?";
    sb_engine* engine = NULL;
    sb_faqset* set = NULL;
    sb_results* results = NULL;
    sb_search_options opts = SB_SEARCH_OPTIONS_INIT;
    size_t n = 0;
    int answered = 0;
    int rc = 1;

    if (sb_engine_open(&engine, NULL) != SB_OK) goto done;
    if (sb_faqset_load_file(engine, path, SB_FORMAT_AUTO, NULL, &set) != SB_OK) goto done;
    opts.k = 3;
    if (sb_faqset_search(set, question, strlen(question), &opts, &results) != SB_OK) goto done;
    if (sb_results_count(results, &n) != SB_OK) goto done;
    if (sb_results_answered(results, &answered) != SB_OK) goto done;
    printf("%s\n", answered ? "answered" : "escalated");
    for (size_t i = 0; i < n; ++i) {
        sb_result r;
        sb_faq_entry e;
        if (sb_results_get(results, i, &r) != SB_OK) goto done;
        if (sb_faqset_entry(set, r.index, &e) != SB_OK) goto done;
        printf("%zu. %.3f %s\n", i + 1, r.confidence, e.question);
    }
    rc = 0;
done:
    if (rc != 0) fprintf(stderr, "error: %s\n", sb_last_error());
    sb_results_free(results);
    sb_faqset_free(set);
    sb_engine_close(engine);
    return rc;
}
