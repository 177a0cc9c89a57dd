#include "host/net/intercept.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

#include "host/common/mutex.h"
#include "host/common/ssl_errors.h"
#include "host/net/client_hello.h"
#include "host/net/http_requests.h"
#include "host/net/http_responses.h"
#include "host/net/policy.h"

namespace ws::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kHandshakeSeconds = 10;
// How long the server's answers may still come once the guest has ended.
constexpr int kDrainSeconds = 5;
// Most requests passed on and not yet answered on one connection (a guest
// pipelining to a server that does not answer holds host memory).
constexpr size_t kMaxUnanswered = 64;
const unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int SelectHttp11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                 unsigned inlen, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kAlpnHttp11, sizeof kAlpnHttp11, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// Cuts a connection that moves nothing for `seconds`.
class IdleWatch {
 public:
  IdleWatch(int seconds, std::function<void()> cut) : seconds_(seconds), cut_(std::move(cut)) {
    if (seconds_ <= 0) return;
    try {
      thread_ = std::thread([this] {
        std::unique_lock lock(mu_);
        while (!cv_.wait_for(lock, std::chrono::seconds(1), [&] { return done_; })) {
          if (Clock::now() - Clock::time_point(Clock::duration(last_.load())) >
              std::chrono::seconds(seconds_)) {
            cut_();
            return;
          }
        }
      });
    } catch (const std::system_error&) {
      cut_();
    }
  }
  ~IdleWatch() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void Touch() { last_ = Clock::now().time_since_epoch().count(); }

 private:
  const int seconds_;
  std::function<void()> cut_;
  std::atomic<int64_t> last_{Clock::now().time_since_epoch().count()};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// TLS to the real server on a non-blocking socket: one thread reads while
// another writes, each call under the lock and waiting outside it.
class ServerSide {
 public:
  ServerSide(SSL* ssl, int fd, const std::atomic<bool>& stop) : ssl_(ssl), fd_(fd), stop_(stop) {}
  ~ServerSide() { SSL_free(ssl_); }

  // Blocking handshake (before the threads start), bounded.
  Status Handshake() {
    const auto until = Clock::now() + std::chrono::seconds(kHandshakeSeconds);
    for (;;) {
      const int r = SSL_connect(ssl_);
      if (r == 1) return Status::Ok();
      const int err = SSL_get_error(ssl_, r);
      if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) || Clock::now() > until ||
          !Wait(err)) {
        const long verify = SSL_get_verify_result(ssl_);
        if (verify != X509_V_OK) {
          ERR_clear_error();
          return Status(Code::kPermissionDenied, std::string("its certificate does not verify: ") +
                                                     X509_verify_cert_error_string(verify));
        }
        return Status(Code::kUnavailable, "TLS handshake failed: " + SslErrors());
      }
    }
  }
  bool Read(std::string* out) {
    char buf[64 * 1024];
    for (;;) {
      int n, err;
      {
        std::lock_guard lock(mu_);
        n = SSL_read(ssl_, buf, sizeof buf);
        err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
      }
      if (n > 0) {
        out->assign(buf, static_cast<size_t>(n));
        return true;
      }
      if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) || !Wait(err)) return false;
    }
  }
  bool Write(std::string_view data) {
    size_t off = 0;
    while (off < data.size()) {
      int n, err;
      {
        std::lock_guard lock(mu_);
        n = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
        err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
      }
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) || !Wait(err)) return false;
    }
    return true;
  }
  void CloseWrite() {
    std::lock_guard lock(mu_);
    SSL_shutdown(ssl_);
  }

 private:
  // Waits (up to a poll interval) for the socket; false once told to stop.
  bool Wait(int err) {
    pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
    const int r = poll(&p, 1, 200);
    if (r < 0 && errno != EINTR) return false;
    if (r > 0 && (p.revents & (POLLERR | POLLNVAL))) return false;
    return !stop_.load();
  }
  SSL* ssl_;
  const int fd_;
  const std::atomic<bool>& stop_;
  std::mutex mu_;
};

