#include "config.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string_view>
#include <thread>

namespace sbserver {

namespace {

const char* kUsage =
    "usage: supportbot-server [--host HOST] [--port PORT] [--seed-demo] [--print-routes]\n"
    "                         [--print-openapi]\n"
    "Settings come from the environment, then from ./.env (KEY=VALUE lines):\n"
    "  DATABASE_URL                 sqlite:///path.db, sqlite://rel.db or postgresql://...\n"
    "                               (default sqlite://supportbot.db); the seed's\n"
    "                               postgresql+psycopg2://... and sqlite:///./x.db work too\n"
    "  SECRET_KEY                   token signing key, at least 32 bytes (default: random,\n"
    "                               tokens then do not survive a restart)\n"
    "  JWT_ALGORITHM                HS256 (the only one accepted)\n"
    "  ACCESS_TOKEN_EXPIRE_MINUTES  token lifetime (default 30)\n"
    "  GEMINI_API_KEY               with no LLM_PROVIDER, selects the gemini provider\n"
    "  LLM_PROVIDER                 offline (default), gemini or openai\n"
    "  LLM_MODEL, LLM_BASE_URL, LLM_API_KEY (or OPENAI_API_KEY for openai)\n"
    "  HOST, PORT                   listen address (default 127.0.0.1:8000)\n"
    "  WORKER_THREADS               requests in the handlers (the library) at once (default\n"
    "                               8); more wait, first come first served\n"
    "  MAX_QUEUED_CONNECTIONS       connections open beyond WORKER_THREADS (default 8 per\n"
    "                               worker), each on a thread of its own; beyond, new ones\n"
    "                               get 503 with Retry-After\n"
    "  DB_POOL_SIZE                 PostgreSQL connections (default: the library's, 4)\n"
    "  MAX_BODY_BYTES (65536), MAX_UPLOAD_BYTES (16777216), MAX_MESSAGE_BYTES (4000)\n"
    "  READ_TIMEOUT_SECONDS (10), WRITE_TIMEOUT_SECONDS (30), KEEP_ALIVE_SECONDS (5)\n"
    "  REQUEST_TIMEOUT_SECONDS (60) time for a whole request to arrive (else 408)\n"
    "  LOGIN_MAX_FAILURES (5), LOGIN_WINDOW_SECONDS (900)\n"
    "  ACCESS_LOG=0                 no access log lines on standard output (into a file or\n"
    "                               a pipe they are flushed four times a second)\n"
    "  SEED_DEMO=1 (as --seed-demo): at start, a demo admin (DEMO_EMAIL, default\n"
    "               admin@example.com; DEMO_PASSWORD, default demo-Password-1) and a bot made\n"
    "               from DEMO_FAQS (default faqs.json) when that admin has none\n";

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "supportbot-server: %s\n", message.c_str());
    std::exit(2);
}

std::string trim(std::string_view s) {
    const char* ws = " \t\r\n";
    const auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(ws);
    return std::string(s.substr(b, e - b + 1));
}

std::map<std::string, std::string> read_dotenv(const char* path) {
    std::map<std::string, std::string> out;
    std::ifstream in(path);
    if (!in) return out;
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        std::string t = trim(line);
        if (t.empty() || t[0] == '#') continue;
        if (t.rfind("export ", 0) == 0) t = trim(t.substr(7));
        const auto eq = t.find('=');
        if (eq == std::string::npos || eq == 0)
            die(std::string(path) + ":" + std::to_string(lineno) + ": expected KEY=VALUE");
        std::string key = trim(t.substr(0, eq));
        std::string value = trim(t.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front()) {
            value = value.substr(1, value.size() - 2);
        } else {
            const auto hash = value.find(" #");
            if (hash != std::string::npos) value = trim(value.substr(0, hash));
        }
        out[key] = value;
    }
    return out;
}

struct Source {
    std::map<std::string, std::string> dotenv;
    std::string get(const char* name) const {
        if (const char* v = std::getenv(name); v && *v) return v;
        const auto it = dotenv.find(name);
        return it == dotenv.end() ? std::string() : it->second;
    }
};

