// ImageStore: guest images under STATE/images/NAME (vmlinuz, initrd.img,
// image.env). Images built into the source tree (build/images) are imported
// on first use, or again when they were rebuilt, so QEMU (an unprivileged
// user) reads them from the state dir and never from a user's checkout.
#pragma once

#include <string>
#include <vector>

#include "host/common/status.h"

namespace ws::controller {

struct Image {
  std::string name;
  std::string kernel;
  std::string initrd;
  std::string kernel_release;
  uint32_t default_cpus = 1;
  uint32_t default_memory_mib = 512;
};

class ImageStore {
 public:
  // images_dir: STATE/images; build_dirs: where freshly built images are found.
  ImageStore(std::string images_dir, std::vector<std::string> build_dirs);

  // kNotFound with what to run when the image exists nowhere.
  Result<Image> Resolve(const std::string& name);

 private:
  std::string images_dir_;
  std::vector<std::string> build_dirs_;
};

}  // namespace ws::controller
