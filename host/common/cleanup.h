// Cleanup: runs a rollback step at scope exit unless Dismiss()ed. Used for
// multi-step operations (disk made, domain defined, start failed -> undo).
#pragma once

#include <functional>
#include <utility>

namespace ws {

class Cleanup {
 public:
  explicit Cleanup(std::function<void()> fn) : fn_(std::move(fn)) {}
  ~Cleanup() {
    if (fn_) fn_();
  }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  void Dismiss() { fn_ = nullptr; }

 private:
  std::function<void()> fn_;
};

}  // namespace ws
