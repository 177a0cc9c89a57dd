// The npm endpoint's pure parts: which paths it serves, rewriting a
// packument's tarball URLs to the endpoint, and checking a tarball against
// the integrity the packument states.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "host/common/json_depth.h"
#include "host/common/status.h"

namespace ws::registry {

// A path under /npm/: a packument ("express", "@types/node") or a tarball
// ("express/-/express-5.2.1.tgz").
struct NpmPath {
  std::string name;  // "@scope/pkg" or "pkg"
  std::string file;  // the tarball's file name; empty for a packument
};
// kInvalidArgument for anything else: registry API calls (/-/...), dot
// segments, characters a package name cannot hold.
Result<NpmPath> ParseNpmPath(std::string_view rest);

// The upstream URL of a path: `upstream` ends with '/'.
std::string NpmUpstreamUrl(const std::string& upstream, const NpmPath& p);

// Rewrites every version's dist.tarball that lies under `upstream` to lie
// under `local` instead (the URL lockfiles record), and lists the integrity each tarball must have:
// one "NAME/-/FILE INTEGRITY" line each (INTEGRITY as npm writes it, or
// "sha1hex-HEX" from a shasum). kInvalidArgument when it is not JSON.
Result<std::string> RewritePackument(std::string_view json, const std::string& upstream,
                                     const std::string& local, std::string* index);
// The integrity `index` states for `p`; empty when it does not list it.
std::string IntegrityFor(const std::string& index, const NpmPath& p);

// Hashes a body as it is written and says whether it matches an integrity
// string (the strongest algorithm it names: sha512, sha384, sha256, sha1),
// or a hex digest written "sha1hex-HEX" or "sha256hex-HEX".
class IntegrityCheck {
 public:
  explicit IntegrityCheck(const std::string& integrity);
  ~IntegrityCheck();
  bool usable() const { return ctx_ != nullptr; }
  void Update(std::string_view data);
  bool Matches();

 private:
  EVP_MD_CTX* ctx_ = nullptr;
  std::string want_;  // the digest's raw bytes
};

}  // namespace ws::registry
