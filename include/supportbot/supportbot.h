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
#define SB_VERSION_MINOR 2
#define SB_VERSION_PATCH 0
#define SB_VERSION_STRING "0.2.0"
/* Bumped whenever the ABI changes incompatibly; the SONAME carries it. */
#define SB_ABI_VERSION 2

/* The library's version string, e.g. "0.2.0". Never NULL; static storage. */
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
    SB_EFORBIDDEN = -13,   /* the thing exists but the caller may not use it; nothing is revealed */
    SB_EPROVIDER = -14,    /* the LLM provider failed (after its retries) */
    SB_EUNAUTHENTICATED = -15 /* no valid token: missing, malformed, tampered, expired, or of a
                                 deleted account */
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

/* What the hand-over hooks of sb_engine_options (version 4) are told. The strings are
 * NUL-terminated UTF-8 and live only during the call. */
typedef struct sb_escalation_event {
    const char* bot_id;
    const char* session_id;
    const char* user_id; /* the account that chats */
    /* "user_requested", "low_confidence", "repeated_unanswered" or "model_requested" */
    const char* reason;
    const char* message; /* the user's message of the turn that escalated */
} sb_escalation_event;
typedef struct sb_session_message_event {
    const char* bot_id;
    const char* session_id;
    const char* user_id;
    int status;           /* sb_session_status of the session: escalated or agent */
    int role;             /* sb_role: SB_ROLE_USER, or SB_ROLE_AGENT */
    const char* agent_id; /* agent messages: the agent's account id; else "" */
    const char* text;
} sb_session_message_event;

#define SB_ENGINE_OPTIONS_VERSION 4
typedef struct sb_engine_options {
    unsigned int version; /* SB_ENGINE_OPTIONS_VERSION */
    /* Snowball stemmer language for FAQ text, e.g. "english" (NULL or "" = "english"). */
    const char* language;
    /* Version 2: */
    /* Where bots and sessions are stored: "sqlite:///path/to/file.db" or "postgresql://...".
     * NULL or "" = "sqlite://supportbot.db" (a file in the working directory). The database is
     * opened at the first call that needs it, so an engine used only for FAQ search opens none. */
    const char* database_url;
    size_t pool_size;     /* PostgreSQL connections; 0 = 4 */
    size_t history_turns; /* recent turns of a session the chat looks at; 0 = 6 */
    /* Confidence needed to answer from an FAQ, in [0, 1]; negative = each bot's calibrated
     * default (see sb_faqset_default_threshold). */
    double answer_threshold;
    /* Confidence below which a turn is escalated to a human at once; negative = a quarter of
     * the answer threshold. */
    double escalation_threshold;
    /* Consecutive turns the bot could not answer before it escalates; 0 = 2. */
    unsigned int max_unanswered;
    /* Version 3: */
    /* The responder: "offline" (NULL or "": the built-in one, answering from the FAQs alone),
     * "gemini" (Google's generateContent REST API) or "openai" (any OpenAI-compatible
     * /v1/chat/completions server: Ollama, llama.cpp's server, vLLM). When an LLM fails after its
     * retries, the turn falls back to the offline responder and the message is marked so. */
    const char* llm_provider;
    const char* llm_base_url;    /* NULL or "" = the provider's default */
    const char* llm_model;       /* NULL or "" = the provider's default */
    const char* llm_api_key;     /* NULL or "" = none (Gemini needs one) */
    long llm_connect_timeout_ms; /* 0 = 5000 */
    /* Per attempt, the whole request; a streamed reply may run up to 10 x this as long as it is
     * never silent for this long (rounded up to seconds). 0 = 60000 */
    long llm_timeout_ms;
    unsigned int llm_max_attempts; /* attempts per call, retries included; 0 = 3 */
    /* Retries wait a random time up to min(max, initial * 2^retry) (exponential backoff with full
     * jitter), or what a 429/503's Retry-After asks; a Retry-After over max fails the call at once
     * (the turn falls back). 0 = 250 and 8000. */
    long llm_backoff_initial_ms;
    long llm_backoff_max_ms;
    /* No retry starts later than this from the call's start (a wait that would end past it
     * fails the call at once); 0 = 2 x llm_timeout_ms. */
    long llm_deadline_ms;
    /* The HS256 key that signs access tokens: at least 32 bytes. NULL or "" = no accounts: the
     * calls that need one (accounts, and bots and chat, which act for an account) fail with
     * SB_EINVAL. */
    const char* secret_key;
    unsigned int access_token_minutes; /* lifetime of an access token; 0 = 30 */
    unsigned int login_max_failures;   /* failed logins of one account per window; 0 = 5 */
    unsigned int login_window_seconds; /* 0 = 900 */
    /* Version 4: */
    /* The hand-over's hooks (NULL = none), each with its user_data. on_escalation is called when
     * a chat turn escalated a session (the host may open a ticket); on_session_message for every
     * message stored in a session that is escalated or with an agent: the user's (the bot does not
     * answer them) and the agents' (sb_session_agent_reply). Both run on the thread that made the
     * change, after it is committed, and cannot undo or fail it: a non-zero return (or, from C++,
     * an exception through the wrapper) is logged to stderr and ignored. A hook may call the
     * library, but not block on another thread that is waiting for this call. */
    int (*on_escalation)(void* user_data, const sb_escalation_event* event);
    void* escalation_user_data;
    int (*on_session_message)(void* user_data, const sb_session_message_event* event);
    void* session_message_user_data;
} sb_engine_options;
#define SB_ENGINE_OPTIONS_INIT                                                                    \
    {                                                                                             \
        SB_ENGINE_OPTIONS_VERSION, NULL, NULL, 0, 0, -1.0, -1.0, 0, NULL, NULL, NULL, NULL, 0, 0, \
            0, 0, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL                                     \
    }
