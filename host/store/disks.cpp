#include "host/store/disks.h"

#include <stdio.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "host/common/subprocess.h"

namespace ws::store {

namespace fs = std::filesystem;

uint64_t Qcow2VirtualSize(const std::string& path) {
  // Big-endian at offset 24 of the header.
  unsigned char h[32] = {};
  std::ifstream f(path, std::ios::binary);
  if (!f.read(reinterpret_cast<char*>(h), sizeof h) || h[0] != 'Q' || h[1] != 'F' || h[2] != 'I')
    return 0;
  uint64_t size = 0;
  for (int i = 24; i < 32; ++i) size = size << 8 | h[i];
  return size;
}

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

Status CreateOverlay(const std::string& base, const std::string& path, uint32_t gib) {
  auto run = RunCommand({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, path,
                         std::to_string(gib) + "G"});
  std::error_code ec;
  if (!run.ok()) {
    fs::remove(path, ec);
    return {Code::kInternal, "creating the workspace's disk: " + run.status().message()};
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, ec);
  return Status::Ok();
}

Result<uint64_t> ReplaceOverlay(const std::string& base, const std::string& disk, uint32_t gib,
                                const std::function<Status()>& install) {
  const std::string fresh = disk + ".new";
  if (Status s = CreateOverlay(base, fresh, gib); !s.ok()) return s;
  std::error_code ec;
  if (Status s = install(); !s.ok()) {
    fs::remove(fresh, ec);
    return s;
  }
  const uint64_t held = AllocatedBytes(disk);
  if (rename(fresh.c_str(), disk.c_str()) != 0) {
    Status s = ErrnoStatus("installing " + disk, errno);
    fs::remove(fresh, ec);
    return s;
  }
  return held;
}

}  // namespace ws::store
