#include "firmware/app/counting_storage.h"

namespace edgeforge::app {

Status CountingStorage::Counted(const std::string& name, Status st) {
  if (!st.ok()) {
    errors_.fetch_add(1);
    ++episode_failures_;
    if (!failing_ && log_) {
      log_("state storage failing: " + st.ToString() +
           " (further failures are counted, not logged, until a write succeeds)");
    }
    failing_ = true;
    return st;
  }
  if (failing_ && log_) {
    log_("state storage works again ('" + name + "' written) after " + std::to_string(episode_failures_) +
         " failed writes");
  }
  failing_ = false;
  episode_failures_ = 0;
  return st;
}

}  // namespace edgeforge::app
