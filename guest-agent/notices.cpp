#include "guest-agent/notices.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace ws::agent {

NoticeBoard& NoticeBoard::Instance() {
  static NoticeBoard* b = new NoticeBoard();
  return *b;
}

std::shared_ptr<NoticeBoard::Box> NoticeBoard::Register(const std::string& exec_id) {
  auto box = std::make_shared<Box>();
  box->event.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  std::lock_guard lock(mu_);
  boxes_[exec_id] = box;
  return box;
}

void NoticeBoard::Unregister(const std::string& exec_id) {
  std::lock_guard lock(mu_);
  boxes_.erase(exec_id);
}

void NoticeBoard::Post(const std::string& exec_id, const std::string& line) {
  std::shared_ptr<Box> box;
  {
    std::lock_guard lock(mu_);
    auto it = boxes_.find(exec_id);
    if (it == boxes_.end()) return;
    box = it->second;
  }
  std::lock_guard lock(box->mu);
  if (box->lines.size() < 64) box->lines.push_back(line);  // bounded
  uint64_t one = 1;
  (void)!write(box->event.get(), &one, sizeof one);
}

std::deque<std::string> NoticeBoard::Take(Box& box) {
  uint64_t v;
  (void)!read(box.event.get(), &v, sizeof v);
  std::lock_guard lock(box.mu);
  return std::exchange(box.lines, {});
}

}  // namespace ws::agent