SB_API int sb_engine_options_init(sb_engine_options* opts, unsigned int version);

/* Opens an engine. opts may be NULL for defaults. *out is set to NULL on failure. */
SB_API int sb_engine_open(sb_engine** out, const sb_engine_options* opts);
/* Closes an engine. FAQ sets loaded through it stay valid and must still be freed. */
SB_API void sb_engine_close(sb_engine* engine);

/* Whether the engine's database answers (opening it when no call has yet): SB_OK, or SB_EDB with
 * the reason (also when it cannot be opened: a bad URL, a schema from a newer version). For
 * health checks; cheap enough to call on every probe: one trivial query on a pooled connection.
 * On PostgreSQL a connection whose server went away is replaced and the query asked again, so
 * SB_OK means the server answers now. */
SB_API int sb_engine_ping(sb_engine* engine);

/* Frees a string the library returned (e.g. a new bot's id). NULL is a no-op. */
SB_API void sb_string_free(char* s);

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

/* The answer threshold in effect by default for this set: one half on the calibrated confidence
 * scale (answer when a right answer is likelier than the question being one no FAQ covers). */
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
    size_t index;   /* entry index in the set */
    const char* id; /* the entry's id; lives as long as the set */
    double score;   /* the raw ranking score (higher is better; not comparable across sets) */
    /* in [0, 1]: how likely this entry answers the query, against the query being one that no
     * FAQ covers (calibrated when the set was indexed) */
    double confidence;
} sb_result;

SB_API int sb_results_count(const sb_results* results, size_t* out);
SB_API int sb_results_get(const sb_results* results, size_t i, sb_result* out);
/* 1 when the best result's confidence clears the threshold (answer), 0 when the query is out of
 * scope (escalate). */
SB_API int sb_results_answered(const sb_results* results, int* out);
SB_API void sb_results_free(sb_results* results);

