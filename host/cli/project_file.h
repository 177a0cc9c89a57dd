// The project file, `.workspace.toml` in a project's folder: what `workspace
// create` there uses (flags override it), so anyone who clones the project
// gets the same workspace, once they have trusted it (project_trust.h).
// Parsed with cpptoml. The file sits in a shared folder, so the guest sees
// it read-only (it could otherwise widen its own policy for the next create).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "host/cli/image_recipe.h"
#include "host/common/status.h"

namespace ws::cli {

inline constexpr char kProjectFileName[] = ".workspace.toml";

struct ProjectShare {
  std::string path;  // absolute (relative ones are taken from the file's folder)
  std::string guest;
  bool read_only = false;
};

struct ProjectFile {
  std::optional<std::string> name, image, net;
  std::optional<uint32_t> cpus, memory_mib, disk_gib;
  std::vector<std::string> allow, publish;
  std::vector<std::string> writable;  // protected paths opened to the guest
  std::vector<std::string> secrets;   // names of the user's secrets to bind (as --secret)
  // [github]: the GitHub rule set's push and api_write lists (with "github" in allow).
  std::vector<std::string> github_push, github_api_writes;
  std::optional<bool> default_allow;
  std::optional<std::vector<ProjectShare>> shares;  // set when the file has [[share]] tables
  std::optional<std::string> cpu_model;
  std::map<std::string, ImageRecipeSpec> images;  // [images.NAME] recipe tables
};

// Parses `text` (the file's content) from folder `dir`. kInvalidArgument
// names the file, the key and what it should be.
Result<ProjectFile> ParseProjectFile(const std::string& text, const std::string& dir);

// (Reading one is LoadTrustedProjectFile, project_trust.h: a project file
// is honoured only when its user trusted it.)

// The commented file `workspace init` writes.
std::string ProjectFileTemplate(const std::string& name);

}  // namespace ws::cli