long long parse_int(const std::string& name, const std::string& v, long long lo, long long hi) {
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || errno != 0 || x < lo || x > hi)
        die(name + " must be a whole number from " + std::to_string(lo) + " to " +
            std::to_string(hi) + " (got \"" + v + "\")");
    return x;
}

std::string random_key() {
    std::random_device rd;
    static const char* hex = "0123456789abcdef";
    std::string key;
    for (int i = 0; i < 64; ++i) key += hex[rd() & 15u];
    return key;
}

}  // namespace

std::string map_database_url(const std::string& url) {
    const std::string_view u(url);
    const auto scheme_end = u.find("://");
    if (scheme_end == std::string_view::npos) return url;
    std::string scheme(u.substr(0, scheme_end));
    const std::string_view rest = u.substr(scheme_end + 3);
    const auto plus = scheme.find('+');
    if (plus != std::string::npos) scheme = scheme.substr(0, plus);  // +psycopg2, +pysqlite
    if (scheme == "postgres" || scheme == "postgresql") return "postgresql://" + std::string(rest);
    if (scheme == "sqlite") {
        // SQLAlchemy: sqlite:///relative.db and sqlite:////absolute.db. The library reads
        // sqlite://X as the file X, so sqlite:///abs stays absolute; only the two forms that
        // cannot be meant otherwise are mapped.
        if (rest.rfind("/./", 0) == 0 || rest.rfind("/../", 0) == 0)
            return "sqlite://" + std::string(rest.substr(1));
        if (rest.rfind("//", 0) == 0) return "sqlite://" + std::string(rest.substr(1));
        return "sqlite://" + std::string(rest);
    }
    return url;
}

