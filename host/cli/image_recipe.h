// Image recipes: what `workspace image build NAME` derives an image from
// and runs in it, written down so it can be built again. A recipe is a TOML
// table (from, run, allow), found in this order:
//   1. `--file PATH` (a file holding the table's keys at its top level);
//   2. `[images.NAME]` in the project file (.workspace.toml) of the current
//      folder, which the guest sees read-only;
//   3. ~/.config/workspace/images/NAME.toml ($XDG_CONFIG_HOME when set).
// Without any, the daemon rebuilds the image from what it recorded.
#pragma once

#include <cpptoml.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "host/common/status.h"

namespace ws::cli {

struct ImageRecipeSpec {
  std::string from;
  std::vector<std::string> run;
  std::vector<std::string> allow;
  std::string source;  // where it was read, for messages
};

// The keys of one recipe table; `where` names it in errors ("x.toml",
// ".workspace.toml [images.agents]").
Result<ImageRecipeSpec> ParseRecipeTable(const cpptoml::table& t, const std::string& where);
// A recipe file's text.
Result<ImageRecipeSpec> ParseRecipeFile(const std::string& text, const std::string& where);
// The user's recipe file for `name`, or nullopt.
Result<std::optional<ImageRecipeSpec>> LoadUserRecipe(const std::string& name);

}  // namespace ws::cli
