#include "server.hpp"

#include <httplib.h>
#include <simdjson.h>

#include <chrono>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstring>
#include <set>

#include "listener.hpp"
#include "util.hpp"
#include "web_assets.hpp"

namespace sbserver {

namespace {

constexpr std::size_t kDefaultPage = 50;
constexpr std::size_t kMaxPage = 500;
constexpr std::size_t kMaxNameBytes = 200;
constexpr std::size_t kMaxFieldBytes = 1024;  // e-mails, passwords, ids

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < path.size()) {
        if (path[start] == '/') {
            ++start;
            continue;
        }
        std::size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        out.emplace_back(path.substr(start, end - start));
        start = end;
    }
    return out;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) !=
            std::tolower(static_cast<unsigned char>(prefix[i])))
            return false;
    return true;
}

// The media type of a Content-Type header, lower-cased, without parameters.
std::string media_type(const httplib::Request& req) {
    std::string ct = req.get_header_value("Content-Type");
    const auto semi = ct.find(';');
    if (semi != std::string::npos) ct.resize(semi);
    while (!ct.empty() && (ct.back() == ' ' || ct.back() == '\t')) ct.pop_back();
    for (char& ch : ct) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return ct;
}

const char* reason_for(int status) {
    switch (status) {
        case 400:
            return "Bad request";
        case 401:
            return "Not authenticated";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request timeout";
        case 413:
            return "Request body too large";
        case 414:
            return "Request URI too long";
        case 415:
            return "Unsupported media type";
        case 416:
            return "Range not satisfiable";
        case 422:
            return "Unprocessable content";
        case 429:
            return "Too many requests";
        case 503:
            return "Service unavailable";
        default:
            return status >= 500 ? "Internal server error" : "Request failed";
    }
}

void set_detail(httplib::Response& res, int status, std::string_view detail) {
    res.status = status;
    std::string body = "{\"detail\":";
    json_quote(body, valid_utf8(detail) ? detail : std::string_view("request failed"));
    body += "}";
    res.set_content(body, "application/json");
}

// The headers every response carries: the security ones, and Cache-Control: no-store unless the
// route chose its own (the page's files are no-cache: revalidated, never stale).
void add_default_headers(httplib::Response& res) {
    for (const auto& [name, value] : kSecurityHeaders)
        if (!res.has_header(name)) res.set_header(name, value);
    if (!res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
}

struct Clock {
    using clock = std::chrono::steady_clock;
};

// Per worker thread: what the access log and the metrics need about the request in hand.
thread_local Clock::clock::time_point t_start{};
thread_local bool t_started = false;
thread_local std::string t_route;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

simdjson::dom::parser& json_parser() {
    thread_local simdjson::dom::parser parser;
    return parser;
}

std::string get_string_field(simdjson::dom::object obj, const char* name, bool required,
                             bool* present = nullptr) {
    simdjson::dom::element e;
    if (obj.at_key(name).get(e) != simdjson::SUCCESS || e.is_null()) {
        if (present) *present = false;
        if (required) throw HttpError(422, std::string("field '") + name + "' is required");
        return {};
    }
    std::string_view v;
    if (e.get_string().get(v) != simdjson::SUCCESS)
        throw HttpError(422, std::string("field '") + name + "' must be a string");
    if (present) *present = true;
    return std::string(v);
}

simdjson::dom::object json_body(const Ctx& c, std::size_t max_bytes) {
    const std::string mt = media_type(c.req);
    // No Content-Type at all is read as JSON, as the seed (FastAPI) does: its clients may post
    // JSON text without the header. Any other type is refused.
    const bool json = !c.req.has_header("Content-Type") || mt == "application/json" ||
                      (mt.size() > 5 && mt.compare(mt.size() - 5, 5, "+json") == 0);
    if (!json) throw HttpError(415, "the body must be application/json");
    if (c.req.body.size() > max_bytes) throw HttpError(413, "the request body is too large");
    simdjson::dom::element doc;
    const auto err = json_parser().parse(c.req.body.data(), c.req.body.size()).get(doc);
    if (err == simdjson::UTF8_ERROR) throw HttpError(400, "the body is not valid UTF-8");
    if (err) throw HttpError(400, "the body is not valid JSON");
    simdjson::dom::object obj;
    if (doc.get_object().get(obj) != simdjson::SUCCESS)
        throw HttpError(422, "the body must be a JSON object");
    return obj;
}

void check_text(const std::string& v, const char* name, std::size_t max_bytes) {
    if (!valid_utf8(v))
        throw HttpError(400, std::string("field '") + name + "' is not valid UTF-8");
    if (v.size() > max_bytes) throw HttpError(422, std::string("field '") + name + "' is too long");
}

std::string reply_json(const sb_reply* reply) {
    sb_reply_info info{};
    sb_reply_get(reply, &info);
    int fallback = 0;
    sb_reply_usage(reply, &fallback, nullptr, nullptr);
    JsonWriter w;
    w.begin_object();
    w.key("response").str(info.text);
    w.key("suggested_actions").begin_array();
    for (std::size_t i = 0; i < info.suggestion_count; ++i) {
        const char* s = nullptr;
        if (sb_reply_suggestion(reply, i, &s) == SB_OK && s) w.str(s);
    }
    w.end_array();
    w.key("session_id").str(info.session_id);
    w.key("escalated").boolean(info.escalated != 0);
    w.key("escalation_reason").str_or_null(info.escalation_reason ? info.escalation_reason : "");
    w.key("responder").str(info.responder ? info.responder : "");
    w.key("fallback").boolean(fallback != 0);
    w.key("sources").begin_array();
    for (std::size_t i = 0; i < info.faq_count; ++i) {
        sb_reply_faq f{};
        if (sb_reply_faq_at(reply, i, &f) != SB_OK) continue;
        w.begin_object();
        w.key("id").str(f.id);
        w.key("question").str(f.question);
        w.key("confidence").num(f.confidence);
        w.end_object();
    }
    w.end_array();
    w.key("answered").boolean(info.answered != 0);
    w.key("confidence").num(info.confidence);
    w.key("latency_ms").num(static_cast<int64_t>(info.latency_ms));
    w.end_object();
    return w.take();
}

const char* session_status_name(int s) {
    switch (s) {
        case SB_SESSION_ESCALATED:
            return "escalated";
        case SB_SESSION_CLOSED:
            return "closed";
        case SB_SESSION_AGENT:
            return "agent";
        default:
            return "open";
    }
}

std::string content_type_for(std::string_view name) {
    const auto dot = name.rfind('.');
    const std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot + 1);
    if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
    if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
    if (ext == "css") return "text/css; charset=utf-8";
    if (ext == "json") return "application/json";
    if (ext == "svg") return "image/svg+xml";
    if (ext == "png") return "image/png";
    if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
    if (ext == "ico") return "image/x-icon";
    if (ext == "txt") return "text/plain; charset=utf-8";
    if (ext == "woff2") return "font/woff2";
    return "application/octet-stream";
}

const WebAsset* find_asset(std::string_view name) {
    for (std::size_t i = 0; i < kWebAssetCount; ++i)
        if (name == kWebAssets[i].name) return &kWebAssets[i];
    return nullptr;
}

sb_format format_of_filename(std::string_view filename) {
    auto ends_with_ci = [&](std::string_view suffix) {
        if (filename.size() < suffix.size()) return false;
        return starts_with_ci(filename.substr(filename.size() - suffix.size()), suffix);
    };
    if (ends_with_ci(".json")) return SB_FORMAT_JSON;
    if (ends_with_ci(".csv")) return SB_FORMAT_CSV;
    throw HttpError(422, "the file must be a .json or .csv file");
}

}  // namespace

const std::string& Ctx::param(std::string_view name) const {
    for (const auto& [k, v] : params)
        if (k == name) return v;
    static const std::string empty;
    return empty;
}

// ---- Metrics --------------------------------------------------------------------------------

void Metrics::request(const std::string& method, const std::string& route, int status,
                      double seconds) {
    std::lock_guard lock(mu_);
    ++requests_[{method, route, status}];
    auto& h = latency_[route];
    std::size_t b = 0;
    while (b < kBucketCount && seconds > kBuckets[b]) ++b;
    ++h.counts[b];
    h.sum += seconds;
    ++h.count;
}

void Metrics::chat_turn(bool escalated, const std::string& reason, bool fallback) {
    std::lock_guard lock(mu_);
    ++chat_turns_;
    if (escalated) ++escalations_[reason.empty() ? "unknown" : reason];
    if (fallback) ++fallbacks_;
}

