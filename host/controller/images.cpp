#include "host/controller/images.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "host/common/names.h"
#include "host/common/subprocess.h"
#include "host/common/time_format.h"

namespace ws::controller {
namespace {

namespace fs = std::filesystem;
using Env = std::map<std::string, std::string>;

Env ReadEnv(const fs::path& p) {
  Env kv;
  std::ifstream f(p);
  std::string line;
  while (std::getline(f, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

// A built image: image.env plus either a disk or a kernel and initramfs.
bool Complete(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / "image.env", ec)) return false;
  Env env = ReadEnv(dir / "image.env");
  if (!env["disk"].empty()) return fs::exists(dir / env["disk"], ec) || !env["base"].empty();
  return fs::exists(dir / "vmlinuz", ec) && fs::exists(dir / "initrd.img", ec);
}

uint32_t Number(const Env& env, const std::string& key, uint32_t fallback) {
  auto it = env.find(key);
  if (it == env.end()) return fallback;
  try {
    return static_cast<uint32_t>(std::stoul(it->second));
  } catch (...) {
    return fallback;
  }
}

// A name that stays one directory under STATE/images and is not a hidden entry (.bases, .build-*).
bool ValidImageName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name[0] != '.' &&
         !name.ends_with(".importing");
}

// image.env values are one line: a recipe step's backslashes, newlines and
// tabs are written as \\, \n and \t.
std::string EscapeValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else
      out += c;
  }
  return out;
}

std::string UnescapeValue(const std::string& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\\' || i + 1 == v.size()) {
      out += v[i];
      continue;
    }
    char n = v[++i];
    out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
  }
  return out;
}

// KEY.1, KEY.2, ... until one is missing.
std::vector<std::string> ReadList(const Env& env, const std::string& key) {
  std::vector<std::string> out;
  for (size_t i = 1;; ++i) {
    auto it = env.find(key + "." + std::to_string(i));
    if (it == env.end()) return out;
    out.push_back(UnescapeValue(it->second));
  }
}

Status CopyOrLink(const fs::path& src, const fs::path& dst) {
  std::error_code ec;
  fs::remove(dst, ec);
  if (link(src.c_str(), dst.c_str()) == 0) return Status::Ok();
  fs::copy_file(src, dst, ec);
  if (ec) return {Code::kInternal, "importing " + src.string() + ": " + ec.message()};
  return Status::Ok();
}

}  // namespace

Status ValidateImageName(const std::string& name) {
  if (ValidateName(name).ok() && !name.ends_with(".importing")) return Status::Ok();
  std::string shown;
  for (char c : name.substr(0, 64)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  return {Code::kInvalidArgument,
          "invalid image name '" + shown +
              "': names are 1-63 characters of a-z, 0-9, '_', '.', '-', starting with a "
              "letter or digit"};
}

Status ValidateRecipeSteps(const std::vector<std::string>& run) {
  if (run.empty())
    return {Code::kInvalidArgument, "an image recipe needs at least one step (--run 'COMMAND')"};
  if (run.size() > 64)
    return {Code::kInvalidArgument, "an image recipe has at most 64 steps; join some with &&"};
  for (size_t i = 0; i < run.size(); ++i) {
    const std::string n = "step " + std::to_string(i + 1);
    if (run[i].empty() || run[i].size() > 4096) {
      return {Code::kInvalidArgument,
              n + " is empty or longer than 4096 bytes; put a long script in a file"};
    }
    for (unsigned char c : run[i]) {
      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
        return {Code::kInvalidArgument,
                n + " holds a control character; write it with printf or $'...'"};
      }
    }
  }
  return Status::Ok();
}

ImageStore::ImageStore(std::string images_dir, std::vector<std::string> build_dirs,
                       std::string scripts_dir)
    : images_dir_(std::move(images_dir)),
      bases_dir_(images_dir_ + "/.bases"),
      build_dirs_(std::move(build_dirs)),
      scripts_dir_(std::move(scripts_dir)) {}

