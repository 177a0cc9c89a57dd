// FakeHypervisor: a Hypervisor of our own making for the daemon's tests —
// VMs are entries in a map, each step can be told to fail. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "host/virt/hypervisor.h"

namespace ws::test {

class FakeHypervisor final : public virt::Hypervisor {
 public:
  // What to break, by step.
  bool fail_define = false, fail_start = false;
  // Start leaves the VM in this state (kCrashed: a guest that died booting).
  virt::VmState started_state = virt::VmState::kRunning;

  size_t defined() {
    std::lock_guard lock(mu_);
    return vms_.size();
  }
  std::string cmdline(const std::string& name) {
    std::lock_guard lock(mu_);
    return vms_.count(name) ? vms_[name].spec.cmdline : "";
  }

  Status Define(const virt::VmSpec& spec) override {
    std::lock_guard lock(mu_);
    if (fail_define) return Status(Code::kInternal, "define failed (fake)");
    if (vms_.count(spec.name)) return Status(Code::kAlreadyExists, "taken");
    vms_[spec.name] = {spec, virt::VmState::kStopped, spec.metadata_xml};
    return Status::Ok();
  }
  Status Start(const std::string& name) override {
    std::lock_guard lock(mu_);
    if (fail_start) return Status(Code::kInternal, "start failed (fake)");
    auto it = vms_.find(name);
    if (it == vms_.end()) return Status(Code::kNotFound, "no such VM");
    it->second.state = started_state;
    return Status::Ok();
  }
  Status ForceOff(const std::string& name) override {
    std::lock_guard lock(mu_);
    if (auto it = vms_.find(name); it != vms_.end()) it->second.state = virt::VmState::kStopped;
    return Status::Ok();
  }
  Status Undefine(const std::string& name) override {
    std::lock_guard lock(mu_);
    vms_.erase(name);
    return Status::Ok();
  }
  Result<virt::VmInfo> Get(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto it = vms_.find(name);
    if (it == vms_.end()) return Status(Code::kNotFound, "no such VM");
    return virt::VmInfo{name, it->second.spec.uuid, it->second.state, it->second.metadata};
  }
  Status SetMetadata(const std::string& name, const std::string& xml) override {
    std::lock_guard lock(mu_);
    auto it = vms_.find(name);
    if (it == vms_.end()) return Status(Code::kNotFound, "no such VM");
    it->second.metadata = xml;
    return Status::Ok();
  }
  Result<std::vector<virt::VmInfo>> List() override {
    std::lock_guard lock(mu_);
    std::vector<virt::VmInfo> out;
    for (auto& [name, vm] : vms_) out.push_back({name, vm.spec.uuid, vm.state, vm.metadata});
    return out;
  }
  std::string Uri() const override { return "fake:///"; }
  // The tests dial their agents through AgentPool's seam, not a socket.
  Result<unique_fd> DialAgent(const std::string&, std::chrono::milliseconds) override {
    return Status(Code::kNotFound, "the fake has no channels");
  }
  Result<unique_fd> DialBulk(const std::string&) override {
    return Status(Code::kNotFound, "the fake has no channels");
  }

 private:
  struct Vm {
    virt::VmSpec spec;
    virt::VmState state;
    std::string metadata;
  };
  std::mutex mu_;
  std::map<std::string, Vm> vms_;
};

}  // namespace ws::test
