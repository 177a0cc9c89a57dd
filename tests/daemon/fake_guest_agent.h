// FakeGuestAgent: a GuestAgent of our own making for the daemon's tests — no
// VM, no gRPC. Egress attempts are pushed in by the test; tunnels record what
// the relay did with them; a refusal can be held (a guest that never takes
// its answer). Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "host/guest/guest_agent.h"

namespace ws::test {

// A stream whose guest end never sends a byte (a client that went quiet).
class SilentStream final : public ByteStream {
 public:
  bool Read(std::string*) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return cancelled_; });
    return false;
  }
  bool Write(std::string_view) override { return !Cancelled(); }
  void CloseWrite() override {}
  void Cancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  Status Finish() override { return Status(Code::kUnavailable, "cancelled"); }
  bool Cancelled() {
    std::lock_guard lock(mu_);
    return cancelled_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
};

// A stream whose guest end sends `bytes` and then waits, as a client waits
// for its answer, until the host ends its side; what the host wrote is kept.
class ScriptedStream final : public ByteStream {
 public:
  explicit ScriptedStream(std::string bytes) : bytes_(std::move(bytes)) {}
  bool Read(std::string* data) override {
    std::unique_lock lock(mu_);
    if (!sent_) {
      sent_ = true;
      *data = bytes_;
      return true;
    }
    cv_.wait(lock, [&] { return ended_; });
    return false;
  }
  bool Write(std::string_view data) override {
    std::lock_guard lock(mu_);
    written_.append(data);
    return !ended_;
  }
  void CloseWrite() override { Cancel(); }
  void Cancel() override {
    std::lock_guard lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }
  Status Finish() override { return Status::Ok(); }
  std::string written() {
    std::lock_guard lock(mu_);
    return written_;
  }
  bool ended() {
    std::lock_guard lock(mu_);
    return ended_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const std::string bytes_;
  std::string written_;
  bool sent_ = false, ended_ = false;
};

// A ByteStream handed out while the test keeps the stream itself.
class SharedStream final : public ByteStream {
 public:
  explicit SharedStream(std::shared_ptr<ByteStream> s) : s_(std::move(s)) {}
  bool Read(std::string* data) override { return s_->Read(data); }
  bool Write(std::string_view data) override { return s_->Write(data); }
  void CloseWrite() override { s_->CloseWrite(); }
  void Cancel() override { s_->Cancel(); }
  Status Finish() override { return s_->Finish(); }

 private:
  std::shared_ptr<ByteStream> s_;
};

class FakeGuestAgent final : public guest::GuestAgent {
 public:
  // --- what the test drives ---
  void PushAttempt(guest::EgressAttempt a) {
    std::lock_guard lock(mu_);
    attempts_.push_back(std::move(a));
    cv_.notify_all();
  }
  // Refusals wait until Release (while held).
  void HoldRefusals() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void Release() {
    std::lock_guard lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }
  int refused() {
    std::lock_guard lock(mu_);
    return refused_;
  }
  int waiting_refusals() {
    std::lock_guard lock(mu_);
    return waiting_;
  }
  std::vector<std::string> refusal_reasons() {
    std::lock_guard lock(mu_);
    return reasons_;
  }
  int accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  // The next tunnel accepted is this stream (else a silent one).
  void NextTunnel(std::shared_ptr<ByteStream> stream) {
    std::lock_guard lock(mu_);
    next_tunnel_ = std::move(stream);
  }

  // --- GuestAgent ---
  Result<guest::AgentInfo> Info(std::chrono::milliseconds) override { return guest::AgentInfo{}; }
  Status Shutdown(std::chrono::milliseconds) override { return Status::Ok(); }
  Status Configure(const guest::GuestSettings& settings, std::chrono::milliseconds) override {
    std::lock_guard lock(mu_);
    settings_ = settings;
    return Status::Ok();
  }
  Status Notify(const std::string& exec_id, const std::string& line,
                std::chrono::milliseconds) override {
    std::lock_guard lock(mu_);
    notices_.push_back(exec_id + " " + line);
    return Status::Ok();
  }
  guest::GuestSettings settings() {
    std::lock_guard lock(mu_);
    return settings_;
  }
  std::vector<std::string> notices() {
    std::lock_guard lock(mu_);
    return notices_;
  }
  Result<guest::RunExit> Run(const guest::RunSpec&, const std::function<void(std::string_view)>&,
                             const std::function<bool()>&) override {
    return guest::RunExit{0, false};
  }
  std::unique_ptr<guest::ExecCall> Exec(const guest::ExecSpec&) override { return nullptr; }
  std::unique_ptr<guest::TreeSource> ReadTree(const std::string&) override { return nullptr; }
  std::unique_ptr<guest::TreeSink> WriteTree() override { return nullptr; }
  std::unique_ptr<guest::EgressWatch> WatchEgress() override {
    return std::make_unique<Watch>(this);
  }
  std::unique_ptr<ByteStream> AcceptTunnel(uint64_t) override {
    std::lock_guard lock(mu_);
    ++accepted_;
    if (next_tunnel_) return std::make_unique<SharedStream>(std::move(next_tunnel_));
    return std::make_unique<SilentStream>();
  }
  Status RefuseTunnel(uint64_t, const std::string& reason, std::chrono::milliseconds) override {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return !hold_; });
    --waiting_;
    ++refused_;
    reasons_.push_back(reason);
    return Status::Ok();
  }
  std::unique_ptr<ByteStream> Forward(uint16_t) override {
    return std::make_unique<SilentStream>();
  }
  guest::BulkReader* bulk() const override { return nullptr; }
  void ReleaseBulk() override {}
  bool Alive() const override { return true; }
  void MarkBroken() override {}

 private:
  class Watch final : public guest::EgressWatch {
   public:
    explicit Watch(FakeGuestAgent* a) : a_(a) {}
    bool Next(guest::EgressAttempt* out) override {
      std::unique_lock lock(a_->mu_);
      a_->cv_.wait(lock, [&] { return cancelled_ || !a_->attempts_.empty(); });
      if (cancelled_) return false;
      *out = std::move(a_->attempts_.front());
      a_->attempts_.pop_front();
      return true;
    }
    void Cancel() override {
      std::lock_guard lock(a_->mu_);
      cancelled_ = true;
      a_->cv_.notify_all();
    }
    Status Finish() override { return Status::Ok(); }

   private:
    FakeGuestAgent* a_;
    bool cancelled_ = false;  // guarded by a_->mu_
  };

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<guest::EgressAttempt> attempts_;
  bool hold_ = false;
  int waiting_ = 0, refused_ = 0, accepted_ = 0;
  std::vector<std::string> reasons_;
  std::shared_ptr<ByteStream> next_tunnel_;
  guest::GuestSettings settings_;
  std::vector<std::string> notices_;
};

}  // namespace ws::test