std::string Metrics::render() const {
    std::lock_guard lock(mu_);
    std::string out;
    auto label = [](std::string_view v) {
        std::string s;
        for (char ch : v) {
            if (ch == '\\' || ch == '"') s += '\\';
            if (ch == '\n') {
                s += "\\n";
                continue;
            }
            s += ch;
        }
        return s;
    };
    char buf[64];
    out +=
        "# HELP supportbot_http_requests_total HTTP requests by method, route template and "
        "status.\n";
    out += "# TYPE supportbot_http_requests_total counter\n";
    for (const auto& [k, n] : requests_) {
        out += "supportbot_http_requests_total{method=\"" + label(std::get<0>(k)) + "\",route=\"" +
               label(std::get<1>(k)) + "\",status=\"" + std::to_string(std::get<2>(k)) + "\"} " +
               std::to_string(n) + "\n";
    }
    out += "# HELP supportbot_http_request_duration_seconds Time to answer a request, by route.\n";
    out += "# TYPE supportbot_http_request_duration_seconds histogram\n";
    for (const auto& [route, h] : latency_) {
        uint64_t cum = 0;
        const std::string r = label(route);
        for (std::size_t b = 0; b <= kBucketCount; ++b) {
            cum += h.counts[b];
            if (b < kBucketCount)
                std::snprintf(buf, sizeof buf, "%g", kBuckets[b]);
            else
                std::snprintf(buf, sizeof buf, "+Inf");
            out += "supportbot_http_request_duration_seconds_bucket{route=\"" + r + "\",le=\"" +
                   buf + "\"} " + std::to_string(cum) + "\n";
        }
        std::snprintf(buf, sizeof buf, "%.6f", h.sum);
        out += "supportbot_http_request_duration_seconds_sum{route=\"" + r + "\"} " + buf + "\n";
        out += "supportbot_http_request_duration_seconds_count{route=\"" + r + "\"} " +
               std::to_string(h.count) + "\n";
    }
    out += "# HELP supportbot_http_requests_in_flight Requests being handled.\n";
    out += "# TYPE supportbot_http_requests_in_flight gauge\n";
    out += "supportbot_http_requests_in_flight " + std::to_string(in_flight.load()) + "\n";
    if (connections) {
        const ConnectionStats& cs = *connections;
        out += "# HELP supportbot_http_connections_total Connections accepted.\n";
        out += "# TYPE supportbot_http_connections_total counter\n";
        out += "supportbot_http_connections_total " + std::to_string(cs.accepted.load()) + "\n";
        out +=
            "# HELP supportbot_http_connections_rejected_total Connections answered 503 because "
            "WORKER_THREADS + MAX_QUEUED_CONNECTIONS were open.\n";
        out += "# TYPE supportbot_http_connections_rejected_total counter\n";
        out += "supportbot_http_connections_rejected_total " + std::to_string(cs.rejected.load()) +
               "\n";
        out += "# HELP supportbot_http_connections_active Connections open.\n";
        out += "# TYPE supportbot_http_connections_active gauge\n";
        out += "supportbot_http_connections_active " + std::to_string(cs.active.load()) + "\n";
        out +=
            "# HELP supportbot_http_connections_queued Requests received, waiting for a worker.\n";
        out += "# TYPE supportbot_http_connections_queued gauge\n";
        out += "supportbot_http_connections_queued " + std::to_string(cs.queued.load()) + "\n";
        out +=
            "# HELP supportbot_http_request_timeouts_total Requests not received whole within "
            "REQUEST_TIMEOUT_SECONDS.\n";
        out += "# TYPE supportbot_http_request_timeouts_total counter\n";
        out += "supportbot_http_request_timeouts_total " +
               std::to_string(cs.deadline_exceeded.load()) + "\n";
    }
    out += "# HELP supportbot_chat_turns_total Chat turns answered (plain and streamed).\n";
    out += "# TYPE supportbot_chat_turns_total counter\n";
    out += "supportbot_chat_turns_total " + std::to_string(chat_turns_) + "\n";
    out += "# HELP supportbot_chat_escalations_total Turns handed over to a human, by reason.\n";
    out += "# TYPE supportbot_chat_escalations_total counter\n";
    for (const auto& [reason, n] : escalations_)
        out += "supportbot_chat_escalations_total{reason=\"" + label(reason) + "\"} " +
               std::to_string(n) + "\n";
    out +=
        "# HELP supportbot_llm_fallbacks_total Turns the offline responder answered because the "
        "LLM provider failed.\n";
    out += "# TYPE supportbot_llm_fallbacks_total counter\n";
    out += "supportbot_llm_fallbacks_total " + std::to_string(fallbacks_) + "\n";
    return out;
}

// ---- The application ------------------------------------------------------------------------

namespace {

// The one mapping from the library's statuses to HTTP's, and the detail a client may see: the
// library's message for 4xx (its messages name nobody), a fixed text for 5xx.
std::pair<int, std::string> http_error_of(int sb_status, const char* context) {
    int http = 500;
    switch (sb_status) {
        case SB_EINVAL:
        case SB_EINVALID_DATA:
        case SB_EPARSE:
            http = 422;
            break;
        case SB_ELIMIT:
            http = 413;
            break;
        case SB_ENOTFOUND:
            http = 404;
            break;
        case SB_EFORBIDDEN:
            http = 403;
            break;
        case SB_ECONFLICT:
            http = 409;
            break;
        case SB_EUNAUTHENTICATED:
            http = 401;
            break;
        case SB_EDB:
            http = 503;
            break;
        case SB_EPROVIDER:
            http = 502;
            break;
        default:
            http = 500;
    }
    const std::string msg = sb_last_error();
    if (http >= 500) {
        // The reason goes to the server's log, never to the client.
        std::fprintf(stderr, "supportbot-server: %s%s%s: %s\n", context ? context : "",
                     context ? ": " : "", sb_status_name(sb_status), msg.c_str());
        return {http, http == 503   ? "the database is unavailable; try again later"
                      : http == 502 ? "the language model provider failed"
                                    : "internal server error"};
    }
    return {http, msg.empty() ? reason_for(http) : msg};
}

}  // namespace

void App::fail(int sb_status, const char* context) const {
    auto [http, detail] = http_error_of(sb_status, context);
    HttpError e(http, detail);
    if (http == 401) e.headers.emplace_back("WWW-Authenticate", "Bearer");
    throw e;
}

Principal App::auth(Ctx& c) const {
    const std::string h = c.req.get_header_value("Authorization");
    auto unauthenticated = [](const char* detail) {
        HttpError e(401, detail);
        e.headers.emplace_back("WWW-Authenticate", "Bearer");
        return e;
    };
    if (h.empty() || !starts_with_ci(h, "bearer ")) throw unauthenticated("Not authenticated");
    std::string token = h.substr(7);
    while (!token.empty() && token.front() == ' ') token.erase(0, 1);
    while (!token.empty() && token.back() == ' ') token.pop_back();
    if (token.empty() || token.size() > 8192)
        throw unauthenticated("Could not validate credentials");
    sb_principal* p = nullptr;
    const int st = sb_principal_from_token(engine_, token.c_str(), &p);
    if (st == SB_EUNAUTHENTICATED || st == SB_EINVAL)
        throw unauthenticated("Could not validate credentials");
    check(st);
    return Principal(p, PrincipalFree{});
}

std::size_t App::page_limit(const Ctx& c) const {
    if (!c.req.has_param("limit")) return kDefaultPage;
    const std::string v = c.req.get_param_value("limit");
    std::size_t n = 0;
    if (v.empty() || v.size() > 6)
        throw HttpError(422, "limit must be a whole number from 1 to 500");
    for (char ch : v) {
        if (ch < '0' || ch > '9')
            throw HttpError(422, "limit must be a whole number from 1 to 500");
        n = n * 10 + static_cast<std::size_t>(ch - '0');
    }
    if (n < 1 || n > kMaxPage) throw HttpError(422, "limit must be a whole number from 1 to 500");
    return n;
}

std::string App::link_next(const Ctx& c, const std::string& cursor, std::size_t limit) const {
    std::string base;
    const std::string host = c.req.get_header_value("Host");
    bool sane = !host.empty() && host.size() < 256;
    for (char ch : host)
        sane = sane && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == ':' ||
                        ch == '-' || ch == '[' || ch == ']');
    if (sane) base = "http://" + host;
    std::string path;
    for (char ch : c.req.path) {
        // The path came decoded; ids are printable, but re-encode anything unusual.
        const auto u = static_cast<unsigned char>(ch);
        if (std::isalnum(u) || ch == '/' || ch == '-' || ch == '_' || ch == '.' || ch == '~')
            path += ch;
        else
            path += url_encode(std::string_view(&ch, 1));
    }
    return "<" + base + path + "?limit=" + std::to_string(limit) + "&cursor=" + url_encode(cursor) +
           ">; rel=\"next\"";
}

std::string App::bot_json(const Principal& p, const std::string& bot_id) const {
    sb_bots* bots = nullptr;
    check(sb_bot_get(engine_, p.get(), bot_id.c_str(), &bots));
    std::unique_ptr<sb_bots, decltype(&sb_bots_free)> guard(bots, sb_bots_free);
    sb_bot_info b{};
    check(sb_bots_at(bots, 0, &b));
    JsonWriter w;
    w.begin_object();
    w.key("id").str(b.id);
    w.key("name").str(b.name);
    w.key("owner_id").str_or_null(b.owner ? b.owner : "");
    w.key("created_at").str(iso8601_ms(b.created_ms));
    w.key("created_ms").num(static_cast<int64_t>(b.created_ms));
    w.key("faq_count").num(static_cast<uint64_t>(b.faq_count));
    w.key("faq_revision").num(static_cast<int64_t>(b.faq_revision));
    w.end_object();
    return w.take();
}

// ---- Accounts ------------------------------------------------------------------------------

void App::register_account(Ctx& c, bool admin) {
    auto body = json_body(c, config_.max_body_bytes);
    const std::string email = get_string_field(body, "email", true);
    const std::string password = get_string_field(body, "password", true);
    check_text(email, "email", kMaxFieldBytes);
    check_text(password, "password", kMaxFieldBytes);
    char* id = nullptr;
    const std::string& bot = c.param("bot_id");
    const int st =
        admin ? sb_admin_register(engine_, email.c_str(), password.c_str(), &id)
              : sb_user_register(engine_, bot.c_str(), email.c_str(), password.c_str(), &id);
    check(st);
    JsonWriter w;
    w.begin_object();
    w.key("id").str(id);
    w.key("email").str(email);
    w.key("role").str(admin ? "admin" : "user");
    w.key("bot_id").str_or_null(admin ? "" : bot);
    w.end_object();
    sb_string_free(id);
    c.res.status = 201;
    c.res.set_content(w.take(), "application/json");
}