/* ---- Accounts and access tokens -----------------------------------------------------------
 * Admin accounts own bots; user accounts belong to one bot and chat with it. The login name is
 * the e-mail address, normalised (surrounding spaces trimmed, Unicode case-folded: "Ann@X.COM" and
 * "ann@x.com" are one account). Passwords: at least 8 characters, not all of one kind (lowercase,
 * uppercase, digits, others); stored only as scrypt hashes, never logged or returned.
 *
 * Logging in returns an access token (a JWT signed with HS256 by the engine's secret_key, valid
 * for access_token_minutes). Every call that acts for someone takes an sb_principal made from a
 * token by sb_principal_from_token, and checks at each call that the token has not expired and
 * its account still exists. Statuses of a refused call:
 *   SB_EUNAUTHENTICATED  no principal (NULL), or its token expired, or its account was deleted
 *   SB_ENOTFOUND         the bot, session or account does not exist
 *   SB_EFORBIDDEN        it exists but is not this account's (or needs an admin)
 * Messages never name owners or other users, nor tell whether an e-mail is registered (except to
 * the registration of that same e-mail, which fails with SB_ECONFLICT).
 * These calls need an engine opened with a secret_key (SB_EINVAL otherwise). */

typedef struct sb_principal sb_principal;

/* Agents (SB_ACCOUNT_AGENT) belong to one bot, added by its owner admin (sb_agent_add): they may
 * read and answer that bot's sessions (the escalation queue, claims, replies, hand-backs, closes,
 * history) and nothing else. */
typedef enum sb_account_role {
    SB_ACCOUNT_ADMIN = 1,
    SB_ACCOUNT_USER = 2,
    SB_ACCOUNT_AGENT = 3
} sb_account_role;

/* Registers an admin, or a user of a bot (SB_ENOTFOUND when the bot does not exist).
 * SB_EINVAL for a malformed e-mail or a password the policy refuses, SB_ECONFLICT when the e-mail
 * is registered already (as an admin; or as a user of that bot). *out_account_id receives the
 * new account's id (free with sb_string_free); out_account_id may be NULL. */
SB_API int sb_admin_register(sb_engine* engine, const char* email, const char* password,
                             char** out_account_id);
SB_API int sb_user_register(sb_engine* engine, const char* bot_id, const char* email,
                            const char* password, char** out_account_id);

/* Logs in; *out_token receives an access token (free with sb_string_free). A wrong password and an
 * unknown account fail alike with SB_EUNAUTHENTICATED. After login_max_failures failed attempts
 * for one e-mail (and bot) within login_window_seconds, attempts fail with SB_ELIMIT until the
 * window has passed, even with the right password, whether or not the account exists. */
SB_API int sb_admin_login(sb_engine* engine, const char* email, const char* password,
                          char** out_token);
SB_API int sb_user_login(sb_engine* engine, const char* bot_id, const char* email,
                         const char* password, char** out_token);

/* Mints a token for an account without its password. For the host only, which holds the signing
 * key anyway (a CLI acting for a local account, a host with its own login): never expose it to
 * end users. SB_ENOTFOUND when there is no such account. */
SB_API int sb_token_issue(sb_engine* engine, const char* account_id, char** out_token);

/* The id of the admin (bot_id NULL or "") or the user of a bot registered with this e-mail, for the
 * host only, like sb_token_issue (e.g. a CLI reusing its local account). SB_ENOTFOUND when none. */
SB_API int sb_account_lookup(sb_engine* engine, const char* bot_id, const char* email,
                             char** out_account_id);

/* Verifies a token into a principal. SB_EUNAUTHENTICATED when the token is malformed, tampered
 * with, signed with another key or algorithm, expired, or of a deleted account. A principal may
 * be used from any thread; it stays usable until its token expires. */
SB_API int sb_principal_from_token(sb_engine* engine, const char* token, sb_principal** out);
SB_API void sb_principal_free(sb_principal* principal);

typedef struct sb_principal_info {
    const char* account_id;
    int role;           /* sb_account_role */
    const char* bot_id; /* users and agents: their bot; admins: "" */
    const char* email;  /* normalised */
    int64_t expires_ms; /* when the token expires, Unix milliseconds */
} sb_principal_info;
/* Strings live as long as the principal. */
SB_API int sb_principal_get(const sb_principal* principal, sb_principal_info* out);

