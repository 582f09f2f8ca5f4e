// supportbot-server: the seed's REST API (and more) over the public C ABI, with cpp-httplib.
#ifndef SUPPORTBOT_SERVER_SERVER_HPP
#define SUPPORTBOT_SERVER_SERVER_HPP

#include <supportbot/supportbot.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "config.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace sbserver {

class Listener;
struct ConnectionStats;
class WorkerSlots;

// An error answered as {"detail": ...} with this status.
struct HttpError : std::runtime_error {
    HttpError(int s, const std::string& detail) : std::runtime_error(detail), status(s) {}
    int status;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct Ctx {
    const httplib::Request& req;
    httplib::Response& res;
    std::vector<std::pair<std::string, std::string>> params;  // path parameters, decoded
    const std::string& param(std::string_view name) const;
};

enum class Body { None, Json, Form, Multipart, FaqUpload };

struct Route {
    const char* method;
    const char* path;  // template: /api/v1/chat/{bot_id}
    std::function<void(Ctx&)> handler;
    const char* summary;
    const char* tag;
    bool auth;
    Body body;
    const char* body_schema;  // components/schemas name for Json bodies
    const char* query;        // "limit:integer,cursor:string"
    int ok_status;
    const char* response;  // JSON schema of the success response, or a media type marker
    std::vector<std::string> segments;  // split path
};

class Metrics {
  public:
    void request(const std::string& method, const std::string& route, int status, double seconds);
    void chat_turn(bool escalated, const std::string& reason, bool fallback);
    std::string render() const;
    std::atomic<int64_t> in_flight{0};
    const ConnectionStats* connections = nullptr;  // the listener's, once installed

  private:
    static constexpr double kBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10};
    static constexpr std::size_t kBucketCount = sizeof(kBuckets) / sizeof(kBuckets[0]);
    struct Histogram {
        uint64_t counts[kBucketCount + 1] = {};
        double sum = 0;
        uint64_t count = 0;
    };
    mutable std::mutex mu_;
    std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
    std::map<std::string, Histogram> latency_;
    uint64_t chat_turns_ = 0;
    uint64_t fallbacks_ = 0;
    std::map<std::string, uint64_t> escalations_;
};

struct PrincipalFree {
    void operator()(sb_principal* p) const { sb_principal_free(p); }
};
using Principal = std::shared_ptr<sb_principal>;

class App {
  public:
    App(Config config, sb_engine* engine);
    const std::vector<Route>& routes() const { return routes_; }
    std::string openapi() const;
    // Registers everything on the server (routes, limits, logging, errors).
    void install(Listener& server);
    // With --seed-demo: the demo admin and bot.
    void seed_demo();

  private:
    void add(Route r);
    const Route* match(const std::string& method, const std::string& path, Ctx* ctx,
                       bool* path_known) const;
    void dispatch(const httplib::Request& req, httplib::Response& res);

    Principal auth(Ctx& c) const;
    [[noreturn]] void fail(int sb_status, const char* context = nullptr) const;
    void check(int sb_status) const {
        if (sb_status != SB_OK) fail(sb_status);
    }
    std::string bot_json(const Principal& p, const std::string& bot_id) const;
    std::string link_next(const Ctx& c, const std::string& cursor, std::size_t limit) const;
    std::size_t page_limit(const Ctx& c) const;

    // Handlers.
    void register_account(Ctx& c, bool admin);
    void login(Ctx& c, bool admin, bool agent = false);
    void me(Ctx& c);
    void delete_me(Ctx& c);
    void delete_account(Ctx& c);
    void create_bot(Ctx& c);
    void list_bots(Ctx& c);
    void get_bot(Ctx& c);
    void replace_faqs(Ctx& c);
    void chat(Ctx& c);
    void chat_stream(Ctx& c);
    void sessions(Ctx& c);
    void history(Ctx& c);
    void summary(Ctx& c);
    void close_session(Ctx& c);
    // The hand-over to human agents (for the bot's owner admin and its agents).
    void escalations(Ctx& c);
    void handover_action(Ctx& c, const char* action);  // claim, release, close
    void agent_message(Ctx& c);
    void list_agents(Ctx& c);
    void add_agent(Ctx& c);
    void remove_agent(Ctx& c);
    void bot_summaries(Ctx& c);
    void process_summaries(Ctx& c);
    void analytics(Ctx& c);
    void health(Ctx& c);
    void metrics(Ctx& c);
    void openapi_route(Ctx& c);
    void web(Ctx& c);

    Config config_;
    sb_engine* engine_;
    std::vector<Route> routes_;
    mutable Metrics metrics_;
    // The listener's: a handler (or a stream) holds one while it runs, so that at most
    // WORKER_THREADS requests are in the library at once. Null until installed.
    WorkerSlots* slots_ = nullptr;
};

}  // namespace sbserver

#endif
