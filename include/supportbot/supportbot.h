/*
 * supportbot: an embeddable AI customer-support bot library.
 *
 * This header is the library's stable C ABI. Conventions (after sqlite3.h and libgit2):
 *  - Objects are opaque handles; names are sb_<noun>_<verb>.
 *  - Every call that can fail returns an int status (SB_OK == 0, negative on error); results come
 *    back through out-parameters. On error, sb_last_error() returns a message for the calling
 *    thread that stays valid until that thread's next call into the library.
 *  - What the library allocates, a matching *_free releases. Free functions accept NULL.
 *  - Options structs start with a `version` field; initialise them with the matching *_INIT
 *    macro or *_options_init() so that fields can be added without breaking callers.
 *  - No C++ exception ever crosses this interface.
 *  - An sb_engine and an sb_faqset may be shared by many threads at once; an sb_results belongs to
 *    the caller that received it.
 *  - Strings are UTF-8. Lengths are in bytes.
 */
#ifndef SUPPORTBOT_H
#define SUPPORTBOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define SB_API __declspec(dllimport)
#elif defined(__GNUC__)
#define SB_API __attribute__((visibility("default")))
#else
#define SB_API
#endif

/* ---- Versions ------------------------------------------------------------------------------ */

#define SB_VERSION_MAJOR 0
#define SB_VERSION_MINOR 1
#define SB_VERSION_PATCH 0
#define SB_VERSION_STRING "0.1.0"
/* Bumped whenever the ABI changes incompatibly; the SONAME carries it. */
#define SB_ABI_VERSION 1

/* The library's version string, e.g. "0.1.0". Never NULL; static storage. */
SB_API const char* sb_version(void);
/* The ABI version the library was built with; compare with SB_ABI_VERSION. */
SB_API int sb_abi_version(void);

/* ---- Status codes and errors ------------------------------------------------------------- */

typedef enum sb_status {
    SB_OK = 0,
    SB_ERROR = -1,         /* unexpected internal error */
    SB_EINVAL = -2,        /* an argument is invalid (NULL where not allowed, bad option, ...) */
    SB_ENOMEM = -3,        /* out of memory */
    SB_EPARSE = -4,        /* input could not be parsed (JSON, CSV, UTF-8) */
    SB_ELIMIT = -5,        /* input is over a configured limit */
    SB_ENOTFOUND = -6,     /* the thing asked for does not exist */
    SB_EIO = -7,           /* a file could not be read or written */
    SB_EVERSION = -8,      /* an options struct's version is not supported */
    SB_EINVALID_DATA = -9, /* input parsed but is not valid (missing field, duplicate id, ...) */
    SB_ERANGE = -10,       /* an index is out of range */
    SB_EDB = -11,          /* the database failed (unreachable, I/O error, corrupt data, ...) */
    SB_ECONFLICT = -12,    /* the request conflicts with the current state */
    SB_EFORBIDDEN = -13    /* the thing exists but the caller may not use it; nothing is revealed */
} sb_status;

/* The message of the last failed call on this thread, or "" when the last call succeeded.
 * Valid until this thread's next call into the library. Never NULL. */
SB_API const char* sb_last_error(void);
/* The status of the last call on this thread. */
SB_API int sb_last_status(void);
/* A short constant name for a status, e.g. "SB_EPARSE". Never NULL. */
SB_API const char* sb_status_name(int status);

/* ---- Engine ------------------------------------------------------------------------------ */

typedef struct sb_engine sb_engine;

#define SB_ENGINE_OPTIONS_VERSION 1
typedef struct sb_engine_options {
    unsigned int version; /* SB_ENGINE_OPTIONS_VERSION */
    /* Snowball stemmer language for FAQ text, e.g. "english" (NULL or "" = "english"). */
    const char* language;
} sb_engine_options;
#define SB_ENGINE_OPTIONS_INIT \
    { SB_ENGINE_OPTIONS_VERSION, NULL }
SB_API int sb_engine_options_init(sb_engine_options* opts, unsigned int version);

/* Opens an engine. opts may be NULL for defaults. *out is set to NULL on failure. */
SB_API int sb_engine_open(sb_engine** out, const sb_engine_options* opts);
/* Closes an engine. FAQ sets loaded through it stay valid and must still be freed. */
SB_API void sb_engine_close(sb_engine* engine);

/* ---- FAQ sets ---------------------------------------------------------------------------- */

typedef struct sb_faqset sb_faqset;

