#include "listener.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sbserver {

namespace {

using steady = std::chrono::steady_clock;

// Set on the acceptor thread while it runs a connection the pool had no room for: the
// connection is then answered 503 and closed instead of being served.
thread_local bool t_rejecting = false;
// Set on a worker when the request it is receiving ran out of its deadline.
thread_local bool t_deadline_hit = false;

// How long a connection may sit idle between requests (or before its first one) while other
// connections wait for a worker, before it gives its worker up.
constexpr auto kIdleGrace = std::chrono::milliseconds(1000);
// The slices in which a worker waiting for a request looks at the queue and at stop().
constexpr int kPollSliceMs = 100;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now().time_since_epoch())
        .count();
}

int to_ms(time_t sec, time_t usec) {
    const long long ms = static_cast<long long>(sec) * 1000 + static_cast<long long>(usec) / 1000;
    return static_cast<int>(std::clamp<long long>(ms, 0, 24LL * 3600 * 1000));
}

// The worker threads and a queue of connections of bounded length. A connection is taken when
// fewer than workers + max_queued connections are held (running or waiting); otherwise it is
// run on the acceptor thread in rejecting mode, which answers 503 at once.
class BoundedPool final : public httplib::TaskQueue {
  public:
    BoundedPool(std::size_t workers, std::size_t max_queued, ConnectionStats& stats)
        : workers_(workers), capacity_(workers + max_queued), stats_(stats) {
        threads_.reserve(workers);
        for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { run(); });
    }
    BoundedPool(const BoundedPool&) = delete;
    BoundedPool& operator=(const BoundedPool&) = delete;
    ~BoundedPool() override = default;

    void enqueue(std::function<void()> fn) override {
        stats_.accepted.fetch_add(1, std::memory_order_relaxed);
        {
            std::unique_lock lock(mu_);
            if (held_ < capacity_) {
                ++held_;
                publish_queued();
                jobs_.push_back(std::move(fn));
                lock.unlock();
                cv_.notify_one();
                return;
            }
        }
        t_rejecting = true;
        fn();
        t_rejecting = false;
    }

    void shutdown() override {
        {
            std::lock_guard lock(mu_);
            shutdown_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }

  private:
    // Connections held beyond the workers' count wait for one.
    void publish_queued() {
        stats_.queued.store(held_ > workers_ ? static_cast<int64_t>(held_ - workers_) : 0,
                            std::memory_order_relaxed);
    }

    void run() {
        for (;;) {
            std::function<void()> fn;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
                if (jobs_.empty()) return;  // shut down, nothing left
                fn = std::move(jobs_.front());
                jobs_.pop_front();
            }
            fn();
            std::lock_guard lock(mu_);
            --held_;
            publish_queued();
        }
    }

    const std::size_t workers_;
    const std::size_t capacity_;
    ConnectionStats& stats_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    std::size_t held_ = 0;  // queued or running
    bool shutdown_ = false;
    std::vector<std::thread> threads_;
};

void ip_and_port(socket_t sock, bool peer, std::string& ip, int& port) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    if ((peer ? ::getpeername(sock, sa, &len) : ::getsockname(sock, sa, &len)) != 0) return;
    std::array<char, NI_MAXHOST> host{};
    if (::getnameinfo(sa, len, host.data(), static_cast<socklen_t>(host.size()), nullptr, 0,
                      NI_NUMERICHOST) == 0)
        ip = host.data();
    if (addr.ss_family == AF_INET)
        port = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
    else if (addr.ss_family == AF_INET6)
        port = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
}

// One connection's stream, kept across its keep-alive requests (so that pipelined bytes read
// ahead are not lost). Reads wait at most the read timeout each, and never past the deadline of
// the request being received; writes wait at most the write timeout each.
class ConnStream final : public httplib::Stream {
  public:
    ConnStream(socket_t sock, int read_timeout_ms, int write_timeout_ms)
        : sock_(sock), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {}

    void begin_request(int timeout_seconds) {
        deadline_ = steady::now() + std::chrono::seconds(timeout_seconds);
        deadline_hit_ = false;
        t_deadline_hit = false;
    }
    bool deadline_hit() const { return deadline_hit_; }
    bool buffered() const { return off_ < size_; }

    bool is_readable() const override {
        for (;;) {
            const auto now = steady::now();
            if (now >= deadline_) {
                deadline_hit_ = true;
                t_deadline_hit = true;
                return false;
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now).count();
            const int wait = static_cast<int>(std::min<long long>(read_timeout_ms_, left + 1));
            pollfd p{sock_, POLLIN, 0};
            const int r = ::poll(&p, 1, wait);
            if (r > 0) return true;
            if (r < 0 && errno == EINTR) continue;
            if (r == 0 && wait < read_timeout_ms_) continue;  // the deadline's turn: see above
            return false;
        }
    }