/* Deletes an account: an admin deletes itself or a user of one of its bots, a user deletes
 * itself. Tokens of a deleted account stop working (within a second on other engines). Only the
 * account goes: a deleted admin's bots stay in the database with their FAQ sets, sessions and
 * user accounts, and those users can still log in and chat with them; no admin can manage them
 * any more. */
SB_API int sb_account_delete(sb_engine* engine, const sb_principal* principal,
                             const char* account_id);

/* ---- Bots --------------------------------------------------------------------------------
 * A bot belongs to the admin account that created it and answers from its FAQ set. Bots and their
 * FAQ sets are stored in the engine's database, so a restart rebuilds everything. */

typedef struct sb_bot_info {
    const char* id;    /* a UUID */
    const char* owner; /* the owner admin's account id; "" when a user asks */
    const char* name;
    int64_t created_ms; /* Unix time, milliseconds */
    size_t faq_count;
    int faq_revision; /* 1 when created, +1 on every FAQ replacement */
} sb_bot_info;

typedef struct sb_bots sb_bots;

/* Creates a bot owned by the principal, an admin, from FAQ bytes or a file (validated as
 * sb_faqset_load does: accepted whole or rejected whole). The synonyms the file declares are
 * stored with its entries and used by every engine that opens the database. *out_id receives the
 * new bot's id; free it with sb_string_free. */
SB_API int sb_bot_create(sb_engine* engine, const sb_principal* principal, const char* name,
                         const char* data, size_t len, sb_format format,
                         const sb_load_options* opts, char** out_id);
SB_API int sb_bot_create_from_file(sb_engine* engine, const sb_principal* principal,
                                   const char* name, const char* path, sb_format format,
                                   const sb_load_options* opts, char** out_id);
/* Replaces a bot's FAQ set, entries and synonyms together (a file that declares none leaves the
 * bot with none): its owner admin only. SB_ENOTFOUND when there is no such bot. */
SB_API int sb_bot_replace_faqs(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                               const char* data, size_t len, sb_format format,
                               const sb_load_options* opts);
SB_API int sb_bot_replace_faqs_from_file(sb_engine* engine, const sb_principal* principal,
                                         const char* bot_id, const char* path, sb_format format,
                                         const sb_load_options* opts);
/* Small talk (greetings, thanks, goodbyes, "are you a bot?", "ok", "yes"/"no", laughter, emoji)
 * gets a short reply of its kind: never escalated, never searched or sent to an LLM, not counted
 * as a turn the bot could not answer, stored with responder "smalltalk". English is built in. A
 * bot's own small talk is the entries of the reserved category "smalltalk" in its FAQ set (see
 * README.md): an entry whose id is a built-in kind ("greeting", "how_are_you", "thanks",
 * "goodbye", "bot", "ack", "yes", "no", "help", "nevermind", "laughter", "emoji") replaces that
 * kind's reply with its answer and adds its question and alternates to the kind's phrases (with
 * the tag "replace", they replace them); any other entry is a kind of its own. */
/* Replaces the bot's own small talk with the entries in data (FAQ JSON or CSV, validated like
 * a file; their category is set to "smalltalk"), keeping its FAQs: its owner admin only. Empty
 * data or "[]" removes the bot's own small talk. The FAQ revision goes up. */
SB_API int sb_bot_set_smalltalk(sb_engine* engine, const sb_principal* principal,
                                const char* bot_id, const char* data, size_t len, sb_format format,
                                const sb_load_options* opts);
/* The bot's small talk in effect, as a JSON array of {"kind", "reply", "phrases": [...]}: for
 * its owner admin or a user of that bot. Free with sb_string_free. */