// TLS with the guest, in memory: ciphertext in and out over the ByteStream.
// mu_ guards the SSL and queued_, the records in the order TLS wrote them;
// write_mu_ is held by whoever writes the stream. Lock order: write_mu_
// before mu_, and the stream is never written under mu_, so the reader
// (an alert while reading) and the answers thread (a blocked write) cannot
// wait on each other.
class GuestSide {
 public:
  GuestSide(SSL* ssl, ByteStream& stream) : ssl_(ssl), stream_(stream) {
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl_, rbio_, wbio_);
    SSL_set_accept_state(ssl_);
  }
  ~GuestSide() { SSL_free(ssl_); }

  void Give(std::string_view cipher) {
    std::lock_guard lock(mu_);
    BIO_write(rbio_, cipher.data(), static_cast<int>(cipher.size()));
  }
  Status Handshake(IdleWatch& idle) {
    std::string cipher;
    for (;;) {
      int r, err;
      {
        std::lock_guard lock(mu_);
        r = SSL_do_handshake(ssl_);
        err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
        QueueOutputLocked();
      }
      if (!Send(true)) return Status(Code::kUnavailable, "the guest went away");
      if (r == 1) return Status::Ok();
      if (err != SSL_ERROR_WANT_READ) {
        return Status(Code::kInvalidArgument, "the guest's TLS handshake failed: " + SslErrors());
      }
      if (!stream_.Read(&cipher)) return Status(Code::kUnavailable, "the guest went away");
      idle.Touch();
      Give(cipher);
    }
  }
  // Plaintext from the guest; false at its end.
  bool Read(std::string* plain, IdleWatch& idle) {
    char buf[64 * 1024];
    std::string cipher;
    for (;;) {
      int n, err;
      {
        std::lock_guard lock(mu_);
        n = SSL_read(ssl_, buf, sizeof buf);
        err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
        QueueOutputLocked();
      }
      if (!Send(false)) return false;
      if (n > 0) {
        plain->assign(buf, static_cast<size_t>(n));
        return true;
      }
      if (err != SSL_ERROR_WANT_READ) return false;
      if (!stream_.Read(&cipher)) return false;
      idle.Touch();
      Give(cipher);
    }
  }
  // Waits for the stream (the answers' pace is the guest's).
  bool Write(std::string_view plain) {
    {
      std::lock_guard lock(mu_);
      if (!plain.empty() && SSL_write(ssl_, plain.data(), static_cast<int>(plain.size())) <= 0) {
        return false;
      }
      QueueOutputLocked();
    }
    return Send(true);
  }
  // close_notify, then no more writes.
  void Close() {
    {
      std::lock_guard lock(mu_);
      SSL_shutdown(ssl_);
      QueueOutputLocked();
    }
    (void)Send(true);
    std::lock_guard w(write_mu_);
    stream_.CloseWrite();
  }

 private:
  void QueueOutputLocked() {
    char buf[16 * 1024];
    int n;
    while ((n = BIO_read(wbio_, buf, sizeof buf)) > 0) queued_.append(buf, static_cast<size_t>(n));
  }
  // Writes what is queued, in order. With `wait` false it leaves the work
  // to a thread already writing, which looks at the queue again once it
  // has let go of the stream.
  bool Send(bool wait) {
    for (;;) {
      std::unique_lock w(write_mu_, std::defer_lock);
      if (wait) {
        w.lock();
      } else if (!w.try_lock()) {
        return true;
      }
      wait = false;
      for (;;) {
        std::string out;
        {
          std::lock_guard lock(mu_);
          out.swap(queued_);
        }
        if (out.empty()) break;
        if (!stream_.Write(out)) return false;
      }
      w.unlock();
      std::lock_guard lock(mu_);
      if (queued_.empty()) return true;
    }
  }
  SSL* ssl_;
  BIO* rbio_;
  BIO* wbio_;
  ByteStream& stream_;
  std::mutex mu_;
  std::string queued_;  // guarded by mu_
  std::mutex write_mu_;
};

// The requests passed on awaiting their answers, and who ends the guest's
// side: the answers (the server closed) or the requests (a refusal to send).
struct Pairing {
  Mutex mu;
  std::deque<InterceptedRequest> unanswered WS_GUARDED_BY(mu);
  bool refusing WS_GUARDED_BY(mu) = false;
  bool closed WS_GUARDED_BY(mu) = false;
};

