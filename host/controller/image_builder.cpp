#include "host/controller/image_builder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "host/common/cleanup.h"
#include "host/common/subprocess.h"

namespace ws::controller {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Runs after the last step: what a base should not carry, and the blocks
// freed since (the overlay discards them, so the new base is smaller).
constexpr char kTidyStep[] =
    "rm -rf /tmp/* /tmp/.[!.]* /var/tmp/* /var/cache/apt/archives/*.deb /var/lib/apt/lists/* "
    "2>/dev/null;"
    " fstrim / >/dev/null 2>&1; sync";

std::string RandomHex(size_t bytes) {
  unsigned char b[16] = {};
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!read(fd, b, std::min(bytes, sizeof b));
    close(fd);
  }
  std::string out;
  char h[3];
  for (size_t i = 0; i < std::min(bytes, sizeof b); ++i) {
    std::snprintf(h, sizeof h, "%02x", b[i]);
    out += h;
  }
  return out;
}

// Splits a step's output into lines for on_line: guest bytes, so anything
// but printable ASCII and tabs becomes '?', and a line is cut at 1000 bytes.
class Lines {
 public:
  explicit Lines(const std::function<void(const std::string&)>& out) : out_(out) {}
  void Add(std::string_view data) {
    for (char c : data) {
      if (c == '\n' || c == '\r') {
        Flush();
      } else {
        line_ += (c >= 0x20 && c < 0x7f) || c == '\t' ? c : '?';
        if (line_.size() >= 1000) Flush();
      }
    }
  }
  void Flush() {
    if (!line_.empty()) out_("    " + line_);
    line_.clear();
  }

 private:
  const std::function<void(const std::string&)>& out_;
  std::string line_;
};

// The first line of a step, short, for progress and errors.
std::string Summary(const std::string& step) {
  std::string s = step.substr(0, step.find('\n'));
  if (s.size() > 100) s = s.substr(0, 97) + "...";
  if (s.size() < step.size()) s += " ...";
  for (char& ch : s) {
    if (ch < 0x20 || ch > 0x7e) ch = '?';
  }
  return s;
}

}  // namespace