SB_API int sb_bot_smalltalk(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                            char** out_json);
/* One bot (a list of one): for its owner admin or a user of that bot. */
SB_API int sb_bot_get(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                      sb_bots** out);
/* The principal's bots: an admin's own bots, or a user's one bot. */
SB_API int sb_bot_list(sb_engine* engine, const sb_principal* principal, sb_bots** out);
SB_API int sb_bots_count(const sb_bots* bots, size_t* out);
/* Strings live as long as the list. */
SB_API int sb_bots_at(const sb_bots* bots, size_t i, sb_bot_info* out);
SB_API void sb_bots_free(sb_bots* bots);

/* ---- Chat --------------------------------------------------------------------------------- */

#define SB_CHAT_REQUEST_VERSION 2
typedef struct sb_chat_request {
    unsigned int version; /* SB_CHAT_REQUEST_VERSION */
    const char* bot_id;
    /* Who chats: a user of this bot (as itself), or the bot's owner admin (trying its bot).
     * Anyone else is refused with SB_EFORBIDDEN; NULL with SB_EUNAUTHENTICATED. */
    const sb_principal* principal;
    /* Any id up to 128 bytes: one not seen before starts a new session for this account and bot;
     * NULL lets the library create one. An id that belongs to another account or bot is refused
     * with SB_EFORBIDDEN, which reveals nothing about that session. */
    const char* session_id;
    const char* message; /* UTF-8 */
    size_t message_len;
    /* Version 2: */
    /* Streaming (NULL = none): called on the calling thread with the reply's text as it is
     * written, in pieces that end at UTF-8 character boundaries and are not NUL-terminated; the
     * pieces concatenate to the stored reply. An LLM provider streams (only the reply's text,
     * never its JSON); the offline responder, and a fallback when nothing was streamed yet, call
     * it once with the whole reply after the turn is saved, so that a host needs one code path.
     * Returning non-zero stops an LLM's stream: the turn then keeps the text received so far as
     * its reply (or the offline answer, marked as a fallback, when nothing had arrived).
     * If the provider fails after part of the reply was streamed, the turn falls back to the
     * offline answer and the callback is not called again: sb_reply_usage reports the fallback
     * and sb_reply_info.text is the reply to show in place of the streamed text. */
    int (*on_text)(void* user_data, const char* text, size_t len);
    void* user_data; /* passed to on_text */
} sb_chat_request;
#define SB_CHAT_REQUEST_INIT \
    { SB_CHAT_REQUEST_VERSION, NULL, NULL, NULL, NULL, 0, NULL, NULL }

typedef struct sb_reply sb_reply;

/* One turn: the message and the reply are stored together in one transaction. If the reply
 * fails, the user's message is still stored (with an error reply) and the call fails. */
SB_API int sb_chat_send(sb_engine* engine, const sb_chat_request* request, sb_reply** out);

typedef struct sb_reply_info {
    const char* session_id;
    const char* text;
    int answered;  /* 1 when the reply answers from an FAQ (the first in sb_reply_faq) */
    int escalated; /* 1 when the conversation was handed to a human */
    /* "" or "user_requested", "low_confidence", "repeated_unanswered", "model_requested" (the
     * LLM asked for a human) */
    const char* escalation_reason;
    /* "offline", "gemini" or "openai": who wrote the text; "smalltalk" for a small-talk reply
     * (see sb_bot_set_smalltalk); "clarification" for a "Did you mean ...?" question (offline
     * responder only): two FAQs were close, or the best was a near miss. Its suggestions are the
     * candidates' questions, then "Something else"; the next message chooses one by its text,
     * "2", "the first one" (or "yes" when there is one candidate) and gets its answer;
     * "something else" asks to rephrase, as a miss does. */
    const char* responder;
    double confidence; /* of the best FAQ */
    int64_t latency_ms;
    size_t suggestion_count;
    size_t faq_count;
} sb_reply_info;
typedef struct sb_reply_faq {
    const char* id;
    const char* question;
    double confidence;
} sb_reply_faq;
/* Strings live as long as the reply. */
SB_API int sb_reply_get(const sb_reply* reply, sb_reply_info* out);
SB_API int sb_reply_suggestion(const sb_reply* reply, size_t i, const char** out);
SB_API int sb_reply_faq_at(const sb_reply* reply, size_t i, sb_reply_faq* out);
SB_API void sb_reply_free(sb_reply* reply);
/* The LLM side of a reply, kept out of sb_reply_info so that callers built against older
 * headers keep working: *fallback is 1 when the LLM provider failed (after its retries) or
 * answered malformed output and the offline responder answered instead; the token counts are
 * the provider's usage for the reply (0 when none). Any out-pointer may be NULL. */
