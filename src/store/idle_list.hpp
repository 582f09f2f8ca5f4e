// The idle connections of a store's pool (SQLite and PostgreSQL alike), each remembered with the
// thread that gave it back. take() hands a thread the connection it used last when that one is
// idle, else the one given back most recently.
//
// Why: with connections handed round, two host threads keep swapping them. For PostgreSQL that
// means swapping backends, so the kernel cannot keep a thread and the backend it talks to close
// together and a turn wakes a backend on another core: sb_chat_bench, 2 threads on 2 cores,
// 12,500 turns/s handed round, 16,300-17,000 kept (as two processes of one thread each). SQLite
// measured the same either way; its pool does the same so that both behave alike.
// Not thread-safe: the pool holds its mutex around every call.
#pragma once

#include <cstddef>
#include <iterator>
#include <thread>
#include <utility>
#include <vector>

namespace sb {

template <class Conn>
class IdleList {
  public:
    bool empty() const noexcept { return items_.empty(); }
    std::size_t size() const noexcept { return items_.size(); }

    // Room for n connections, so that put() never allocates (it runs in destructors).
    void reserve(std::size_t n) { items_.reserve(n); }

    // Gives c back, remembering the calling thread.
    void put(Conn c) { items_.push_back({std::move(c), std::this_thread::get_id()}); }

    // The calling thread's last connection if idle, else the newest; the list must not be empty.
    Conn take() {
        const std::thread::id self = std::this_thread::get_id();
        auto chosen = items_.end() - 1;
        for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
            if (it->last_user == self) {
                chosen = std::prev(it.base());
                break;
            }
        }
        Conn c = std::move(chosen->conn);
        items_.erase(chosen);
        return c;
    }

  private:
    struct Item {
        Conn conn;
        std::thread::id last_user;
    };
    std::vector<Item> items_;
};

}  // namespace sb
