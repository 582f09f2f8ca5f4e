// Internal error type. Library code throws sb::Error; the C ABI layer turns it into a status code
// and the thread-local last-error message. Nothing else may escape into the C ABI.
#pragma once

#include <stdexcept>
#include <string>

#include "supportbot/supportbot.h"

namespace sb {

class Error : public std::runtime_error {
  public:
    Error(sb_status status, const std::string& message)
        : std::runtime_error(message), status_(status) {}
    sb_status status() const noexcept { return status_; }

  private:
    sb_status status_;
};

}  // namespace sb