typedef enum sb_format {
    SB_FORMAT_AUTO = 0, /* detect: by file extension when known, else by content */
    SB_FORMAT_JSON = 1,
    SB_FORMAT_CSV = 2
} sb_format;

#define SB_LOAD_OPTIONS_VERSION 1
typedef struct sb_load_options {
    unsigned int version; /* SB_LOAD_OPTIONS_VERSION */
    /* Limits; 0 means the default. */
    size_t max_bytes;       /* whole input; default 64 MiB */
    size_t max_entries;     /* FAQ entries; default 200000 */
    size_t max_field_bytes; /* one question, answer, alternate, ...; default 64 KiB */
    size_t max_alternates;  /* alternates of one entry; default 1000 */
} sb_load_options;
#define SB_LOAD_OPTIONS_INIT \
    { SB_LOAD_OPTIONS_VERSION, 0, 0, 0, 0 }
SB_API int sb_load_options_init(sb_load_options* opts, unsigned int version);

/* Parses, validates and indexes an FAQ set. A set is accepted whole or rejected whole: on error
 * nothing is loaded, *out is NULL and sb_last_error() names the place (entry index, or CSV line
 * and column) and the reason. opts may be NULL. `data` need not be NUL-terminated. */
SB_API int sb_faqset_load(sb_engine* engine, const char* data, size_t len, sb_format format,
                          const sb_load_options* opts, sb_faqset** out);
/* As sb_faqset_load, reading a file; SB_FORMAT_AUTO looks at the extension (.json, .csv). */
SB_API int sb_faqset_load_file(sb_engine* engine, const char* path, sb_format format,
                               const sb_load_options* opts, sb_faqset** out);
SB_API void sb_faqset_free(sb_faqset* set);

/* Number of entries. */
SB_API int sb_faqset_count(const sb_faqset* set, size_t* out);

/* A borrowed view of one entry; strings live as long as the set. */
typedef struct sb_faq_entry {
    const char* id; /* given, or generated ("faq-<n>", 1-based) when the input had none */
    const char* question;
    const char* answer;
    const char* category; /* "" when none */
    size_t alternate_count;
    size_t tag_count;
} sb_faq_entry;
SB_API int sb_faqset_entry(const sb_faqset* set, size_t index, sb_faq_entry* out);
SB_API int sb_faqset_entry_alternate(const sb_faqset* set, size_t index, size_t alt,
                                     const char** out);
SB_API int sb_faqset_entry_tag(const sb_faqset* set, size_t index, size_t tag, const char** out);
/* Index of the entry with this id. SB_ENOTFOUND when there is none. */
SB_API int sb_faqset_find(const sb_faqset* set, const char* id, size_t* out_index);

/* The answer threshold in effect by default for this set (calibrated when the set was indexed). */
SB_API int sb_faqset_default_threshold(const sb_faqset* set, double* out);

/* ---- Search ------------------------------------------------------------------------------ */

typedef struct sb_results sb_results;

#define SB_SEARCH_OPTIONS_VERSION 1
typedef struct sb_search_options {
    unsigned int version; /* SB_SEARCH_OPTIONS_VERSION */
    size_t k;             /* results wanted; 0 = 5 */
    /* Confidence needed to answer, in [0, 1]; a negative value means the set's calibrated
     * default (sb_faqset_default_threshold). */
    double threshold;
} sb_search_options;
#define SB_SEARCH_OPTIONS_INIT \
    { SB_SEARCH_OPTIONS_VERSION, 0, -1.0 }
SB_API int sb_search_options_init(sb_search_options* opts, unsigned int version);

/* Ranks the set's entries for a query. opts may be NULL. The query must be valid UTF-8. An empty
 * query (nothing searchable in it) succeeds with no results and is not answered. */
SB_API int sb_faqset_search(const sb_faqset* set, const char* query, size_t len,
                            const sb_search_options* opts, sb_results** out);

typedef struct sb_result {
    size_t index;      /* entry index in the set */
    const char* id;    /* the entry's id; lives as long as the set */
    double score;      /* the raw ranking score (higher is better; not comparable across sets) */
    double confidence; /* in [0, 1]: how likely this entry answers the query */
} sb_result;

SB_API int sb_results_count(const sb_results* results, size_t* out);
SB_API int sb_results_get(const sb_results* results, size_t i, sb_result* out);
/* 1 when the best result's confidence clears the threshold (answer), 0 when the query is out of
 * scope (escalate). */
SB_API int sb_results_answered(const sb_results* results, int* out);
SB_API void sb_results_free(sb_results* results);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SUPPORTBOT_H */
