// Mutex and MutexLock: std::mutex with clang's thread-safety annotations, so
// that shared state says which lock guards it (WS_GUARDED_BY) and clang checks
// every access (-Wthread-safety; scripts/thread-safety, run by the suite).
// The annotations are empty for other compilers.
#pragma once

#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define WS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define WS_THREAD_ANNOTATION(x)
#endif

#define WS_CAPABILITY(x) WS_THREAD_ANNOTATION(capability(x))
#define WS_SCOPED_CAPABILITY WS_THREAD_ANNOTATION(scoped_lockable)
#define WS_GUARDED_BY(x) WS_THREAD_ANNOTATION(guarded_by(x))
#define WS_REQUIRES(...) WS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define WS_ACQUIRE(...) WS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define WS_RELEASE(...) WS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define WS_EXCLUDES(...) WS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define WS_NO_THREAD_SAFETY_ANALYSIS WS_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace ws {

class WS_CAPABILITY("mutex") Mutex {
 public:
  void lock() WS_ACQUIRE() { mu_.lock(); }
  void unlock() WS_RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope; a CondVar may release it while waiting.
class WS_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) WS_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() WS_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  // For CondVar only (BasicLockable): a wait releases and retakes the
  // mutex, and the lock holds it again when the wait returns.
  void lock() WS_NO_THREAD_SAFETY_ANALYSIS { mu_.lock(); }
  void unlock() WS_NO_THREAD_SAFETY_ANALYSIS { mu_.unlock(); }

 private:
  Mutex& mu_;
};

// A condition variable over a MutexLock.
using CondVar = std::condition_variable_any;

}  // namespace ws
