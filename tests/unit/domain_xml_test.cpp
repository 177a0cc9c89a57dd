#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "host/virt/cpu_model.h"
#include "host/virt/metadata.h"
#include "host/virt/vm_spec.h"

namespace ws::virt {

VmSpec MinimalSpec() {
  VmSpec s;
  s.name = "demo";
  s.uuid = "0123abcd-4567-89ef-0123-456789abcdef";
  s.accel = Accel::kTcg;
  s.cpus = 1;
  s.memory_mib = 512;
  s.cpu_model = "max";
  s.kernel = "/var/lib/workspace/images/minimal/vmlinuz";
  s.initrd = "/var/lib/workspace/images/minimal/initrd.img";
  s.cmdline = "console=ttyS0 panic=-1 quiet workspace.name=demo";
  s.agent_socket = "/var/lib/workspace/run/0123abcd4567.sock";
  s.bulk_socket = "/var/lib/workspace/run/0123abcd4567.out";
  s.console_log = "/var/lib/workspace/workspaces/demo/console.log";
  WorkspaceMeta m;
  m.image = "minimal";
  m.created_at = "2026-11-26T00:00:00Z";
  m.accel = "tcg";
  m.cpus = 1;
  m.memory_mib = 512;
  m.cpu_model = "max";
  m.agent_socket = s.agent_socket;
  m.console_log = s.console_log;
  s.metadata_xml = RenderMetadata(m);
  return s;
}

std::string Golden(const std::string& name) {
  std::ifstream f(std::string(WS_SOURCE_DIR) + "/tests/data/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// WS_UPDATE_GOLDEN=1 rewrites the golden file (then review the diff).
TEST(DomainXml, MinimalTcgMatchesGolden) {
  std::string xml = RenderDomainXml(MinimalSpec());
  if (getenv("WS_UPDATE_GOLDEN")) {
    std::ofstream(std::string(WS_SOURCE_DIR) + "/tests/data/domain_minimal_tcg.xml") << xml;
  }
  EXPECT_EQ(xml, Golden("domain_minimal_tcg.xml"));
}

TEST(DomainXml, ATemplatesVmHasAGenerationIdAndFreeHotplugPorts) {
  VmSpec s = MinimalSpec();
  EXPECT_EQ(RenderDomainXml(s).find("genid"), std::string::npos);
  EXPECT_EQ(RenderDomainXml(s).find("pcie-root-port"), std::string::npos);
  s.genid = "55555555-5555-5555-5555-555555555555";
  s.hotplug_ports = 8;
  const std::string x = RenderDomainXml(s);
  EXPECT_NE(x.find("<genid>55555555-5555-5555-5555-555555555555</genid>"), std::string::npos);
  EXPECT_NE(x.find("<controller type='pci' index='0' model='pcie-root'/>"), std::string::npos);
  // As many more as the VM's own devices can take (libvirt puts them on
  // the first free ports): 8 stay free for shares.
  size_t ports = 0;
  for (size_t at = 0; (at = x.find("model='pcie-root-port'", at)) != std::string::npos; ++at)
    ++ports;
  EXPECT_EQ(ports, 12u);
}

TEST(DomainXml, KvmUsesKvmTypeAndHostCpu) {
  VmSpec s = MinimalSpec();
  s.accel = Accel::kKvm;
  s.cpu_model = "host";
  std::string xml = RenderDomainXml(s);
  EXPECT_NE(xml.find("<domain type='kvm'>"), std::string::npos);
  EXPECT_NE(xml.find("<cpu mode='host-passthrough'/>"), std::string::npos);
  EXPECT_EQ(RenderDomainXml(MinimalSpec()).find("host-passthrough"), std::string::npos);
}

TEST(DomainXml, CpuModels) {
  VmSpec s = MinimalSpec();
  EXPECT_NE(
      RenderDomainXml(s).find(
          "<cpu mode='maximum' migratable='off'>\n    <feature policy='disable' name='erms'/>"),
      std::string::npos);
  s.cpu_model = "Haswell";
  std::string xml = RenderDomainXml(s);
  EXPECT_NE(xml.find("<model fallback='forbid'>Haswell</model>"), std::string::npos);
  EXPECT_NE(xml.find("mode='custom'"), std::string::npos);
  s.cpu_model = "";
  EXPECT_EQ(RenderDomainXml(s).find("<cpu"), std::string::npos);  // QEMU's default, as before
}

TEST(CpuModel, AutoIsMaxUnderTcgAndHostUnderKvm) {
  EXPECT_EQ(ChooseCpuModel("", Accel::kTcg).value(), "max");
  EXPECT_EQ(ChooseCpuModel("auto", Accel::kTcg).value(), "max");
  EXPECT_EQ(ChooseCpuModel("", Accel::kKvm).value(), "host");
  EXPECT_EQ(ChooseCpuModel("Skylake-Client-v4", Accel::kTcg).value(), "Skylake-Client-v4");
  EXPECT_EQ(ChooseCpuModel("max", Accel::kKvm).value(), "max");
}

TEST(CpuModel, RejectsHostWithoutKvmAndMalformedNames) {
  EXPECT_EQ(ChooseCpuModel("host", Accel::kTcg).status().code(), Code::kInvalidArgument);
  for (const char* bad : {"a b", "x'/><devices", "Haswell\n", "../x", "a,b"}) {
    EXPECT_EQ(ChooseCpuModel(bad, Accel::kTcg).status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ChooseCpuModel(std::string(65, 'a'), Accel::kTcg).ok());
}

TEST(DomainXml, EscapesPathsAndHasNoNic) {
  VmSpec s = MinimalSpec();
  s.console_log = "/tmp/a'b<c>&d/console.log";
  std::string xml = RenderDomainXml(s);
  EXPECT_NE(xml.find("/tmp/a&apos;b&lt;c&gt;&amp;d/console.log"), std::string::npos);
  EXPECT_EQ(xml.find("<interface"), std::string::npos) << "no NIC by default";
  EXPECT_NE(xml.find("org.workspace.agent.0"), std::string::npos);
  EXPECT_EQ(xml.find("org.qemu.guest_agent.0"), std::string::npos);
}

TEST(DomainXml, SharesBecomeVirtiofsFilesystemsRunByTheWrapper) {
  VmSpec s = MinimalSpec();
  s.virtiofsd_binary = "/opt/ws/bin/workspace-virtiofsd";
  s.filesystems.push_back({"ws0", "/var/lib/workspace/workspaces/demo/shares/ws0"});
  std::string xml = RenderDomainXml(s);
  EXPECT_NE(xml.find("<driver type='virtiofs'"), std::string::npos);
  EXPECT_NE(xml.find("<binary path='/opt/ws/bin/workspace-virtiofsd'/>"), std::string::npos);
  EXPECT_NE(xml.find("<source dir='/var/lib/workspace/workspaces/demo/shares/ws0'/>"),
            std::string::npos);
  EXPECT_NE(xml.find("<target dir='ws0'/>"), std::string::npos);
  EXPECT_NE(xml.find("<access mode='shared'/>"), std::string::npos)
      << "virtiofs needs shared memory";
  EXPECT_EQ(RenderDomainXml(MinimalSpec()).find("<filesystem"), std::string::npos);
}

TEST(DomainXml, RootDiskIsAQcow2OverlayOnVirtio) {
  VmSpec s = MinimalSpec();
  s.disk = "/var/lib/workspace/workspaces/demo/disk.qcow2";
  std::string xml = RenderDomainXml(s);
  EXPECT_NE(xml.find("<driver name='qemu' type='qcow2' discard='unmap'/>"), std::string::npos);
  EXPECT_NE(xml.find("<source file='/var/lib/workspace/workspaces/demo/disk.qcow2'/>"),
            std::string::npos);
  EXPECT_NE(xml.find("<target dev='vda' bus='virtio'/>"), std::string::npos);
  EXPECT_EQ(RenderDomainXml(MinimalSpec()).find("<disk"), std::string::npos)
      << "minimal has no disk";
}

}  // namespace ws::virt
