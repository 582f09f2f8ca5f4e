#include "listener.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
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
#include <string_view>
#include <thread>
#include <vector>

namespace sbserver {

namespace {

using steady = std::chrono::steady_clock;

// Set on the acceptor thread while it runs a connection the server had no room for: the
// connection is then answered 503 and closed instead of being served.
thread_local bool t_rejecting = false;
// Set on a connection's thread when the request it is receiving ran out of its deadline.
thread_local bool t_deadline_hit = false;

// How long a connection may sit idle between requests (or before its first one) while the server
// holds as many connections as it may, before it closes to make room for new ones.
constexpr auto kIdleGrace = std::chrono::milliseconds(1000);
// The slices in which a connection waiting for a request looks at stop() and at the room left.
constexpr int kPollSliceMs = 100;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now().time_since_epoch())
        .count();
}

int to_ms(time_t sec, time_t usec) {
    const long long ms = static_cast<long long>(sec) * 1000 + static_cast<long long>(usec) / 1000;
    return static_cast<int>(std::clamp<long long>(ms, 0, 24LL * 3600 * 1000));
}

// A thread per connection, at most `capacity` connections at once. Threads are started when a
// connection finds none idle and kept for the next ones (a blocked thread costs its stack and
// nothing else), so at most as many as the most connections ever open at once. A connection
// beyond the capacity is run on the acceptor thread in rejecting mode, which answers 503 at
// once.
class ConnectionThreads final : public httplib::TaskQueue {
  public:
    ConnectionThreads(std::size_t capacity, ConnectionStats& stats)
        : capacity_(capacity), stats_(stats) {}
    ConnectionThreads(const ConnectionThreads&) = delete;
    ConnectionThreads& operator=(const ConnectionThreads&) = delete;
    ~ConnectionThreads() override = default;

