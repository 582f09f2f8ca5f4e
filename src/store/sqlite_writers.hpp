// How the connections of the SQLite store write and checkpoint the WAL. Header-only and
// depending on nothing but sqlite3.h and the standard library, so that bench/chat_bench.cpp's
// ceiling writes and checkpoints exactly as the store does.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <utility>

namespace sb {

// The writers of one pool (the connections to one database file in one process).
//
// Writes take turns on the pool's gate, a mutex held from before a write's BEGIN to after its
// COMMIT or ROLLBACK. A writer that finds the gate taken spins for it a while (a write holds it
// for some tens of microseconds) before it sleeps on it; only one writer spins at a time, so
// that spinners never take the cores the holder needs, and while a writer sleeps on the gate the
// others queue behind it rather than take the gate on their way past. Without the gate, writers
// met SQLite's lock, and its busy handler sleeps 1 ms and more before it retries: with two
// threads chatting, a turn's p99 latency was 2.5 ms and two threads did hardly more turns than
// one. A plain mutex was no better on a VM whose idle CPUs halt: a sleeping writer took tens of
// microseconds to wake. Writers in other processes still meet SQLite's lock and busy timeout.
//
// Checkpoints. After a write that leaves kCheckpointFrames in the WAL, a passive checkpoint
// once the gate is released, as SQLite's automatic one runs once the write lock is released:
// it copies what no reader still needs, never waits, blocks no one. After one that leaves
// kRestartFrames, the passive ones have not kept up: with two threads writing without pause a
// passive checkpoint never finds the WAL without a writer, so the WAL is never started over, and
// it grew without bound (46 MB after 1,200 turns of 6 KB in the test "store: sqlite checkpoints
// the WAL while two threads write"). Then a RESTART checkpoint runs before the gate is
// released, so that no writer of the pool is active: it waits for readers of older snapshots
// (and writers of other processes), at most kRestartWaitMs, copies every frame, and lets the
// next writer start the WAL from its beginning. One that could not finish is tried again once
// the WAL has grown by another kCheckpointFrames, so that a long reader costs the writers one
// wait, not one a write. The connections take turns to checkpoint: SQLite answers SQLITE_BUSY
// at once to a checkpoint while another runs, and a RESTART failed behind one passive
// checkpoint after another. A checkpoint that fails or finds the database busy is left to a
// later write, as SQLite leaves its own.
class SqliteWriters {
  public:
    // The busy timeout of the store's connections (and of the bench's ceiling, which writes as
    // they do): how long a write waits for another process's lock.
    static constexpr int kBusyTimeoutMs = 5000;
    static constexpr int kCheckpointFrames = 1000;  // SQLite's default wal_autocheckpoint
    static constexpr int kRestartFrames = 2 * kCheckpointFrames;
    static constexpr int kRestartWaitMs = 50;
    static constexpr std::chrono::microseconds kSpin{200};

    class Write;

    // One connection of the pool, with kBusyTimeoutMs as its busy timeout (restored after a
    // RESTART checkpoint): replaces its automatic checkpoint.
    class Connection {
      public:
        Connection(SqliteWriters& writers, sqlite3* db) : writers_(writers), db_(db) {
            sqlite3_wal_hook(db, &Connection::on_commit, this);
        }
        Connection(const Connection&) = delete;
        Connection& operator=(const Connection&) = delete;

      private:
        friend class SqliteWriters;
        friend class Write;
        // sqlite3_wal_hook: after each commit, outside SQLite's write lock, with the WAL's size.
        static int on_commit(void* self, sqlite3*, const char*, int frames) {
            static_cast<Connection*>(self)->frames_ = frames;
            return SQLITE_OK;
        }
        SqliteWriters& writers_;
        sqlite3* db_;
        int frames_ = 0;
    };

    // One write of a connection, from before its BEGIN to after its COMMIT or ROLLBACK.
    class Write {
      public:
        explicit Write(Connection& c) : c_(c) { c.writers_.enter(); }
        ~Write() { c_.writers_.leave(c_, std::exchange(c_.frames_, 0)); }
        Write(const Write&) = delete;
        Write& operator=(const Write&) = delete;

      private:
        Connection& c_;
    };

  private:
    void enter() {
        if (sleepers_.load(std::memory_order_relaxed) == 0) {
            if (gate_.try_lock()) return;
            if (!spinning_.exchange(true, std::memory_order_acquire)) {
                const auto until = std::chrono::steady_clock::now() + kSpin;
                bool got = false;
                for (unsigned i = 1; !got; ++i) {
                    got = gate_.try_lock();
                    if (!got) pause();
                    if (!got && i % 64 == 0 && std::chrono::steady_clock::now() > until) break;
                }
                spinning_.store(false, std::memory_order_release);
                if (got) return;
            }
        }
        sleepers_.fetch_add(1, std::memory_order_relaxed);
        gate_.lock();
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }

    // With the gate held; releases it.
    void leave(Connection& c, int frames) noexcept {
        if (frames > 0 && frames < kRestartFrames) next_restart_ = kRestartFrames;  // started over
        if (frames >= next_restart_) {
            int rc = SQLITE_BUSY;
            {
                std::lock_guard lock(checkpointing_);  // after another's passive checkpoint
                sqlite3_busy_timeout(c.db_, kRestartWaitMs);
                rc = sqlite3_wal_checkpoint_v2(c.db_, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr,
                                               nullptr);
                sqlite3_busy_timeout(c.db_, kBusyTimeoutMs);
            }
            next_restart_ = rc == SQLITE_OK ? kRestartFrames : frames + kCheckpointFrames;
            gate_.unlock();
            return;
        }
        gate_.unlock();
        if (frames >= kCheckpointFrames) {
            std::unique_lock lock(checkpointing_, std::try_to_lock);
            if (!lock) return;  // another connection is checkpointing
            sqlite3_wal_checkpoint_v2(c.db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        }
    }

    static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
    }

    std::mutex gate_;
    std::atomic<bool> spinning_{false};
    std::atomic<int> sleepers_{0};       // writers asleep on the gate, or about to be
    int next_restart_ = kRestartFrames;  // the WAL size for a RESTART; read and set under gate_
    std::mutex checkpointing_;           // held by the connection checkpointing
};

}  // namespace sb