// A small body (a known length, not compressed) held whole before any of
// its request goes on, so the watch reads all of it first (the body tap
// sees what passes, after the head has gone). None for larger bodies.
BodyRule HoldSmallBody(const RequestHead& head) {
  constexpr size_t kHeldBody = 256 * 1024;
  const auto lengths = head.All("content-length");
  if (lengths.size() != 1 || !head.All("transfer-encoding").empty() ||
      !head.All("content-encoding").empty()) {
    return {};
  }
  char* end = nullptr;
  const unsigned long long n = std::strtoull(lengths[0].c_str(), &end, 10);
  if (n == 0 || n > kHeldBody || !end || *end) return {};
  return {kHeldBody, [](std::string_view, bool complete, RequestOutcome*) {
            return complete ? BodyVerdict::kPass : BodyVerdict::kNeedMore;
          }};
}

class InterceptUpstream final : public Upstream {
 public:
  InterceptUpstream(unique_fd remote, std::string address, HostPlan plan,
                    std::shared_ptr<WorkspaceCa> ca, std::shared_ptr<InterceptTls> tls,
                    int idle_seconds, std::function<bool()> current, RequestAuditFn audit)
      : remote_(std::move(remote)),
        address_(std::move(address)),
        plan_(std::move(plan)),
        ca_(std::move(ca)),
        tls_(std::move(tls)),
        idle_seconds_(idle_seconds),
        current_(std::move(current)),
        audit_(std::move(audit)) {}

  std::string address() const override { return address_; }

