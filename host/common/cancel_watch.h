// CancelWatch: for the life of one blocking call, asks `cancelled` at once
// and then every `every` and calls `cancel` once when it says yes (a gRPC call whose
// caller went away, a command whose build was cancelled). Ends, without
// waiting out the interval, when it goes out of scope.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace ws {

class CancelWatch {
 public:
  CancelWatch(std::function<bool()> cancelled, std::function<void()> cancel,
              std::chrono::milliseconds every)
      : thread_([this, cancelled = std::move(cancelled), cancel = std::move(cancel), every] {
          std::unique_lock lock(mu_);
          do {
            if (cancelled()) {
              cancel();
              return;
            }
          } while (!cv_.wait_for(lock, every, [&] { return done_; }));
        }) {}
  ~CancelWatch() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  CancelWatch(const CancelWatch&) = delete;
  CancelWatch& operator=(const CancelWatch&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;   // guarded by mu_
  std::thread thread_;  // last: starts once the rest is made
};

}  // namespace ws
