// The server's settings: the environment, then a .env file in the working directory (the
// environment wins, as with the seed's pydantic settings), then the command line.
#ifndef SUPPORTBOT_SERVER_CONFIG_HPP
#define SUPPORTBOT_SERVER_CONFIG_HPP

#include <cstddef>
#include <string>

namespace sbserver {

struct Config {
    std::string host = "127.0.0.1";
    int port = 8000;
    std::string database_url;  // "" = the library's default, sqlite://supportbot.db
    std::string database_url_given;
    std::string secret_key;
    bool secret_generated = false;
    unsigned access_token_minutes = 30;
    std::string llm_provider;  // "" = offline
    std::string llm_model;
    std::string llm_base_url;
    std::string llm_api_key;
    std::size_t worker_threads = 8;
    // Connections accepted while every worker is busy wait in a queue this long at most; beyond
    // it a new connection is answered 503 at once. Default: 8 per worker thread.
    std::size_t max_queued_connections = 0;
    std::size_t db_pool_size = 0;  // 0 = the library's default
    std::size_t max_body_bytes = 64 * 1024;
    std::size_t max_upload_bytes = 16 * 1024 * 1024;
    std::size_t max_message_bytes = 4000;
    int read_timeout_seconds = 10;
    int write_timeout_seconds = 30;
    int keep_alive_seconds = 5;
    int request_timeout_seconds = 60;  // the whole request (line, headers, body) must arrive
    unsigned login_max_failures = 5;
    unsigned login_window_seconds = 900;
    bool access_log = true;
    bool seed_demo = false;
    std::string demo_faqs = "faqs.json";
    std::string demo_email = "admin@example.com";
    std::string demo_password = "demo-Password-1";
    bool print_routes = false;
    bool print_openapi = false;
};

// Reads the settings; on a bad value prints a clear message and exits with status 2.
Config load_config(int argc, char** argv);

// The seed's SQLAlchemy-style URLs mapped to the library's: postgresql+psycopg2:// (any +driver)
// and postgres:// -> postgresql://; sqlite:///./x.db -> sqlite://./x.db (relative);
// sqlite:////abs/x.db -> sqlite:///abs/x.db. Anything else is passed through.
std::string map_database_url(const std::string& url);

}  // namespace sbserver

#endif
