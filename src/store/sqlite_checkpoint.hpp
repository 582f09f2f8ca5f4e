// How the SQLite store checkpoints its WAL: SQLite's automatic checkpoint, plus a stronger one
// when that one does not keep up. Header-only and depending on nothing but sqlite3.h and the
// standard library, so that bench/chat_bench.cpp's ceiling checkpoints exactly as the store does.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <mutex>

namespace sb {

// The checkpoints of the connections of one pool (one database file in one process). Each
// connection registers `hook` with sqlite3_wal_hook (SQLite calls it after each commit, outside
// the write lock, with the WAL's size in frames; it replaces the automatic checkpoint) and calls
// before_write() before each write transaction.
//
// After a commit that leaves kCheckpointFrames in the WAL: a passive checkpoint, as SQLite's
// automatic one (it copies what no reader still needs, never waits, blocks no one). After one
// that leaves kRestartFrames, the passive ones have not kept up: with two threads writing
// without pause a passive checkpoint never finds the WAL without a writer, so the WAL is never
// started over, and it grew without bound (46 MB after 1,200 turns of 6 KB in the test "store:
// sqlite checkpoints the WAL while two threads write"). Then a RESTART checkpoint runs, which
// waits for the writer of the moment and for readers of older snapshots (SQLite's busy
// handler), copies every frame, and lets the next writer start the WAL from its beginning.
//
// The pool's connections take turns to checkpoint (SQLite answers SQLITE_BUSY at once to a
// checkpoint while another runs: a RESTART then failed behind one passive checkpoint after
// another), and while a RESTART is wanted or running the pool's writers wait in before_write()
// (SQLite's busy handler alone let them take the write lock between its retries). Writers in
// other processes still meet SQLite's lock. A checkpoint that fails or finds the database busy
// is left to the next commit, as SQLite leaves its own.
class WalCheckpointer {
  public:
    static constexpr int kCheckpointFrames = 1000;  // SQLite's default wal_autocheckpoint
    static constexpr int kRestartFrames = 2 * kCheckpointFrames;

    // Waits while a RESTART checkpoint is wanted or runs.
    void before_write() {
        while (restarting_.load(std::memory_order_acquire))
            restarting_.wait(true, std::memory_order_acquire);
    }

    // For sqlite3_wal_hook, with this object as its context.
    static int hook(void* self, sqlite3* db, const char*, int frames) {
        auto& c = *static_cast<WalCheckpointer*>(self);
        if (frames >= kRestartFrames) {
            bool idle = false;
            if (!c.restarting_.compare_exchange_strong(idle, true, std::memory_order_acq_rel))
                return SQLITE_OK;  // another connection is at it
            {
                std::lock_guard lock(c.mu_);  // after a passive checkpoint of another connection
                sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
            }
            c.restarting_.store(false, std::memory_order_release);
            c.restarting_.notify_all();
        } else if (frames >= kCheckpointFrames) {
            std::unique_lock lock(c.mu_, std::try_to_lock);
            if (!lock) return SQLITE_OK;  // another connection is checkpointing
            sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        }
        return SQLITE_OK;
    }

  private:
    std::atomic<bool> restarting_{false};
    std::mutex mu_;  // held by the connection checkpointing
};

}  // namespace sb
