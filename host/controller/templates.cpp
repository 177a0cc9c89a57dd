#include "host/controller/templates.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/common/atomic_file.h"
#include "host/common/log.h"
#include "host/common/time_format.h"
#include "host/controller/workspaces_internal.h"
#include "host/store/disks.h"

namespace ws::controller {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// Bumped when what a template holds changes in a way older ones miss.
constexpr char kTemplateFormat[] = "workspace-template-1";
constexpr char kQemu[] = "/usr/bin/qemu-system-x86_64";
constexpr auto kBuildTimeout = 120s;
// Templates kept at most: each shape a caller asks for makes one (~100 MiB
// and a boot), so the least recently used go first.
constexpr size_t kMaxTemplates = 8;
constexpr auto kRetryFailedAfter = 10min;
// Builds waiting at most: more shapes asked for meanwhile boot cold and
// are asked again later.
constexpr size_t kMaxQueued = 2;
// A template's console past this is not a boot we wait for.
constexpr uint64_t kMaxConsole = 4 << 20;

std::string Sha256Hex16(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return std::string(hex, 16);
}

// A file as the template saw it: a rebuilt one differs.
std::string FileIdentity(const std::string& path) {
  if (path.empty()) return "-";
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return path + " missing";
  return path + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_ino);
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

// One "key": value of template.json (written by us; read back loosely).
std::string JsonField(const std::string& text, const std::string& key) {
  const std::string tag = "\"" + key + "\": ";
  size_t at = text.find(tag);
  if (at == std::string::npos) return "";
  at += tag.size();
  if (text[at] == '"') {
    const size_t end = text.find('"', at + 1);
    return end == std::string::npos ? "" : text.substr(at + 1, end - at - 1);
  }
  return text.substr(at, text.find_first_of(",\n}", at) - at);
}

uint64_t Allocated(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

// The template VM's libvirt name: never a workspace's (those begin with a
// letter or digit), so no workspace can take it first.
std::string VmName(const std::string& files_hash) {
  return "_template-" + files_hash.substr(0, 12);
}

// What a template directory says it was made for ("" when it says nothing).
std::string TemplateJson(const fs::path& dir) {
  return ReadFileOrEmpty((dir / "template.json").string());
}

// The image a template directory was made for.
std::string ImageOf(const fs::path& dir) { return JsonField(TemplateJson(dir), "image"); }

// A template directory of `key`'s image and shape, whatever files it was
// made from (the one to replace, or to call stale).
bool SameShape(const fs::path& dir, const TemplateKey& key) {
  const std::string n = dir.filename().string();
  return n.rfind(key.image + "-" + key.SizeHash() + "-", 0) == 0 && dir.extension() != ".new" &&
         ImageOf(dir) == key.image;
}

}  // namespace

std::string TemplateKey::SizeHash() const {
  return Sha256Hex16(std::to_string(cpus) + " " + std::to_string(memory_mib) + " " +
                     std::to_string(disk_gib) + " " + cpu_model + " " + accel + " " + net);
}

std::string TemplateKey::FilesHash() const {
  // QEMU too: a saved state is QEMU's, and another QEMU may not load it.
  return Sha256Hex16(std::string(kTemplateFormat) + " " WS_VERSION "\n" + FileIdentity(kernel) +
                     "\n" + FileIdentity(initrd) + "\n" + FileIdentity(base) + "\n" +
                     FileIdentity(kQemu));
}

std::string TemplateKey::Describe() const {
  std::string d =
      image + ", " + std::to_string(cpus) + " vCPU, " + std::to_string(memory_mib) + " MiB";
  if (disk_gib) d += ", " + std::to_string(disk_gib) + " GiB disk";
  return d + ", net " + net;
}

Templates::Templates(const store::Layout& layout, virt::Hypervisor& hv) : layout_(layout), hv_(hv) {
  std::error_code ec;
  fs::create_directories(Dir(), ec);
  // QEMU (libvirt-qemu) passes through to a template's disk while it is
  // built: 0711, not listable; the files in it are root's, 0600 or 0400.
  fs::permissions(Dir(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, ec);
  // Builds a daemon stopped in the middle of are thrown away, their VM too.
  for (const auto& e : fs::directory_iterator(Dir(), ec)) {
    const std::string n = e.path().filename().string();
    if (e.path().extension() != ".new") continue;
    if (n.size() > 20) {
      const std::string vm = VmName(n.substr(n.size() - 20, 16));
      hv_.ForceOff(vm);
      hv_.Undefine(vm);
    }
    fs::remove_all(e.path(), ec);
  }
  worker_ = std::thread([this] { Worker(); });
}

Templates::~Templates() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

Result<TemplateFiles> Templates::Find(const TemplateKey& key) {
  const std::string dir = Dir() + "/" + key.DirName();
  {
    MutexLock lock(mu_);
    if (building_ == key.DirName())
      return Status(Code::kUnavailable, "the template for " + key.Describe() + " is being built");
  }
  std::error_code ec;
  if (!fs::exists(dir + "/template.json", ec)) {
    // Another build of the same shape: made for other image files or agent.
    for (const auto& e : fs::directory_iterator(Dir(), ec)) {
      if (SameShape(e.path(), key)) {
        return Status(Code::kNotFound,
                      "the template for " + key.Describe() +
                          " is stale (its image, the agent or QEMU changed since)");
      }
    }
    return Status(Code::kNotFound, "no template for " + key.Describe() + " yet");
  }
  // Its last use: the least recently used goes first when there are too many.
  utimensat(AT_FDCWD, (dir + "/template.json").c_str(), nullptr, 0);
  TemplateFiles files;
  files.memory = dir + "/memory.save";
  if (!key.base.empty()) files.disk = dir + "/disk.qcow2";
  return files;
}

std::string Templates::BuildLater(const TemplateKey& key, const virt::VmSpec& vm) {
  {
    MutexLock lock(mu_);
    const std::string name = key.DirName();
    if (building_ == name) return "one is being built";
    for (const auto& [k, v] : queue_) {
      if (k.DirName() == name) return "one will be built";
    }
    if (auto f = failed_.find(name);
        f != failed_.end() && Clock::now() - f->second < kRetryFailedAfter) {
      return "its last build failed (see the daemon log); tried again 10 minutes after";
    }
    if (queue_.size() >= kMaxQueued) return "others are queued first";
    queue_.emplace_back(key, vm);
  }
  cv_.notify_all();
  return "building one";
}

void Templates::Shutdown() {
  std::string vm;
  {
    MutexLock lock(mu_);
    stopping_ = true;
    queue_.clear();
    vm = building_vm_;
  }
  cv_.notify_all();
  if (!vm.empty()) {
    hv_.ForceOff(vm);
    hv_.Undefine(vm);
  }
}

void Templates::Worker() {
  for (;;) {
    std::pair<TemplateKey, virt::VmSpec> job;
    {
      MutexLock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      building_ = job.first.DirName();
    }
    Status s = Build(job.first, std::move(job.second));
    {
      MutexLock lock(mu_);
      building_.clear();
      building_vm_.clear();
      if (!s.ok() && s.code() != Code::kAlreadyExists) failed_[job.first.DirName()] = Clock::now();
    }
    cv_.notify_all();
  }
}

Status Templates::Build(const TemplateKey& key, virt::VmSpec vm) {
  const std::string final_dir = Dir() + "/" + key.DirName();
  std::error_code ec;
  if (fs::exists(final_dir + "/template.json", ec)) return Status(Code::kAlreadyExists, "ready");
  auto* snaps = hv_.snapshots();
  if (!snaps) return Status(Code::kFailedPrecondition, "this hypervisor cannot save a VM's state");
  const auto started = Clock::now();
  const std::string dir = final_dir + ".new";
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, ec);
  const std::string id = key.FilesHash().substr(0, 12);
  vm.name = VmName(key.FilesHash());
  vm.uuid = internal::NewUuid();
  vm.genid = internal::NewUuid();
  vm.hotplug_ports = kTemplateHotplugSlots;
  vm.filesystems.clear();
  vm.user_nic = false;
  vm.metadata_xml.clear();
  vm.agent_socket = layout_.RunDir() + "/t-" + id + ".sock";
  vm.bulk_socket = store::BulkSocketPath(vm.agent_socket);
  vm.console_log = dir + "/console.log";
  auto fail = [&](const std::string& what, const Status& s) {
    hv_.ForceOff(vm.name);
    hv_.Undefine(vm.name);
    fs::remove_all(dir, ec);
    Log("template for " + key.Describe() + ": " + what + ": " + s.message() +
        "; workspaces of this shape boot cold");
    return s;
  };
  Status s = internal::WritePrivateFile(vm.console_log, "");
  if (!s.ok()) return fail("console", s);
  if (!key.base.empty()) {
    vm.disk = dir + "/disk.qcow2";
    s = store::CreateOverlay(key.base, vm.disk, key.disk_gib);
    if (!s.ok()) return fail("disk", s);
  }
  // A leftover of a daemon that stopped mid-build.
  hv_.ForceOff(vm.name);
  hv_.Undefine(vm.name);
  {
    MutexLock lock(mu_);
    if (stopping_) return fail("the daemon stops", Status(Code::kUnavailable, "cut off"));
    building_vm_ = vm.name;
  }
  s = hv_.Define(vm);
  if (s.ok()) s = hv_.Start(vm.name);
  if (!s.ok()) return fail("boot", s);
  // Ready: the agent says so on the console and waits for a host. No
  // host ever connects to a template: a guest saved mid-connection would
  // relay a clone's first bytes to the template's old session.
  const auto deadline = Clock::now() + kBuildTimeout;
  bool ready = false;
  std::string seen;  // the console's tail: the line may straddle two reads
  uint64_t read_to = 0;
  Status why(Code::kDeadlineExceeded, "no 'ready' on its console in 120 s");
  while (!ready && Clock::now() < deadline) {
    {
      MutexLock lock(mu_);
      if (stopping_) return fail("the daemon stops", Status(Code::kUnavailable, "cut off"));
    }
    std::ifstream console(vm.console_log, std::ios::binary);
    console.seekg(static_cast<std::streamoff>(read_to));
    std::string fresh((std::istreambuf_iterator<char>(console)), std::istreambuf_iterator<char>());
    read_to += fresh.size();
    seen = seen.substr(seen.size() > 64 ? seen.size() - 64 : 0) + fresh;
    ready = seen.find(": ready on ") != std::string::npos;
    if (read_to > kMaxConsole) {
      why = Status(Code::kResourceExhausted, "its console passed 4 MiB before it was ready");
      break;
    }
    if (!ready) std::this_thread::sleep_for(20ms);
  }
  if (!ready) return fail("its agent never came up", why);
  std::this_thread::sleep_for(100ms);  // into its wait for a host
  const double boot_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  s = snaps->SaveState(vm.name, dir + "/memory.save");
  if (!s.ok()) return fail("saving", s);
  hv_.Undefine(vm.name);
  for (const char* f : {"/memory.save", "/disk.qcow2"}) {
    // On the disk before template.json says the template is whole.
    const int fd = open((dir + f).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      fsync(fd);
      close(fd);
    }
    chmod((dir + f).c_str(), 0400);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::ostringstream j;
  j << "{\n  \"image\": \"" << JsonEscape(key.image) << "\",\n  \"cpus\": " << key.cpus
    << ",\n  \"memory_mib\": " << key.memory_mib << ",\n  \"disk_gib\": " << key.disk_gib
    << ",\n  \"cpu_model\": \"" << JsonEscape(key.cpu_model) << "\",\n  \"accel\": \""
    << JsonEscape(key.accel) << "\",\n  \"net\": \"" << key.net << "\",\n  \"base\": \""
    << JsonEscape(key.base) << "\",\n  \"built_at\": \"" << NowRfc3339()
    << "\",\n  \"boot_seconds\": " << boot_seconds << ",\n  \"build_seconds\": " << seconds
    << "\n}\n";
  s = internal::WritePrivateFile(dir + "/template.json", j.str());
  if (!s.ok()) return fail("template.json", s);
  // Older builds of the same shape go: they are stale now. Past the bound,
  // the least recently used go too.
  std::vector<std::pair<fs::file_time_type, fs::path>> kept;
  for (const auto& e : fs::directory_iterator(Dir(), ec)) {
    if (e.path() == fs::path(dir) || e.path().extension() == ".new") continue;
    if (SameShape(e.path(), key)) {
      fs::remove_all(e.path(), ec);
    } else {
      kept.emplace_back(fs::last_write_time(e.path() / "template.json", ec), e.path());
    }
  }
  std::sort(kept.begin(), kept.end());
  for (size_t i = 0; i + kMaxTemplates <= kept.size(); ++i) {
    Log("template " + kept[i].second.filename().string() + " removed: the least recently used of " +
        std::to_string(kMaxTemplates));
    fs::remove_all(kept[i].second, ec);
  }
  fs::rename(dir, final_dir, ec);
  if (ec) return fail("keeping it", Status(Code::kInternal, ec.message()));
  Log("template for " + key.Describe() + " built in " + std::to_string(seconds).substr(0, 4) +
      " s (booted in " + std::to_string(boot_seconds).substr(0, 4) +
      " s): " + std::to_string((Allocated(final_dir + "/memory.save") + (1 << 19)) >> 20) +
      " MiB of memory image");
  return Status::Ok();
}

std::vector<TemplateInfo> Templates::List() {
  std::vector<TemplateInfo> out;
  std::string building;
  {
    MutexLock lock(mu_);
    building = building_;
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(Dir(), ec)) {
    const std::string dir = e.path().string();
    const std::string t = TemplateJson(e.path());
    if (t.empty()) continue;
    TemplateInfo info;
    info.image = JsonField(t, "image");
    info.cpus = static_cast<uint32_t>(std::atoi(JsonField(t, "cpus").c_str()));
    info.memory_mib = static_cast<uint32_t>(std::atoi(JsonField(t, "memory_mib").c_str()));
    info.disk_gib = static_cast<uint32_t>(std::atoi(JsonField(t, "disk_gib").c_str()));
    info.cpu_model = JsonField(t, "cpu_model");
    info.accel = JsonField(t, "accel");
    info.dir_name = e.path().filename().string();
    info.net = JsonField(t, "net");
    info.built_at = JsonField(t, "built_at");
    info.build_seconds = std::atof(JsonField(t, "build_seconds").c_str());
    info.state = "ready";
    info.memory_bytes = Allocated(dir + "/memory.save");
    info.disk_bytes = Allocated(dir + "/disk.qcow2");
    out.push_back(info);
  }
  if (!building.empty()) {
    TemplateInfo info;
    info.image = building.substr(0, building.size() - 34);  // IMAGE-SIZE-FILES
    info.state = "building";
    out.push_back(info);
  }
  return out;
}

void Templates::Discard(const TemplateKey& key) {
  std::error_code ec;
  fs::remove_all(Dir() + "/" + key.DirName(), ec);
  Log("template for " + key.Describe() + " discarded: it did not restore");
}

void Templates::Forget(const std::string& image) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(Dir(), ec)) {
    if (ImageOf(e.path()) == image) fs::remove_all(e.path(), ec);
  }
}

void Templates::DropOrphans() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(Dir(), ec)) {
    const std::string base = JsonField(TemplateJson(e.path()), "base");
    if (!base.empty() && !fs::exists(base, ec)) fs::remove_all(e.path(), ec);
  }
}

}  // namespace ws::controller
