// VmSpec: everything a workspace VM is made of, in the project's words.
// render_domain_xml() turns it into libvirt domain XML (pure, golden-tested).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/virt/accel.h"

namespace ws::virt {

struct VmSpec {
  std::string name;
  std::string uuid;
  Accel accel = Accel::kTcg;
  uint32_t cpus = 1;
  uint32_t memory_mib = 512;
  // "max", "host" or a model name (host/virt/cpu_model.h); empty: QEMU's default.
  std::string cpu_model;
  std::string emulator = "/usr/bin/qemu-system-x86_64";
  std::string kernel;
  std::string initrd;
  std::string cmdline;
  // A root disk (qcow2 overlay on the image's base), seen as /dev/vda; the
  // agent mounts it as / when the command line says workspace.root=/dev/vda.
  std::string disk;
  std::string agent_socket;  // host end of org.workspace.agent.0 (libvirt binds it)
  // Host end of org.workspace.bulk.0, the port commands' stdout is written
  // to directly (host/common/bulk_marker.h); none when empty.
  std::string bulk_socket;
  std::string console_log;   // the guest's serial console goes here
  std::string metadata_xml;  // our <ws:workspace> element, stored in <metadata>
  // virtiofs shares: libvirt runs `virtiofsd_binary` with `-o source=spec_dir`.
  struct Filesystem {
    std::string tag;
    std::string spec_dir;
  };
  std::vector<Filesystem> filesystems;
  std::string virtiofsd_binary;
  // A virtual machine generation ID (a GUID): a guest kernel with the
  // vmgenid driver reseeds its generator when it changes (a restore).
  // Empty: no such device.
  std::string genid;
  // Empty PCIe root ports for devices added while it runs (a template's
  // shares are hot-plugged into each clone).
  uint32_t hotplug_ports = 0;
  // --net open: one virtio NIC on user-mode networking (slirp). Otherwise
  // the VM has no network interface at all.
  bool user_nic = false;
};

// The virtio-serial port name of the agent (libvirt itself claims
// org.qemu.guest_agent.0, so ours differs).
inline constexpr char kAgentPortName[] = "org.workspace.agent.0";

std::string RenderDomainXml(const VmSpec& spec);

// One virtiofs <filesystem> device (in a definition, or hot-plugged).
std::string FilesystemXml(const VmSpec::Filesystem& fs, const std::string& virtiofsd_binary);

// Escapes &, <, >, ' and " for XML text and attribute values.
std::string XmlEscape(const std::string& s);

}  // namespace ws::virt
