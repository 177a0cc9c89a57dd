#include "host/common/grpc_status.h"

namespace ws {

grpc::Status ToGrpc(const Status& s) {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  switch (s.code()) {
    case Code::kOk:
      return grpc::Status::OK;
    case Code::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case Code::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case Code::kAlreadyExists:
      code = grpc::StatusCode::ALREADY_EXISTS;
      break;
    case Code::kFailedPrecondition:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case Code::kPermissionDenied:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case Code::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case Code::kDeadlineExceeded:
      code = grpc::StatusCode::DEADLINE_EXCEEDED;
      break;
    case Code::kResourceExhausted:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case Code::kInternal:
      code = grpc::StatusCode::INTERNAL;
      break;
  }
  return {code, s.message()};
}

Status FromGrpc(const grpc::Status& s) {
  Code code = Code::kInternal;
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return Status::Ok();
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      code = Code::kInvalidArgument;
      break;
    case grpc::StatusCode::NOT_FOUND:
      code = Code::kNotFound;
      break;
    case grpc::StatusCode::ALREADY_EXISTS:
      code = Code::kAlreadyExists;
      break;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
      code = Code::kFailedPrecondition;
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      code = Code::kPermissionDenied;
      break;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
      code = Code::kUnavailable;
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      code = Code::kDeadlineExceeded;
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      code = Code::kResourceExhausted;
      break;
    case grpc::StatusCode::UNIMPLEMENTED:
      return {
          Code::kInternal,
          "the daemon does not know this request (an older daemon?); restart it with this build"};
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::DO_NOT_USE:
      code = Code::kInternal;
      break;
  }
  if (s.error_message().empty()) return {code, std::string("daemon error: ") + CodeName(code)};
  // gRPC's own words for a call its transport ended, not the daemon's.
  const std::string& m = s.error_message();
  if (code == Code::kDeadlineExceeded && m == "Deadline Exceeded") {
    return {code,
            "the workspace daemon did not answer in time; what it was doing may still finish: "
            "check with workspace list (its log is daemon.log in the state dir)"};
  }
  if (code == Code::kUnavailable && (m == "Socket closed" || m == "Connection reset by peer" ||
                                     m == "Broken pipe" || m.rfind("Stream removed", 0) == 0)) {
    return {code, "lost the connection to the workspace daemon (" + m +
                      "; did it stop or restart?); check the workspace with: workspace list"};
  }
  return {code, m};
}

}  // namespace ws
