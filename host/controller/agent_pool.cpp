#include "host/controller/agent_pool.h"

#include <filesystem>
#include <thread>

namespace ws::controller {

Result<std::shared_ptr<guest::GuestAgent>> AgentPool::Get(const std::string& name,
                                                          std::chrono::milliseconds timeout) {
  auto cached = [&]() -> std::shared_ptr<guest::GuestAgent> {
    MutexLock lock(mu_);
    auto it = agents_.find(name);
    if (it == agents_.end()) return nullptr;
    if (it->second->Alive()) return it->second;
    it->second->ReleaseBulk();
    agents_.erase(it);
    return nullptr;
  };
  if (auto a = cached()) return a;
  auto connect_mu = ConnectLock(name);
  std::lock_guard connecting(*connect_mu);
  if (auto a = cached()) return a;  // another caller connected meanwhile
  auto agent = Connect(name, timeout, std::chrono::seconds(2));
  if (!agent.ok()) return agent.status();
  Put(name, agent.value());
  return agent;
}

Result<std::shared_ptr<guest::GuestAgent>> AgentPool::Connect(const std::string& name,
                                                              std::chrono::milliseconds total,
                                                              std::chrono::milliseconds attempt) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + total;
  Status last(Code::kDeadlineExceeded, "no attempt made");
  while (Clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto agent = dial_(name, std::min(left, attempt));
    if (agent.ok() || agent.status().code() == Code::kFailedPrecondition) return agent;
    last = agent.status();
    // No channel: the VM is not running, nothing to wait for.
    if (last.code() == Code::kNotFound) return last;
    if (last.code() == Code::kUnavailable)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return last;
}

Result<std::shared_ptr<guest::GuestAgent>> AgentPool::Reconnect(const std::string& name,
                                                                std::chrono::milliseconds timeout) {
  auto connect_mu = ConnectLock(name);
  std::lock_guard connecting(*connect_mu);
  Drop(name);
  auto agent = dial_(name, timeout);
  if (agent.ok()) Put(name, agent.value());
  return agent;
}

std::shared_ptr<std::mutex> AgentPool::ConnectLock(const std::string& name) {
  MutexLock lock(mu_);
  auto& m = connecting_[name];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

void AgentPool::Put(const std::string& name, std::shared_ptr<guest::GuestAgent> agent) {
  MutexLock lock(mu_);
  auto& slot = agents_[name];
  if (slot && slot != agent) slot->ReleaseBulk();
  slot = std::move(agent);
}

void AgentPool::Drop(const std::string& name) {
  MutexLock lock(mu_);
  auto it = agents_.find(name);
  if (it == agents_.end()) return;
  it->second->ReleaseBulk();
  agents_.erase(it);
}

}  // namespace ws::controller