Result<Image> BuildDerivedImage(Workspaces& workspaces, const Caller& c, const DerivedBuild& b,
                                const std::function<void(const std::string&)>& on_line,
                                const std::function<bool()>& cancelled) {
  const ImageRecipe& r = b.recipe;
  ImageStore& images = workspaces.image_store();
  if (Status s = ValidateImageName(r.name); !s.ok()) return s;
  if (Status s = ValidateRecipeSteps(r.run); !s.ok()) return s;
  if (Status s = ValidateImageName(r.from); !s.ok()) return s;
  if (images.Buildable(r.name) || r.name == "minimal" || r.name == r.from) {
    return Status(Code::kInvalidArgument, "image '" + r.name +
                                              "' is one of workspace's own; give the derived "
                                              "image another name");
  }
  auto parent = images.Resolve(r.from);
  if (!parent.ok()) return parent.status();
  if (parent->base.empty()) {
    return Status(Code::kInvalidArgument, "image '" + r.from +
                                              "' has no disk (it runs from memory); derive "
                                              "from a disk image such as debian");
  }
  if (!parent->from.empty() && parent->owner_uid != 0 && !c.may_access(parent->owner_uid)) {
    return Status(Code::kNotFound,
                  "image '" + r.from + "' is not installed; see them with: workspace image list");
  }
  auto claim = images.BeginBuild(r.name);
  if (!claim.ok()) return claim;
  Cleanup release([&] { images.EndBuild(r.name); });
  // Checked with the name claimed, so no other build installs it meanwhile.
  // A rebuild keeps the image's owner (root rebuilding a member's image
  // does not take it from them).
  uint32_t owner = c.uid;
  if (auto old = images.Recorded(r.name); old.ok()) {
    if (old->from.empty()) {
      return Status(Code::kInvalidArgument, "image '" + r.name +
                                                "' is built by a script, not derived; "
                                                "give the derived image another name");
    }
    if (!c.may_access(old->owner_uid)) {
      return Status(Code::kPermissionDenied, "image '" + r.name +
                                                 "' belongs to another user; choose another "
                                                 "name");
    }
    owner = old->owner_uid;
  }

  const auto started = Clock::now();
  const size_t total = r.run.size() + 2;
  std::string ws_name = "build-" + r.name.substr(0, 48) + "-" + RandomHex(3);
  auto step = [&](size_t i, const std::string& what) {
    on_line("==> [" + std::to_string(i) + "/" + std::to_string(total) + "] " + what);
  };
  step(1, "booting build workspace " + ws_name + " from image " + r.from);
  CreateParams p;
  p.name = ws_name;
  p.image = r.from;
  p.net = NetMode::kAllowlist;
  p.allow = b.allow;
  auto ws = workspaces.Create(c, p);
  if (!ws.ok())
    return Status(ws.status().code(), "booting the build workspace: " + ws.status().message());
  Cleanup destroy([&] { (void)workspaces.Destroy(c, ws_name, true); });

  auto run = [&](const std::string& cmd) -> Result<guest::RunExit> {
    auto agent = workspaces.Agent(c, ws_name);
    if (!agent.ok()) return agent.status();
    Lines lines(on_line);
    auto exit = agent.value()->Run(
        {{"/bin/sh", "-c", cmd}, "root", kStepTimeout, {}, ""},
        [&](std::string_view d) { lines.Add(d); }, cancelled);
    lines.Flush();
    return exit;
  };
  for (size_t i = 0; i < r.run.size(); ++i) {
    if (cancelled())
      return Status(Code::kUnavailable, "the build of image '" + r.name + "' was cancelled");
    step(i + 2, "step " + std::to_string(i + 1) + ": " + Summary(r.run[i]));
    auto code = run(r.run[i]);
    if (cancelled())
      return Status(Code::kUnavailable, "the build of image '" + r.name + "' was cancelled");
    if (!code.ok())
      return Status(code.status().code(),
                    "step " + std::to_string(i + 1) + ": " + code.status().message());
    if (code->code != 0) {
      std::string why =
          code->timed_out    ? "timed out after " + std::to_string(kStepTimeout.count()) + " s"
          : code->code > 128 ? "was killed by signal " + std::to_string(code->code - 128)
                             : "exited with " + std::to_string(code->code);
      return Status(Code::kFailedPrecondition, "step " + std::to_string(i + 1) + " (" +
                                                   Summary(r.run[i]) + ") " + why + "; image '" +
                                                   r.name + "' was not changed");
    }
  }

  step(total, "powering off and writing the new base disk");
  (void)run(kTidyStep);
  if (cancelled())
    return Status(Code::kUnavailable, "the build of image '" + r.name + "' was cancelled");
  auto view = workspaces.Inspect(c, ws_name);
  if (!view.ok()) return view.status();
  auto forced = workspaces.Stop(c, ws_name);
  if (!forced.ok()) return forced.status();
  const std::string staging = images.StagingDir(r.name);
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (!ec) fs::permissions(staging, fs::perms::owner_all, ec);
  if (ec) return Status(Code::kInternal, "creating " + staging + ": " + ec.message());
  Cleanup unstage([&] {
    std::error_code e;
    fs::remove_all(staging, e);
  });
  // Overlay and parent flattened: the new base stands alone, and the
  // parent can be rebuilt or removed without touching it.
  auto conv = RunCommand(
      {"qemu-img", "convert", "-O", "qcow2", view->meta.disk, staging + "/rootfs.qcow2"});
  if (!conv.ok())
    return Status(Code::kInternal, "writing the new base disk: " + conv.status().message());
  // Its owner's only before it is linked where others can see it (.bases).
  chmod((staging + "/rootfs.qcow2").c_str(), 0400);
  if (Status s = images.InstallDerived(staging, r, parent.value(), owner); !s.ok()) return s;
  destroy.Dismiss();
  (void)workspaces.Destroy(c, ws_name, true);
  auto built = images.Resolve(r.name);
  if (!built.ok()) return built.status();
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count();
  on_line("==> image " + r.name + " built from " + r.from + " in " + std::to_string(secs) + " s");
  return built;
}

}  // namespace ws::controller
