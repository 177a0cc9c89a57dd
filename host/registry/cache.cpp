#include "host/registry/cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace ws::registry {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Sha256Hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::optional<Entry> ReadMeta(const std::string& base) {
  std::ifstream f(base + ".meta");
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Entry e;
  e.path = base + ".body";
  e.content_type = j.value("content_type", "");
  e.etag = j.value("etag", "");
  e.fetched = j.value("fetched", int64_t{0});
  e.note = j.value("note", "");
  struct stat st {};
  if (stat(e.path.c_str(), &st) != 0) return std::nullopt;
  e.size = static_cast<uint64_t>(st.st_size);
  return e;
}

bool WriteMeta(const std::string& path, const std::string& key, const Entry& e) {
  json j = {{"key", key},
            {"content_type", e.content_type},
            {"etag", e.etag},
            {"fetched", e.fetched},
            {"note", e.note}};
  std::ofstream f(path, std::ios::trunc);
  f << j.dump(-1, ' ', false,
              json::error_handler_t::replace);  // never throws on bytes from an upstream
  return static_cast<bool>(f);
}

}  // namespace

Cache::Cache(std::string dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  chmod(dir_.c_str(), 0700);
  // What fills cut short by a stopped daemon left.
  std::vector<fs::path> stale;
  for (const auto& f : fs::directory_iterator(dir_, ec)) {
    if (f.path().extension() == ".part" || f.path().extension() == ".mpart")
      stale.push_back(f.path());
  }
  for (const auto& p : stale) fs::remove(p, ec);
}

std::string Cache::FileFor(const std::string& key) const { return dir_ + "/" + Sha256Hex(key); }

std::optional<Entry> Cache::Find(const std::string& key) {
  const std::string base = FileFor(key);
  auto e = ReadMeta(base);
  if (e) utimensat(AT_FDCWD, e->path.c_str(), nullptr, 0);  // used now: evicted last
  return e;
}

void Cache::Touch(const std::string& key) {
  const std::string base = FileFor(key);
  auto e = ReadMeta(base);
  if (!e) return;
  e->fetched = time(nullptr);
  std::lock_guard lock(mu_);
  const std::string tmp = base + ".t" + std::to_string(++temp_seq_) + ".mpart";
  if (WriteMeta(tmp, key, *e)) rename(tmp.c_str(), (base + ".meta").c_str());
}

Result<Entry> Cache::Fill(const std::string& key,
                          const std::function<Status(const std::string&, Entry*)>& fetch) {
  const std::string base = FileFor(key);
  std::string tmp;
  {
    std::unique_lock lock(mu_);
    // In-flight downloads are not counted by the bound: a few at a time,
    // the others waiting their turn (or for the fetch of their key).
    if (!cv_.wait_for(lock, std::chrono::seconds(60),
                      [&] { return filling_.count(key) || filling_.size() < kMaxFills; })) {
      return Status(Code::kUnavailable, "the cache is filling " + std::to_string(kMaxFills) +
                                            " entries already; try again");
    }
    if (filling_.count(key)) {
      cv_.wait(lock, [&] { return !filling_.count(key); });
      lock.unlock();
      if (auto e = Find(key)) return *e;
      return Status(Code::kUnavailable, "the fetch this request waited for failed");
    }
    filling_.insert(key);
    tmp = base + ".t" + std::to_string(++temp_seq_);
  }
  Entry e;
  e.fetched = time(nullptr);
  Status s;
  try {
    s = fetch(tmp + ".part", &e);
  } catch (const std::exception& ex) {
    s = Status(Code::kInternal,
               std::string("filling a cache entry: ") + ex.what());  // waiters must not hang
  }
  if (s.ok() && (!WriteMeta(tmp + ".mpart", key, e) ||
                 rename((tmp + ".part").c_str(), (base + ".body").c_str()) != 0 ||
                 rename((tmp + ".mpart").c_str(), (base + ".meta").c_str()) != 0)) {
    s = Status(Code::kInternal, "storing a cache entry in " + dir_);
  }
  std::error_code ec;
  fs::remove(tmp + ".part", ec);
  fs::remove(tmp + ".mpart", ec);
  {
    std::lock_guard lock(mu_);
    filling_.erase(key);
  }
  cv_.notify_all();
  if (!s.ok()) return s;
  Evict();
  auto stored = ReadMeta(base);
  if (!stored) return Status(Code::kInternal, "a cache entry vanished as it was stored");
  return *stored;
}

CacheUsage Cache::Usage() {
  CacheUsage u;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir_, ec)) {
    if (f.path().extension() != ".body") continue;
    ++u.entries;
    u.bytes += f.file_size(ec);
  }
  return u;
}

CacheUsage Cache::Clear() {
  CacheUsage u = Usage();
  std::error_code ec;
  std::lock_guard lock(mu_);
  for (const auto& f : fs::directory_iterator(dir_, ec)) {
    // Entries being filled finish into an empty cache.
    if (f.path().extension() == ".body" || f.path().extension() == ".meta")
      fs::remove(f.path(), ec);
  }
  return u;
}

// Oldest first until under the bound. An entry being served stays readable:
// its file is unlinked, not truncated.
void Cache::Evict() {
  struct Item {
    fs::path body;
    int64_t used;
    uint64_t size;
  };
  std::vector<Item> items;
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir_, ec)) {
    if (f.path().extension() != ".body") continue;
    struct stat st {};
    if (stat(f.path().c_str(), &st) != 0) continue;
    items.push_back({f.path(), st.st_mtim.tv_sec, static_cast<uint64_t>(st.st_size)});
    total += static_cast<uint64_t>(st.st_size);
  }
  if (total <= max_bytes_) return;
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.used < b.used; });
  for (const auto& it : items) {
    if (total <= max_bytes_) break;
    fs::path meta = it.body;
    meta.replace_extension(".meta");
    fs::remove(meta, ec);
    fs::remove(it.body, ec);
    total -= it.size;
  }
}

}  // namespace ws::registry
