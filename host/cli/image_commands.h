// `image build|list|rm`, and the build-on-first-use that `create` does.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "host/cli/cli_support.h"

namespace ws::cli {

// Builds `name` through the daemon; on a terminal its progress lines go to
// stderr. Fills `built` with the installed image when given.
Status BuildImage(Stub* stub, const std::string& name, v1::Image* built = nullptr);

// When `name` is not installed but buildable (debian), builds it first,
// saying so; an image that is neither is left for create to report.
Status EnsureImage(Stub* stub, const std::string& name);

class ImageCommands {
 public:
  ImageCommands(CLI::App& app, Context& c);
  ImageCommands(const ImageCommands&) = delete;
  ImageCommands& operator=(const ImageCommands&) = delete;

 private:
  Context& c;
  CLI::App* image_cmd = nullptr;
  std::string build_name = "debian", rm_name;
  bool build_json = false, list_json = false;
};

}  // namespace ws::cli