// Installs the image built in `src` as `name`, atomically (a temp dir
// renamed into place). A base disk is hard-linked (copied across file
// systems) to a name of its own under .bases.
Status ImageStore::Import(const std::string& src_dir, const std::string& name) {
  const fs::path src(src_dir), dst = fs::path(images_dir_) / name;
  std::error_code ec;
  fs::path tmp = dst.string() + ".importing";
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return {Code::kInternal, "creating " + tmp.string() + ": " + ec.message()};
  Env env = ReadEnv(src / "image.env");
  // A derived image is its builder's: its recipe and disk are not for other
  // local users to read. QEMU still opens the base, as libvirt chowns every
  // disk in a domain's chain to the user QEMU runs as before it starts.
  const bool derived = !env["from"].empty();
  chmod(tmp.c_str(), derived ? 0700 : 0755);
  if (!env["disk"].empty()) {
    const std::string base = NewBaseName(name, env["created"]);
    fs::create_directories(bases_dir_, ec);
    chmod(bases_dir_.c_str(), 0755);
    Status s = CopyOrLink(src / env["disk"], fs::path(bases_dir_) / base);
    if (!s.ok()) return s;
    chmod((fs::path(bases_dir_) / base).c_str(), derived ? 0400 : 0444);
    std::ofstream f(tmp / "image.env");
    for (const auto& [k, v] : env) {
      if (k != "base") f << k << "=" << v << "\n";
    }
    f << "base=" << base << "\n";
    if (!f) return {Code::kInternal, "writing " + (tmp / "image.env").string()};
  } else {
    for (const char* f : {"vmlinuz", "initrd.img", "image.env"}) {
      fs::copy_file(src / f, tmp / f, fs::copy_options::overwrite_existing, ec);
      if (ec)
        return {Code::kInternal,
                "importing image file " + (src / f).string() + ": " + ec.message()};
    }
  }
  for (const auto& e : fs::directory_iterator(tmp, ec))
    chmod(e.path().c_str(), derived ? 0600 : 0644);
  fs::remove_all(dst, ec);
  fs::rename(tmp, dst, ec);
  if (ec) return {Code::kInternal, "installing image " + dst.string() + ": " + ec.message()};
  return Status::Ok();
}

// Never the name of a base that exists: a workspace's overlay may refer to
// it, and a base is never replaced in place.
std::string ImageStore::NewBaseName(const std::string& name, const std::string& created) {
  std::string id = name + "-";
  for (char c : created) {
    if (isalnum(static_cast<unsigned char>(c))) id += c;
  }
  std::error_code ec;
  std::string base = id + ".qcow2";
  for (int i = 2; fs::exists(fs::path(bases_dir_) / base, ec); ++i)
    base = id + "-" + std::to_string(i) + ".qcow2";
  return base;
}

Status ImageStore::InstallDerived(const std::string& dir, const ImageRecipe& recipe,
                                  const Image& parent, uint32_t owner_uid) {
  std::ofstream f(fs::path(dir) / "image.env", std::ios::trunc);
  f << "name=" << recipe.name << "\nboot=" << parent.boot << "\n";
  f << "disk=rootfs.qcow2\nfrom=" << recipe.from << "\nfrom_created=" << parent.created << "\n";
  for (size_t i = 0; i < recipe.run.size(); ++i)
    f << "run." << i + 1 << "=" << EscapeValue(recipe.run[i]) << "\n";
  for (size_t i = 0; i < recipe.allow.size(); ++i)
    f << "allow." << i + 1 << "=" << EscapeValue(recipe.allow[i]) << "\n";
  f << "owner=" << owner_uid << "\ncpus=" << parent.default_cpus
    << "\nmemory_mib=" << parent.default_memory_mib << "\ndisk_gib=" << parent.default_disk_gib
    << "\ncreated=" << NowRfc3339() << "\n";
  f.close();
  if (!f) return {Code::kInternal, "writing " + dir + "/image.env"};
  std::lock_guard lock(mu_);
  return Import(dir, recipe.name);
}

