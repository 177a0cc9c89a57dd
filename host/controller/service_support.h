// What the files implementing ControllerService share (service.cpp,
// service_sessions.cpp, service_images.cpp): not part of its interface.
#pragma once

#include "host/common/grpc_status.h"
#include "host/common/status.h"
#include "host/net/policy.h"
#include "workspace/v1/controller.pb.h"

namespace ws::controller {

// An allowlist entry as the CLI sends it, checked as one typed by a user.
Result<net::AllowEntry> FromProto(const workspace::v1::AllowRule& a);

}  // namespace ws::controller

// The caller of the request, as the kernel reported it; the RPC fails
// with PERMISSION_DENIED when it cannot be told.
#define WS_IDENTIFY(ctx, var)                         \
  auto var##_r = Identify(ctx);                       \
  if (!var##_r.ok()) return ToGrpc(var##_r.status()); \
  const Caller& var = var##_r.value()
