// ImageStore: guest images under STATE/images/NAME, each described by its
// image.env. A diskless image (minimal) is a kernel and an initramfs with
// the agent as init. A disk image (debian) is a read-only base disk (qcow2)
// under STATE/images/.bases, booted with another image's kernel and
// initramfs (boot=minimal): the agent mounts the disk as root.
//
// Images built into the source tree (build/images) are imported on first
// use, or again when a newer one was built, so QEMU (an unprivileged user)
// reads them from the state dir and never from a user's checkout. A base
// disk is never changed or replaced in place: a rebuilt image gets a new
// one, and an old one stays while a workspace's overlay still refers to it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "host/common/status.h"
#include "host/store/disks.h"

namespace ws::controller {

struct Image {
  std::string name;
  std::string kernel;
  std::string initrd;
  std::string kernel_release;
  std::string base;         // the base disk, or empty for a diskless image
  std::string boot;         // the image whose kernel and initramfs boot it (disk images)
  std::string created;      // RFC 3339 UTC
  uint64_t size_bytes = 0;  // space it takes: base disk, or kernel + initramfs
  uint32_t default_cpus = 1;
  uint32_t default_memory_mib = 512;
  uint32_t default_disk_gib = 0;  // 0 for a diskless image
  // A derived image (`image build NAME --from PARENT --run CMD`): what it
  // was made from and with. `from` is empty for images built by a script.
  std::string from;
  std::string from_created;  // the parent's build time then
  std::vector<std::string> run;
  std::vector<std::string> allow;  // the user's extra allowlist entries of the build
  uint32_t owner_uid = 0;          // who built it (derived images)
};

// What a derived image is made of: a parent disk image, commands run in it
// as root, and the allowlist entries the build may reach beyond the defaults.
struct ImageRecipe {
  std::string name;
  std::string from;
  std::vector<std::string> run;
  std::vector<std::string> allow;
};

// The extra allowlist entries one recipe may give its build.
inline constexpr size_t kMaxRecipeAllow = 256;

// Checks a new image's name: the rule workspace names follow.
Status ValidateImageName(const std::string& name);
// Checks a recipe's steps: 1..64 of them, each 1..4096 bytes of printable
// text (tabs and newlines allowed).
Status ValidateRecipeSteps(const std::vector<std::string>& run);

class ImageStore {
 public:
  // images_dir: STATE/images; build_dirs: where freshly built images are
  // found; scripts_dir: holds build-NAME scripts for `image build`.
  ImageStore(std::string images_dir, std::vector<std::string> build_dirs, std::string scripts_dir);

  // kNotFound with what to run when the image exists nowhere.
  Result<Image> Resolve(const std::string& name);
  // What an installed image's image.env records (name, from, run, allow,
  // owner, boot), even when its disk is missing: whose it is and how it was
  // made. kNotFound when no image of that name is installed.
  Result<Image> Recorded(const std::string& name);
  // Every installed image (after importing newer builds).
  std::vector<Image> List();
  // True when there is a script to build `name` (`workspace image build`).
  bool Buildable(const std::string& name) const;
  // Builds `name` with its script and installs it; progress lines go to
  // on_line. One build at a time.
  Status Build(const std::string& name, const std::function<void(const std::string&)>& on_line);
  // Installs the derived image staged in `dir` (rootfs.qcow2) as
  // recipe.name, recording the recipe, the parent and its owner. The
  // previous image of that name, if any, keeps its base disk while a
  // workspace uses it.
  Status InstallDerived(const std::string& dir, const ImageRecipe& recipe, const Image& parent,
                        uint32_t owner_uid);
  // Where derived images are staged while they are built (on the file
  // system of the bases, so installing one is a link).
  std::string StagingDir(const std::string& name) const { return images_dir_ + "/.build-" + name; }
  // One derived build of a name at a time: kAlreadyExists while one runs.
  Status BeginBuild(const std::string& name);
  void EndBuild(const std::string& name);
  bool Building(const std::string& name);
  // Removes an installed image (the caller checked no workspace uses it).
  Status Remove(const std::string& name);
  // Deletes what a build or an import cut short by a daemon that stopped
  // left behind (.build-NAME, NAME.importing). Call before serving.
  void RemoveLeftovers();
  // Deletes base disks that no image and no path in `in_use` refers to.
  void CollectBases(const std::set<std::string>& in_use);

 private:
  Result<Image> ResolveLocked(const std::string& name, int depth);
  Status Import(const std::string& src, const std::string& name);
  // A file name under .bases no other base has.
  std::string NewBaseName(const std::string& name, const std::string& created);

  std::string images_dir_;
  std::string bases_dir_;
  std::vector<std::string> build_dirs_;
  std::string scripts_dir_;
  std::mutex mu_;                   // imports and removals
  std::mutex build_mu_;             // one build at a time
  std::set<std::string> building_;  // derived builds under way; guarded by mu_
};

}  // namespace ws::controller