SB_API int sb_reply_usage(const sb_reply* reply, int* fallback, int64_t* prompt_tokens,
                          int64_t* completion_tokens);

/* ---- Sessions and history --------------------------------------------------------------- */

/* A session moves open -> escalated (waiting for a human agent) -> agent (an agent claimed it)
 * -> open again (handed back to the bot) or closed. While escalated or with an agent, the bot does
 * not answer: a message is stored for the agent, and the reply (responder "handover") is a short
 * acknowledgement the first time in a wait and empty text after it. */
typedef enum sb_session_status {
    SB_SESSION_OPEN = 0,
    SB_SESSION_ESCALATED = 1,
    SB_SESSION_CLOSED = 2,
    SB_SESSION_AGENT = 3
} sb_session_status;

typedef struct sb_session_info {
    const char* id;
    const char* bot_id;
    const char* user_id;
    int64_t created_ms;
    int64_t last_active_ms;
    int status; /* sb_session_status */
    const char* escalation_reason;
    size_t message_count;
} sb_session_info;
typedef struct sb_sessions sb_sessions;

/* Sessions with a bot, most recently active first: a user's own, or (for the bot's owner admin)
 * those of every user. SB_ENOTFOUND when the bot does not exist, SB_EFORBIDDEN when the principal
 * is neither. */
SB_API int sb_session_list(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                           sb_sessions** out);
SB_API int sb_sessions_count(const sb_sessions* sessions, size_t* out);
SB_API int sb_sessions_at(const sb_sessions* sessions, size_t i, sb_session_info* out);
/* The text of the session's first user message, "" when it has none (kept out of
 * sb_session_info so that callers built against older headers keep working). Lives as long as the
 * list. */
SB_API int sb_sessions_first_message(const sb_sessions* sessions, size_t i, const char** out);
SB_API void sb_sessions_free(sb_sessions* sessions);

/* Pages of a list (version 1). Lists are read in pages with keyset cursors, so a page costs the
 * same however deep it is and rows added meanwhile are neither skipped nor repeated within the
 * ordering. */
#define SB_LIST_OPTIONS_VERSION 1
typedef struct sb_list_options {
    unsigned int version; /* SB_LIST_OPTIONS_VERSION */
    /* Rows wanted: 0 = all of them (as the calls without options). */
    size_t limit;
    /* NULL or "" = the first page; else the cursor that sb_sessions_next_cursor or
     * sb_messages_next_cursor returned with the previous page of the same list. A cursor that
     * the library did not make is SB_EINVAL. */
    const char* cursor;
} sb_list_options;
#define SB_LIST_OPTIONS_INIT \
    { SB_LIST_OPTIONS_VERSION, 0, NULL }
SB_API int sb_list_options_init(sb_list_options* opts, unsigned int version);

/* As sb_session_list, one page at a time (opts NULL = everything): most recently active first,
 * sessions active in the same millisecond by id. A session active again after its page was read
 * moves to the front, before the cursor: later pages do not show it again. The cursor must be of
 * the same list (this bot, seen by the same kind of principal); any other text is SB_EINVAL. */
SB_API int sb_session_list_page(sb_engine* engine, const sb_principal* principal,
                                const char* bot_id, const sb_list_options* opts, sb_sessions** out);
/* The cursor of the next page, or NULL in *out when this page is the last. Lives as long as the
 * list. */
