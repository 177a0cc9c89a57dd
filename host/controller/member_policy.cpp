#include "host/controller/member_policy.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "host/common/toml.h"
#include "host/net/address.h"

namespace ws::controller {
namespace {

std::string Where() {
  return " (the daemon's policy for members; root may change it in " + DaemonConfigPath() + ")";
}

}  // namespace

Result<MemberPolicy> ParseMemberPolicy(const std::string& text) {
  auto parsed = ParseToml(text, "daemon config");
  if (!parsed.ok()) return parsed.status();
  const auto& t = parsed.value();
  MemberPolicy p;
  for (const auto& [key, value] : *t) {
    if (key != "members" || !value->is_table()) {
      return Status(Code::kInvalidArgument, "daemon config: unknown key '" + key + "'");
    }
  }
  auto members = t->get_table("members");
  if (!members) return p;
  for (const auto& [key, value] : *members) {
    bool* field = key == "allow_low_ports"       ? &p.allow_low_ports
                  : key == "allow_private_hosts" ? &p.allow_private_hosts
                                                 : nullptr;
    if (!field)
      return Status(Code::kInvalidArgument, "daemon config: unknown key 'members." + key + "'");
    auto v = value->as<bool>();
    if (!v)
      return Status(Code::kInvalidArgument,
                    "daemon config: 'members." + key + "' must be true or false");
    *field = v->get();
  }
  return p;
}

MemberPolicy LoadMemberPolicy(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {};
  std::stringstream text;
  text << f.rdbuf();
  auto p = ParseMemberPolicy(text.str());
  return p.ok() ? p.value() : MemberPolicy{};
}

std::string DaemonConfigPath() {
  const char* env = getenv("WORKSPACE_DAEMON_CONFIG");
  return env && *env ? env : kDaemonConfigDefault;
}

Status CheckHostPort(const MemberPolicy& p, uid_t caller, uint16_t host_port) {
  if (caller == 0 || p.allow_low_ports || host_port == 0 || host_port >= 1024) return Status::Ok();
  return {Code::kPermissionDenied, "host port " + std::to_string(host_port) +
                                       " is below 1024, which only root may publish" + Where()};
}

Status CheckAllowEntry(const MemberPolicy& p, uid_t caller, const net::AllowEntry& e) {
  if (caller == 0 || p.allow_private_hosts) return Status::Ok();
  auto ip = net::ParseIpLiteral(e.host);
  if (ip && !net::IsPublic(net::Classify(*ip))) {
    return {Code::kPermissionDenied, "--allow " + e.ToString() + ": " +
                                         net::AddressClassName(net::Classify(*ip)) +
                                         " addresses are not for members" + Where()};
  }
  if (e.host == "localhost" ||
      (e.host.size() > 10 && e.host.compare(e.host.size() - 10, 10, ".localhost") == 0)) {
    return {Code::kPermissionDenied,
            "--allow " + e.ToString() + ": loopback names are not for members" + Where()};
  }
  return Status::Ok();
}

bool IsKnownAllowSource(const std::string& source) {
  for (const char* s : {"user", "apt", "npm", "pip", "ai-apis", "github"}) {
    if (source == s) return true;
  }
  return false;
}

}  // namespace ws::controller
