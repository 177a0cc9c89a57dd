// exec_rtt: round trip of `exec NAME -- true` from a gRPC client that keeps
// its connection to the daemon (no CLI process start), to separate the
// CLI's own cost from the daemon -> agent -> fork/exec path.
// usage: exec_rtt STATE_DIR NAME [RUNS] [--samples]
//   --samples also prints "sample TO_EXIT_MS TOTAL_MS" per run (bench/run reads them).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "workspace/v1/controller.grpc.pb.h"

namespace v1 = workspace::v1;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: exec_rtt STATE_DIR NAME [RUNS] [--samples]\n");
    return 2;
  }
  const int runs = argc > 3 ? std::atoi(argv[3]) : 50;
  const bool samples = argc > 4 && std::string(argv[4]) == "--samples";
  auto channel = grpc::CreateChannel(std::string("unix:") + argv[1] + "/daemon.sock",
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::Controller::NewStub(channel);
  std::vector<double> ms, to_exit, setup, run, drain, cg, spawn, claim, end;
  for (int i = 0; i < runs + 3; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    grpc::ClientContext ctx;
    auto stream = stub->Exec(&ctx);
    v1::WorkspaceExecRequest start;
    start.mutable_start()->set_workspace(argv[2]);
    start.mutable_start()->add_argv("true");
    stream->Write(start);
    v1::WorkspaceExecResponse resp;
    bool exited = false;
    while (stream->Read(&resp)) {
      if (resp.has_exit()) {
        exited = true;
        if (i >= 3) {
          const auto& t = resp.exit().timing();
          setup.push_back(t.setup_us() / 1e3);
          cg.push_back(t.cgroup_us() / 1e3);
          spawn.push_back(t.spawn_us() / 1e3);
          run.push_back(t.run_us() / 1e3);
          drain.push_back(t.drain_us() / 1e3);
          claim.push_back(t.bulk_claim_us() / 1e3);
          end.push_back(t.bulk_end_us() / 1e3);
          to_exit.push_back(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                  .count());
        }
        stream->WritesDone();
      }
    }
    grpc::Status s = stream->Finish();
    auto t1 = std::chrono::steady_clock::now();
    if (!exited || !s.ok()) {
      std::fprintf(stderr, "exec failed: %s\n", s.error_message().c_str());
      return 1;
    }
    if (i >= 3) {  // 3 warm-ups
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      if (samples) std::printf("sample %.3f %.3f\n", to_exit.back(), ms.back());
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  // Where the time goes: the agent's own share (guest clock) and the rest,
  // which is the daemon, the CLI-side gRPC and the channel both ways.
  const double agent = median(setup) + median(run) + median(drain) + median(end);
  std::printf(
      "in the agent (medians): setup %.2f ms (cgroup %.2f, bulk port %.2f, spawn %.2f), command "
      "run %.2f ms, "
      "drain %.2f ms, bulk end marker %.2f ms; host + channel to the exit message: %.2f ms\n",
      median(setup), median(cg), median(claim), median(spawn), median(run), median(drain),
      median(end), median(to_exit) - agent);
  std::sort(ms.begin(), ms.end());
  std::sort(to_exit.begin(), to_exit.end());
  std::printf("exec true, until the exit message: min %.2f ms, median %.2f ms\n", to_exit.front(),
              to_exit[to_exit.size() / 2]);
  std::printf(
      "exec true via connected gRPC client: min %.2f ms, median %.2f ms, p95 %.2f ms (n=%d)\n",
      ms.front(), ms[ms.size() / 2], ms[ms.size() * 95 / 100], runs);
  return 0;
}
