#include "host/cli/project_file.h"

#include <cpptoml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/common/toml.h"
#include "host/github/api_rules.h"
#include "host/github/push_rules.h"

namespace ws::cli {
namespace {

namespace fs = std::filesystem;

Status Bad(const std::string& key, const std::string& want) {
  return {Code::kInvalidArgument,
          std::string(kProjectFileName) + ": '" + key + "' must be " + want};
}

}  // namespace

Result<ProjectFile> ParseProjectFile(const std::string& text, const std::string& dir) {
  auto parsed = ParseToml(text, kProjectFileName);
  if (!parsed.ok()) return parsed.status();
  const auto& t = parsed.value();
  static const char* kKeys[] = {"name",      "image",   "net",           "cpus",    "memory",
                                "allow",     "publish", "default_allow", "share",   "disk",
                                "cpu_model", "images",  "writable",      "secrets", "github"};
  for (const auto& [key, value] : *t) {
    (void)value;
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      return Status(Code::kInvalidArgument,
                    std::string(kProjectFileName) + ": unknown key '" + key + "'");
    }
  }
  ProjectFile f;
  for (const char* key : {"name", "image", "net", "cpu_model"}) {
    if (!t->contains(key)) continue;
    auto v = t->get_as<std::string>(key);
    if (!v) return Bad(key, "a string");
    const std::string k = key;
    (k == "name" ? f.name : k == "image" ? f.image : k == "net" ? f.net : f.cpu_model) = *v;
  }
  if (t->contains("images")) {
    auto images = t->get_table("images");
    if (!images) return Bad("images", "[images.NAME] tables (from, run, allow)");
    for (const auto& [name, value] : *images) {
      if (!value->is_table()) return Bad("images." + name, "a table (from, run, allow)");
      auto r = ParseRecipeTable(*value->as_table(),
                                std::string(kProjectFileName) + " [images." + name + "]");
      if (!r.ok()) return r.status();
      f.images[name] = r.value();
    }
  }
  for (const char* key : {"cpus", "memory", "disk"}) {
    if (!t->contains(key)) continue;
    auto v = t->get_as<int64_t>(key);
    if (!v || *v <= 0 || *v > (1 << 20)) return Bad(key, "a positive number");
    const std::string k = key;
    (k == "cpus" ? f.cpus : k == "memory" ? f.memory_mib : f.disk_gib) = static_cast<uint32_t>(*v);
  }
  if (t->contains("default_allow")) {
    auto v = t->get_as<bool>("default_allow");
    if (!v) return Bad("default_allow", "true or false");
    f.default_allow = *v;
  }
  for (const char* key : {"allow", "publish", "writable", "secrets"}) {
    if (!t->contains(key)) continue;
    auto arr = t->get_array_of<std::string>(key);
    if (!arr) return Bad(key, "a list of strings");
    const std::string k = key;
    (k == "allow"     ? f.allow
     : k == "publish" ? f.publish
     : k == "secrets" ? f.secrets
                      : f.writable) = *arr;
  }
  if (t->contains("github")) {
    auto gh = t->get_table("github");
    if (!gh) return Bad("github", "a [github] table (push, api_write)");
    for (const auto& [key, value] : *gh) {
      (void)value;
      if (key != "push" && key != "api_write") {
        return Status(Code::kInvalidArgument,
                      std::string(kProjectFileName) + ": unknown key 'github." + key + "'");
      }
      auto arr = gh->get_array_of<std::string>(key);
      if (!arr) return Bad("github." + key, "a list of strings");
      for (const auto& spec : *arr) {
        Status s = key == "push" ? github::ParsePushRule(spec).status()
                                 : github::ParseApiWrite(spec).status();
        if (!s.ok()) {
          return Status(Code::kInvalidArgument,
                        std::string(kProjectFileName) + ": github." + key + ": " + s.message());
        }
      }
      (key == "push" ? f.github_push : f.github_api_writes) = *arr;
    }
  }
  if (t->contains("share")) {
    auto tables = t->get_table_array("share");
    if (!tables) return Bad("share", "[[share]] tables");
    f.shares.emplace();
    for (const auto& s : *tables) {
      ProjectShare sh;
      auto path = s->get_as<std::string>("path");
      if (!path) return Bad("share.path", "a string");
      sh.path = fs::path(*path).is_absolute() ? *path
                                              : (fs::path(dir) / *path).lexically_normal().string();
      while (sh.path.size() > 1 && sh.path.back() == '/') sh.path.pop_back();
      auto guest = s->get_as<std::string>("guest");
      if (s->contains("guest") && !guest) return Bad("share.guest", "a string");
      sh.guest = guest ? *guest : "";
      if (s->contains("read_only")) {
        auto ro = s->get_as<bool>("read_only");
        if (!ro) return Bad("share.read_only", "true or false");
        sh.read_only = *ro;
      }
      f.shares->push_back(sh);
    }
  }
  return f;
}

std::string ProjectFileTemplate(const std::string& name) {
  return "# workspace project file: `workspace create` in this folder uses it, and flags\n"
         "# override it. Anyone who clones the project gets the same workspace. The guest\n"
         "# cannot change this file. Reference: docs/cli.md (Project file).\n"
         "\n"
         "name = \"" +
         name +
         "\"\n"
         "# image = \"debian\"        # or \"minimal\" (busybox, boots from memory)\n"
         "# cpus = 2\n"
         "# memory = 2048           # MiB\n"
         "# disk = 20               # GiB, thin (debian)\n"
         "# cpu_model = \"auto\"     # max under TCG, host under KVM, or a QEMU model\n"
         "\n"
         "# Network: \"allowlist\" (default), \"none\", or \"open\" (unfiltered).\n"
         "net = \"allowlist\"\n"
         "# Hosts the workspace may reach besides the defaults (package registries this\n"
         "# host uses, AI APIs). Code hosts are not in the defaults.\n"
         "allow = []               # e.g. [\"api.example.com\", \"*.corp.example:8443\"]\n"
         "# default_allow = true\n"
         "\n"
         "# Guest ports published on the host's 127.0.0.1: \"[HOST_PORT:]GUEST_PORT\".\n"
         "publish = []             # e.g. [\"3000\"]\n"
         "\n"
         "# Paths host tools read or run that the guest may write all the same (it may\n"
         "# not by default: .git, .claude, .vscode, .envrc, .npmrc, ...; docs/cli.md).\n"
         "# writable = []          # e.g. [\".vscode\"]: its tasks then run what the guest wrote\n"
         "\n"
         "# Secrets of yours the workspace may use (names from `workspace secret list`;\n"
         "# never values): the guest gets a placeholder, the host injects the value.\n"
         "# secrets = []           # e.g. [\"anthropic\"]\n"
         "\n"
         "# Shared folders (paths relative to this file). Without [[share]] tables, the\n"
         "# folder of this file is shared read-write at /workspace.\n"
         "[[share]]\n"
         "path = \".\"\n"
         "guest = \"/workspace\"\n"
         "read_only = false\n"
         "\n"
         "# Images derived from another (workspace image build NAME, or create with\n"
         "# image = NAME builds it first): commands run as root once, kept on every reset.\n"
         "# [images.agents]\n"
         "# from = \"debian\"\n"
         "# run = [\"npm install -g @anthropic-ai/claude-code @openai/codex\"]\n"
         "# allow = []             # hosts the build may reach besides the defaults\n";
}

}  // namespace ws::cli