void App::login(Ctx& c, bool admin, bool agent) {
    const std::string mt = media_type(c.req);
    std::string username, password, grant_type;
    bool have_user = false, have_password = false;
    if (mt == "application/x-www-form-urlencoded") {
        if (c.req.body.size() > config_.max_body_bytes)
            throw HttpError(413, "the request body is too large");
        auto form = parse_form(c.req.body);
        if (!form) throw HttpError(400, "malformed form body");
        for (auto& [k, v] : *form) {
            if (k == "username" && !have_user) {
                username = std::move(v);
                have_user = true;
            } else if (k == "password" && !have_password) {
                password = std::move(v);
                have_password = true;
            } else if (k == "grant_type") {
                grant_type = std::move(v);
            }
        }
    } else if (mt == "multipart/form-data") {
        if (c.req.has_file("username")) {
            username = c.req.get_file_value("username").content;
            have_user = true;
        }
        if (c.req.has_file("password")) {
            password = c.req.get_file_value("password").content;
            have_password = true;
        }
        if (c.req.has_file("grant_type")) grant_type = c.req.get_file_value("grant_type").content;
    } else {
        throw HttpError(415, "the body must be an application/x-www-form-urlencoded form");
    }
    if (!have_user) throw HttpError(422, "field 'username' is required");
    if (!have_password) throw HttpError(422, "field 'password' is required");
    if (!grant_type.empty() && grant_type != "password")
        throw HttpError(422, "grant_type must be \"password\"");
    check_text(username, "username", kMaxFieldBytes);
    check_text(password, "password", kMaxFieldBytes);
    if (std::memchr(username.data(), 0, username.size()) ||
        std::memchr(password.data(), 0, password.size()))
        throw HttpError(422, "fields may not contain NUL characters");
    char* token = nullptr;
    const int st = admin   ? sb_admin_login(engine_, username.c_str(), password.c_str(), &token)
                   : agent ? sb_agent_login(engine_, c.param("bot_id").c_str(), username.c_str(),
                                            password.c_str(), &token)
                           : sb_user_login(engine_, c.param("bot_id").c_str(), username.c_str(),
                                           password.c_str(), &token);
    if (st == SB_ELIMIT) {
        HttpError e(429, "too many failed logins; try again later");
        e.headers.emplace_back("Retry-After", std::to_string(config_.login_window_seconds));
        throw e;
    }
    // A malformed e-mail cannot be an account: refused like a wrong password.
    if (st == SB_EUNAUTHENTICATED || st == SB_EINVAL) {
        HttpError e(401, "Incorrect email or password");
        e.headers.emplace_back("WWW-Authenticate", "Bearer");
        throw e;
    }
    check(st);
    JsonWriter w;
    w.begin_object();
    w.key("access_token").str(token);
    w.key("token_type").str("bearer");
    w.key("expires_in").num(static_cast<int64_t>(config_.access_token_minutes) * 60);
    w.end_object();
    sb_string_free(token);
    c.res.set_header("Cache-Control", "no-store");
    c.res.set_content(w.take(), "application/json");
}

void App::me(Ctx& c) {
    const Principal p = auth(c);
    sb_principal_info info{};
    check(sb_principal_get(p.get(), &info));
    JsonWriter w;
    w.begin_object();
    w.key("id").str(info.account_id);
    w.key("email").str(info.email);
    w.key("role").str(info.role == SB_ACCOUNT_ADMIN   ? "admin"
                      : info.role == SB_ACCOUNT_AGENT ? "agent"
                                                      : "user");
    w.key("bot_id").str_or_null(info.bot_id ? info.bot_id : "");
    w.key("expires_at").str(iso8601_ms(info.expires_ms));
    w.end_object();
    c.res.set_content(w.take(), "application/json");
}

void App::delete_me(Ctx& c) {
    const Principal p = auth(c);
    sb_principal_info info{};
    check(sb_principal_get(p.get(), &info));
    check(sb_account_delete(engine_, p.get(), info.account_id));
    c.res.status = 204;
}

void App::delete_account(Ctx& c) {
    const Principal p = auth(c);
    check(sb_account_delete(engine_, p.get(), c.param("account_id").c_str()));
    c.res.status = 204;
}

// ---- Bots ----------------------------------------------------------------------------------

void App::create_bot(Ctx& c) {
    const Principal p = auth(c);
    if (media_type(c.req) != "multipart/form-data")
        throw HttpError(415, "the body must be multipart/form-data with 'name' and 'file'");
    if (!c.req.has_file("name")) throw HttpError(422, "field 'name' is required");
    if (!c.req.has_file("file")) throw HttpError(422, "field 'file' is required");
    const std::string name = c.req.get_file_value("name").content;
    const auto file = c.req.get_file_value("file");
    check_text(name, "name", kMaxNameBytes);
    if (name.find_first_not_of(" \t\r\n") == std::string::npos)
        throw HttpError(422, "field 'name' may not be empty");
    if (file.filename.empty()) throw HttpError(422, "field 'file' must be a file upload");
    const sb_format fmt = format_of_filename(file.filename);
    if (file.content.size() > config_.max_upload_bytes)
        throw HttpError(413, "the file is too large");
    sb_load_options lo = SB_LOAD_OPTIONS_INIT;
    lo.max_bytes = config_.max_upload_bytes;
    char* id = nullptr;
    check(sb_bot_create(engine_, p.get(), name.c_str(), file.content.data(), file.content.size(),
                        fmt, &lo, &id));
    const std::string bot_id = id;
    sb_string_free(id);
    c.res.set_content(bot_json(p, bot_id), "application/json");
}

void App::list_bots(Ctx& c) {
    const Principal p = auth(c);
    sb_bots* bots = nullptr;
    check(sb_bot_list(engine_, p.get(), &bots));
    std::unique_ptr<sb_bots, decltype(&sb_bots_free)> guard(bots, sb_bots_free);
    std::size_t n = 0;
    check(sb_bots_count(bots, &n));
    JsonWriter w;
    w.begin_array();
    for (std::size_t i = 0; i < n; ++i) {
        sb_bot_info b{};
        check(sb_bots_at(bots, i, &b));
        w.begin_object();
        w.key("id").str(b.id);
        w.key("name").str(b.name);
        w.key("owner_id").str_or_null(b.owner ? b.owner : "");
        w.key("created_at").str(iso8601_ms(b.created_ms));
        w.key("created_ms").num(static_cast<int64_t>(b.created_ms));
        w.key("faq_count").num(static_cast<uint64_t>(b.faq_count));
        w.key("faq_revision").num(static_cast<int64_t>(b.faq_revision));
        w.end_object();
    }
    w.end_array();
    c.res.set_content(w.take(), "application/json");
}

void App::get_bot(Ctx& c) {
    const Principal p = auth(c);
    c.res.set_content(bot_json(p, c.param("bot_id")), "application/json");
}

void App::replace_faqs(Ctx& c) {
    const Principal p = auth(c);
    const std::string mt = media_type(c.req);
    sb_load_options lo = SB_LOAD_OPTIONS_INIT;
    lo.max_bytes = config_.max_upload_bytes;
    const std::string& bot = c.param("bot_id");
    int st = SB_OK;
    if (mt == "multipart/form-data") {
        if (!c.req.has_file("file")) throw HttpError(422, "field 'file' is required");
        const auto file = c.req.get_file_value("file");
        if (file.filename.empty()) throw HttpError(422, "field 'file' must be a file upload");
        const sb_format fmt = format_of_filename(file.filename);
        st = sb_bot_replace_faqs(engine_, p.get(), bot.c_str(), file.content.data(),
                                 file.content.size(), fmt, &lo);
    } else if (mt == "application/json" || mt == "text/csv") {
        st =
            sb_bot_replace_faqs(engine_, p.get(), bot.c_str(), c.req.body.data(), c.req.body.size(),
                                mt == "text/csv" ? SB_FORMAT_CSV : SB_FORMAT_JSON, &lo);
    } else {
        throw HttpError(415,
                        "send the FAQs as multipart/form-data ('file'), application/json or "
                        "text/csv");
    }
    check(st);
    c.res.set_content(bot_json(p, bot), "application/json");
}

// ---- Chat ----------------------------------------------------------------------------------

namespace {
struct ChatInput {
    std::string message;
    std::string session_id;
    bool has_session = false;
};
}  // namespace

static ChatInput chat_input(const Ctx& c, const Config& config) {
    auto body = json_body(c, config.max_body_bytes);
    ChatInput in;
    in.message = get_string_field(body, "message", true);
    in.session_id = get_string_field(body, "session_id", false, &in.has_session);
    if (in.message.size() > config.max_message_bytes)
        throw HttpError(413, "the message is too long (at most " +
                                 std::to_string(config.max_message_bytes) + " bytes)");
    if (in.message.find_first_not_of(" \t\r\n") == std::string::npos)
        throw HttpError(422, "field 'message' may not be empty");
    if (in.has_session) {
        check_text(in.session_id, "session_id", 128);
        if (in.session_id.empty()) in.has_session = false;
        if (std::memchr(in.session_id.data(), 0, in.session_id.size()))
            throw HttpError(422, "field 'session_id' may not contain NUL characters");
    }
    return in;
}

void App::chat(Ctx& c) {
    const Principal p = auth(c);
    const ChatInput in = chat_input(c, config_);
    sb_chat_request rq = SB_CHAT_REQUEST_INIT;
    rq.bot_id = c.param("bot_id").c_str();
    rq.principal = p.get();
    rq.session_id = in.has_session ? in.session_id.c_str() : nullptr;
    rq.message = in.message.data();
    rq.message_len = in.message.size();
    sb_reply* reply = nullptr;
    check(sb_chat_send(engine_, &rq, &reply));
    std::unique_ptr<sb_reply, decltype(&sb_reply_free)> guard(reply, sb_reply_free);
    sb_reply_info info{};
    sb_reply_get(reply, &info);
    int fallback = 0;
    sb_reply_usage(reply, &fallback, nullptr, nullptr);
    metrics_.chat_turn(info.escalated != 0, info.escalation_reason ? info.escalation_reason : "",
                       fallback != 0);
    c.res.set_content(reply_json(reply), "application/json");
}

