#include "host/controller/guest_network.h"

#include "host/common/log.h"

namespace ws::controller {

using namespace std::chrono_literals;

void GuestNetwork::StartEgress(const std::string& name, const virt::WorkspaceMeta& meta,
                               bool private_ok) {
  if (meta.net != NetMode::kAllowlist) return;
  auto relay = std::make_unique<net::EgressRelay>(
      name, [this, name] { return agents_.Get(name, 10s); }, meta.allow, audit_path_(name),
      registry_, meta.owner_uid, private_ok);
  std::unique_ptr<net::EgressRelay> old;  // stopped outside the lock
  MutexLock lock(mu_);
  old = std::exchange(egress_[name], std::move(relay));
}

void GuestNetwork::SetIntercept(const std::string& name, std::vector<net::HostPlan> plans,
                                std::shared_ptr<net::WorkspaceCa> ca) {
  MutexLock lock(mu_);
  auto it = egress_.find(name);
  if (it != egress_.end()) it->second->SetIntercept(std::move(plans), std::move(ca), tls_);
}

void GuestNetwork::SetTripwire(const std::string& name,
                               std::shared_ptr<tripwire::Tripwire> tripwire) {
  MutexLock lock(mu_);
  auto it = egress_.find(name);
  if (it != egress_.end()) it->second->SetTripwire(std::move(tripwire));
}

void GuestNetwork::Attach(const std::string& name, const virt::WorkspaceMeta& meta,
                          bool private_ok) {
  StartEgress(name, meta, private_ok);
  std::vector<std::string> problems;
  for (auto port : meta.ports) {
    Status s = OpenPort(name, &port);
    if (s.ok()) continue;
    problems.push_back(std::to_string(port.host) + " (guest " + std::to_string(port.guest) +
                       "): " + s.message());
    Log("workspace '" + name + "': published port " + problems.back());
  }
  MutexLock lock(mu_);
  if (problems.empty()) {
    problems_.erase(name);
  } else {
    problems_[name] = std::move(problems);
  }
}

void GuestNetwork::Detach(const std::string& name) {
  std::unique_ptr<net::EgressRelay> relay;  // stopped outside the lock
  std::map<uint16_t, std::unique_ptr<net::PortForward>> ports;
  MutexLock lock(mu_);
  problems_.erase(name);
  if (auto it = egress_.find(name); it != egress_.end()) {
    relay = std::move(it->second);
    egress_.erase(it);
  }
  if (auto it = ports_.find(name); it != ports_.end()) {
    ports = std::move(it->second);
    ports_.erase(it);
  }
}

void GuestNetwork::SetAllowlist(const std::string& name, const std::vector<net::AllowEntry>& allow,
                                bool private_ok) {
  MutexLock lock(mu_);
  auto it = egress_.find(name);
  if (it != egress_.end()) it->second->SetAllowlist(allow, private_ok);
}

Status GuestNetwork::OpenPort(const std::string& name, virt::WorkspaceMeta::Port* p,
                              bool guest_number_ok) {
  auto agent = [this, name] { return agents_.Get(name, 10s); };
  // No host port given: the guest's own number when free (localhost:3000 is
  // the dev server on 3000) and the caller may have it, else any free port.
  auto fwd = net::PortForward::Open(p->host           ? p->host
                                    : guest_number_ok ? p->guest
                                                      : 0,
                                    p->guest, agent);
  if (!fwd.ok() && p->host == 0) fwd = net::PortForward::Open(0, p->guest, agent);
  if (!fwd.ok()) return fwd.status();
  p->host = fwd.value()->host_port();
  MutexLock lock(mu_);
  ports_[name][p->host] = std::move(fwd.value());
  return Status::Ok();
}

void GuestNetwork::ClosePort(const std::string& name, uint16_t host_port) {
  std::unique_ptr<net::PortForward> gone;  // stopped outside the lock
  MutexLock lock(mu_);
  if (auto it = ports_.find(name); it != ports_.end()) {
    if (auto f = it->second.find(host_port); f != it->second.end()) {
      gone = std::move(f->second);
      it->second.erase(f);
    }
  }
  // A port that did not open again is no longer a problem once removed.
  if (auto it = problems_.find(name); it != problems_.end()) {
    const std::string prefix = std::to_string(host_port) + " (";
    std::erase_if(it->second, [&](const std::string& p) { return p.rfind(prefix, 0) == 0; });
    if (it->second.empty()) problems_.erase(it);
  }
}

std::vector<std::string> GuestNetwork::Problems(const std::string& name) const {
  MutexLock lock(mu_);
  auto it = problems_.find(name);
  return it == problems_.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace ws::controller
