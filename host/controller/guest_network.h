// GuestNetwork: what the daemon holds of each running workspace's network —
// its egress relay (--net allowlist) and its published ports — and the
// ports that did not open again at the last start. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "host/common/mutex.h"
#include "host/controller/agent_pool.h"
#include "host/net/egress_relay.h"
#include "host/net/port_forward.h"
#include "host/registry/registry.h"
#include "host/virt/metadata.h"

namespace ws::controller {

class GuestNetwork {
 public:
  // `audit_path(name)`: where a workspace's egress is audited.
  GuestNetwork(AgentPool& agents, std::function<std::string(const std::string&)> audit_path)
      : agents_(agents), audit_path_(std::move(audit_path)) {}

  void SetRegistry(registry::Registry* r) { registry_ = r; }
  void SetInterceptTls(std::shared_ptr<net::InterceptTls> tls) { tls_ = std::move(tls); }
  const std::shared_ptr<net::InterceptTls>& intercept_tls() const { return tls_; }
  // The hosts a running workspace's egress intercepts (none: an empty list).
  void SetIntercept(const std::string& name, std::vector<net::HostPlan> plans,
                    std::shared_ptr<net::WorkspaceCa> ca);
  registry::Registry* registry() const { return registry_; }
  // A running workspace's decoys, for its egress (null: none).
  void SetTripwire(const std::string& name, std::shared_ptr<tripwire::Tripwire> tripwire);

  // The guest just booted (or the daemon restarted): its egress relay, and
  // its published ports opened again (what fails is kept, see Problems).
  // private_ok: may entries the user typed reach non-public addresses.
  void Attach(const std::string& name, const virt::WorkspaceMeta& meta, bool private_ok);
  // Its egress relay only (create opened its ports before the boot).
  void StartEgress(const std::string& name, const virt::WorkspaceMeta& meta, bool private_ok);
  // The guest is going away: relay and forwards stopped, problems forgotten.
  void Detach(const std::string& name);
  // A new allowlist, for the next connection.
  void SetAllowlist(const std::string& name, const std::vector<net::AllowEntry>& allow,
                    bool private_ok);

  // Publishes one port; fills in the port chosen when p.host is 0 (the
  // guest's own number when free and `guest_number_ok`, else any free one).
  Status OpenPort(const std::string& name, virt::WorkspaceMeta::Port* p,
                  bool guest_number_ok = true);
  // Stops publishing one host port (and forgets its problem, if any).
  void ClosePort(const std::string& name, uint16_t host_port);
  // Published ports that did not open again: "HOST (guest GUEST): why".
  std::vector<std::string> Problems(const std::string& name) const;

 private:
  AgentPool& agents_;
  const std::function<std::string(const std::string&)> audit_path_;
  registry::Registry* registry_ = nullptr;  // set before serving
  std::shared_ptr<net::InterceptTls> tls_;  // set before serving (null: no interception)
  mutable Mutex mu_;
  std::map<std::string, std::unique_ptr<net::EgressRelay>> egress_ WS_GUARDED_BY(mu_);
  std::map<std::string, std::map<uint16_t, std::unique_ptr<net::PortForward>>> ports_
      WS_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::string>> problems_ WS_GUARDED_BY(mu_);
};

}  // namespace ws::controller