void App::chat_stream(Ctx& c) {
    const Principal p = auth(c);
    const ChatInput in = chat_input(c, config_);
    const std::string bot = c.param("bot_id");
    {
        // Refusals the stream can still answer with a status: no such bot, not the caller's.
        sb_bots* bots = nullptr;
        check(sb_bot_get(engine_, p.get(), bot.c_str(), &bots));
        sb_bots_free(bots);
    }
    c.res.set_header("Cache-Control", "no-store");
    c.res.set_header("X-Accel-Buffering", "no");
    sb_engine* engine = engine_;
    Metrics* metrics = &metrics_;
    WorkerSlots* slots = slots_;
    c.res.set_chunked_content_provider("text/event-stream", [engine, metrics, slots, p, bot, in](
                                                                std::size_t,
                                                                httplib::DataSink& sink) {
        // The turn runs here, after the handler gave its slot back: it takes one again.
        const WorkerSlots::Guard slot(slots);
        struct State {
            httplib::DataSink* sink;
            bool ok = true;
        } state{&sink};
        auto write = [&](std::string_view event, const std::string& data) {
            if (!state.ok) return;
            std::string frame = "event: ";
            frame += event;
            frame += "\ndata: ";
            frame += data;
            frame += "\n\n";
            state.ok = sink.write(frame.data(), frame.size());
        };
        sb_chat_request rq = SB_CHAT_REQUEST_INIT;
        rq.bot_id = bot.c_str();
        rq.principal = p.get();
        rq.session_id = in.has_session ? in.session_id.c_str() : nullptr;
        rq.message = in.message.data();
        rq.message_len = in.message.size();
        struct Cb {
            decltype(write)* w;
            State* st;
        } cb{&write, &state};
        rq.user_data = &cb;
        rq.on_text = [](void* ud, const char* text, std::size_t len) -> int {
            auto* cbp = static_cast<Cb*>(ud);
            JsonWriter w;
            w.begin_object().key("text").str(std::string_view(text, len)).end_object();
            (*cbp->w)("delta", w.str());
            return cbp->st->ok ? 0 : 1;
        };
        sb_reply* reply = nullptr;
        const int st = sb_chat_send(engine, &rq, &reply);
        if (st != SB_OK) {
            const auto [http, detail] = http_error_of(st, "stream");
            JsonWriter w;
            w.begin_object().key("detail").str(detail).key("status").num(
                static_cast<int64_t>(http));
            w.end_object();
            write("error", w.str());
        } else {
            std::unique_ptr<sb_reply, decltype(&sb_reply_free)> guard(reply, sb_reply_free);
            sb_reply_info info{};
            sb_reply_get(reply, &info);
            int fallback = 0;
            sb_reply_usage(reply, &fallback, nullptr, nullptr);
            metrics->chat_turn(info.escalated != 0,
                               info.escalation_reason ? info.escalation_reason : "", fallback != 0);
            write("done", reply_json(reply));
        }
        if (state.ok) sink.done();
        return state.ok;
    });
}

// ---- Sessions ------------------------------------------------------------------------------

void App::sessions(Ctx& c) {
    const Principal p = auth(c);
    const std::size_t limit = page_limit(c);
    const std::string cursor = c.req.get_param_value("cursor");
    if (!valid_utf8(cursor) || cursor.size() > 1024) throw HttpError(400, "malformed cursor");
    sb_sessions* list = nullptr;
    sb_list_options lo = SB_LIST_OPTIONS_INIT;
    lo.limit = limit;
    lo.cursor = cursor.empty() ? nullptr : cursor.c_str();
    const int st = sb_session_list_page(engine_, p.get(), c.param("bot_id").c_str(), &lo, &list);
    if (st == SB_EINVAL && !cursor.empty()) throw HttpError(400, "malformed cursor");
    check(st);
    std::unique_ptr<sb_sessions, decltype(&sb_sessions_free)> guard(list, sb_sessions_free);
    std::size_t n = 0;
    check(sb_sessions_count(list, &n));
    JsonWriter w;
    w.begin_array();
    for (std::size_t i = 0; i < n; ++i) {
        sb_session_info s{};
        check(sb_sessions_at(list, i, &s));
        w.begin_object();
        w.key("session_id").str(s.id);
        const char* first = nullptr;
        check(sb_sessions_first_message(list, i, &first));
        w.key("first_message").str_or_null(first ? first : "");
        w.key("last_updated").str(iso8601_ms(s.last_active_ms));
        w.key("created_at").str(iso8601_ms(s.created_ms));
        w.key("status").str(session_status_name(s.status));
        w.key("escalation_reason").str_or_null(s.escalation_reason ? s.escalation_reason : "");
        w.key("message_count").num(static_cast<uint64_t>(s.message_count));
        w.key("user_id").str(s.user_id ? s.user_id : "");
        w.key("bot_id").str(s.bot_id ? s.bot_id : "");
        w.end_object();
    }
    w.end_array();
    const char* next = nullptr;
    check(sb_sessions_next_cursor(list, &next));
    if (next && *next) c.res.set_header("Link", link_next(c, next, limit));
    c.res.set_content(w.take(), "application/json");
}

void App::history(Ctx& c) {
    const Principal p = auth(c);
    const std::size_t limit = page_limit(c);
    const std::string cursor = c.req.get_param_value("cursor");
    if (!valid_utf8(cursor) || cursor.size() > 1024) throw HttpError(400, "malformed cursor");
    sb_messages* list = nullptr;
    sb_list_options lo = SB_LIST_OPTIONS_INIT;
    lo.limit = limit;
    lo.cursor = cursor.empty() ? nullptr : cursor.c_str();
    const int st =
        sb_session_history_page(engine_, p.get(), c.param("session_id").c_str(), &lo, &list);
    if (st == SB_EINVAL && !cursor.empty()) throw HttpError(400, "malformed cursor");
    check(st);
    std::unique_ptr<sb_messages, decltype(&sb_messages_free)> guard(list, sb_messages_free);
    std::size_t n = 0;
    check(sb_messages_count(list, &n));
    JsonWriter w;
    w.begin_array();
    for (std::size_t i = 0; i < n; ++i) {
        sb_message_info m{};
        check(sb_messages_at(list, i, &m));
        int fallback = 0;
        sb_messages_usage(list, i, &fallback, nullptr, nullptr);
        w.begin_object();
        w.key("role").str(m.role == SB_ROLE_USER    ? "user"
                          : m.role == SB_ROLE_AGENT ? "agent"
                                                    : "assistant");
        w.key("message").str(m.text);
        w.key("timestamp").str(iso8601_ms(m.created_ms));
        w.key("id").num(static_cast<int64_t>(m.id));
        if (m.role == SB_ROLE_AGENT) {
            const char* agent = nullptr;
            check(sb_messages_agent_id(list, i, &agent));
            w.key("agent_id").str(agent ? agent : "");
        } else if (m.role != SB_ROLE_USER) {
            w.key("confidence").num(m.confidence);
            w.key("escalated").boolean(m.escalated != 0);
            w.key("escalation_reason").str_or_null(m.escalation_reason ? m.escalation_reason : "");
            w.key("responder").str(m.responder ? m.responder : "");
            w.key("latency_ms").num(static_cast<int64_t>(m.latency_ms));
            w.key("fallback").boolean(fallback != 0);
            w.key("error").boolean(m.error != 0);
            w.key("faq_ids").begin_array();
            for (std::size_t j = 0; j < m.faq_count; ++j) {
                const char* id = nullptr;
                if (sb_messages_faq_id(list, i, j, &id) == SB_OK && id) w.str(id);
            }
            w.end_array();
        }
        w.end_object();
    }
    w.end_array();
    const char* next = nullptr;
    check(sb_messages_next_cursor(list, &next));
    if (next && *next) c.res.set_header("Link", link_next(c, next, limit));
    c.res.set_content(w.take(), "application/json");
}

void App::summary(Ctx& c) {
    const Principal p = auth(c);
    char* json = nullptr;
    check(sb_session_summarize(engine_, p.get(), c.param("session_id").c_str(), &json));
    std::string body = json;
    sb_string_free(json);
    c.res.set_content(body, "application/json");
}

void App::close_session(Ctx& c) {
    const Principal p = auth(c);
    const std::string& id = c.param("session_id");
    check(sb_session_close(engine_, p.get(), id.c_str()));
    JsonWriter w;
    w.begin_object().key("session_id").str(id).key("status").str("closed").end_object();
    c.res.set_content(w.take(), "application/json");
}

// ---- The hand-over to human agents ----------------------------------------------------------

void App::escalations(Ctx& c) {
    const Principal p = auth(c);
    const std::size_t limit = page_limit(c);
    const std::string cursor = c.req.get_param_value("cursor");
    if (!valid_utf8(cursor) || cursor.size() > 1024) throw HttpError(400, "malformed cursor");
    sb_escalations* list = nullptr;
    sb_list_options lo = SB_LIST_OPTIONS_INIT;
    lo.limit = limit;
    lo.cursor = cursor.empty() ? nullptr : cursor.c_str();
    const int st = sb_escalation_queue(engine_, p.get(), c.param("bot_id").c_str(), &lo, &list);
    if (st == SB_EINVAL && !cursor.empty()) throw HttpError(400, "malformed cursor");
    check(st);
    std::unique_ptr<sb_escalations, decltype(&sb_escalations_free)> guard(list,
                                                                          sb_escalations_free);
    std::size_t n = 0;
    check(sb_escalations_count(list, &n));
    JsonWriter w;
    w.begin_array();
    for (std::size_t i = 0; i < n; ++i) {
        sb_escalation_info x{};
        check(sb_escalations_at(list, i, &x));
        w.begin_object();
        w.key("session_id").str(x.session_id);
        w.key("user_id").str(x.user_id);
        w.key("reason").str(x.reason);
        w.key("escalated_at").str(iso8601_ms(x.escalated_ms));
        w.key("wait_seconds").num(static_cast<int64_t>(x.wait_ms / 1000));
        w.key("last_message").str(x.last_message);
        w.key("message_count").num(static_cast<uint64_t>(x.message_count));
        w.end_object();
    }
    w.end_array();
    const char* next = nullptr;
    check(sb_escalations_next_cursor(list, &next));
    if (next && *next) c.res.set_header("Link", link_next(c, next, limit));
    c.res.set_content(w.take(), "application/json");
}

