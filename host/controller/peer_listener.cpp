#include "host/controller/peer_listener.h"

#include <errno.h>
#include <grpcpp/server_posix.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace ws::controller {

Result<std::unique_ptr<PeerListener>> PeerListener::Listen(const std::string& path, int group_gid) {
  unique_fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket", errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return Status(Code::kInvalidArgument, "daemon socket path too long: " + path);
  }
  std::strcpy(addr.sun_path, path.c_str());
  unlink(path.c_str());
  mode_t old = umask(0177);
  int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc != 0) return ErrnoStatus("binding " + path, errno);
  if (group_gid >= 0) {
    if (chown(path.c_str(), 0, static_cast<gid_t>(group_gid)) != 0 ||
        chmod(path.c_str(), 0660) != 0) {
      return ErrnoStatus("setting the group of " + path, errno);
    }
  }
  if (listen(fd.get(), 64) != 0) return ErrnoStatus("listening on " + path, errno);
  return std::unique_ptr<PeerListener>(new PeerListener(std::move(fd)));
}

PeerListener::~PeerListener() {
  shutdown(fd_.get(), SHUT_RDWR);
  if (thread_.joinable()) thread_.detach();  // blocked in accept; the process is ending
}

void PeerListener::Serve(grpc::Server* server) {
  thread_ = std::thread([this, server] { Loop(server); });
}

void PeerListener::Loop(grpc::Server* server) {
  for (;;) {
    int conn = accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE) usleep(100000);
        continue;
      }
      std::fprintf(stderr, "workspace daemon: accept: %s\n", std::strerror(errno));
      return;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      close(conn);
      continue;
    }
    {
      std::lock_guard lock(mu_);
      callers_[conn] = Caller{cred.uid, cred.gid, cred.pid};
    }
    grpc::AddInsecureChannelFromFd(server, conn);  // gRPC owns conn from here
  }
}

std::optional<Caller> PeerListener::CallerOf(const std::string& peer) const {
  if (peer.rfind("fd:", 0) != 0) return std::nullopt;
  int fd = -1;
  try {
    fd = std::stoi(peer.substr(3));
  } catch (...) {
    return std::nullopt;
  }
  std::lock_guard lock(mu_);
  auto it = callers_.find(fd);
  if (it == callers_.end()) return std::nullopt;
  return it->second;
}

}  // namespace ws::controller
