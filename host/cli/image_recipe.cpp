#include "host/cli/image_recipe.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "host/cli/project_trust.h"
#include "host/common/toml.h"

namespace ws::cli {

Result<ImageRecipeSpec> ParseRecipeTable(const cpptoml::table& t, const std::string& where) {
  auto bad = [&](const std::string& what) {
    return Status(Code::kInvalidArgument, where + ": " + what);
  };
  for (const auto& [key, value] : t) {
    (void)value;
    if (key != "from" && key != "run" && key != "allow")
      return bad("unknown key '" + key + "' (from, run, allow)");
  }
  ImageRecipeSpec r;
  r.source = where;
  auto from = t.get_as<std::string>("from");
  if (!from) return bad("'from' must name the image to derive from, e.g. from = \"debian\"");
  r.from = *from;
  // run: one command or a list of them.
  if (auto one = t.get_as<std::string>("run")) {
    r.run = {*one};
  } else if (auto list = t.get_array_of<std::string>("run")) {
    r.run = *list;
  } else {
    return bad("'run' must be a command or a list of commands");
  }
  if (t.contains("allow")) {
    auto allow = t.get_array_of<std::string>("allow");
    if (!allow) return bad("'allow' must be a list of HOST[:PORT] strings");
    r.allow = *allow;
  }
  return r;
}

Result<ImageRecipeSpec> ParseRecipeFile(const std::string& text, const std::string& where) {
  auto t = ParseToml(text, where);
  if (!t.ok()) return t.status();
  return ParseRecipeTable(*t.value(), where);
}

Result<std::optional<ImageRecipeSpec>> LoadUserRecipe(const std::string& name) {
  auto dir = UserConfigDir();
  if (!dir) return std::optional<ImageRecipeSpec>();
  // Image names hold no '/' (checked by the daemon; checked here so a name
  // cannot pick a file elsewhere).
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.')
    return std::optional<ImageRecipeSpec>();
  const std::string path = *dir + "/images/" + name + ".toml";
  std::ifstream f(path);
  if (!f) return std::optional<ImageRecipeSpec>();
  std::stringstream text;
  text << f.rdbuf();
  auto r = ParseRecipeFile(text.str(), path);
  if (!r.ok()) return r.status();
  return std::optional<ImageRecipeSpec>(std::move(r.value()));
}

}  // namespace ws::cli