void App::handover_action(Ctx& c, const char* action) {
    const Principal p = auth(c);
    const std::string& id = c.param("session_id");
    const std::string_view a(action);
    const char* status = "closed";
    if (a == "claim") {
        check(sb_session_claim(engine_, p.get(), id.c_str()));
        status = "agent";
    } else if (a == "release") {
        check(sb_session_release(engine_, p.get(), id.c_str()));
        status = "open";
    } else {
        // Closing here is for the bot's owner and agents; users close at /chat/sessions.
        sb_principal_info info{};
        check(sb_principal_get(p.get(), &info));
        if (info.role == SB_ACCOUNT_USER)
            throw HttpError(403, "this account may not answer the sessions of this bot");
        check(sb_session_close(engine_, p.get(), id.c_str()));
    }
    JsonWriter w;
    w.begin_object().key("session_id").str(id).key("status").str(status).end_object();
    c.res.set_content(w.take(), "application/json");
}

void App::agent_message(Ctx& c) {
    const Principal p = auth(c);
    auto body = json_body(c, config_.max_body_bytes);
    const std::string message = get_string_field(body, "message", true);
    const std::string& id = c.param("session_id");
    check(sb_session_agent_reply(engine_, p.get(), id.c_str(), message.data(), message.size()));
    JsonWriter w;
    w.begin_object().key("session_id").str(id).key("role").str("agent");
    w.key("message").str(message).end_object();
    c.res.status = 201;
    c.res.set_content(w.take(), "application/json");
}

void App::list_agents(Ctx& c) {
    const Principal p = auth(c);
    char* json = nullptr;
    check(sb_agent_list(engine_, p.get(), c.param("bot_id").c_str(), &json));
    std::string body = json;
    sb_string_free(json);
    c.res.set_content(body, "application/json");
}

void App::add_agent(Ctx& c) {
    const Principal p = auth(c);
    auto body = json_body(c, config_.max_body_bytes);
    const std::string email = get_string_field(body, "email", true);
    const std::string password = get_string_field(body, "password", true);
    check_text(email, "email", kMaxFieldBytes);
    check_text(password, "password", kMaxFieldBytes);
    const std::string& bot = c.param("bot_id");
    char* id = nullptr;
    check(sb_agent_add(engine_, p.get(), bot.c_str(), email.c_str(), password.c_str(), &id));
    JsonWriter w;
    w.begin_object();
    w.key("id").str(id);
    w.key("email").str(email);
    w.key("role").str("agent");
    w.key("bot_id").str(bot);
    w.end_object();
    sb_string_free(id);
    c.res.status = 201;
    c.res.set_content(w.take(), "application/json");
}

void App::remove_agent(Ctx& c) {
    const Principal p = auth(c);
    check(sb_agent_remove(engine_, p.get(), c.param("bot_id").c_str(),
                          c.param("account_id").c_str()));
    c.res.status = 204;
}

// ---- Admin ---------------------------------------------------------------------------------

namespace {
void time_range(const Ctx& c, int64_t& from, int64_t& to) {
    from = 0;
    to = INT64_MAX;
    if (c.req.has_param("from")) {
        auto v = parse_time_ms(c.req.get_param_value("from"), false);
        if (!v) throw HttpError(422, "from must be an ISO 8601 date or date-time, or Unix ms");
        from = *v;
    }
    if (c.req.has_param("to")) {
        auto v = parse_time_ms(c.req.get_param_value("to"), true);
        if (!v) throw HttpError(422, "to must be an ISO 8601 date or date-time, or Unix ms");
        to = *v;
    }
    if (from > to) throw HttpError(422, "from is after to");
}
}  // namespace

void App::bot_summaries(Ctx& c) {
    const Principal p = auth(c);
    int64_t from = 0, to = 0;
    time_range(c, from, to);
    char* json = nullptr;
    check(sb_bot_summaries(engine_, p.get(), c.param("bot_id").c_str(), from, to, &json));
    std::string body = json;
    sb_string_free(json);
    c.res.set_content(body, "application/json");
}

void App::process_summaries(Ctx& c) {
    const Principal p = auth(c);
    std::size_t processed = 0, skipped = 0;
    check(sb_bot_summarize_sessions(engine_, p.get(), c.param("bot_id").c_str(), &processed,
                                    &skipped));
    JsonWriter w;
    w.begin_object();
    w.key("message").str("Processed " + std::to_string(processed) + " session(s)");
    w.key("bot_id").str(c.param("bot_id"));
    w.key("processed").num(static_cast<uint64_t>(processed));
    w.key("skipped").num(static_cast<uint64_t>(skipped));
    w.end_object();
    c.res.set_content(w.take(), "application/json");
}

void App::analytics(Ctx& c) {
    const Principal p = auth(c);
    int64_t from = 0, to = 0;
    time_range(c, from, to);
    const std::string& bot = c.param("bot_id");
    char* raw = nullptr;
    check(sb_bot_analytics(engine_, p.get(), bot.c_str(), from, to, &raw));
    std::string figures = raw;
    sb_string_free(raw);
    check(sb_bot_summaries(engine_, p.get(), bot.c_str(), from, to, &raw));
    std::string summaries = raw;
    sb_string_free(raw);
    std::string bot_name;
    {
        sb_bots* bots = nullptr;
        check(sb_bot_get(engine_, p.get(), bot.c_str(), &bots));
        sb_bot_info b{};
        if (sb_bots_at(bots, 0, &b) == SB_OK) bot_name = b.name;
        sb_bots_free(bots);
    }
    // The seed's keys, read off the library's figures (and its narrative when there is one).
    simdjson::dom::parser parser;
    simdjson::dom::element fig, sums;
    if (parser.parse(figures).get(fig) != simdjson::SUCCESS || !fig.is_object())
        throw HttpError(500, "internal server error");
    std::vector<std::string> unanswered;
    std::vector<std::string> themes;
    simdjson::dom::array groups;
    if (fig.at_pointer("/knowledge_gaps/groups").get_array().get(groups) == simdjson::SUCCESS) {
        for (auto g : groups) {
            std::string_view rep;
            if (g["representative"].get_string().get(rep) == simdjson::SUCCESS)
                unanswered.emplace_back(rep);
        }
    }
    // Questions human agents answered, with the agent's reply as the suggested answer.
    std::vector<std::pair<std::string, std::string>> agent_answers;
    simdjson::dom::array answered;
    if (fig.at_pointer("/knowledge_gaps/agent_answers").get_array().get(answered) ==
        simdjson::SUCCESS) {
        for (auto x : answered) {
            std::string_view q, ans;
            if (x["question"].get_string().get(q) == simdjson::SUCCESS &&
                x["answer"].get_string().get(ans) == simdjson::SUCCESS)
                agent_answers.emplace_back(q, ans);
        }
    }
    simdjson::dom::array key_themes;
    const bool have_narrative =
        fig.at_pointer("/narrative/key_themes").get_array().get(key_themes) == simdjson::SUCCESS;
    if (have_narrative)
        for (auto t : key_themes) {
            std::string_view s;
            if (t.get_string().get(s) == simdjson::SUCCESS) themes.emplace_back(s);
        }
    std::size_t summary_count = 0;
    std::map<std::string, std::size_t> topic_counts;
    std::vector<std::string> topic_order;
    simdjson::dom::parser parser2;
    simdjson::dom::array sum_array;
    if (parser2.parse(summaries).get(sums) == simdjson::SUCCESS &&
        sums.get_array().get(sum_array) == simdjson::SUCCESS) {
        for (auto s : sum_array) {
            ++summary_count;
            simdjson::dom::array topics;
            if (s["topics"].get_array().get(topics) != simdjson::SUCCESS) continue;
            for (auto t : topics) {
                std::string_view tv;
                if (t.get_string().get(tv) != simdjson::SUCCESS) continue;
                auto [it, inserted] = topic_counts.emplace(std::string(tv), 0);
                if (inserted) topic_order.emplace_back(tv);
                ++it->second;
            }
        }
    }
    if (!have_narrative) {
        std::stable_sort(topic_order.begin(), topic_order.end(),
                         [&](const std::string& a, const std::string& b) {
                             return topic_counts[a] > topic_counts[b];
                         });
        for (std::size_t i = 0; i < topic_order.size() && i < 10; ++i)
            themes.push_back(topic_order[i]);
    }
    JsonWriter w;
    w.begin_object();
    w.key("bot_name").str(bot_name);
    w.key("total_summaries_analyzed").num(static_cast<uint64_t>(summary_count));
    w.key("trending_topics").begin_array();
    for (const auto& t : themes) w.str(t);
    w.end_array();
    w.key("unanswered_questions").begin_array();
    for (const auto& q : unanswered) w.str(q);
    w.end_array();
    // Questions users asked that no FAQ answers: candidates for new FAQs, answers to be written.
    w.key("suggested_new_faqs").begin_array();
    for (const auto& q : unanswered)
        w.begin_object().key("question").str(q).key("answer").str("").end_object();
    for (const auto& [q, ans] : agent_answers)
        w.begin_object().key("question").str(q).key("answer").str(ans).end_object();
    w.end_array();
    std::string out = w.take();  // left open: the library's figures follow
    const auto brace = figures.find('{');
    const std::string_view rest = std::string_view(figures).substr(brace + 1);
    if (rest.find_first_not_of(" \t\r\n") != std::string_view::npos &&
        rest[rest.find_first_not_of(" \t\r\n")] != '}')
        out += ',';
    out += rest;
    c.res.set_content(out, "application/json");
}

// ---- Service routes ------------------------------------------------------------------------

void App::health(Ctx& c) {
    const int st = sb_engine_ping(engine_);
    JsonWriter w;
    w.begin_object();
    w.key("status").str(st == SB_OK ? "ok" : "unavailable");
    w.key("database").str(st == SB_OK ? "ok" : "unavailable");
    w.key("version").str(sb_version());
    w.end_object();
    if (st != SB_OK) {
        std::fprintf(stderr, "supportbot-server: health: %s: %s\n", sb_status_name(st),
                     sb_last_error());
        c.res.status = 503;
    }
    c.res.set_header("Cache-Control", "no-store");
    c.res.set_content(w.take(), "application/json");
}

