// What the host sets in a running guest (GuestAgent.Configure): the
// workspace CA to trust, for the hosts whose requests the host reads, and
// variables every exec gets (the placeholders of the workspace's secrets).
// The CA goes into /etc/ssl/certs/workspace-ca.pem and onto the end of the
// system bundle (/etc/ssl/certs/ca-certificates.crt, rebuilt from the
// image's own copy each time, so a new CA replaces the old); execs get
// NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE
// pointing at them. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "host/common/status.h"

namespace ws::agent {

inline constexpr char kWorkspaceCaFile[] = "/etc/ssl/certs/workspace-ca.pem";
inline constexpr char kSystemBundle[] = "/etc/ssl/certs/ca-certificates.crt";

// Replaces the last settings. Bounded by the caller (the service).
Status ApplyHostSettings(const std::string& ca_pem, std::vector<std::string> env);

// Files for the default user's home (decoy credentials): each written,
// owned by the user, only where nothing is yet; parent directories made
// 0700. The paths were checked by the caller (relative, no . or ..).
struct HomeFile {
  std::string path;
  std::string content;
  unsigned mode = 0600;
};
Status PlantHomeFiles(const std::vector<HomeFile>& files);

// "KEY=VALUE" every exec starts with (before its own).
std::vector<std::string> HostEnv();

}  // namespace ws::agent
