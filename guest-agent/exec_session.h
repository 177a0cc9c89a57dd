// ExecSession: one Exec RPC from start to exit, on gRPC's callback API with
// raw (ByteBuffer) messages. Spawns the command, streams its stdout/stderr in
// chunks of up to 4 MiB that go to the transport without being copied (a
// write in flight stops further reads, so a slow host slows the command; the
// agent never buffers), feeds stdin and signals from the stream, enforces the
// timeout, and ends with the exit message and the status in one write. When
// the command ends or the call is cancelled, its whole process group is
// killed.
//
// Why this shape: under TCG the guest's one vCPU bounds output, so every copy
// and thread hand-off per message counts (DESIGN: zero-copy ByteBuffer
// payloads, large messages, the callback API).
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

namespace ws::agent {

// A reactor for one Exec call; it deletes itself when the call is done.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewExecSession(
    grpc::CallbackServerContext* ctx);

}  // namespace ws::agent