void App::metrics(Ctx& c) {
    c.res.set_content(metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
}

void App::openapi_route(Ctx& c) {
    c.res.set_content(openapi(), "application/json");
}

void App::web(Ctx& c) {
    std::string name = c.param("asset");
    if (name.empty()) name = "index.html";
    const WebAsset* a = find_asset(name);
    if (!a) throw HttpError(404, "Not Found");
    c.res.set_header("Cache-Control", "no-cache");
    c.res.set_content(reinterpret_cast<const char*>(a->data), a->size,
                      content_type_for(name).c_str());
}

// ---- The route table -----------------------------------------------------------------------

void App::add(Route r) {
    r.segments = split_path(r.path);
    routes_.push_back(std::move(r));
}

App::App(Config config, sb_engine* engine) : config_(std::move(config)), engine_(engine) {
    auto h = [this](void (App::*fn)(Ctx&)) { return [this, fn](Ctx& c) { (this->*fn)(c); }; };
    const char* kAccount = R"({"$ref":"#/components/schemas/Account"})";
    const char* kBot = R"({"$ref":"#/components/schemas/Bot"})";
    const char* kReply = R"({"$ref":"#/components/schemas/ChatReply"})";
    const char* kObject = R"({"type":"object"})";
    // Accounts.
    add({"POST",
         "/api/v1/auth/admin/register",
         [this](Ctx& c) { register_account(c, true); },
         "Register an admin account",
         "auth",
         false,
         Body::Json,
         "Credentials",
         "",
         201,
         kAccount,
         {}});
    add({"POST",
         "/api/v1/auth/admin/login",
         [this](Ctx& c) { login(c, true); },
         "Log in as an admin (OAuth2 password form)",
         "auth",
         false,
         Body::Form,
         "",
         "",
         200,
         R"({"$ref":"#/components/schemas/Token"})",
         {}});
    add({"GET",
         "/api/v1/auth/me",
         h(&App::me),
         "The account of the token",
         "auth",
         true,
         Body::None,
         "",
         "",
         200,
         kAccount,
         {}});
    add({"DELETE",
         "/api/v1/auth/me",
         h(&App::delete_me),
         "Delete one's own account",
         "auth",
         true,
         Body::None,
         "",
         "",
         204,
         "",
         {}});
    add({"DELETE",
         "/api/v1/auth/accounts/{account_id}",
         h(&App::delete_account),
         "Delete an account (an admin: a user of its bots; anyone: itself)",
         "auth",
         true,
         Body::None,
         "",
         "",
         204,
         "",
         {}});
    add({"POST",
         "/api/v1/auth/{bot_id}/register",
         [this](Ctx& c) { register_account(c, false); },
         "Register a user of a bot",
         "auth",
         false,
         Body::Json,
         "Credentials",
         "",
         201,
         kAccount,
         {}});
    add({"POST",
         "/api/v1/auth/{bot_id}/login",
         [this](Ctx& c) { login(c, false); },
         "Log in as a user of a bot (OAuth2 password form)",
         "auth",
         false,
         Body::Form,
         "",
         "",
         200,
         R"({"$ref":"#/components/schemas/Token"})",
         {}});
    // Bots.
    add({"POST",
         "/api/v1/bots/",
         h(&App::create_bot),
         "Create a bot from an FAQ file (multipart: name, file .json or .csv)",
         "bots",
         true,
         Body::Multipart,
         "",
         "",
         200,
         kBot,
         {}});
    add({"GET",
         "/api/v1/bots/",
         h(&App::list_bots),
         "The admin's bots (a user's one bot)",
         "bots",
         true,
         Body::None,
         "",
         "",
         200,
         R"({"type":"array","items":{"$ref":"#/components/schemas/Bot"}})",
         {}});
    add({"GET",
         "/api/v1/bots/{bot_id}",
         h(&App::get_bot),
         "One bot",
         "bots",
         true,
         Body::None,
         "",
         "",
         200,
         kBot,
         {}});
    add({"PUT",
         "/api/v1/bots/{bot_id}/faqs",
         h(&App::replace_faqs),
         "Replace a bot's FAQs (multipart 'file', or a JSON or CSV body)",
         "bots",
         true,
         Body::FaqUpload,
         "",
         "",
         200,
         kBot,
         {}});
    // Chat.
    add({"POST",
         "/api/v1/chat/{bot_id}",
         h(&App::chat),
         "Send a message, get the reply",
         "chat",
         true,
         Body::Json,
         "ChatRequest",
         "",
         200,
         kReply,
         {}});
    add({"POST",
         "/api/v1/chat/{bot_id}/stream",
         h(&App::chat_stream),
         "Send a message; the reply streams as server-sent events (delta, then done or error)",
         "chat",
         true,
         Body::Json,
         "ChatRequest",
         "",
         200,
         "sse",
         {}});
    add({"GET",
         "/api/v1/chat/{bot_id}/sessions",
         h(&App::sessions),
         "Sessions with a bot, most recent first (paged; next page in the Link header)",
         "chat",
         true,
         Body::None,
         "",
         "limit:integer,cursor:string",
         200,
         R"({"type":"array","items":{"$ref":"#/components/schemas/Session"}})",
         {}});
    add({"GET",
         "/api/v1/chat/history/{session_id}",
         h(&App::history),
         "A session's messages, oldest first (paged; next page in the Link header)",
         "chat",
         true,
         Body::None,
         "",
         "limit:integer,cursor:string",
         200,
         R"({"type":"array","items":{"$ref":"#/components/schemas/Message"}})",
         {}});
    add({"GET",
         "/api/v1/chat/summary/{session_id}",
         h(&App::summary),
         "A session's summary (made and stored when due)",
         "chat",
         true,
         Body::None,
         "",
         "",
         200,
         R"({"$ref":"#/components/schemas/Summary"})",
         {}});
    add({"POST",
         "/api/v1/chat/sessions/{session_id}/close",
         h(&App::close_session),
         "Close a session",
         "chat",
         true,
         Body::None,
         "",
         "",
         200,
         kObject,
         {}});
    // Admin.
    add({"GET",
         "/api/v1/admin/bots/{bot_id}/summaries",
         h(&App::bot_summaries),
         "Stored summaries of a bot's sessions started in [from, to)",
         "admin",
         true,
         Body::None,
         "",
         "from:string,to:string",
         200,
         R"({"type":"array","items":{"$ref":"#/components/schemas/Summary"}})",
         {}});
    add({"POST",
         "/api/v1/admin/bots/{bot_id}/process-summaries",
         h(&App::process_summaries),
         "Summarise every session that is new or changed",
         "admin",
         true,
         Body::None,
         "",
         "",
         200,
         kObject,
         {}});
    add({"GET",
         "/api/v1/admin/bots/{bot_id}/analytics",
         h(&App::analytics),
         "A bot's analytics for sessions started in [from, to)",
         "admin",
         true,
         Body::None,
         "",
         "from:string,to:string",
         200,
         R"({"$ref":"#/components/schemas/Analytics"})",
         {}});
    // The hand-over to human agents: for the bot's owner admin and its agents.
    add({"GET",
         "/api/v1/admin/bots/{bot_id}/escalations",
         h(&App::escalations),
         "Sessions waiting for a human agent, oldest first (paged; next page in the Link header)",
         "handover",
         true,
         Body::None,
         "",
         "limit:integer,cursor:string",
         200,
         R"({"type":"array","items":{"$ref":"#/components/schemas/Escalation"}})",
         {}});
    add({"POST",
         "/api/v1/admin/sessions/{session_id}/claim",
         [this](Ctx& c) { handover_action(c, "claim"); },
         "Claim a waiting session (409 when another agent has it)",
         "handover",
         true,
         Body::None,
         "",
         "",
         200,
         kObject,
         {}});
    add({"POST",
         "/api/v1/admin/sessions/{session_id}/messages",
         h(&App::agent_message),
         "Reply as the agent in a session one has claimed",
         "handover",
         true,
         Body::Json,
         "AgentMessage",
         "",
         201,
         kObject,
         {}});
    add({"POST",
         "/api/v1/admin/sessions/{session_id}/release",
         [this](Ctx& c) { handover_action(c, "release"); },
         "Hand a session back to the bot",
         "handover",
         true,
         Body::None,
         "",
         "",
         200,
         kObject,
         {}});
    add({"POST",
         "/api/v1/admin/sessions/{session_id}/close",
         [this](Ctx& c) { handover_action(c, "close"); },
         "Close a session as its agent",
         "handover",
         true,
         Body::None,
         "",
         "",
         200,
         kObject,
         {}});
    add({"GET",
         "/api/v1/admin/bots/{bot_id}/agents",
         h(&App::list_agents),
         "The agent accounts of a bot (its owner admin)",
         "handover",
         true,
         Body::None,
         "",
         "",
         200,
         R"({"type":"array","items":{"type":"object"}})",
         {}});
    add({"POST",
         "/api/v1/admin/bots/{bot_id}/agents",
         h(&App::add_agent),
         "Add an agent account to a bot (its owner admin)",
         "handover",
         true,
         Body::Json,
         "Credentials",
         "",
         201,
         kAccount,
         {}});
    add({"DELETE",
         "/api/v1/admin/bots/{bot_id}/agents/{account_id}",
         h(&App::remove_agent),
         "Remove an agent account of a bot (its owner admin)",
         "handover",
         true,
         Body::None,
         "",
         "",
         204,
         "",
         {}});
    add({"POST",
         "/api/v1/auth/{bot_id}/agent/login",
         [this](Ctx& c) { login(c, false, true); },
         "Log in as an agent of a bot (OAuth2 password form)",
         "auth",
         false,
         Body::Form,
         "",
         "",
         200,
         R"({"$ref":"#/components/schemas/Token"})",
         {}});
    // Service.
    add({"GET",
         "/health",
         h(&App::health),
         "Liveness, and whether the database answers",
         "service",
         false,
         Body::None,
         "",
         "",
         200,
         kObject,
         {}});
    add({"GET",
         "/metrics",
         h(&App::metrics),
         "Prometheus metrics",
         "service",
         false,
         Body::None,
         "",
         "",
         200,
         "text",
         {}});
    add({"GET",
         "/api/v1/openapi.json",
         h(&App::openapi_route),
         "This document",
         "service",
         false,
         Body::None,
         "",
         "",
         200,
         kObject,
         {}});
    // The web page.
    add({"GET",
         "/",
         h(&App::web),
         "The web page",
         "web",
         false,
         Body::None,
         "",
         "",
         200,
         "html",
         {}});
    add({"GET",
         "/{asset}",
         h(&App::web),
         "The web page's files",
         "web",
         false,
         Body::None,
         "",
         "",
         200,
         "asset",
         {}});
}

const Route* App::match(const std::string& method, const std::string& path, Ctx* ctx,
                        bool* path_known) const {
    const auto segs = split_path(path);
    const std::string m = method == "HEAD" ? "GET" : method;
    *path_known = false;
    // Of the routes that match, the most specific: at the first segment where they differ, a
    // literal beats a parameter (GET /chat/history/sessions is the history of a session called
    // "sessions", not the sessions of a bot called "history"; /health is not a web file).
    auto more_specific = [](const Route& a, const Route& b) {
        for (std::size_t i = 0; i < a.segments.size(); ++i) {
            const bool la = a.segments[i].front() != '{', lb = b.segments[i].front() != '{';
            if (la != lb) return la;
        }
        return false;
    };
    const Route* best = nullptr;
    for (const auto& r : routes_) {
        if (r.segments.size() != segs.size()) continue;
        bool ok = true;
        for (std::size_t i = 0; i < segs.size() && ok; ++i) {
            const auto& t = r.segments[i];
            if (t.front() == '{') continue;
            ok = t == segs[i];
        }
        if (!ok) continue;
        *path_known = true;
        if (r.method != m) continue;
        if (!best || more_specific(r, *best)) best = &r;
    }
    if (best && ctx) {
        ctx->params.clear();
        for (std::size_t i = 0; i < segs.size(); ++i)
            if (best->segments[i].front() == '{')
                ctx->params.emplace_back(best->segments[i].substr(1, best->segments[i].size() - 2),
                                         segs[i]);
    }
    return best;
}

void App::dispatch(const httplib::Request& req, httplib::Response& res) {
    Ctx c{req, res, {}};
    bool known = false;
    const Route* r = match(req.method, req.path, &c, &known);
    try {
        if (!r) {
            // Files in sub-folders of web/ are served by their path too.
            if ((req.method == "GET" || req.method == "HEAD") && req.path.size() > 1 &&
                find_asset(std::string_view(req.path).substr(1))) {
                t_route = "/{asset}";
                c.params = {{"asset", req.path.substr(1)}};
                web(c);
                return;
            }
            if (known) {
                std::string allow;
                for (const auto& rt : routes_) {
                    Ctx tmp{req, res, {}};
                    bool k = false;
                    if (match(rt.method, req.path, &tmp, &k) == &rt) {
                        if (!allow.empty()) allow += ", ";
                        allow += rt.method;
                    }
                }
                t_route = "unmatched";
                res.set_header("Allow", allow);
                throw HttpError(405, "Method Not Allowed");
            }
            t_route = "unmatched";
            throw HttpError(404, "Not Found");
        }
        t_route = r->path;
        for (const auto& [k, v] : c.params)
            if (!valid_utf8(v)) throw HttpError(400, "the path is not valid UTF-8");
        const WorkerSlots::Guard slot(slots_);
        r->handler(c);
        if (res.status == -1) res.status = 200;
    } catch (const HttpError& e) {
        for (const auto& [k, v] : e.headers) res.set_header(k.c_str(), v);
        set_detail(res, e.status, e.what());
    }
    add_default_headers(res);
}

void App::install(Listener& server) {
    metrics_.connections = &server.stats();
    slots_ = &server.worker_slots();
    server.set_payload_max_length(config_.max_upload_bytes + 64 * 1024);
    server.set_read_timeout(config_.read_timeout_seconds, 0);
    server.set_write_timeout(config_.write_timeout_seconds, 0);
    server.set_keep_alive_timeout(config_.keep_alive_seconds);
    server.set_keep_alive_max_count(1000);
    // Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
    // client's delayed ACK hold the body for ~40 ms on every keep-alive request.
    server.set_tcp_nodelay(true);

    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        // A request whose response could not be written was never logged: it is over now.
        if (t_started) metrics_.in_flight.fetch_sub(1);
        t_start = Clock::clock::now();
        t_started = true;
        t_route = "unmatched";
        metrics_.in_flight.fetch_add(1);
        // cpp-httplib 0.11 does not hold a chunked multipart body to the payload limit: such
        // uploads must declare their length.
        if (media_type(req) == "multipart/form-data" &&
            req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos) {
            set_detail(res, 411, "send multipart uploads with a Content-Length, not chunked");
            res.set_header("Connection", "close");
            return httplib::Server::HandlerResponse::Handled;
        }
        // Refuse a declared body over the route's limit before reading it.
        if (req.has_header("Content-Length")) {
            const std::string v = req.get_header_value("Content-Length");
            char* end = nullptr;
            const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
            bool known = false;
            const Route* r = match(req.method, req.path, nullptr, &known);
            const bool upload = r && (r->body == Body::Multipart || r->body == Body::FaqUpload);
            const std::size_t limit =
                upload ? config_.max_upload_bytes + 64 * 1024 : config_.max_body_bytes;
            if (r) t_route = r->path;
            if (end && *end == '\0' && n > limit) {
                set_detail(res, 413, "the request body is too large");
                res.set_header("Connection", "close");
                return httplib::Server::HandlerResponse::Handled;
            }
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
        dispatch(req, res);
    };
    for (const char* m : {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
        const std::string method = m;
        if (method == "GET") server.Get(".*", handler);
        if (method == "POST") server.Post(".*", handler);
        if (method == "PUT") server.Put(".*", handler);
        if (method == "DELETE") server.Delete(".*", handler);
        if (method == "PATCH") server.Patch(".*", handler);
        if (method == "OPTIONS") server.Options(".*", handler);
    }
    server.set_error_handler(
        httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
            if (Listener::request_deadline_hit()) {
                // The request did not arrive whole within REQUEST_TIMEOUT_SECONDS (httplib
                // reports any failed read as 400).
                res.status = 408;
                res.body.clear();
                res.set_header("Connection", "close");
            }
            if (res.body.empty() && !res.content_provider_)
                set_detail(res, res.status, reason_for(res.status));
            add_default_headers(res);
            return httplib::Server::HandlerResponse::Handled;
        }));
    server.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            try {
                if (ep) std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "supportbot-server: unexpected error: %s\n", e.what());
            } catch (...) {
                std::fprintf(stderr, "supportbot-server: unexpected error\n");
            }
            set_detail(res, 500, "internal server error");
        });
    server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        double seconds = 0;
        if (t_started) {
            seconds = std::chrono::duration<double>(Clock::clock::now() - t_start).count();
            metrics_.in_flight.fetch_sub(1);
        }
        const std::string route = t_route.empty() ? "unmatched" : t_route;
        metrics_.request(req.method, route, res.status, seconds);
        t_started = false;
        t_route.clear();
        if (!config_.access_log) return;
        // Method, path (never the query, which may carry a cursor or worse), status, duration.
        std::string path = req.path.size() > 200 ? req.path.substr(0, 200) + "..." : req.path;
        for (char& ch : path)
            if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f || ch == '"') ch = '?';
        char line[512];
        std::snprintf(line, sizeof line, "%s %s \"%s %s\" %d %.1fms\n",
                      iso8601_ms(now_ms()).c_str(), req.remote_addr.c_str(), req.method.c_str(),
                      path.c_str(), res.status, seconds * 1000);
        // No flush here: main() flushes stdout four times a second (or the terminal per line).
        std::fputs(line, stdout);
    });
}

