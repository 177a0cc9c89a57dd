// SecretStore: the secrets users hand the daemon so the host, not the guest,
// puts them into requests (issue #21). One file per user,
// STATE/secrets/UID.json (0600, root's, in a 0700 directory), written whole
// through a temporary file and a rename. A value leaves this file only into
// the daemon's memory for the egress; nothing here logs one, and what the
// CLI is shown is `Redacted`.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "host/common/mutex.h"
#include "host/common/status.h"

namespace ws::store {

struct Secret {
  std::string name;    // [a-z0-9][a-z0-9_-]{0,39}
  std::string host;    // the one host it may be sent to (a normalized name)
  std::string header;  // the request header it goes in
  std::string format;  // that header's value, "{}" standing for the secret
  std::string env;     // the guest variable that holds its placeholder ("" none)
  std::string value;   // the secret itself
  std::string added;   // RFC 3339 UTC
};

// The same without its value (for list, inspect, --json).
Secret Redacted(Secret s);

struct SecretPreset {
  const char* name;
  const char* host;
  const char* header;
  const char* format;
  const char* env;
};
// anthropic, anthropic-oauth, openai, github; null for another name.
const SecretPreset* FindPreset(std::string_view name);
const std::vector<SecretPreset>& Presets();

inline constexpr size_t kMaxSecretsPerUser = 64;
inline constexpr size_t kMaxSecretValue = 16 * 1024;

// Checks every field (and normalizes the host and header): a value must be
// printable ASCII without spaces (it goes into a header), the format must
// hold "{}" once, the header must be a token. kInvalidArgument says which.
Status ValidateSecret(Secret* s);

class SecretStore {
 public:
  explicit SecretStore(std::string dir) : dir_(std::move(dir)) {}
  // Adds `s`, or replaces the user's secret of that name.
  Status Put(uid_t owner, Secret s);
  Result<std::vector<Secret>> List(uid_t owner);
  Result<Secret> Get(uid_t owner, const std::string& name);
  // kNotFound when the user has no secret of that name.
  Status Remove(uid_t owner, const std::string& name);

 private:
  Result<std::vector<Secret>> LoadLocked(uid_t owner) WS_REQUIRES(mu_);
  Status SaveLocked(uid_t owner, const std::vector<Secret>& all) WS_REQUIRES(mu_);
  const std::string dir_;
  Mutex mu_;
};

// A random placeholder for one workspace's binding of a secret: "wsph_" and
// 32 hex digits (128 bits).
std::string NewPlaceholder();

}  // namespace ws::store