  RelayCounts Handle(const Decision&, ByteStream& guest) override {
    RelayCounts counts;
    std::atomic<bool> stop{false};
    IdleWatch idle(idle_seconds_, [&] {
      stop = true;
      guest.Cancel();
      shutdown(remote_.get(), SHUT_RDWR);
    });
    auto refuse = [&](std::string why) {
      counts.refused = std::move(why);
      guest.CloseWrite();
      std::string rest;
      while (guest.Read(&rest)) {
      }
      return counts;
    };

    // 1. The guest's ClientHello: the allowed name, HTTP/1.1.
    std::string first;
    ClientHello hello;
    for (;;) {
      std::string data;
      if (!guest.Read(&data)) return counts;
      idle.Touch();
      first += data;
      const HelloStatus st = ParseClientHello(first, &hello);
      if (st == HelloStatus::kComplete) break;
      if (st == HelloStatus::kNotTls) {
        return refuse("only TLS to " + plan_.host + " (its requests carry credentials or rules)");
      }
      if (st == HelloStatus::kMalformed) return refuse("a malformed TLS ClientHello");
    }
    if (hello.encrypted) {
      return refuse("an encrypted ClientHello (ECH): its server name cannot be checked");
    }
    if (!hello.has_sni || NormalizeHostName(hello.server_name) != plan_.host) {
      return refuse(hello.has_sni
                        ? "TLS server name " + hello.server_name + " is not " + plan_.host +
                              " (domain fronting is refused)"
                        : "a TLS ClientHello without a server name (SNI) to " + plan_.host);
    }
    if (!hello.alpn.empty() &&
        std::find(hello.alpn.begin(), hello.alpn.end(), "http/1.1") == hello.alpn.end()) {
      return refuse("a client that offers no HTTP/1.1 (ALPN); requests to " + plan_.host +
                    " are read on the host in HTTP/1.1 only");
    }
    auto leaf = ca_->LeafFor(plan_.host);
    if (!leaf.ok()) return refuse(leaf.status().message());

    // 2. The real server, verified, before the guest's handshake ends.
    SSL* up = SSL_new(tls_->client());
    if (!up) return refuse("no TLS for the upstream: " + SslErrors());
    const int flags = fcntl(remote_.get(), F_GETFL);
    fcntl(remote_.get(), F_SETFL, flags | O_NONBLOCK);
    SSL_set_fd(up, remote_.get());
    SSL_set_tlsext_host_name(up, plan_.host.c_str());
    SSL_set1_host(up, plan_.host.c_str());
    SSL_set_alpn_protos(up, kAlpnHttp11, sizeof kAlpnHttp11);
    ServerSide server(up, remote_.get(), stop);
    if (Status s = server.Handshake(); !s.ok()) {
      return refuse("upstream " + plan_.host + ": " + s.message());
    }

    // 3. The guest's handshake, answered with the workspace CA's leaf.
    SSL* gs = SSL_new(tls_->server());
    if (!gs || SSL_use_certificate(gs, leaf.value()->cert) != 1 ||
        SSL_use_PrivateKey(gs, leaf.value()->key) != 1) {
      SSL_free(gs);
      return refuse("no TLS for the guest: " + SslErrors());
    }
    GuestSide client(gs, guest);
    client.Give(first);
    if (Status s = client.Handshake(idle); !s.ok()) return refuse(s.message());

    // 4. Requests up (checked, substituted), answers down (scrubbed). Each
    // request passed on is audited once its answer's status is read.
    std::vector<std::pair<std::string, std::string>> secrets;
    for (const auto& b : plan_.bindings) secrets.emplace_back(b.value, b.placeholder);
    std::atomic<uint64_t> down{0};
    std::atomic<int> scrubbed{0};
    std::atomic<bool> answers_done{false};
    HttpResponseWatcher watcher;
    Pairing pair;
    auto answered = [&](int status) {
      InterceptedRequest r;
      {
        MutexLock lock(pair.mu);
        if (pair.unanswered.empty()) return;  // an answer to no request: nothing to pair
        r = std::move(pair.unanswered.front());
        pair.unanswered.pop_front();
      }
      r.status = status;
      if (audit_) audit_(r);
    };
    std::thread answers;
    try {
      answers = std::thread([&] {
        Scrubber scrub(secrets);
        std::string plain, out;
        while (server.Read(&plain)) {
          idle.Touch();
          watcher.Feed(plain, answered);
          out.clear();
          scrub.Feed(plain, &out);
          if (!out.empty() && !client.Write(out)) break;
          down += out.size();
        }
        if (!stop) watcher.Feed({}, answered);  // the server's end: a body to close ends
        out.clear();
        scrub.Flush(&out);
        if (!out.empty() && client.Write(out)) down += out.size();
        scrubbed = scrub.replaced();
        bool close_it;
        {
          MutexLock lock(pair.mu);
          close_it = !pair.refusing;
          pair.closed = close_it;
        }
        if (close_it) client.Close();
        answers_done = true;
      });
    } catch (const std::system_error&) {
      return refuse("the host has no thread for it");
    }
    // A request passed on awaits its answer (for its audit line); one
    // refused is audited now.
    auto passed = [&](InterceptedRequest r, bool head_only) -> Refusal {
      {
        MutexLock lock(pair.mu);
        if (pair.unanswered.size() < kMaxUnanswered) {
          pair.unanswered.push_back(r);
          watcher.Expect(head_only);
          return Refusal{};
        }
      }
      r.outcome.refusal = {429, "more than " + std::to_string(kMaxUnanswered) +
                                    " requests waiting for their answers on one connection"};
      r.outcome.rule = "in flight";
      r.outcome.injected = false;
      r.status = 429;
      if (audit_) audit_(r);
      return r.outcome.refusal;
    };
    auto refused = [&](InterceptedRequest r) {
      r.status = r.outcome.refusal.status;
      if (audit_) audit_(r);
      return r.outcome.refusal;
    };
    std::string request_label;  // the request under way, for the watch
    HttpRequestFilter requests([&](RequestHead* head, BodyGate* gate) {
      InterceptedRequest r{head->method, PathForAudit(head->target), {}, 0};
      BodyRule body;
      request_label = r.method + " " + r.path;
      std::string watched;
      if (plan_.watch) watched = plan_.watch(head->Serialize(), request_label);
      if (!watched.empty()) {
        r.outcome.refusal = {403, std::move(watched)};
        r.outcome.rule = "decoy";
      } else if (current_ && !current_()) {
        r.outcome.refusal = {403,
                             "the workspace's secrets changed since this connection opened; "
                             "connect again"};
        r.outcome.rule = "stale";
      } else {
        r.outcome = ApplyRules(plan_, head, &body);
      }
      if (r.outcome.refusal.status != 0) return refused(std::move(r));
      if (!body.check && plan_.watch) body = HoldSmallBody(*head);
      if (!body.check) return passed(std::move(r), head->method == "HEAD");
      // Passed on (and audited) once the body rule has read enough of it.
      gate->limit = body.limit;
      gate->check = [&, r, check = std::move(body.check)](std::string_view b, bool complete,
                                                          Refusal* refusal) mutable {
        const BodyVerdict v = check(b, complete, &r.outcome);
        if (v == BodyVerdict::kRefuse) {
          r.outcome.injected = false;  // nothing of it went on
          *refusal = refused(r);
        } else if (v == BodyVerdict::kPass) {
          *refusal = passed(r, false);
          if (refusal->status != 0) return BodyVerdict::kRefuse;
        }
        return v;
      };
      return Refusal{};
    });
    if (plan_.watch) {
      requests.SetBodyTap(
          [&](std::string_view piece) { return plan_.watch(piece, request_label + " body"); });
    }
    std::string plain, out;
    uint64_t up_bytes = 0;
    bool answer_refusal = false;
    while (client.Read(&plain, idle)) {
      out.clear();
      const bool go_on = requests.Feed(plain, &out);
      if (!out.empty()) {
        if (!server.Write(out)) break;
        up_bytes += out.size();
      }
      if (!go_on) {
        counts.refused = requests.refusal().reason;
        // The refusal is the guest's answer once the answers to the requests
        // before it have arrived whole (in order, as HTTP/1.1 pairs them).
        MutexLock lock(pair.mu);
        pair.refusing = answer_refusal = !pair.closed;
        break;
      }
    }
    server.CloseWrite();
    // The guest is done: the server's last answer may still come, for a
    // while (a server that keeps the connection open would hold it, and a
    // tunnel slot, until the idle cut).
    for (int i = 0; i < kDrainSeconds * 10 && !answers_done; ++i) {
      if (!counts.refused.empty() &&
          (watcher.broken() || watcher.completed() >= requests.requests())) {
        break;  // every answer before the refusal is through
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop = true;
    shutdown(remote_.get(), SHUT_RDWR);
    answers.join();
    if (answer_refusal) {
      if (!watcher.broken() && watcher.completed() >= requests.requests()) {
        (void)client.Write(RefusalResponse(requests.refusal()));
      }
      client.Close();
    }
    {
      MutexLock lock(pair.mu);
      for (auto& r : pair.unanswered) {
        if (audit_) audit_(r);  // no answer came (status 0)
      }
    }
    counts.guest_to_socket = up_bytes;
    counts.socket_to_guest = down.load();
    if (scrubbed > 0 && audit_) {
      InterceptedRequest r;
      r.method = "RESPONSE";
      r.outcome.rule = "reflected secret";
      r.outcome.binding = plan_.bindings.empty() ? "" : plan_.bindings.front().secret;
      r.path = std::to_string(scrubbed.load()) + " replaced by the placeholder";
      audit_(r);
    }
    return counts;
  }

 private:
  unique_fd remote_;
  std::string address_;
  HostPlan plan_;
  std::shared_ptr<WorkspaceCa> ca_;
  std::shared_ptr<InterceptTls> tls_;
  int idle_seconds_;
  std::function<bool()> current_;
  RequestAuditFn audit_;
};

}  // namespace

Result<std::shared_ptr<InterceptTls>> InterceptTls::Make(const std::string& extra_upstream_ca) {
  SSL_CTX* client = SSL_CTX_new(TLS_client_method());
  SSL_CTX* server = SSL_CTX_new(TLS_server_method());
  auto fail = [&](const std::string& what) {
    SSL_CTX_free(client);
    SSL_CTX_free(server);
    return Status(Code::kInternal, what + ": " + SslErrors());
  };
  if (!client || !server) return fail("TLS contexts");
  SSL_CTX_set_min_proto_version(client, TLS1_2_VERSION);
  SSL_CTX_set_min_proto_version(server, TLS1_2_VERSION);
  SSL_CTX_set_verify(client, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(client, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_set_default_verify_paths(client) != 1) return fail("the system trust store");
  if (!extra_upstream_ca.empty() &&
      SSL_CTX_load_verify_locations(client, extra_upstream_ca.c_str(), nullptr) != 1) {
    return fail("the upstream CA " + extra_upstream_ca);
  }
  SSL_CTX_set_alpn_select_cb(server, SelectHttp11, nullptr);
  return std::shared_ptr<InterceptTls>(new InterceptTls(client, server));
}

InterceptTls::~InterceptTls() {
  SSL_CTX_free(client_);
  SSL_CTX_free(server_);
}

Dialed DialIntercept(const Decision& decision, const std::string& host, HostPlan plan,
                     std::shared_ptr<WorkspaceCa> ca, std::shared_ptr<InterceptTls> tls,
                     int idle_seconds, std::function<bool()> current, RequestAuditFn audit) {
  Connected c = ConnectChecked(decision, host, plan.port);
  Dialed out{c.decision, nullptr};
  if (c.fd.valid()) {
    out.upstream = std::make_unique<InterceptUpstream>(
        std::move(c.fd), std::move(c.address), std::move(plan), std::move(ca), std::move(tls),
        idle_seconds, std::move(current), std::move(audit));
  }
  return out;
}

}  // namespace ws::net
