// Run inside a guest by the bounds tests, as a hostile guest would: opens
// TOTAL connections to the guest's egress proxy, at most AT_ONCE at a time,
// each a CONNECT to a name no allowlist has, and counts the answers by
// their status code. Prints "sent=N 403=N 504=N other=N closed=N".
// With NAME_BYTES, each name is that long (a guest sending host names of
// megabytes). Static, so it runs in any image.
//
//   guest_flood TOTAL AT_ONCE [NAME_BYTES]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

int Open(int i, size_t name_bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(3128);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  std::string name = "flood-" + std::to_string(i) + ".invalid";
  if (name_bytes > name.size()) name.insert(0, name_bytes - name.size(), 'x');
  std::string req = "CONNECT " + name + ":443 HTTP/1.1\r\n\r\n";
  // The proxy may answer and close before a long request is written: what
  // it answered is read all the same.
  for (size_t off = 0; off < req.size();) {
    ssize_t n = write(fd, req.data() + off, req.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: guest_flood TOTAL AT_ONCE [NAME_BYTES]\n");
    return 2;
  }
  const int total = std::atoi(argv[1]), at_once = std::atoi(argv[2]);
  const size_t name_bytes = argc == 4 ? std::strtoul(argv[3], nullptr, 10) : 0;
  signal(SIGPIPE, SIG_IGN);
  rlimit rl{static_cast<rlim_t>(at_once + 64), static_cast<rlim_t>(at_once + 64)};
  setrlimit(RLIMIT_NOFILE, &rl);
  std::vector<pollfd> open;
  std::map<std::string, int> answers;
  int sent = 0, failed = 0;
  while (sent < total || !open.empty()) {
    while (sent < total && static_cast<int>(open.size()) < at_once) {
      int fd = Open(sent++, name_bytes);
      if (fd < 0) {
        ++failed;
        continue;
      }
      open.push_back({fd, POLLIN, 0});
    }
    if (poll(open.data(), open.size(), 60000) <= 0) break;
    for (size_t i = 0; i < open.size();) {
      if (!open[i].revents) {
        ++i;
        continue;
      }
      char buf[256] = {};
      ssize_t n = read(open[i].fd, buf, sizeof buf - 1);
      // "HTTP/1.1 403 ..." -> "403"
      std::string code = n >= 12 ? std::string(buf + 9, 3) : "closed";
      if (code != "403" && code != "504" && code != "closed") code = "other";
      ++answers[code];
      close(open[i].fd);
      open[i] = open.back();
      open.pop_back();
    }
  }
  std::printf("sent=%d failed=%d 403=%d 504=%d other=%d closed=%d unanswered=%zu\n", sent, failed,
              answers["403"], answers["504"], answers["other"], answers["closed"], open.size());
  return 0;
}