Status ImageStore::BeginBuild(const std::string& name) {
  std::lock_guard lock(mu_);
  if (!building_.insert(name).second) {
    return {Code::kAlreadyExists,
            "image '" + name + "' is being built already; wait for that build to end"};
  }
  return Status::Ok();
}

void ImageStore::EndBuild(const std::string& name) {
  std::lock_guard lock(mu_);
  building_.erase(name);
}

bool ImageStore::Building(const std::string& name) {
  std::lock_guard lock(mu_);
  return building_.count(name) > 0;
}

Result<Image> ImageStore::Recorded(const std::string& name) {
  std::lock_guard lock(mu_);
  std::error_code ec;
  const fs::path env_file = fs::path(images_dir_) / name / "image.env";
  if (!ValidImageName(name) || !fs::exists(env_file, ec)) {
    return Status(Code::kNotFound,
                  "no image named '" + name + "'; see them with: workspace image list");
  }
  Env env = ReadEnv(env_file);
  Image img;
  img.name = name;
  img.boot = env["boot"];
  img.from = env["from"];
  img.run = ReadList(env, "run");
  img.allow = ReadList(env, "allow");
  img.owner_uid = Number(env, "owner", 0);
  return img;
}

Result<Image> ImageStore::Resolve(const std::string& name) {
  std::lock_guard lock(mu_);
  return ResolveLocked(name, 0);
}

Result<Image> ImageStore::ResolveLocked(const std::string& name, int depth) {
  if (!ValidImageName(name)) {
    return Status(Code::kInvalidArgument, "invalid image name '" + name + "'");
  }
  fs::path installed = fs::path(images_dir_) / name;
  for (const auto& b : build_dirs_) {
    fs::path built = fs::path(b) / name;
    if (!Complete(built)) continue;
    // Re-import when the build is newer (its image.env records the build time).
    if (!Complete(installed) ||
        ReadEnv(built / "image.env")["created"] > ReadEnv(installed / "image.env")["created"]) {
      Status s = Import(built.string(), name);
      if (!s.ok()) return s;
    }
    break;
  }
  if (!Complete(installed)) {
    std::string how = Buildable(name) ? "build it with: workspace image build " + name
                                      : "build it with ./scripts/setup";
    return Status(Code::kNotFound, "image '" + name + "' is not installed; " + how);
  }
  Env env = ReadEnv(installed / "image.env");
  Image img;
  img.name = name;
  img.created = env["created"];
  img.default_cpus = Number(env, "cpus", 1);
  img.default_memory_mib = Number(env, "memory_mib", 512);
  img.boot = env["boot"];
  img.from = env["from"];
  img.from_created = env["from_created"];
  img.run = ReadList(env, "run");
  img.allow = ReadList(env, "allow");
  img.owner_uid = Number(env, "owner", 0);
  if (!env["base"].empty()) {
    if (depth > 0 || env["boot"].empty()) {
      return Status(Code::kInternal, "image '" + name + "' names no bootable image (boot=)");
    }
    auto boot = ResolveLocked(env["boot"], depth + 1);
    if (!boot.ok()) {
      return Status(boot.status().code(), "image '" + name + "' boots with '" + env["boot"] +
                                              "': " + boot.status().message());
    }
    img.kernel = boot->kernel;
    img.initrd = boot->initrd;
    img.kernel_release = boot->kernel_release;
    img.base = bases_dir_ + "/" + env["base"];
    img.size_bytes = store::AllocatedBytes(img.base);
    img.default_disk_gib = Number(env, "disk_gib", 20);
    std::error_code ec;
    if (!fs::exists(img.base, ec)) {
      return Status(Code::kNotFound, "the base disk of image '" + name +
                                         "' is missing; rebuild it with: "
                                         "workspace image build " +
                                         name);
    }
    return img;
  }
  img.kernel = (installed / "vmlinuz").string();
  img.initrd = (installed / "initrd.img").string();
  img.kernel_release = env["kernel"];
  img.size_bytes = store::AllocatedBytes(img.kernel) + store::AllocatedBytes(img.initrd);
  return img;
}

