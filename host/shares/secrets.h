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
  kHide,   // an empty read-only file (or folder) instead
  kStrip,  // a read-only copy without its credential lines
};

struct SecretFile {
  std::string path;  // relative to the share's top: what is covered
  SecretAction action = SecretAction::kHide;
  bool directory = false;  // .ssh/, .aws/, or a folder that could not be looked into: covered whole
  std::string stripped;    // kStrip: what the guest reads instead
  std::string via;         // a symlink that leads to it, when found that way
};

struct SecretScan {
  std::vector<SecretFile> found;  // sorted; nothing below a covered folder
  size_t entries = 0;             // directory entries looked at
  bool cut = false;               // the walk reached a bound: the folders past it are covered whole
  // Set when the share must not start: what the scan could not cover (more
  // than kMaxSecretMasks secrets; the top folder itself unreadable).
  std::string refusal;
};

// Bounds of one walk. A folder past them, or one that cannot be opened or
// read, is covered whole (an empty folder instead): never left unscanned.
inline constexpr size_t kMaxScanEntries = 1000000;
inline constexpr int kMaxScanDepth = 64;
// At most this many secrets covered in one share (each is a mount): the
// scan stops past it, and a share with more does not start, and says so.
inline constexpr size_t kMaxSecretMasks = 10000;
// Config files read for stripping, and stripped copies kept, in all: past
// it a config file is hidden whole instead.
inline constexpr size_t kMaxStripBytes = 32 << 20;

// Walks the tree at `root` (an fd of the share's top, whose host path is
// `host_path`) without following symlinks, and lists the secrets in it
// (with `shown` paths left out): names at every depth (node_modules
// included, by name only), private keys by content (outside node_modules),
// every git config under a .git folder (its modules too). A symlink named
// like a secret that leads inside the share covers what it leads to.
SecretScan ScanSecrets(int root, const std::string& host_path,
                       const std::vector<std::string>& shown);

// Whether `name` (one path component) is a secret file's or folder's name
// (private keys need their content as well: LooksLikePrivateKey).
bool IsSecretName(std::string_view name);
bool IsSecretFolderName(std::string_view name);
bool MayBePrivateKey(std::string_view name);
bool LooksLikePrivateKey(std::string_view head);

// `text` of the file named `name` with its credentials removed, or the
// text unchanged when it holds none. Which names are stripped rather than
// hidden: StripsCredentials ("gitconfig" for a git config).
bool StripsCredentials(std::string_view name);
std::string StripCredentials(std::string_view name, std::string_view text);

// A git config without credentials in its URLs (https://user:token@host),
// http.extraHeader lines, inline credential helpers (helper = !...) and
// sendemail.smtpPass.
std::string StripGitConfig(std::string_view text);

}  // namespace ws::shares
