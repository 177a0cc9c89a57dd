#include "host/common/status.h"

#include <errno.h>
#include <gtest/gtest.h>

#include "host/cli/exit_codes.h"
#include "host/common/grpc_status.h"

namespace ws {

TEST(Status, ErrnoMapsToCodes) {
  EXPECT_EQ(ErrnoStatus("x", ENOENT).code(), Code::kNotFound);
  EXPECT_EQ(ErrnoStatus("x", EACCES).code(), Code::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus("x", ENOSPC).code(), Code::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus("open /a", ENOENT).message(), "open /a: No such file or directory");
}

TEST(Status, EveryCodeSurvivesTheGrpcRoundTrip) {
  for (Code c : {Code::kOk, Code::kInvalidArgument, Code::kNotFound, Code::kAlreadyExists,
                 Code::kFailedPrecondition, Code::kPermissionDenied, Code::kUnavailable,
                 Code::kDeadlineExceeded, Code::kResourceExhausted, Code::kInternal}) {
    Status s(c, c == Code::kOk ? "" : "msg");
    Status back = FromGrpc(ToGrpc(s));
    EXPECT_EQ(back.code(), c) << CodeName(c);
    EXPECT_EQ(back.message(), s.message());
  }
}

TEST(Status, TheTransportsOwnWordsBecomeASentenceThatSaysWhatToDo) {
  Status late = FromGrpc({grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"});
  EXPECT_EQ(late.code(), Code::kDeadlineExceeded);
  EXPECT_NE(late.message().find("did not answer in time"), std::string::npos) << late.message();
  EXPECT_NE(late.message().find("workspace list"), std::string::npos) << late.message();
  Status cut = FromGrpc({grpc::StatusCode::UNAVAILABLE, "Socket closed"});
  EXPECT_NE(cut.message().find("lost the connection to the workspace daemon"), std::string::npos);
  // The daemon's own sentences pass through as they are.
  EXPECT_EQ(FromGrpc({grpc::StatusCode::UNAVAILABLE, "workspace 'w': guest agent: x"}).message(),
            "workspace 'w': guest agent: x");
}

TEST(Status, CliExitCodesAreOneForFailuresAndTwoForUsage) {
  EXPECT_EQ(cli::ExitCodeFor(Status::Ok()), 0);
  EXPECT_EQ(cli::ExitCodeFor({Code::kInvalidArgument, ""}), 2);
  EXPECT_EQ(cli::ExitCodeFor({Code::kNotFound, ""}), 1);
  EXPECT_EQ(cli::ExitCodeFor({Code::kInternal, ""}), 1);
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> ok(5);
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), 5);
  Result<int> bad(Status(Code::kNotFound, "no"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotFound);
}

}  // namespace ws
