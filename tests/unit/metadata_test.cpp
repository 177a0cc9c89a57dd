#include "host/virt/metadata.h"

#include <gtest/gtest.h>

namespace ws::virt {

WorkspaceMeta Sample() {
  WorkspaceMeta m;
  m.owner_uid = 1000;
  m.image = "minimal";
  m.created_at = "2026-11-26T00:00:00Z";
  m.accel = "tcg";
  m.cpus = 2;
  m.memory_mib = 768;
  m.agent_socket = "/var/lib/workspace/run/0123abcd4567.sock";
  m.console_log = "/var/lib/workspace/workspaces/a&b'/console.log";
  return m;
}

TEST(Metadata, RoundTripsAsDefined) {
  auto back = ParseMetadata(RenderMetadata(Sample()));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->owner_uid, 1000u);
  EXPECT_EQ(back->cpus, 2u);
  EXPECT_EQ(back->memory_mib, 768u);
  EXPECT_EQ(back->console_log, Sample().console_log);
  EXPECT_EQ(back->agent_socket, Sample().agent_socket);
}

TEST(Metadata, CpuModelRoundTripsAndOldWorkspacesRunQemu64) {
  WorkspaceMeta m = Sample();
  m.cpu_model = "max";
  EXPECT_EQ(ParseMetadata(RenderMetadata(m))->cpu_model, "max");
  // Defined before the model was chosen: no attribute, QEMU's default CPU.
  EXPECT_EQ(ParseMetadata(RenderMetadata(Sample()))->cpu_model, "qemu64");
}

TEST(Metadata, AllowEntriesKeepWhetherARegistryTakesWrites) {
  WorkspaceMeta m = Sample();
  m.allow.push_back({"registry.npmjs.org", 0, "user", true});
  m.allow.push_back({"pypi.org", 0, "pip", false});
  auto back = ParseMetadata(RenderMetadata(m));
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->allow.size(), 2u);
  EXPECT_TRUE(back->allow[0].writes);
  EXPECT_FALSE(back->allow[1].writes);
  EXPECT_EQ(RenderMetadata(Sample()).find("writes"), std::string::npos) << "absent when unset";
}

TEST(Metadata, SharesRoundTrip) {
  WorkspaceMeta m = Sample();
  m.shares.push_back({"ws0",
                      "/home/u/p&q",
                      "/workspace",
                      false,
                      1000,
                      1000,
                      {".env"},
                      0,
                      0,
                      {".vscode"},
                      {"tools/hooks"}});
  m.shares.push_back({"ws1", "/data", "/data", true, 0, 0, {}, 0, 0, {}, {}});
  auto back = ParseMetadata(RenderMetadata(m));
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->shares.size(), 2u);
  EXPECT_EQ(back->shares[0].host_path, "/home/u/p&q");
  EXPECT_FALSE(back->shares[0].read_only);
  EXPECT_EQ(back->shares[0].shown, std::vector<std::string>{".env"});
  EXPECT_EQ(back->shares[0].writable, std::vector<std::string>{".vscode"});
  EXPECT_EQ(back->shares[0].protect, std::vector<std::string>{"tools/hooks"});
  EXPECT_TRUE(back->shares[1].read_only);
  EXPECT_FALSE(
      ParseMetadata("<workspace owner='1' cpus='1' memory-mib='1' agent-socket='/a'>"
                    "<share tag='ws0' host='/x' guest='/y' mode='rx' uid='1' gid='1'/></workspace>")
          .ok());
}

TEST(Metadata, DiskRoundTripsAndIsCheckedWhole) {
  WorkspaceMeta m = Sample();
  m.disk = "/var/lib/workspace/workspaces/w/disk.qcow2";
  m.base = "/var/lib/workspace/bases/debian-20261126T000000Z.qcow2";
  m.disk_gib = 20;
  auto back = ParseMetadata(RenderMetadata(m));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->disk, m.disk);
  EXPECT_EQ(back->base, m.base);
  EXPECT_EQ(back->disk_gib, 20u);
  auto diskless = ParseMetadata(RenderMetadata(Sample()));
  ASSERT_TRUE(diskless.ok());
  EXPECT_TRUE(diskless->disk.empty());
  // A disk without its base or size is refused, not half-read.
  EXPECT_FALSE(ParseMetadata("<workspace owner='1' cpus='1' memory-mib='1' agent-socket='/a' "
                             "disk='/d.qcow2' disk-gib='20'/>")
                   .ok());
  EXPECT_FALSE(ParseMetadata("<workspace owner='1' cpus='1' memory-mib='1' agent-socket='/a' "
                             "disk='/d.qcow2' base='/b.qcow2' disk-gib='x'/>")
                   .ok());
}

TEST(Metadata, ParsesTheFormLibvirtReturns) {
  // virDomainGetMetadata drops the namespace declaration.
  auto m = ParseMetadata(
      "<workspace version=\"1\" owner=\"0\" image=\"minimal\" created=\"x\" accel=\"tcg\" "
      "cpus=\"1\" memory-mib=\"512\" agent-socket=\"/s/run/a.sock\" console-log=\"/c\"/>");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->owner_uid, 0u);
  EXPECT_EQ(m->agent_socket, "/s/run/a.sock");
}

TEST(Metadata, RefusesForeignOrMalformedElements) {
  EXPECT_FALSE(ParseMetadata("<x/>").ok());
  EXPECT_FALSE(ParseMetadata("not xml").ok());
  EXPECT_FALSE(ParseMetadata("<workspace xmlns='urn:other' owner='1' cpus='1' memory-mib='1' "
                             "agent-socket='/a'/>")
                   .ok());
  EXPECT_FALSE(
      ParseMetadata("<workspace owner='-1' cpus='1' memory-mib='1' agent-socket='/a'/>").ok());
  EXPECT_FALSE(ParseMetadata("<workspace owner='1' cpus='1' memory-mib='1'/>").ok());
}

}  // namespace ws::virt
