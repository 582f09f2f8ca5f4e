// SQLite backend: being written.
#include "common/error.hpp"
#include "store/store.hpp"

namespace sb {

std::unique_ptr<Store> open_sqlite_store(const std::string& path, const StoreOptions&) {
    (void)path;
    throw Error(SB_EINVAL, "SQLite store is not built yet");
}

}  // namespace sb
