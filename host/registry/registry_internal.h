// What the registry's files share (registry.cpp: config and serving;
// registry_endpoints.cpp: the npm, PyPI and apt endpoints): not part of
// Registry's interface.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <semaphore>
#include <string>
#include <string_view>

#include "host/common/unique_fd.h"
#include "host/registry/cache.h"

namespace ws::registry::internal {

using Clock = std::chrono::steady_clock;

constexpr int64_t kFreshSeconds = 300;  // a packument younger than this is not revalidated
constexpr uint64_t kMaxPackument = 128ull << 20;
// Packuments are held and parsed in memory (several times their size while
// parsed): at most this many at once, whatever the guests ask.
extern std::counting_semaphore<64> packument_slots;
constexpr uint64_t kMaxTarball = 1ull << 30;
constexpr int kIdleSeconds = 120;  // a guest connection with no request for this long ends
constexpr char kCorgi[] =
    "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

bool PrintableAscii(const std::string& s, size_t max);
// Sends a cached entry: the head, then the file.
bool SendEntry(int fd, const Entry& e, bool keep_alive, bool head_only, uint64_t* sent);

// Appends to a file as a body arrives.
struct FileSink {
  unique_fd fd;
  bool Write(std::string_view d) {
    while (!d.empty()) {
      ssize_t n = write(fd.get(), d.data(), d.size());
      if (n <= 0) return false;
      d.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
};

}  // namespace ws::registry::internal
