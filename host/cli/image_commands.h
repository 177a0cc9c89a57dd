// `image build|list|rm`, and the build-on-first-use that `create` does.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "host/cli/cli_support.h"
#include "host/cli/image_recipe.h"

namespace ws::cli {

// Builds an image through the daemon; on a terminal its progress lines go
// to stderr. Fills `built` with the installed image when given.
Status BuildImage(Stub* stub, const v1::ImageBuildRequest& req, v1::Image* built = nullptr);

// The request that derives `name` from a recipe, with the default
// allowlist this host's configuration gives (unless no_default_allow).
v1::ImageBuildRequest DerivedRequest(const std::string& name, const ImageRecipeSpec& r,
                                     bool no_default_allow);

// When `name` is not installed but buildable (debian) or has a recipe (the
// project file's [images.NAME]), builds it first, saying so; an image that
// is neither is left for create to report.
Status EnsureImage(Stub* stub, const std::string& name,
                   const std::optional<ImageRecipeSpec>& recipe);

class ImageCommands {
 public:
  ImageCommands(CLI::App& app, Context& c);
  ImageCommands(const ImageCommands&) = delete;
  ImageCommands& operator=(const ImageCommands&) = delete;

 private:
  Context& c;
  CLI::App* image_cmd = nullptr;
  std::string build_name = "debian", rm_name, build_from, build_file;
  std::vector<std::string> build_run, build_allow;
  bool build_json = false, list_json = false, build_no_default_allow = false;
};

}  // namespace ws::cli
