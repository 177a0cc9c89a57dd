// intercept_bench: what reading a host's requests on the host costs, without
// a VM: a guest TLS client on a socket pair (the tunnel), the daemon's
// upstream in between, a TLS server on loopback. Each figure both ways in
// the same run: an opaque tunnel (TcpUpstream: SNI checked, bytes relayed)
// and interception (InterceptUpstream: two TLS sessions, the request
// framed, checked and given its secret, the answer scrubbed).
//   intercept_bench [N] [MiB]    (N requests each way, one connection each;
//                                 then one download of MiB each way)
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "host/net/intercept.h"
#include "host/tripwire/decoys.h"
#include "tests/support/tls_loopback.h"

namespace {

using Clock = std::chrono::steady_clock;
const std::string kPh = "wsph_00112233445566778899aabbccddeeff";

struct Setup {
  std::string dir;
  std::unique_ptr<ws::test::TestCa> upstream_ca;
  std::unique_ptr<ws::test::LoopbackTlsServer> server;
  std::shared_ptr<ws::net::WorkspaceCa> ca;
  std::shared_ptr<ws::net::InterceptTls> tls;
  std::string trust;  // the workspace CA and the server's, for the client
  std::shared_ptr<const ws::tripwire::DecoyIndex> decoys;
};

// One request over a new connection; seconds, and the bytes that came back.
double Once(Setup& s, bool intercept, const std::string& path, size_t* got, bool decoys = false) {
  int pair[2];
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
  ws::net::AllowEntry entry{"localhost", s.server->port(), "user"};
  ws::net::Decision d = ws::net::Decide({entry}, "localhost", s.server->port());
  ws::net::HostPlan plan{"localhost",
                         s.server->port(),
                         ws::net::HostClass::kAiApi,
                         {{"bench", "x-api-key", "{}", kPh, "sk-bench-real-key"}},
                         false,
                         nullptr,
                         {}};
  if (decoys) {  // the relay's watch: every request head and body read for decoys
    auto watch = std::make_shared<ws::tripwire::DecoyWatch>(s.decoys);
    plan.watch = [watch](std::string_view bytes, const std::string&) {
      return watch->Feed(bytes).empty() ? std::string() : std::string("decoy");
    };
  }
  const auto t0 = Clock::now();
  std::thread host([&] {
    ws::test::SocketStream stream(pair[0]);
    ws::net::Dialed dialed =
        intercept ? ws::net::DialIntercept(d, "localhost", plan, s.ca, s.tls, 60, nullptr, nullptr)
                  : ws::net::DialTcp(d, "localhost", s.server->port(), 60);
    if (dialed.upstream) dialed.upstream->Handle(dialed.decision, stream);
  });
  std::string response;
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nx-api-key: " + kPh + "\r\n\r\n";
  if (!ws::test::GuestTlsExchange(pair[1], s.trust, "localhost", {"http/1.1"}, req, &response)) {
    std::fprintf(stderr, "intercept_bench: the exchange failed\n");
    std::exit(1);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  shutdown(pair[1], SHUT_RDWR);
  host.join();
  close(pair[1]);
  *got = response.size();
  return secs;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);  // as the daemon
  const int n = argc > 1 ? std::atoi(argv[1]) : 50;
  const size_t mib = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 64;
  Setup s;
  char tmpl[] = "/tmp/ws-intercept-bench-XXXXXX";
  s.dir = mkdtemp(tmpl);
  s.upstream_ca = std::make_unique<ws::test::TestCa>(s.dir + "/upstream");
  s.server = std::make_unique<ws::test::LoopbackTlsServer>(*s.upstream_ca);
  s.ca = std::move(ws::net::WorkspaceCa::Create({"localhost"}, "bench").value());
  s.tls = ws::net::InterceptTls::Make(s.upstream_ca->ca_pem_path()).value();
  std::ifstream in(s.upstream_ca->ca_pem_path());
  std::stringstream pem;
  pem << in.rdbuf();
  s.trust = s.ca->CertPem() + pem.str();
  s.decoys = std::make_shared<ws::tripwire::DecoyIndex>(ws::tripwire::MakeDecoys().value());

  std::printf("%-52s %5s %4s %9s %9s %9s\n", "figure", "unit", "n", "min", "median", "p95");
  for (int mode = 0; mode < 3; ++mode) {
    std::vector<double> ms;
    size_t got = 0;
    for (int i = 0; i < n; ++i) ms.push_back(1000 * Once(s, mode > 0, "/echo", &got, mode == 2));
    const char* what[] = {"request on a new connection, opaque tunnel",
                          "request on a new connection, intercepted",
                          "request on a new connection, intercepted + decoys"};
    std::printf("%-52s %5s %4d %9.3f %9.3f %9.3f\n", what[mode], "ms", n, Percentile(ms, 0),
                Percentile(ms, 0.5), Percentile(ms, 0.95));
  }
  {  // what the decoy watch costs per byte a guest sends (pure CPU)
    std::string text;
    while (text.size() < (mib << 20))
      text += "{\"model\":\"x\",\"messages\":[{\"role\":\"user\"}]} ";
    std::vector<double> rate;
    for (int i = 0; i < 3; ++i) {
      ws::tripwire::DecoyWatch watch(s.decoys);
      const auto t0 = Clock::now();
      for (size_t at = 0; at < text.size(); at += 16384) {
        if (!watch.Feed(std::string_view(text).substr(at, 16384)).empty()) return 1;
      }
      rate.push_back(static_cast<double>(text.size()) / 1e6 /
                     std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::printf("%-52s %5s %4d %9.1f %9.1f %9.1f\n",
                (std::to_string(mib) + " MiB sent, read for decoys").c_str(), "MB/s", 3,
                Percentile(rate, 0), Percentile(rate, 0.5), Percentile(rate, 1));
  }
  for (bool intercept : {false, true}) {
    std::vector<double> rate;
    for (int i = 0; i < 3; ++i) {
      size_t got = 0;
      const double secs = Once(s, intercept, "/big/" + std::to_string(mib << 20), &got);
      if (got < (mib << 20)) {
        std::fprintf(stderr, "intercept_bench: short download (%zu bytes)\n", got);
        return 1;
      }
      rate.push_back(static_cast<double>(got) / 1e6 / secs);
    }
    std::printf(
        "%-52s %5s %4d %9.1f %9.1f %9.1f\n",
        (std::to_string(mib) + " MiB download, " + (intercept ? "intercepted" : "opaque tunnel"))
            .c_str(),
        "MB/s", 3, Percentile(rate, 0), Percentile(rate, 0.5), Percentile(rate, 1));
  }
  std::filesystem::remove_all(s.dir);
  return 0;
}
