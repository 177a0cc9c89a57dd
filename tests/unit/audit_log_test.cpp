#include "host/net/audit_log.h"

#include <gtest/gtest.h>

namespace ws::net {
namespace {

TEST(AuditLog, GuestSuppliedFieldsAreCutAndEscaped) {
  AuditRecord r;
  r.target = std::string(10 << 20, 'a');  // a 10 MiB host name from the guest
  r.command = "curl\n{\"decision\":\"allow\"}";
  r.decision = "deny";
  const std::string line = ToJsonLine(r);
  EXPECT_LT(line.size(), 8 * kMaxAuditField);
  EXPECT_NE(line.find("...(10485760 bytes)"), std::string::npos);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line whatever the fields hold";
  EXPECT_NE(line.find("\"decision\":\"deny\""), std::string::npos);
  AuditRecord small;
  small.target = "example.org";
  EXPECT_NE(ToJsonLine(small).find("\"target\":\"example.org\""), std::string::npos)
      << "short fields whole";
}

}  // namespace
}  // namespace ws::net
