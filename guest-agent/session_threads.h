// SessionThreads: where exec sessions run. Starting a thread per exec cost
// the one vCPU more than handing the work to one that waits (TCG); threads
// idle for a minute end. Never limits how many sessions run at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace ws::agent {

class SessionThreads {
 public:
  static void Run(std::function<void()> work) {
    static SessionThreads* pool =
        new SessionThreads();  // never destroyed: threads outlive main's scope
    pool->Dispatch(std::move(work));
  }

 private:
  static constexpr auto kIdleTimeout = std::chrono::seconds(60);

  void Dispatch(std::function<void()> work) {
    std::unique_lock lock(mu_);
    queue_.push_back(std::move(work));
    if (idle_ > static_cast<int>(queue_.size()) - 1) {
      cv_.notify_one();
      return;
    }
    lock.unlock();
    std::thread([this] { Worker(); }).detach();
  }
  void Worker() {
    std::unique_lock lock(mu_);
    for (;;) {
      while (queue_.empty()) {
        ++idle_;
        bool woke = cv_.wait_for(lock, kIdleTimeout, [&] { return !queue_.empty(); });
        --idle_;
        if (!woke) return;
      }
      auto work = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      work();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  int idle_ = 0;                             // guarded by mu_: workers waiting
};

}  // namespace ws::agent
