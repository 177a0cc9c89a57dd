// Cache: one user's registry responses on the host, by key (the endpoint
// and the path: "npm/tarball/express/-/express-5.2.1.tgz"), each a file
// and a sidecar of what to answer with (content type, ETag, when fetched).
// Bounded: past max_bytes the least recently used entries go. An entry is
// written to a temp file and renamed in, so a reader sees all or nothing;
// Fill makes concurrent misses of one key wait for a single fetch.
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <semaphore>
#include <set>
#include <string>

#include "host/common/status.h"

namespace ws::registry {

struct Entry {
  std::string path;  // the body
  std::string content_type;
  std::string etag;     // upstream's, for revalidation
  int64_t fetched = 0;  // unix seconds
  uint64_t size = 0;
  std::string note;  // endpoint data (npm: the integrity index)
};

struct CacheUsage {
  uint64_t bytes = 0;
  uint64_t entries = 0;
};

// The default bound of one user's cache (WORKSPACE_CACHE_MAX_MIB overrides).
inline constexpr uint64_t kDefaultCacheBytes = 10ull << 30;
// Fetches one user's cache runs at once (each up to a tarball's 1 GiB,
// outside the bound until stored); more wait up to 60 s, then get
// kUnavailable.
inline constexpr size_t kMaxFills = 16;

class Cache {
 public:
  // `dir` is made 0700 (root's: the guest and other users never read it).
  Cache(std::string dir, uint64_t max_bytes);

  std::optional<Entry> Find(const std::string& key);
  // For a miss: runs `fetch(temp_path, &entry)` once however many callers
  // ask for `key` at once; the others wait and get its result. `fetch`
  // writes the body to temp_path and fills content_type, etag, note.
  Result<Entry> Fill(const std::string& key,
                     const std::function<Status(const std::string&, Entry*)>& fetch);
  // Marks a cached entry fresh again (a 304 from upstream).
  void Touch(const std::string& key);
  CacheUsage Usage();
  // Index fetches of this user at once (2 of the daemon's 4): one user's
  // guests cannot take every slot.
  std::counting_semaphore<2> index_slots{2};
  // Removes every entry; returns what was freed.
  CacheUsage Clear();

 private:
  std::string FileFor(const std::string& key) const;
  void Evict();

  const std::string dir_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> filling_;  // guarded by mu_
  uint64_t temp_seq_ = 0;          // guarded by mu_
};

}  // namespace ws::registry
