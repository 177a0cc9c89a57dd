#include "guest-agent/proxy.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "guest-agent/notices.h"
#include "guest-agent/stream_relay.h"

namespace ws::agent {
namespace {

namespace v1 = workspace::v1;
using namespace std::chrono_literals;

constexpr size_t kMaxHead = 16 * 1024;
constexpr size_t kChunk = 256 * 1024;
constexpr size_t kMaxHeadForHost = 64 * 1024;  // EgressRequest.head

void Reply(int fd, const std::string& status, const std::string& body) {
  std::string r = "HTTP/1.1 " + status +
                  "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nConnection: close\r\n\r\n" + body;
  WriteAll(fd, r.data(), r.size());
}

// Reads the request head (up to the blank line), within 10 s and 16 KiB.
bool ReadHead(int fd, std::string* head) {
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (head->find("\r\n\r\n") == std::string::npos) {
    if (head->size() > kMaxHead || std::chrono::steady_clock::now() > deadline) return false;
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    head->append(buf, static_cast<size_t>(n));
  }
  return true;
}

// For a plain-http request with a small Content-Length body, waits a moment
// for the rest of that body, so the host reads the whole request for decoys
// even when it denies it (issue #23). The head is in *bytes already.
void ReadSmallBody(int fd, std::string* bytes) {
  const size_t end = bytes->find("\r\n\r\n");
  if (end == std::string::npos) return;
  std::string lower = bytes->substr(0, end);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t at = lower.find("\r\ncontent-length:");
  if (at == std::string::npos) return;
  const size_t want = std::strtoul(lower.c_str() + at + 17, nullptr, 10);
  if (want == 0 || want > kMaxHeadForHost) return;
  const auto deadline = std::chrono::steady_clock::now() + 500ms;
  char buf[4096];
  while (bytes->size() < end + 4 + want && std::chrono::steady_clock::now() < deadline) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = recv(fd, buf, std::min(sizeof buf, end + 4 + want - bytes->size()), 0);
    if (n <= 0) return;
    bytes->append(buf, static_cast<size_t>(n));
  }
}

// "host:port" / "[v6]:port" -> host, port.
bool SplitHostPort(const std::string& hp, uint16_t default_port, std::string* host,
                   uint16_t* port) {
  std::string p;
  if (!hp.empty() && hp[0] == '[') {
    auto close = hp.find(']');
    if (close == std::string::npos) return false;
    *host = hp.substr(0, close + 1);
    if (close + 1 < hp.size()) {
      if (hp[close + 1] != ':') return false;
      p = hp.substr(close + 2);
    }
  } else {
    auto colon = hp.rfind(':');
    *host = colon == std::string::npos ? hp : hp.substr(0, colon);
    if (colon != std::string::npos) p = hp.substr(colon + 1);
  }
  if (host->empty()) return false;
  if (p.empty()) {
    *port = default_port;
    return true;
  }
  unsigned long v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned long>(c - '0');
    if (v > 65535) return false;
  }
  if (v == 0) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

}  // namespace

