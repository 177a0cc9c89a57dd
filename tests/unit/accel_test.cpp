#include "host/virt/accel.h"

#include <gtest/gtest.h>

namespace ws::virt {

TEST(Accel, AutoPicksKvmOnlyWithAHardwareModule) {
  EXPECT_EQ(ChooseAccel("auto", {true, true}).value(), Accel::kKvm);
  EXPECT_EQ(ChooseAccel("", {true, true}).value(), Accel::kKvm);
  // PVM-only host: /dev/kvm works but only kvm_pvm is loaded.
  EXPECT_EQ(ChooseAccel("auto", {true, false}).value(), Accel::kTcg);
  EXPECT_EQ(ChooseAccel("auto", {false, true}).value(), Accel::kTcg);
  EXPECT_EQ(ChooseAccel("auto", {false, false}).value(), Accel::kTcg);
}

TEST(Accel, ForcedTcgAlwaysWorks) {
  EXPECT_EQ(ChooseAccel("tcg", {true, true}).value(), Accel::kTcg);
  EXPECT_EQ(ChooseAccel("tcg", {false, false}).value(), Accel::kTcg);
}

TEST(Accel, ForcedKvmFailsClearlyWhereItCannotRun) {
  EXPECT_EQ(ChooseAccel("kvm", {true, true}).value(), Accel::kKvm);
  auto pvm = ChooseAccel("kvm", {true, false});
  EXPECT_EQ(pvm.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(pvm.status().message().find("PVM"), std::string::npos);
  EXPECT_EQ(ChooseAccel("kvm", {false, false}).status().code(), Code::kFailedPrecondition);
}

TEST(Accel, UnknownWordIsInvalid) {
  EXPECT_EQ(ChooseAccel("hvf", {true, true}).status().code(), Code::kInvalidArgument);
}

}  // namespace ws::virt