SB_API int sb_sessions_next_cursor(const sb_sessions* sessions, const char** out);

/* Closes a session: later messages to it are refused with SB_ECONFLICT. Allowed to the session's
 * user, its bot's owner admin and its agents, as for sb_session_history (closed by the owner or
 * an agent while escalated or with an agent, it counts as resolved by an agent). Closing a closed
 * session succeeds. */
SB_API int sb_session_close(sb_engine* engine, const sb_principal* principal,
                            const char* session_id);

/* SB_ROLE_AGENT: written by a human agent (sb_session_agent_reply; sb_messages_agent_id). */
typedef enum sb_role { SB_ROLE_USER = 0, SB_ROLE_ASSISTANT = 1, SB_ROLE_AGENT = 2 } sb_role;

typedef struct sb_message_info {
    int64_t id;
    int role; /* sb_role */
    const char* text;
    int64_t created_ms;
    size_t faq_count; /* FAQs the reply used; sb_messages_faq_id */
    double confidence;
    int escalated;
    const char* escalation_reason;
    const char* responder;
    int64_t latency_ms;
    int error; /* 1: the turn failed and text is the error reply */
} sb_message_info;
typedef struct sb_messages sb_messages;

/* The messages of a session, oldest first: for the session's user, its bot's owner admin, or an
 * agent of its bot.
 * SB_ENOTFOUND when the session does not exist, SB_EFORBIDDEN when it is someone else's. */
SB_API int sb_session_history(sb_engine* engine, const sb_principal* principal,
                              const char* session_id, sb_messages** out);
SB_API int sb_messages_count(const sb_messages* messages, size_t* out);
SB_API int sb_messages_at(const sb_messages* messages, size_t i, sb_message_info* out);
SB_API int sb_messages_faq_id(const sb_messages* messages, size_t i, size_t j, const char** out);
/* As sb_reply_usage, for the stored message i (0 and 0 for user messages). */
SB_API int sb_messages_usage(const sb_messages* messages, size_t i, int* fallback,
                             int64_t* prompt_tokens, int64_t* completion_tokens);
SB_API void sb_messages_free(sb_messages* messages);
/* As sb_session_history, one page at a time, oldest first (opts NULL = everything); messages
 * added meanwhile come on later pages. The cursor must be of this session's history (one of
 * sessions, or of another session, is SB_EINVAL). */
SB_API int sb_session_history_page(sb_engine* engine, const sb_principal* principal,
                                   const char* session_id, const sb_list_options* opts,
                                   sb_messages** out);
/* The cursor of the next page, or NULL in *out when this page is the last. Lives as long as the
 * list. */
SB_API int sb_messages_next_cursor(const sb_messages* messages, const char** out);

/* The account id of the agent who wrote message i ("" for user and bot messages). */
SB_API int sb_messages_agent_id(const sb_messages* messages, size_t i, const char** out);

/* ---- Hand-over to human agents ------------------------------------------------------------
 * The bot's owner admin acts as agent; it may add agent accounts to the bot. Every call below
 * is for the owner or an agent of the session's bot (SB_EFORBIDDEN for anyone else, an agent of
 * another bot included; SB_ENOTFOUND when the bot or session does not exist). */

/* The owner admin adds an agent account to its bot (e-mail and password as for
 * sb_user_register), removes one (SB_ENOTFOUND when account_id is not an agent of this bot), or
 * lists them as a JSON array of {"account_id", "email", "created_ms"}, oldest first. */
SB_API int sb_agent_add(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                        const char* email, const char* password, char** out_account_id);
SB_API int sb_agent_remove(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                           const char* account_id);
SB_API int sb_agent_list(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                         char** out_json);
/* Logs an agent of the bot in, as sb_user_login does a user. */
SB_API int sb_agent_login(sb_engine* engine, const char* bot_id, const char* email,
                          const char* password, char** out_token);

