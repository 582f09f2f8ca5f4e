// supportbot-server: the seed's REST API over supportbot's C ABI. See README.md ("HTTP server").
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "config.hpp"
#include "listener.hpp"
#include "server.hpp"

int main(int argc, char** argv) {
    using namespace sbserver;
    // SIGTERM and SIGINT are taken by one thread (sigwait), so that they are blocked in every
    // thread started from here on: the engine's and the server's.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    Config config = load_config(argc, argv);
    // Into a file or a pipe, stdout (the access log) is written in 64 KiB blocks, flushed four
    // times a second by a thread started below; a terminal keeps its line buffering.
    const bool log_buffered = config.access_log && !config.print_routes && !config.print_openapi &&
                              isatty(STDOUT_FILENO) == 0;
    if (log_buffered) std::setvbuf(stdout, nullptr, _IOFBF, 64 * 1024);
    if (config.print_routes || config.print_openapi) {
        App app(config, nullptr);
        if (config.print_openapi) {
            std::puts(app.openapi().c_str());
        } else {
            for (const auto& r : app.routes()) std::printf("%s %s\n", r.method, r.path);
        }
        return 0;
    }

    sb_engine_options opts = SB_ENGINE_OPTIONS_INIT;
    opts.database_url = config.database_url.empty() ? nullptr : config.database_url.c_str();
    opts.pool_size = config.db_pool_size;
    opts.secret_key = config.secret_key.c_str();
    opts.access_token_minutes = config.access_token_minutes;
    opts.login_max_failures = config.login_max_failures;
    opts.login_window_seconds = config.login_window_seconds;
    opts.llm_provider = config.llm_provider.empty() ? nullptr : config.llm_provider.c_str();
    opts.llm_model = config.llm_model.empty() ? nullptr : config.llm_model.c_str();
    opts.llm_base_url = config.llm_base_url.empty() ? nullptr : config.llm_base_url.c_str();
    opts.llm_api_key = config.llm_api_key.empty() ? nullptr : config.llm_api_key.c_str();
    sb_engine* engine = nullptr;
    if (sb_engine_open(&engine, &opts) != SB_OK) {
        std::fprintf(stderr, "supportbot-server: cannot open the engine: %s\n", sb_last_error());
        return 1;
    }
    if (config.secret_generated)
        std::fprintf(stderr,
                     "supportbot-server: warning: SECRET_KEY is not set; using a random key, so "
                     "access tokens will not survive a restart (and other processes on the same "
                     "database cannot verify them)\n");
    {
        const std::string shown =
            config.database_url.empty() ? "sqlite://supportbot.db" : config.database_url;
        // Never print a password that a PostgreSQL URL may carry.
        std::string safe = shown;
        const auto at = safe.find('@');
        const auto scheme = safe.find("://");
        if (at != std::string::npos && scheme != std::string::npos && at > scheme) {
            const auto colon = safe.find(':', scheme + 3);
            if (colon != std::string::npos && colon < at)
                safe.replace(colon + 1, at - colon - 1, "***");
        }
        std::fprintf(stderr, "supportbot-server: database %s, responder %s\n", safe.c_str(),
                     config.llm_provider.empty() ? "offline" : config.llm_provider.c_str());
    }

    int status = 0;
    {
        App app(config, engine);
        if (config.seed_demo) app.seed_demo();
        Listener server(
            {config.worker_threads, config.max_queued_connections, config.request_timeout_seconds});
        app.install(server);
        int port = config.port;
        if (port == 0) {
            port = server.bind_to_any_port(config.host);
        } else if (!server.bind_to_port(config.host, port)) {
            port = -1;
        }
        if (port > 0 && !server.widen_backlog())
            std::fprintf(stderr, "supportbot-server: warning: cannot widen the listen backlog\n");
        if (port <= 0) {
            std::fprintf(stderr, "supportbot-server: cannot listen on %s:%d\n", config.host.c_str(),
                         config.port);
            sb_engine_close(engine);
            return 1;
        }
        std::printf("supportbot-server listening on http://%s:%d\n", config.host.c_str(), port);
        std::fflush(stdout);
        // The access log goes to stdout line by line; into a file or a pipe it is written in
        // blocks (see above) and flushed here four times a second, rather than a write per
        // request.
        std::jthread log_flusher;
        if (log_buffered) {
            log_flusher = std::jthread([](std::stop_token stop) {
                std::mutex mu;
                std::condition_variable_any cv;
                std::unique_lock lock(mu);
                while (!stop.stop_requested()) {
                    cv.wait_for(lock, stop, std::chrono::milliseconds(250), [] { return false; });
                    std::fflush(stdout);
                }
                std::fflush(stdout);
            });
        }

        std::thread stopper([&server, &stop_signals] {
            int sig = 0;
            sigwait(&stop_signals, &sig);
            std::fprintf(stderr, "supportbot-server: %s: finishing requests in flight\n",
                         sig == SIGTERM ? "SIGTERM" : "SIGINT");
            server.stop();
        });
        if (!server.listen_after_bind()) status = 1;
        // listen_after_bind returns once stop() was called and the workers have finished.
        if (stopper.joinable()) {
            if (status != 0) {
                // The listener failed on its own: wake the stopper so that it can be joined.
                pthread_kill(stopper.native_handle(), SIGTERM);
            }
            stopper.join();
        }
    }
    sb_engine_close(engine);
    std::fprintf(stderr, "supportbot-server: stopped\n");
    return status;
}
