#include "host/controller/copy_relay.h"

#include <optional>

#include "host/common/cancel_watch.h"
#include "host/common/grpc_status.h"

namespace ws::controller {

namespace v1 = workspace::v1;

namespace {

// How often a guest call checks whether the CLI's call was cancelled: a
// guest that stalls must not hold the daemon's thread.
constexpr auto kCliCheck = std::chrono::milliseconds(100);

}  // namespace

grpc::Status RelayCopyOut(const AgentLookup& agents, const Caller& caller, grpc::ServerContext* ctx,
                          const v1::CopyOutRequest& req, grpc::ServerWriter<v1::TreeChunk>* out,
                          std::shared_ptr<tripwire::Tripwire> tripwire) {
  auto agent = agents(caller, req.workspace());
  if (!agent.ok()) return ToGrpc(agent.status());
  auto source = agent.value()->ReadTree(req.path());
  // Until the guest's answer is in: a guest that stalls at any point holds
  // no daemon thread past the CLI's call.
  CancelWatch watch([ctx] { return ctx->IsCancelled(); }, [&] { source->Cancel(); }, kCliCheck);
  v1::TreeChunk chunk;
  std::optional<tripwire::DecoyWatch> decoys;  // the current file's
  std::string file;
  while (source->Read(&chunk)) {
    if (tripwire && chunk.has_entry()) {
      file = chunk.entry().path();
      decoys.emplace(tripwire->Watch());
    } else if (tripwire && chunk.has_data() && decoys) {
      for (const auto* d : decoys->Feed(chunk.data())) {
        tripwire::Alert a;
        a.decoy = d->kind;
        a.where = d->where;
        a.channel = "copy-out";
        a.target = tripwire->index()->Redact(req.path() + (file.empty() ? "" : "/" + file));
        a.detail = "a file copied out of the guest with workspace cp holds it";
        tripwire->Raise(std::move(a));
      }
    }
    if (ctx->IsCancelled() || !out->Write(chunk)) {
      source->Cancel();
      break;
    }
  }
  return ToGrpc(source->Finish());
}

grpc::Status RelayCopyIn(const AgentLookup& agents, const Caller& caller, grpc::ServerContext* ctx,
                         grpc::ServerReader<v1::CopyInRequest>* in, v1::WriteTreeResponse* resp) {
  v1::CopyInRequest req;
  if (!in->Read(&req) || !req.has_start()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "CopyIn must begin with start"};
  }
  auto agent = agents(caller, req.start().workspace());
  if (!agent.ok()) return ToGrpc(agent.status());
  auto sink = agent.value()->WriteTree();
  CancelWatch watch([ctx] { return ctx->IsCancelled(); }, [&] { sink->Cancel(); }, kCliCheck);
  v1::TreeChunk chunk;
  *chunk.mutable_start() = req.start().target();
  bool ok = sink->Write(chunk);
  while (ok && in->Read(&req)) {
    if (!req.has_chunk() || req.chunk().has_start()) {
      sink->Cancel();
      (void)sink->Finish();
      return {grpc::StatusCode::INVALID_ARGUMENT, "CopyIn carries tree chunks after start"};
    }
    ok = sink->Write(req.chunk());
  }
  if (ctx->IsCancelled()) sink->Cancel();
  auto written = sink->Finish();
  if (!written.ok()) return ToGrpc(written.status());
  resp->set_root(written->root);
  resp->set_entries(written->entries);
  resp->set_bytes(written->bytes);
  return grpc::Status::OK;
}

}  // namespace ws::controller
