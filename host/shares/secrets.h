// Secrets in a share, found at every depth when its view is built: what the
// guest must not read (a worm's step 2), and config files that hold a
// credential among settings the guest needs (express's .npmrc holds
// `ignore-scripts=true`: hiding it whole turned install scripts back on), which
// the guest gets with their credential lines removed instead.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ws::shares {

enum class SecretAction {
  kHide,     // an empty read-only file (or folder) instead
  kStrip,    // a read-only copy without its credential lines
};

struct SecretFile {
  std::string path;     // relative to the share's top: what is covered
  SecretAction action = SecretAction::kHide;
  bool directory = false;     // .ssh/, .aws/: covered whole
  std::string stripped;       // kStrip: what the guest reads instead
  std::string via;            // a symlink that leads to it, when found that way
};

struct SecretScan {
  std::vector<SecretFile> found;
  size_t entries = 0;     // directory entries looked at
  bool cut = false;       // the walk stopped at its bound; the rest was not looked at
};

// Bounds of one walk: past them it stops and says so (SecretScan::cut).
inline constexpr size_t kMaxScanEntries = 1000000;
inline constexpr int kMaxScanDepth = 64;

// Walks the tree at `root` (an fd of the share's top) without following
// symlinks, skipping node_modules and .git folders, and lists the secrets
// in it (with `shown` paths left out). A symlink named like a secret that
// leads to a file inside the share covers that file.
SecretScan ScanSecrets(int root, const std::vector<std::string>& shown);

// Whether `name` (one path component) is a secret file's or folder's name
// (private keys need their content as well: LooksLikePrivateKey).
bool IsSecretName(std::string_view name);
bool IsSecretFolderName(std::string_view name);
bool MayBePrivateKey(std::string_view name);
bool LooksLikePrivateKey(std::string_view head);

// `text` of the file named `name` with its credentials removed, or the
// text unchanged when it holds none. Which names are stripped rather than
// hidden: StripsCredentials.
bool StripsCredentials(std::string_view name);
std::string StripCredentials(std::string_view name, std::string_view text);

// A git config without credentials in its URLs (https://user:token@host)
// and without http.extraHeader lines.
std::string StripGitConfig(std::string_view text);

}  // namespace ws::shares
