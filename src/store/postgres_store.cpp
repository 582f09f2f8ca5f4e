// PostgreSQL backend: being written (see the store issue). Until then, opening one fails clearly.
#include "common/error.hpp"
#include "store/store.hpp"

namespace sb {

std::unique_ptr<Store> open_postgres_store(const std::string& url, const StoreOptions&) {
    (void)url;
    throw Error(SB_EINVAL, "PostgreSQL support is not built yet");
}

}  // namespace sb