// ---- OpenAPI -------------------------------------------------------------------------------

std::string App::openapi() const {
    std::map<std::string, std::vector<const Route*>> paths;
    std::vector<std::string> order;
    for (const auto& r : routes_) {
        if (!paths.count(r.path)) order.emplace_back(r.path);
        paths[r.path].push_back(&r);
    }
    JsonWriter w;
    w.begin_object();
    w.key("openapi").str("3.0.3");
    w.key("info").begin_object();
    w.key("title").str("supportbot");
    w.key("version").str(sb_version());
    w.key("description")
        .str(
            "The seed's REST API (FastAPI-compatible) and more, over supportbot's C ABI. "
            "Errors are {\"detail\": \"...\"}.");
    w.end_object();
    w.key("paths").begin_object();
    for (const auto& path : order) {
        w.key(path).begin_object();
        for (const Route* r : paths[path]) {
            std::string method = r->method;
            for (char& ch : method)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            w.key(method).begin_object();
            w.key("summary").str(r->summary);
            std::string op = method;
            for (const auto& s : r->segments) {
                op += '_';
                for (char ch : s)
                    if (std::isalnum(static_cast<unsigned char>(ch)))
                        op += ch;
                    else if (ch == '-' || ch == '_' || ch == '.')
                        op += '_';
            }
            w.key("operationId").str(op);
            w.key("tags").begin_array().str(r->tag).end_array();
            w.key("parameters").begin_array();
            for (const auto& s : r->segments) {
                if (s.front() != '{') continue;
                w.begin_object();
                w.key("name").str(s.substr(1, s.size() - 2));
                w.key("in").str("path");
                w.key("required").boolean(true);
                w.key("schema").raw(R"({"type":"string"})");
                w.end_object();
            }
            const std::string q = r->query;
            std::size_t start = 0;
            while (start < q.size()) {
                std::size_t end = q.find(',', start);
                if (end == std::string::npos) end = q.size();
                const std::string item = q.substr(start, end - start);
                const auto colon = item.find(':');
                w.begin_object();
                w.key("name").str(item.substr(0, colon));
                w.key("in").str("query");
                w.key("required").boolean(false);
                w.key("schema").begin_object().key("type").str(item.substr(colon + 1)).end_object();
                w.end_object();
                start = end + 1;
            }
            w.end_array();
            switch (r->body) {
                case Body::None:
                    break;
                case Body::Json:
                    w.key("requestBody").begin_object().key("required").boolean(true);
                    w.key("content").begin_object().key("application/json").begin_object();
                    w.key("schema").raw(std::string(R"({"$ref":"#/components/schemas/)") +
                                        r->body_schema + "\"}");
                    w.end_object().end_object().end_object();
                    break;
                case Body::Form:
                    w.key("requestBody")
                        .raw(
                            R"({"required":true,"content":{"application/x-www-form-urlencoded":{"schema":{"$ref":"#/components/schemas/LoginForm"}}}})");
                    break;
                case Body::Multipart:
                    w.key("requestBody")
                        .raw(
                            R"({"required":true,"content":{"multipart/form-data":{"schema":{"type":"object","required":["name","file"],"properties":{"name":{"type":"string"},"file":{"type":"string","format":"binary"}}}}}})");
                    break;
                case Body::FaqUpload:
                    w.key("requestBody")
                        .raw(
                            R"({"required":true,"content":{"multipart/form-data":{"schema":{"type":"object","required":["file"],"properties":{"file":{"type":"string","format":"binary"}}}},"application/json":{"schema":{}},"text/csv":{"schema":{"type":"string"}}}})");
                    break;
            }
            w.key("responses").begin_object();
            w.key(std::to_string(r->ok_status)).begin_object();
            w.key("description").str(r->ok_status == 204 ? "No content" : "Success");
            const std::string resp = r->response;
            if (resp == "sse") {
                w.key("content").raw(R"({"text/event-stream":{"schema":{"type":"string"}}})");
            } else if (resp == "text") {
                w.key("content").raw(R"({"text/plain":{"schema":{"type":"string"}}})");
            } else if (resp == "html") {
                w.key("content").raw(R"({"text/html":{"schema":{"type":"string"}}})");
            } else if (resp == "asset") {
                w.key("content").raw(R"({"*/*":{"schema":{"type":"string","format":"binary"}}})");
            } else if (!resp.empty()) {
                w.key("content").begin_object().key("application/json").begin_object();
                w.key("schema").raw(resp);
                w.end_object().end_object();
            }
            if (r->query[0] && std::string(r->query).find("cursor") != std::string::npos)
                w.key("headers").raw(
                    R"({"Link":{"description":"<url>; rel=\"next\" when there is a next page","schema":{"type":"string"}}})");
            w.end_object();
            w.key("default").raw(
                R"({"description":"Error","content":{"application/json":{"schema":{"$ref":"#/components/schemas/HTTPError"}}}})");
            w.end_object();
            if (r->auth) w.key("security").raw(R"([{"bearer":[]}])");
            w.end_object();
        }
        w.end_object();
    }
    w.end_object();
    w.key("components").raw(R"JSON({
"securitySchemes":{"bearer":{"type":"http","scheme":"bearer","bearerFormat":"JWT"}},
"schemas":{
"HTTPError":{"type":"object","required":["detail"],"properties":{"detail":{"type":"string"}}},
"Credentials":{"type":"object","required":["email","password"],"properties":{"email":{"type":"string"},"password":{"type":"string"}}},
"LoginForm":{"type":"object","required":["username","password"],"properties":{"username":{"type":"string"},"password":{"type":"string"},"grant_type":{"type":"string"}}},
"Token":{"type":"object","required":["access_token","token_type"],"properties":{"access_token":{"type":"string"},"token_type":{"type":"string"},"expires_in":{"type":"integer"}}},
"Account":{"type":"object","required":["id","email"],"properties":{"id":{"type":"string"},"email":{"type":"string"},"role":{"type":"string","enum":["admin","user","agent"]},"bot_id":{"type":"string","nullable":true},"expires_at":{"type":"string"}}},
"Bot":{"type":"object","required":["id","name"],"properties":{"id":{"type":"string"},"name":{"type":"string"},"owner_id":{"type":"string","nullable":true},"created_at":{"type":"string","format":"date-time"},"created_ms":{"type":"integer"},"faq_count":{"type":"integer"},"faq_revision":{"type":"integer"}}},
"AgentMessage":{"type":"object","required":["message"],"properties":{"message":{"type":"string"}}},
"Escalation":{"type":"object","required":["session_id","reason","escalated_at","wait_seconds","last_message"],"properties":{"session_id":{"type":"string"},"user_id":{"type":"string"},"reason":{"type":"string"},"escalated_at":{"type":"string","format":"date-time"},"wait_seconds":{"type":"integer"},"last_message":{"type":"string"},"message_count":{"type":"integer"}}},
"ChatRequest":{"type":"object","required":["message"],"properties":{"message":{"type":"string"},"session_id":{"type":"string","nullable":true}}},
"Source":{"type":"object","properties":{"id":{"type":"string"},"question":{"type":"string"},"confidence":{"type":"number"}}},
"ChatReply":{"type":"object","required":["response","suggested_actions"],"properties":{"response":{"type":"string"},"suggested_actions":{"type":"array","items":{"type":"string"}},"session_id":{"type":"string"},"escalated":{"type":"boolean"},"escalation_reason":{"type":"string","nullable":true},"responder":{"type":"string"},"fallback":{"type":"boolean"},"sources":{"type":"array","items":{"$ref":"#/components/schemas/Source"}},"answered":{"type":"boolean"},"confidence":{"type":"number"},"latency_ms":{"type":"integer"}}},
"Session":{"type":"object","required":["session_id","first_message","last_updated"],"properties":{"session_id":{"type":"string"},"first_message":{"type":"string","nullable":true},"last_updated":{"type":"string","format":"date-time"},"created_at":{"type":"string","format":"date-time"},"status":{"type":"string","enum":["open","escalated","agent","closed"]},"escalation_reason":{"type":"string","nullable":true},"message_count":{"type":"integer"},"user_id":{"type":"string"},"bot_id":{"type":"string"}}},
"Message":{"type":"object","required":["role","message","timestamp"],"properties":{"role":{"type":"string","enum":["user","assistant","agent"]},"agent_id":{"type":"string"},"message":{"type":"string"},"timestamp":{"type":"string","format":"date-time"},"id":{"type":"integer"},"confidence":{"type":"number"},"escalated":{"type":"boolean"},"escalation_reason":{"type":"string","nullable":true},"responder":{"type":"string"},"latency_ms":{"type":"integer"},"fallback":{"type":"boolean"},"error":{"type":"boolean"},"faq_ids":{"type":"array","items":{"type":"string"}}}},
"Summary":{"type":"object","required":["summary","session_id"],"properties":{"summary":{"type":"string"},"session_id":{"type":"string"},"bot_id":{"type":"string"},"main_issue":{"type":"string"},"resolved":{"type":"boolean"},"sentiment":{"type":"string"},"topics":{"type":"array","items":{"type":"string"}},"source":{"type":"string"},"fallback":{"type":"string"},"last_message_id":{"type":"integer"},"created_ms":{"type":"integer"},"updated_ms":{"type":"integer"}}},
"Analytics":{"type":"object","required":["bot_name","total_summaries_analyzed","trending_topics","unanswered_questions","suggested_new_faqs"],"properties":{"bot_name":{"type":"string"},"total_summaries_analyzed":{"type":"integer"},"trending_topics":{"type":"array","items":{"type":"string"}},"unanswered_questions":{"type":"array","items":{"type":"string"}},"suggested_new_faqs":{"type":"array","items":{"type":"object","properties":{"question":{"type":"string"},"answer":{"type":"string"}}}}}}
}})JSON");
    w.end_object();
    return w.take();
}

// ---- Demo data -----------------------------------------------------------------------------

void App::seed_demo() {
    char* id = nullptr;
    int st = sb_admin_register(engine_, config_.demo_email.c_str(), config_.demo_password.c_str(),
                               nullptr);
    if (st != SB_OK && st != SB_ECONFLICT) {
        std::fprintf(stderr, "supportbot-server: --seed-demo: %s\n", sb_last_error());
        return;
    }
    if (sb_account_lookup(engine_, nullptr, config_.demo_email.c_str(), &id) != SB_OK) {
        std::fprintf(stderr, "supportbot-server: --seed-demo: %s\n", sb_last_error());
        return;
    }
    char* token = nullptr;
    st = sb_token_issue(engine_, id, &token);
    sb_string_free(id);
    if (st != SB_OK) return;
    sb_principal* p = nullptr;
    st = sb_principal_from_token(engine_, token, &p);
    sb_string_free(token);
    if (st != SB_OK) return;
    Principal admin(p, PrincipalFree{});
    sb_bots* bots = nullptr;
    std::size_t n = 0;
    if (sb_bot_list(engine_, admin.get(), &bots) == SB_OK) sb_bots_count(bots, &n);
    std::string bot_id;
    if (n > 0) {
        sb_bot_info b{};
        if (sb_bots_at(bots, 0, &b) == SB_OK) bot_id = b.id;
    }
    sb_bots_free(bots);
    if (bot_id.empty()) {
        char* new_id = nullptr;
        if (sb_bot_create_from_file(engine_, admin.get(), "Demo", config_.demo_faqs.c_str(),
                                    SB_FORMAT_AUTO, nullptr, &new_id) != SB_OK) {
            std::fprintf(stderr, "supportbot-server: --seed-demo: %s: %s\n",
                         config_.demo_faqs.c_str(), sb_last_error());
            return;
        }
        bot_id = new_id;
        sb_string_free(new_id);
    }
    const bool default_password = config_.demo_password == Config{}.demo_password;
    std::printf("demo: admin %s (password %s), bot %s\n", config_.demo_email.c_str(),
                default_password ? config_.demo_password.c_str() : "from DEMO_PASSWORD",
                bot_id.c_str());
    std::fflush(stdout);
}

}  // namespace sbserver