typedef struct sb_escalations sb_escalations;
typedef struct sb_escalation_info {
    const char* session_id;
    const char* user_id;
    const char* reason;       /* why it escalated, as sb_reply_info.escalation_reason */
    int64_t escalated_ms;     /* when it started waiting, Unix milliseconds */
    int64_t wait_ms;          /* how long it has waited, when the list was read */
    const char* last_message; /* the user's last message */
    size_t message_count;
} sb_escalation_info;
/* The bot's sessions waiting for an agent (escalated, not claimed), oldest first (then by
 * session id), one page at a time (opts NULL = all), with cursors as sb_session_list_page. */
SB_API int sb_escalation_queue(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                               const sb_list_options* opts, sb_escalations** out);
SB_API int sb_escalations_count(const sb_escalations* list, size_t* out);
/* Strings live as long as the list. */
SB_API int sb_escalations_at(const sb_escalations* list, size_t i, sb_escalation_info* out);
SB_API int sb_escalations_next_cursor(const sb_escalations* list, const char** out);
SB_API void sb_escalations_free(sb_escalations* list);

/* Claims a waiting session for the principal (status agent). Of two concurrent claims, from any
 * threads or processes, exactly one succeeds; the other gets SB_ECONFLICT, as does a claim of a
 * session that is not waiting. Claiming a session one holds already succeeds. */
SB_API int sb_session_claim(sb_engine* engine, const sb_principal* principal,
                            const char* session_id);
/* Posts an agent message (UTF-8, as a chat message) in a session the principal claimed
 * (SB_ECONFLICT otherwise). */
SB_API int sb_session_agent_reply(sb_engine* engine, const sb_principal* principal,
                                  const char* session_id, const char* message, size_t len);
/* Hands an escalated or claimed session back to the bot (status open: the bot answers again).
 * SB_ECONFLICT when it is neither. To close it instead, sb_session_close. */
SB_API int sb_session_release(sb_engine* engine, const sb_principal* principal,
                              const char* session_id);

/* ---- Session summaries and analytics ----------------------------------------------------- */
/* JSON results are NUL-terminated UTF-8 strings freed with sb_string_free; the keys are listed in
 * README.md ("Summaries and analytics"). Time ranges are [from_ms, to_ms) in Unix milliseconds
 * on the session's creation time (a session and all its messages fall in the range where it
 * started); pass 0 and INT64_MAX for everything. from_ms > to_ms is SB_EINVAL. */

/* The summary of a session (made with the engine's LLM provider when one is configured, else
 * offline, and stored), as a JSON object: for the session's user, or its bot's owner admin. A
 * stored summary that covers the session's last message is returned as it is, unless it fell back
 * to the offline summary and an LLM provider is configured (then it is made again). SB_ENOTFOUND
 * when the session does not exist, SB_EFORBIDDEN when it is someone else's. */
SB_API int sb_session_summarize(sb_engine* engine, const sb_principal* principal,
                                const char* session_id, char** out_json);
/* The bot's owner admin summarises every session of the bot that has no summary or has new
 * messages since its last one, or (with an LLM provider) whose summary fell back to the offline
 * one; a second run processes none unless summaries fell back again. After the first provider
 * failure of a run, the rest of the run is summarised offline (marked provider_error, still due)
 * without calling the provider again. *processed and *skipped (up to date) may be NULL. */
SB_API int sb_bot_summarize_sessions(sb_engine* engine, const sb_principal* principal,
                                     const char* bot_id, size_t* processed, size_t* skipped);
/* For the bot's owner admin: the stored summaries of the bot's sessions in the range, oldest
 * session first, as a JSON array. */
SB_API int sb_bot_summaries(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                            int64_t from_ms, int64_t to_ms, char** out_json);
/* For the bot's owner admin: the bot's analytics for the range, as a JSON object; with an LLM
 * provider, a narrative too. */
SB_API int sb_bot_analytics(sb_engine* engine, const sb_principal* principal, const char* bot_id,
                            int64_t from_ms, int64_t to_ms, char** out_json);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SUPPORTBOT_H */