void DescribeProcess(int pid, v1::EgressRequest* req) {
  const std::string base = "/proc/" + std::to_string(pid);
  req->set_pid(pid);
  std::ifstream cmd(base + "/cmdline");
  std::string c((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
  for (auto& ch : c) ch = ch == '\0' ? ' ' : ch;
  while (!c.empty() && c.back() == ' ') c.pop_back();
  req->set_command(c.substr(0, 512));
  std::ifstream cg(base + "/cgroup");
  std::string cgl;
  if (std::getline(cg, cgl) && cgl.find("/workspace-exec/") != std::string::npos) {
    req->set_exec_id(cgl.substr(cgl.find("/workspace-exec/") + 16));
  }
}

namespace {

// The process owning the other end of `fd` (a loopback TCP connection to `port`).
void FindOwner(int fd, uint16_t port_here, v1::EgressRequest* req) {
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return;
  const unsigned port = ntohs(peer.sin_port);
  std::ifstream tcp("/proc/net/tcp");
  std::string line, inode;
  std::getline(tcp, line);
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string sl, local, remote, st, queues, tr, retr, uid, timeout, ino;
    in >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> ino;
    if (std::stoul(local.substr(local.find(':') + 1), nullptr, 16) == port &&
        std::stoul(remote.substr(remote.find(':') + 1), nullptr, 16) == port_here) {
      inode = ino;
      break;
    }
  }
  if (inode.empty()) return;
  const std::string want = "socket:[" + inode + "]";
  DIR* proc = opendir("/proc");
  if (!proc) return;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    std::string base = std::string("/proc/") + e->d_name;
    DIR* fds = opendir((base + "/fd").c_str());
    if (!fds) continue;
    bool found = false;
    while (dirent* f = readdir(fds)) {
      char target[64] = {};
      if (readlink((base + "/fd/" + f->d_name).c_str(), target, sizeof target - 1) > 0 &&
          want == target) {
        found = true;
        break;
      }
    }
    closedir(fds);
    if (!found) continue;
    DescribeProcess(std::atoi(e->d_name), req);
    break;
  }
  closedir(proc);
}

}  // namespace

EgressProxy& EgressProxy::Instance() {
  static EgressProxy* p = new EgressProxy();
  return *p;
}

Status EgressProxy::Start() {
  for (uint16_t port : {kProxyPort, kRegistryPort}) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 128) != 0) {
      Status s = ErrnoStatus("proxy on 127.0.0.1:" + std::to_string(port), errno);
      close(fd);
      return s;
    }
    std::thread([this, fd, port] { AcceptLoop(fd, port == kRegistryPort); }).detach();
  }
  running_ = true;
  return Status::Ok();
}

void EgressProxy::AcceptLoop(int listener, bool registry) {
  for (;;) {
    int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(100ms);
      continue;
    }
    if (!registry) {
      std::thread([this, c] { Serve(unique_fd(c)); }).detach();
      continue;
    }
    // Bytes as they come: the host speaks HTTP with the client.
    std::thread([this, c] {
      v1::EgressRequest req;
      req.set_host("registry");
      req.set_port(kRegistryPort);
      req.set_method("REGISTRY");
      auto p = std::make_shared<Pending>();
      p->target = "the registry endpoints";
      p->client = unique_fd(c);
      Announce(std::move(req), std::move(p), kRegistryPort);
    }).detach();
  }
}

void EgressProxy::Serve(unique_fd client) {
  std::string head;
  if (!ReadHead(client.get(), &head))
    return Reply(client.get(), "400 Bad Request", "workspace: bad proxy request\n");
  const std::string line = head.substr(0, head.find("\r\n"));
  std::istringstream in(line);
  std::string method, target, version;
  in >> method >> target >> version;
  auto p = std::make_shared<Pending>();
  v1::EgressRequest req;
  std::string host;
  uint16_t port = 0;
  if (method == "CONNECT") {
    if (!SplitHostPort(target, 443, &host, &port)) {
      return Reply(client.get(), "400 Bad Request", "workspace: bad CONNECT target\n");
    }
    p->connect = true;
    p->first_bytes = head.substr(head.find("\r\n\r\n") + 4);  // bytes sent early, after the head
  } else if (target.rfind("http://", 0) == 0) {
    std::string rest = target.substr(7);
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
    if (authority.find('@') != std::string::npos || !SplitHostPort(authority, 80, &host, &port)) {
      return Reply(client.get(), "400 Bad Request", "workspace: bad request URL\n");
    }
    ReadSmallBody(client.get(), &head);
    // Origin form for the server; the rest of the head (and body bytes) as sent.
    p->first_bytes = method + " " + path + " " + version + head.substr(line.size());
    req.set_head(head.substr(0, kMaxHeadForHost));
  } else {
    return Reply(client.get(), "400 Bad Request",
                 "workspace: this is an HTTP proxy; use CONNECT or an absolute http:// URL\n");
  }
  if (!p->connect && port == kRegistryPort && (host == "127.0.0.1" || host == "localhost")) {
    // The registry endpoints asked for through the proxy (pip does): the
    // host serves them, the request head goes first as for any plain http.
    req.set_host("registry");
    req.set_method("REGISTRY");
  } else {
    req.set_host(host);
    req.set_method(method);
  }
  req.set_port(port);
  p->target = host + ":" + std::to_string(port);
  p->client = std::move(client);
  Announce(std::move(req), std::move(p), kProxyPort);
}

