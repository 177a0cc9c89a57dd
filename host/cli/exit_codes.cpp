#include "host/cli/exit_codes.h"

namespace ws::cli {

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Code::kOk:
      return kOk;
    case Code::kInvalidArgument:
      return kUsage;
    case Code::kNotFound:
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
    case Code::kPermissionDenied:
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
    case Code::kResourceExhausted:
    case Code::kInternal:
      return kFailure;
  }
  return kFailure;
}

}  // namespace ws::cli