std::vector<Image> ImageStore::List() {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& dir : build_dirs_) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (Complete(e.path())) names.insert(e.path().filename().string());
    }
  }
  for (const auto& e : fs::directory_iterator(images_dir_, ec)) {
    std::string n = e.path().filename().string();
    if (n[0] != '.' && n.find(".importing") == std::string::npos && Complete(e.path()))
      names.insert(n);
  }
  std::vector<Image> out;
  for (const auto& n : names) {
    auto img = Resolve(n);
    if (img.ok()) out.push_back(img.value());
  }
  return out;
}

bool ImageStore::Buildable(const std::string& name) const {
  std::error_code ec;
  return ValidImageName(name) && fs::exists(fs::path(scripts_dir_) / ("build-" + name), ec);
}

Status ImageStore::Build(const std::string& name,
                         const std::function<void(const std::string&)>& on_line) {
  if (!Buildable(name)) {
    return {Code::kInvalidArgument, "no build recipe for image '" + name +
                                        "'; build debian, or derive one: "
                                        "workspace image build " +
                                        name + " --from debian --run 'COMMAND'"};
  }
  std::lock_guard build(build_mu_);
  const std::string out = images_dir_ + "/.build-" + name;
  std::error_code ec;
  fs::remove_all(out, ec);
  fs::create_directories(out, ec);
  if (ec) return {Code::kInternal, "creating " + out + ": " + ec.message()};
  auto run = RunCommand({(fs::path(scripts_dir_) / ("build-" + name)).string(), out}, on_line);
  Status s = run.ok() ? Status::Ok() : run.status();
  if (s.ok()) {
    std::lock_guard lock(mu_);
    s = Import(out, name);
  }
  fs::remove_all(out, ec);
  return s;
}

Status ImageStore::Remove(const std::string& name) {
  std::lock_guard lock(mu_);
  if (!ValidImageName(name)) {
    return {Code::kInvalidArgument, "invalid image name '" + name + "'"};
  }
  fs::path dir = fs::path(images_dir_) / name;
  std::error_code ec;
  if (!fs::exists(dir / "image.env", ec)) {
    return {Code::kNotFound, "no image named '" + name + "'; see them with: workspace image list"};
  }
  for (const auto& e : fs::directory_iterator(images_dir_, ec)) {
    if (ReadEnv(e.path() / "image.env")["boot"] == name) {
      return {Code::kFailedPrecondition, "image '" + e.path().filename().string() +
                                             "' boots with '" + name +
                                             "'; remove that image first"};
    }
  }
  fs::remove_all(dir, ec);
  if (ec) return {Code::kInternal, "removing " + dir.string() + ": " + ec.message()};
  return Status::Ok();
}

void ImageStore::RemoveLeftovers() {
  std::lock_guard lock(mu_);
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& e : fs::directory_iterator(images_dir_, ec)) {
    const std::string n = e.path().filename().string();
    if (n.starts_with(".build-") || n.ends_with(".importing")) stale.push_back(e.path());
  }
  for (const auto& p : stale) fs::remove_all(p, ec);
}

void ImageStore::CollectBases(const std::set<std::string>& in_use) {
  std::lock_guard lock(mu_);
  std::set<std::string> keep = in_use;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(images_dir_, ec)) {
    Env env = ReadEnv(e.path() / "image.env");
    if (!env["base"].empty()) keep.insert(bases_dir_ + "/" + env["base"]);
  }
  for (const auto& e : fs::directory_iterator(bases_dir_, ec)) {
    if (!keep.count(e.path().string())) fs::remove(e.path(), ec);
  }
}

}  // namespace ws::controller