void EgressProxy::Announce(v1::EgressRequest req, std::shared_ptr<Pending> p, uint16_t local_port) {
  FindOwner(p->client.get(), local_port, &req);
  p->exec_id = req.exec_id();
  const int fd = p->client.get();
  {
    std::unique_lock lock(mu_);
    if (watchers_ == 0) {
      lock.unlock();
      return Reply(fd, "502 Bad Gateway", "workspace: the host's egress policy is not connected\n");
    }
    req.set_id(++next_id_);
    pending_[req.id()] = p;
    announce_.push_back(req);
    cv_.notify_all();
    // The Tunnel that claims it owns the client from then on.
    if (cv_.wait_for(lock, 30s, [&] { return p->claimed; })) return;
    pending_.erase(req.id());
  }
  Reply(fd, "504 Gateway Timeout", "workspace: the host did not decide in time\n");
}

void EgressProxy::Report(v1::EgressRequest req) {
  std::lock_guard lock(mu_);
  if (watchers_ == 0 || announce_.size() >= 256) return;
  req.set_id(++next_id_);
  announce_.push_back(std::move(req));
  cv_.notify_all();
}

grpc::Status EgressProxy::Watch(grpc::ServerContext* ctx,
                                grpc::ServerWriter<v1::EgressRequest>* out) {
  std::unique_lock lock(mu_);
  ++watchers_;
  while (!ctx->IsCancelled()) {
    if (announce_.empty()) {
      cv_.wait_for(lock, 500ms);
      continue;
    }
    v1::EgressRequest req = announce_.front();
    announce_.pop_front();
    lock.unlock();
    bool ok = out->Write(req);
    lock.lock();
    if (!ok) break;
  }
  --watchers_;
  return grpc::Status::OK;
}

grpc::Status EgressProxy::Tunnel(
    grpc::ServerContext* ctx, grpc::ServerReaderWriter<v1::TunnelMessage, v1::TunnelMessage>* s) {
  v1::TunnelMessage m;
  if (!s->Read(&m) || !m.has_open())
    return {grpc::StatusCode::INVALID_ARGUMENT, "Tunnel starts with open"};
  std::shared_ptr<Pending> p;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(m.open().id());
    if (it == pending_.end()) return {grpc::StatusCode::NOT_FOUND, "no such connection"};
    p = it->second;
    pending_.erase(it);
    p->claimed = true;
    cv_.notify_all();
  }
  const int fd = p->client.get();
  if (!m.open().allow()) {
    // The exec's stderr hears first: once the program has its 403 it may exit.
    if (!p->exec_id.empty()) {
      NoticeBoard::Instance().Post(
          p->exec_id, "workspace: egress to " + p->target + " denied: " + m.open().reason() + "\n");
    }
    Reply(fd, "403 Forbidden", "workspace: egress denied: " + m.open().reason() + "\n");
    return grpc::Status::OK;
  }
  if (p->connect) {
    const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    WriteAll(fd, ok.data(), ok.size());
  }
  if (!p->first_bytes.empty()) {
    v1::TunnelMessage first;
    first.set_data(p->first_bytes);
    s->Write(first);
  }
  RelaySocket(fd, ctx, s);
  return grpc::Status::OK;
}

}  // namespace ws::agent
