// Project files are trusted by the user, not by the folder (as direnv's
// `allow`): a `.workspace.toml` decides shares and network, and the guest
// may have written it into a shared folder, or a cloned repository brought
// it. The exact bytes of each file the user trusted are kept in the user's
// own config (~/.config/workspace/trusted/, outside every share), and
// `create` and `image build` honour a project file only when it holds those
// bytes. The file is read once: the bytes checked are the bytes parsed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "host/cli/project_file.h"
#include "host/common/printable.h"
#include "host/common/status.h"

namespace ws::cli {

inline constexpr size_t kMaxProjectFileBytes = 64 * 1024;

struct ProjectText {
  std::string path;  // absolute path of the file
  std::string text;  // its bytes
};

// DIR/.workspace.toml, read without following a symlink: nullopt when there
// is none; refused when it is not a regular file or is over the bound.
Result<std::optional<ProjectText>> ReadProjectText(const std::string& dir);

enum class Trust { kTrusted, kNew, kChanged };
Trust TrustOf(const ProjectText& p);
// Keeps p's bytes as the trusted ones for its path.
Status RecordTrust(const ProjectText& p);
// kNotFound when the path was not trusted.
Status ForgetTrust(const std::string& path);

struct TrustedFile {
  std::string path;
  std::string state;  // "trusted" (the file holds the bytes), "changed", "missing"
};
std::vector<TrustedFile> ListTrusted();

// The project file of DIR as create and image build take it: nullopt when
// there is none; used only when trusted. `trust_now` (create --trust)
// trusts it as it is. Otherwise, when `ask`, the file is shown on stderr and
// the user asked on stdin; else an untrusted file is kFailedPrecondition
// naming `workspace trust`.
Result<std::optional<ProjectFile>> LoadTrustedProjectFile(const std::string& dir, bool trust_now,
                                                          bool ask);
// stdin and stderr are a terminal: a user is there to ask.
bool CanAsk();

// The user's config folder: $XDG_CONFIG_HOME/workspace, else
// ~/.config/workspace; nullopt when neither is set.
std::optional<std::string> UserConfigDir();

}  // namespace ws::cli
