// The one mapping between our Status and gRPC's status (both directions).
#pragma once

#include <grpcpp/support/status.h>

#include "host/common/status.h"

namespace ws {

grpc::Status ToGrpc(const Status& s);
Status FromGrpc(const grpc::Status& s);

}  // namespace ws
