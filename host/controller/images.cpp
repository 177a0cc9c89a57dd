#include "host/controller/images.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace ws::controller {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> ReadEnv(const fs::path& p) {
  std::map<std::string, std::string> kv;
  std::ifstream f(p);
  std::string line;
  while (std::getline(f, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

bool Complete(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "vmlinuz", ec) && fs::exists(dir / "initrd.img", ec) &&
         fs::exists(dir / "image.env", ec);
}

// Copies src into dst atomically (a temp dir renamed into place).
Status Import(const fs::path& src, const fs::path& dst) {
  std::error_code ec;
  fs::path tmp = dst.string() + ".importing";
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return {Code::kInternal, "creating " + tmp.string() + ": " + ec.message()};
  for (const char* f : {"vmlinuz", "initrd.img", "image.env"}) {
    fs::copy_file(src / f, tmp / f, fs::copy_options::overwrite_existing, ec);
    if (ec) return {Code::kInternal, "importing image file " + (src / f).string() + ": " + ec.message()};
    chmod((tmp / f).c_str(), 0644);  // QEMU runs unprivileged and must read them
  }
  chmod(tmp.c_str(), 0755);
  fs::remove_all(dst, ec);
  fs::rename(tmp, dst, ec);
  if (ec) return {Code::kInternal, "installing image " + dst.string() + ": " + ec.message()};
  return Status::Ok();
}

}  // namespace

ImageStore::ImageStore(std::string images_dir, std::vector<std::string> build_dirs)
    : images_dir_(std::move(images_dir)), build_dirs_(std::move(build_dirs)) {}

Result<Image> ImageStore::Resolve(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return Status(Code::kInvalidArgument, "invalid image name '" + name + "'");
  }
  fs::path installed = fs::path(images_dir_) / name;
  for (const auto& b : build_dirs_) {
    fs::path built = fs::path(b) / name;
    if (!Complete(built)) continue;
    // Re-import when the build is newer (its image.env records the build time).
    if (!Complete(installed) || ReadEnv(built / "image.env") != ReadEnv(installed / "image.env")) {
      Status s = Import(built, installed);
      if (!s.ok()) return s;
    }
    break;
  }
  if (!Complete(installed)) {
    return Status(Code::kNotFound, "image '" + name + "' not found in " + images_dir_ +
                                       "; build it with ./scripts/setup");
  }
  auto env = ReadEnv(installed / "image.env");
  Image img;
  img.name = name;
  img.kernel = (installed / "vmlinuz").string();
  img.initrd = (installed / "initrd.img").string();
  img.kernel_release = env["kernel"];
  return img;
}

}  // namespace ws::controller
