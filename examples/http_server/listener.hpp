// The server's connection handling over cpp-httplib 0.11: a thread per open connection (blocked
// on its socket while idle, so that a kept-alive connection holds no worker), a bounded number of
// connections at once (WORKER_THREADS + MAX_QUEUED_CONNECTIONS; beyond it a new connection is
// answered 503 at once), at most WORKER_THREADS requests in the handlers (the library's calls)
// at once, and a total deadline for receiving each request, besides httplib's per-read timeouts.
#ifndef SUPPORTBOT_SERVER_LISTENER_HPP
#define SUPPORTBOT_SERVER_LISTENER_HPP

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>

namespace sbserver {

// Counters the metrics read (atomics: the acceptor and every worker update them).
struct ConnectionStats {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> rejected{0};           // answered 503: workers and queue were full
    std::atomic<uint64_t> deadline_exceeded{0};  // requests not received within the deadline
    std::atomic<int64_t> queued{0};              // requests received, waiting for a worker
    std::atomic<int64_t> active{0};              // connections open (each on its own thread)
    std::atomic<int64_t> held{0};                // connections taken (open or about to be)
};

// At most `workers` requests in the handlers at once: a first-come-first-served counting
// semaphore whose waiters are counted in ConnectionStats::queued.
class WorkerSlots {
  public:
    WorkerSlots(std::size_t workers, ConnectionStats& stats) : free_(workers), stats_(stats) {}
    WorkerSlots(const WorkerSlots&) = delete;
    WorkerSlots& operator=(const WorkerSlots&) = delete;
    void acquire();
    void release();

    // Holds a slot for its scope; a null WorkerSlots holds nothing.
    class Guard {
      public:
        explicit Guard(WorkerSlots* slots) : slots_(slots) {
            if (slots_) slots_->acquire();
        }
        ~Guard() {
            if (slots_) slots_->release();
        }
        Guard(const Guard&) = delete;
        Guard& operator=(const Guard&) = delete;

      private:
        WorkerSlots* slots_;
    };

  private:
    struct Waiter {
        std::condition_variable cv;
        bool granted = false;
    };
    std::mutex mu_;
    std::size_t free_;
    std::deque<Waiter*> waiters_;  // oldest first
    ConnectionStats& stats_;
};

// Headers on every response of the server (the page has no inline script or style).
inline constexpr std::pair<const char*, const char*> kSecurityHeaders[] = {
    {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
};

struct ListenerLimits {
    std::size_t workers = 8;      // requests in the handlers at once
    std::size_t max_queued = 64;  // connections open beyond `workers`
    int request_timeout_seconds = 60;
};

// An httplib::Server whose connections each get a thread of a bounded set, and a stream of its
// own. httplib 0.11 offers no hook for either, except that new_task_queue is public and
// process_and_close_socket is virtual: this class overrides the latter with the same loop
// (keep-alive, one request at a time through the protected process_request) over its own
// Stream, which enforces the request deadline, sends a response's headers and body in one
// write, and tries a read or a write before it polls.
class Listener : public httplib::Server {
  public:
    explicit Listener(ListenerLimits limits);
    ConnectionStats& stats() { return stats_; }
    // The slots the handlers take (App holds one while a handler or a stream runs).
    WorkerSlots& worker_slots() { return slots_; }
    // On a worker thread: whether the request being handled ran out of its deadline while it
    // was being received (the error handler then answers 408 rather than httplib's 400).
    static bool request_deadline_hit();
    // After bind_to_port: listen with a backlog of SOMAXCONN rather than httplib 0.11's 5, with
    // which a burst of new connections (wrk's 16 or 64 at once, a proxy reconnecting) overflows
    // the kernel's accept queue and the dropped SYNs are retried only after 1 s, then 3 s.
    bool widen_backlog();

  private:
    bool process_and_close_socket(socket_t sock) override;
    bool wait_for_request(socket_t sock) const;
    void reject(socket_t sock);

    ListenerLimits limits_;
    ConnectionStats stats_;
    WorkerSlots slots_;
    std::string reject_response_;
    std::atomic<int64_t> last_warning_ms_{0};
};

}  // namespace sbserver

#endif
