#include "host/controller/copy_relay.h"

#include "host/common/grpc_status.h"
#include "host/common/printable.h"

namespace ws::controller {

namespace v1 = workspace::v1;

namespace {

// The guest's answer, for the CLI to print: its code, and its message
// cleaned of control characters and bounded (the guest wrote it).
grpc::Status FromGuest(const grpc::Status& s) {
  if (s.ok()) return s;
  return {s.error_code(), Printable(std::string_view(s.error_message()).substr(0, 1024))};
}

}  // namespace

grpc::Status RelayCopyOut(Workspaces& workspaces, const Caller& caller, grpc::ServerContext* ctx,
                          const v1::CopyOutRequest& req, grpc::ServerWriter<v1::TreeChunk>* out) {
  auto agent = workspaces.Agent(caller, req.workspace());
  if (!agent.ok()) return ToGrpc(agent.status());
  // The guest's call ends with the CLI's: a guest that stalls holds no
  // daemon thread past the caller's patience.
  auto call = grpc::ClientContext::FromServerContext(*ctx);
  grpc::ClientContext& actx = *call;
  v1::ReadTreeRequest areq;
  areq.set_path(req.path());
  auto reader = agent.value()->stub()->ReadTree(&actx, areq);
  v1::TreeChunk chunk;
  while (reader->Read(&chunk)) {
    if (ctx->IsCancelled() || !out->Write(chunk)) {
      actx.TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  agent.value()->Observe(s);
  return FromGuest(s);
}

grpc::Status RelayCopyIn(Workspaces& workspaces, const Caller& caller, grpc::ServerContext* ctx,
                         grpc::ServerReader<v1::CopyInRequest>* in, v1::WriteTreeResponse* resp) {
  v1::CopyInRequest req;
  if (!in->Read(&req) || !req.has_start()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "CopyIn must begin with start"};
  }
  auto agent = workspaces.Agent(caller, req.start().workspace());
  if (!agent.ok()) return ToGrpc(agent.status());
  auto call = grpc::ClientContext::FromServerContext(*ctx);
  grpc::ClientContext& actx = *call;
  auto writer = agent.value()->stub()->WriteTree(&actx, resp);
  v1::TreeChunk chunk;
  *chunk.mutable_start() = req.start().target();
  bool ok = writer->Write(chunk);
  while (ok && in->Read(&req)) {
    if (!req.has_chunk() || req.chunk().has_start()) {
      actx.TryCancel();
      return {grpc::StatusCode::INVALID_ARGUMENT, "CopyIn carries tree chunks after start"};
    }
    ok = writer->Write(req.chunk());
  }
  if (ctx->IsCancelled()) actx.TryCancel();
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  agent.value()->Observe(s);
  return FromGuest(s);
}

}  // namespace ws::controller
