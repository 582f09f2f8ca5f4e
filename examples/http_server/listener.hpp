// The server's connection handling over cpp-httplib 0.11: a bounded number of connections at
// once (the workers' plus a bounded queue; beyond it a new connection is answered 503 at once)
// and a total deadline for receiving each request, besides httplib's per-read timeouts.
#ifndef SUPPORTBOT_SERVER_LISTENER_HPP
#define SUPPORTBOT_SERVER_LISTENER_HPP

#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace sbserver {

// Counters the metrics read (atomics: the acceptor and every worker update them).
struct ConnectionStats {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> rejected{0};           // answered 503: workers and queue were full
    std::atomic<uint64_t> deadline_exceeded{0};  // requests not received within the deadline
    std::atomic<int64_t> queued{0};              // accepted, waiting for a worker
    std::atomic<int64_t> active{0};              // held by a worker
};

// Headers on every response of the server (the page has no inline script or style).
inline constexpr std::pair<const char*, const char*> kSecurityHeaders[] = {
    {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
};

struct ListenerLimits {
    std::size_t workers = 8;
    std::size_t max_queued = 64;  // connections accepted and waiting for a worker
    int request_timeout_seconds = 60;
};

// An httplib::Server whose connections go through a bounded queue and a stream of its own.
// httplib 0.11 offers no hook for either, except that new_task_queue is public and
// process_and_close_socket is virtual: this class overrides the latter with the same loop
// (keep-alive, one request at a time through the protected process_request) over its own
// Stream, which enforces the request deadline.
class Listener : public httplib::Server {
  public:
    explicit Listener(ListenerLimits limits);
    ConnectionStats& stats() { return stats_; }
    // On a worker thread: whether the request being handled ran out of its deadline while it
    // was being received (the error handler then answers 408 rather than httplib's 400).
    static bool request_deadline_hit();

  private:
    bool process_and_close_socket(socket_t sock) override;
    bool wait_for_request(socket_t sock) const;
    void reject(socket_t sock);

    ListenerLimits limits_;
    ConnectionStats stats_;
    std::string reject_response_;
    std::atomic<int64_t> last_warning_ms_{0};
};

}  // namespace sbserver

#endif