    void enqueue(std::function<void()> fn) override {
        stats_.accepted.fetch_add(1, std::memory_order_relaxed);
        {
            std::unique_lock lock(mu_);
            if (held_ < capacity_ && !shutdown_) {
                ++held_;
                stats_.held.store(static_cast<int64_t>(held_), std::memory_order_relaxed);
                jobs_.push_back(std::move(fn));
                if (jobs_.size() > idle_) {
                    threads_.emplace_back([this] { run(); });
                    return;
                }
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
    void run() {
        std::unique_lock lock(mu_);
        for (;;) {
            ++idle_;
            cv_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
            --idle_;
            if (jobs_.empty()) return;  // shut down, nothing left
            auto fn = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            fn();
            lock.lock();
            --held_;
            stats_.held.store(static_cast<int64_t>(held_), std::memory_order_relaxed);
        }
    }

    const std::size_t capacity_;
    ConnectionStats& stats_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    std::size_t held_ = 0;  // waiting for a thread or running
    std::size_t idle_ = 0;  // threads waiting for a connection
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
// the request being received; writes wait at most the write timeout each. A read or a write is
// tried first and waits (poll) only when the socket is not ready, and a response's header block
// is held until its body is written, so that both go out in one send (one packet, one wake-up
// of the client) rather than two; a streamed (chunked) response's headers go out at once.
class ConnStream final : public httplib::Stream {
  public:
    ConnStream(socket_t sock, int read_timeout_ms, int write_timeout_ms)
        : sock_(sock), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {}

    void begin_request(int timeout_seconds) {
        deadline_ = steady::now() + std::chrono::seconds(timeout_seconds);
        deadline_hit_ = false;
        t_deadline_hit = false;
        streaming_ = false;
    }
    // After a request: sends the header block still held (a response without a body).
    bool end_request() {
        if (held_.empty()) return true;
        const bool ok = send_all(held_.data(), held_.size(), nullptr, 0);
        held_.clear();
        return ok;
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

    // Whether a write can go out now and the other end is still there to read it (what httplib
    // checks before each write, so that a streamed response stops when its reader has gone).
    bool is_writable() const override {
        if (!wait_writable()) return false;
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
        if (steady::now() >= deadline_) {
            deadline_hit_ = true;
            t_deadline_hit = true;
            return -1;
        }
        off_ = size_ = 0;
        const bool into_buf = size < buf_.size();
        char* dst = into_buf ? buf_.data() : ptr;
        const std::size_t cap = into_buf ? buf_.size() : size;
        ssize_t n = recv_some(dst, cap, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!is_readable()) return -1;
            n = recv_some(dst, cap, 0);
        }
        if (n <= 0 || !into_buf) return n;
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

    ssize_t write(const char* ptr, size_t size) override {
        const std::string_view data(ptr, size);
        if (held_.empty() && is_header_block(data)) {
            streaming_ = data.find("\r\nTransfer-Encoding: chunked\r\n") != std::string_view::npos;
            if (!streaming_) {
                held_.assign(data);
                return static_cast<ssize_t>(size);
            }
        }
        if (streaming_ && !is_writable()) return -1;
        bool ok;
        if (!held_.empty()) {
            ok = send_all(held_.data(), held_.size(), ptr, size);
            held_.clear();
        } else {
            ok = send_all(ptr, size, nullptr, 0);
        }
        return ok ? static_cast<ssize_t>(size) : -1;
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        if (!remote_known_) {
            ip_and_port(sock_, true, remote_ip_, remote_port_);
            remote_known_ = true;
        }
        ip = remote_ip_;
        port = remote_port_;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        if (!local_known_) {
            ip_and_port(sock_, false, local_ip_, local_port_);
            local_known_ = true;
        }
        ip = local_ip_;
        port = local_port_;
    }
    socket_t socket() const override { return sock_; }

  private:
    // A response's status line and headers, as httplib writes them: in one write, ahead of the
    // body. (An interim 100 Continue goes out at once: the client waits for it.)
    static bool is_header_block(std::string_view d) {
        return d.size() > 13 && d.substr(0, 7) == "HTTP/1." && d[9] != '1' &&
               d.substr(d.size() - 4) == "\r\n\r\n";
    }

    bool wait_writable() const {
        pollfd p{sock_, POLLOUT, 0};
        int r;
        do {
            r = ::poll(&p, 1, write_timeout_ms_);
        } while (r < 0 && errno == EINTR);
        return r > 0 && !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
    }

    // Sends a then b (either may be empty) whole, in as few sends as the socket takes, waiting
    // at most the write timeout whenever it takes nothing.
    bool send_all(const char* a, std::size_t na, const char* b, std::size_t nb) const {
        iovec iov[2] = {{const_cast<char*>(a), na}, {const_cast<char*>(b), nb}};
        std::size_t first = na == 0 ? 1 : 0;
        while (first < 2) {
            msghdr msg{};
            msg.msg_iov = iov + first;
            msg.msg_iovlen = 2 - first;
            const ssize_t n = ::sendmsg(sock_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR) continue;
                if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_writable()) continue;
                return false;
            }
            auto sent = static_cast<std::size_t>(n);
            while (first < 2 && sent >= iov[first].iov_len) {
                sent -= iov[first].iov_len;
                ++first;
            }
            if (first < 2) {
                iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + sent;
                iov[first].iov_len -= sent;
            }
            while (first < 2 && iov[first].iov_len == 0) ++first;
        }
        return true;
    }

    ssize_t recv_some(char* ptr, size_t size, int flags) const {
        ssize_t n;
        do {
            n = ::recv(sock_, ptr, size, flags);
        } while (n < 0 && errno == EINTR);
        return n;
    }

    socket_t sock_;
    int read_timeout_ms_;
    int write_timeout_ms_;
    steady::time_point deadline_ = steady::time_point::max();
    mutable bool deadline_hit_ = false;
    bool streaming_ = false;
    std::string held_;  // a response's header block, waiting for its body
    std::array<char, 4096> buf_{};
    std::size_t off_ = 0, size_ = 0;
    mutable bool remote_known_ = false, local_known_ = false;
    mutable std::string remote_ip_, local_ip_;
    mutable int remote_port_ = 0, local_port_ = 0;
};

}  // namespace

// First come, first served: a released slot goes straight to the oldest waiter (one wake-up),
// and a newcomer waits behind the others, so that a connection whose requests follow each other
// closely cannot take the slot again and again while others wait.
void WorkerSlots::acquire() {
    std::unique_lock lock(mu_);
    if (free_ > 0 && waiters_.empty()) {
        --free_;
        return;
    }
    Waiter w;
    waiters_.push_back(&w);
    stats_.queued.fetch_add(1, std::memory_order_relaxed);
    w.cv.wait(lock, [&w] { return w.granted; });
    stats_.queued.fetch_sub(1, std::memory_order_relaxed);
}

void WorkerSlots::release() {
    std::unique_lock lock(mu_);
    if (waiters_.empty()) {
        ++free_;
        return;
    }
    Waiter* w = waiters_.front();
    waiters_.pop_front();
    w->granted = true;
    w->cv.notify_one();  // under the lock: w lives on its waiter's stack until it wakes
}

Listener::Listener(ListenerLimits limits) : limits_(limits), slots_(limits.workers, stats_) {
    new_task_queue = [this] {
        return new ConnectionThreads(limits_.workers + limits_.max_queued, stats_);
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

bool Listener::widen_backlog() {
    // Listening again on a listening socket only changes its backlog (Linux, the BSDs).
    return ::listen(svr_sock_, SOMAXCONN) == 0;
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
        if (!strm.end_request()) ret = false;
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
// while the server holds as many connections as it may (new ones are then answered 503).
bool Listener::wait_for_request(socket_t sock) const {
    const auto start = steady::now();
    const auto limit = start + std::chrono::seconds(keep_alive_timeout_sec_);
    for (;;) {
        if (svr_sock_ == INVALID_SOCKET) return false;
        const auto now = steady::now();
        if (now >= limit) return false;
        if (now - start >= kIdleGrace &&
            stats_.held.load(std::memory_order_relaxed) >=
                static_cast<int64_t>(limits_.workers + limits_.max_queued))
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
                     "supportbot-server: connection limit reached (%zu connections open: "
                     "WORKER_THREADS %zu + MAX_QUEUED_CONNECTIONS %zu): new connections are "
                     "answered 503; %llu so far\n",
                     limits_.workers + limits_.max_queued, limits_.workers, limits_.max_queued,
                     static_cast<unsigned long long>(n));
    }
}

}  // namespace sbserver