    bool is_writable() const override {
        pollfd p{sock_, POLLOUT, 0};
        int r;
        do {
            r = ::poll(&p, 1, write_timeout_ms_);
        } while (r < 0 && errno == EINTR);
        if (r <= 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
        // Still open at the other end? (What httplib checks before each write, so that a
        // streamed response stops when its reader has gone.)
        pollfd q{sock_, POLLIN, 0};
        if (::poll(&q, 1, 0) <= 0) return true;
        char c;
        const ssize_t n = ::recv(sock_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
    }

    ssize_t read(char* ptr, size_t size) override {
        if (buffered()) {
            const std::size_t n = std::min(size, size_ - off_);
            std::memcpy(ptr, buf_.data() + off_, n);
            off_ += n;
            return static_cast<ssize_t>(n);
        }
        if (!is_readable()) return -1;
        off_ = size_ = 0;
        ssize_t n;
        if (size < buf_.size()) {
            n = recv_some(buf_.data(), buf_.size());
            if (n <= 0) return n;
            const auto got = static_cast<std::size_t>(n);
            if (got <= size) {
                std::memcpy(ptr, buf_.data(), got);
                return n;
            }
            std::memcpy(ptr, buf_.data(), size);
            off_ = size;
            size_ = got;
            return static_cast<ssize_t>(size);
        }
        return recv_some(ptr, size);
    }

    ssize_t write(const char* ptr, size_t size) override {
        if (!is_writable()) return -1;
        ssize_t n;
        do {
            n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        return n;
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip_and_port(sock_, true, ip, port);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        ip_and_port(sock_, false, ip, port);
    }
    socket_t socket() const override { return sock_; }

  private:
    ssize_t recv_some(char* ptr, size_t size) const {
        ssize_t n;
        do {
            n = ::recv(sock_, ptr, size, 0);
        } while (n < 0 && errno == EINTR);
        return n;
    }

    socket_t sock_;
    int read_timeout_ms_;
    int write_timeout_ms_;
    steady::time_point deadline_ = steady::time_point::max();
    mutable bool deadline_hit_ = false;
    std::array<char, 4096> buf_{};
    std::size_t off_ = 0, size_ = 0;
};

}  // namespace

Listener::Listener(ListenerLimits limits) : limits_(limits) {
    new_task_queue = [this] {
        return new BoundedPool(limits_.workers, limits_.max_queued, stats_);
    };
    const std::string body = "{\"detail\":\"the server is busy; try again shortly\"}";
    reject_response_ =
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) +
        "\r\n"
        "Retry-After: 1\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n";
    for (const auto& [name, value] : kSecurityHeaders)
        reject_response_ += std::string(name) + ": " + value + "\r\n";
    reject_response_ += "\r\n" + body;
}

bool Listener::request_deadline_hit() {
    return t_deadline_hit;
}

bool Listener::process_and_close_socket(socket_t sock) {
    if (t_rejecting) {
        reject(sock);
        return false;
    }
    stats_.active.fetch_add(1, std::memory_order_relaxed);
    ConnStream strm(sock, to_ms(read_timeout_sec_, read_timeout_usec_),
                    to_ms(write_timeout_sec_, write_timeout_usec_));
    bool ret = false;
    std::size_t left = keep_alive_max_count_;
    while (svr_sock_ != INVALID_SOCKET && left > 0 && (strm.buffered() || wait_for_request(sock))) {
        bool closed = false;
        strm.begin_request(limits_.request_timeout_seconds);
        ret = process_request(strm, left == 1, closed, nullptr);
        if (strm.deadline_hit()) {
            // What follows on this connection cannot be told from the rest of the late request.
            stats_.deadline_exceeded.fetch_add(1, std::memory_order_relaxed);
            break;
        }
        if (!ret || closed) break;
        --left;
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    stats_.active.fetch_sub(1, std::memory_order_relaxed);
    return ret;
}

// Waits for the next request of a connection (its first, or the next on a kept-alive one): at
// most the keep-alive timeout, less once the server stops, and at most kIdleGrace of silence
// while other connections wait for a worker.
bool Listener::wait_for_request(socket_t sock) const {
    const auto start = steady::now();
    const auto limit = start + std::chrono::seconds(keep_alive_timeout_sec_);
    for (;;) {
        if (svr_sock_ == INVALID_SOCKET) return false;
        const auto now = steady::now();
        if (now >= limit) return false;
        if (now - start >= kIdleGrace && stats_.queued.load(std::memory_order_relaxed) > 0)
            return false;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(limit - now);
        pollfd p{sock, POLLIN, 0};
        const int r =
            ::poll(&p, 1, static_cast<int>(std::min<long long>(kPollSliceMs, left.count() + 1)));
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
}

// A connection beyond the limit: 503 with Retry-After, written without waiting (a fresh
// socket's send buffer has room), then closed. What the client already sent is read first, so
// that closing does not reset the connection before the answer is read.
void Listener::reject(socket_t sock) {
    const uint64_t n = stats_.rejected.fetch_add(1, std::memory_order_relaxed) + 1;
    std::array<char, 4096> sink{};
    for (int i = 0; i < 16 && ::recv(sock, sink.data(), sink.size(), MSG_DONTWAIT) > 0; ++i) {
    }
    [[maybe_unused]] const ssize_t sent =
        ::send(sock, reject_response_.data(), reject_response_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(sock, SHUT_WR);
    ::close(sock);
    const int64_t now = now_ms();
    int64_t last = last_warning_ms_.load(std::memory_order_relaxed);
    if (now - last >= 10000 && last_warning_ms_.compare_exchange_strong(last, now)) {
        std::fprintf(stderr,
                     "supportbot-server: connection limit reached (%zu workers, %zu queued): new "
                     "connections are answered 503; %llu so far\n",
                     limits_.workers, limits_.max_queued, static_cast<unsigned long long>(n));
    }
}

}  // namespace sbserver