Config load_config(int argc, char** argv) {
    Source src{read_dotenv(".env")};
    Config c;
    std::string host_arg, port_arg;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](const char* flag) {
            if (i + 1 >= argc) die(std::string(flag) + " needs a value");
            return std::string(argv[++i]);
        };
        if (a == "--host") {
            host_arg = value("--host");
        } else if (a == "--port") {
            port_arg = value("--port");
        } else if (a.rfind("--host=", 0) == 0) {
            host_arg = a.substr(7);
        } else if (a.rfind("--port=", 0) == 0) {
            port_arg = a.substr(7);
        } else if (a == "--seed-demo") {
            c.seed_demo = true;
        } else if (a == "--print-routes") {
            c.print_routes = true;
        } else if (a == "--print-openapi") {
            c.print_openapi = true;
        } else if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else {
            std::fputs(kUsage, stderr);
            die("unknown argument \"" + a + "\"");
        }
    }
    c.host = !host_arg.empty() ? host_arg : src.get("HOST").empty() ? c.host : src.get("HOST");
    const std::string port = !port_arg.empty() ? port_arg : src.get("PORT");
    if (!port.empty()) c.port = static_cast<int>(parse_int("PORT", port, 0, 65535));

    const std::string alg = src.get("JWT_ALGORITHM");
    if (!alg.empty() && alg != "HS256")
        die("JWT_ALGORITHM=" + alg +
            " is not supported: supportbot signs and verifies access tokens with HS256 only "
            "(unset JWT_ALGORITHM or set it to HS256)");

    c.database_url_given = src.get("DATABASE_URL");
    c.database_url = map_database_url(c.database_url_given);

    c.secret_key = src.get("SECRET_KEY");
    if (c.secret_key.empty()) {
        c.secret_key = random_key();
        c.secret_generated = true;
    } else if (c.secret_key.size() < 32) {
        die("SECRET_KEY must be at least 32 bytes (it is " + std::to_string(c.secret_key.size()) +
            "); make one with: openssl rand -hex 32");
    }
    if (const auto v = src.get("ACCESS_TOKEN_EXPIRE_MINUTES"); !v.empty())
        c.access_token_minutes =
            static_cast<unsigned>(parse_int("ACCESS_TOKEN_EXPIRE_MINUTES", v, 1, 525600));

    c.llm_provider = src.get("LLM_PROVIDER");
    const std::string gemini_key = src.get("GEMINI_API_KEY");
    if (c.llm_provider.empty() && !gemini_key.empty()) c.llm_provider = "gemini";
    if (!c.llm_provider.empty() && c.llm_provider != "offline" && c.llm_provider != "gemini" &&
        c.llm_provider != "openai")
        die("LLM_PROVIDER must be offline, gemini or openai (got \"" + c.llm_provider + "\")");
    if (c.llm_provider == "offline") c.llm_provider.clear();
    c.llm_model = src.get("LLM_MODEL");
    c.llm_base_url = src.get("LLM_BASE_URL");
    c.llm_api_key = src.get("LLM_API_KEY");
    if (c.llm_api_key.empty() && c.llm_provider == "gemini") c.llm_api_key = gemini_key;
    if (c.llm_api_key.empty() && c.llm_provider == "openai")
        c.llm_api_key = src.get("OPENAI_API_KEY");
    if (c.llm_provider == "gemini" && c.llm_api_key.empty())
        die("LLM_PROVIDER=gemini needs GEMINI_API_KEY (or LLM_API_KEY)");

    auto size_setting = [&](const char* name, std::size_t& field, long long lo, long long hi) {
        if (const auto v = src.get(name); !v.empty())
            field = static_cast<std::size_t>(parse_int(name, v, lo, hi));
    };
    auto int_setting = [&](const char* name, int& field, long long lo, long long hi) {
        if (const auto v = src.get(name); !v.empty())
            field = static_cast<int>(parse_int(name, v, lo, hi));
    };
    size_setting("WORKER_THREADS", c.worker_threads, 1, 1024);
    c.max_queued_connections = 8 * c.worker_threads;
    size_setting("MAX_QUEUED_CONNECTIONS", c.max_queued_connections, 0, 1000000);
    size_setting("DB_POOL_SIZE", c.db_pool_size, 1, 1024);
    size_setting("MAX_BODY_BYTES", c.max_body_bytes, 1024, 1LL << 30);
    size_setting("MAX_UPLOAD_BYTES", c.max_upload_bytes, 1024, 1LL << 30);
    size_setting("MAX_MESSAGE_BYTES", c.max_message_bytes, 1, 1LL << 20);
    int_setting("READ_TIMEOUT_SECONDS", c.read_timeout_seconds, 1, 3600);
    int_setting("WRITE_TIMEOUT_SECONDS", c.write_timeout_seconds, 1, 3600);
    int_setting("KEEP_ALIVE_SECONDS", c.keep_alive_seconds, 1, 3600);
    int_setting("REQUEST_TIMEOUT_SECONDS", c.request_timeout_seconds, 1, 86400);
    if (const auto v = src.get("LOGIN_MAX_FAILURES"); !v.empty())
        c.login_max_failures =
            static_cast<unsigned>(parse_int("LOGIN_MAX_FAILURES", v, 1, 1000000));
    if (const auto v = src.get("LOGIN_WINDOW_SECONDS"); !v.empty())
        c.login_window_seconds =
            static_cast<unsigned>(parse_int("LOGIN_WINDOW_SECONDS", v, 1, 86400 * 30));
    if (const auto v = src.get("SEED_DEMO"); !v.empty() && v != "0" && v != "false")
        c.seed_demo = true;
    if (const auto v = src.get("ACCESS_LOG"); v == "0" || v == "false" || v == "off")
        c.access_log = false;
    if (const auto v = src.get("DEMO_FAQS"); !v.empty()) c.demo_faqs = v;
    if (const auto v = src.get("DEMO_EMAIL"); !v.empty()) c.demo_email = v;
    if (const auto v = src.get("DEMO_PASSWORD"); !v.empty()) c.demo_password = v;
    return c;
}

}  // namespace sbserver
