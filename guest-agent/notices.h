// NoticeBoard: lines for a running exec's stderr from elsewhere in the agent
// (the proxy reports refused connections to the exec that made them). Each
// exec registers by its cgroup id and polls its eventfd. Thread-safe.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "host/common/unique_fd.h"

namespace ws::agent {

class NoticeBoard {
 public:
  struct Box {
    std::mutex mu;
    std::deque<std::string> lines;  // guarded by mu
    unique_fd event;                // eventfd: readable when lines wait
  };
  static NoticeBoard& Instance();
  std::shared_ptr<Box> Register(const std::string& exec_id);
  void Unregister(const std::string& exec_id);
  // Drops the line when no exec has that id (any more).
  void Post(const std::string& exec_id, const std::string& line);
  // Takes the waiting lines (and clears the eventfd).
  static std::deque<std::string> Take(Box& box);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Box>> boxes_;  // guarded by mu_
};

}  // namespace ws::agent
