#include <sstream>

#include "host/common/bulk_marker.h"
#include "host/virt/cpu_model.h"
#include "host/virt/vm_spec.h"

namespace ws::virt {
namespace {
// PCIe devices a VM has besides its shares: virtio-serial, rng, disk, NIC.
constexpr uint32_t kDevicePorts = 4;
}  // namespace

std::string XmlEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FilesystemXml(const VmSpec::Filesystem& fs, const std::string& virtiofsd_binary) {
  std::ostringstream x;
  x << "    <filesystem type='mount' accessmode='passthrough'>\n"
    << "      <driver type='virtiofs' queue='1024'/>\n"
    << "      <binary path='" << XmlEscape(virtiofsd_binary) << "'/>\n"
    << "      <source dir='" << XmlEscape(fs.spec_dir) << "'/>\n"
    << "      <target dir='" << XmlEscape(fs.tag) << "'/>\n"
    << "    </filesystem>\n";
  return x.str();
}

std::string RenderDomainXml(const VmSpec& s) {
  const bool kvm = s.accel == Accel::kKvm;
  std::ostringstream x;
  x << "<domain type='" << (kvm ? "kvm" : "qemu") << "'>\n"
    << "  <name>" << XmlEscape(s.name) << "</name>\n"
    << "  <uuid>" << XmlEscape(s.uuid) << "</uuid>\n";
  if (!s.genid.empty()) x << "  <genid>" << XmlEscape(s.genid) << "</genid>\n";
  x << "  <metadata>\n    " << s.metadata_xml << "\n  </metadata>\n"
    << "  <memory unit='MiB'>" << s.memory_mib << "</memory>\n"
    << "  <vcpu>" << s.cpus
    << "</vcpu>\n"
    // memfd shared memory: virtiofs needs guest RAM shareable with virtiofsd.
    << "  <memoryBacking>\n    <source type='memfd'/>\n    <access mode='shared'/>\n"
    << "  </memoryBacking>\n"
    << "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n"
    << "    <kernel>" << XmlEscape(s.kernel) << "</kernel>\n"
    << "    <initrd>" << XmlEscape(s.initrd) << "</initrd>\n"
    << "    <cmdline>" << XmlEscape(s.cmdline) << "</cmdline>\n  </os>\n"
    << "  <features>\n    <acpi/>\n  </features>\n";
  if (s.cpu_model == kCpuMax) {
    // Without ERMS: it tells the guest's kernel and glibc that `rep movsb`
    // is the fast way to copy, and TCG emulates it a byte at a time (every
    // copy to and from user space: exec stdout moved at 0.25x qemu64's).
    // A hint, not an instruction set: no binary needs it to run.
    x << "  <cpu mode='maximum' migratable='off'>\n    <feature policy='disable' name='erms'/>\n  "
         "</cpu>\n";
  } else if (s.cpu_model == kCpuHost) {
    x << "  <cpu mode='host-passthrough'/>\n";
  } else if (!s.cpu_model.empty()) {
    // forbid: a model QEMU does not know fails the start, never another
    // model. check='none': under TCG even qemu64 names a feature (svm) TCG
    // leaves out, and 'full' would refuse it; QEMU drops such features.
    x << "  <cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>"
      << XmlEscape(s.cpu_model) << "</model>\n  </cpu>\n";
  }
  x << "  <clock offset='utc'/>\n"
    << "  <on_poweroff>destroy</on_poweroff>\n"
    << "  <on_reboot>restart</on_reboot>\n"
    << "  <on_crash>destroy</on_crash>\n"
    << "  <devices>\n"
    << "    <emulator>" << XmlEscape(s.emulator) << "</emulator>\n"
    << "    <serial type='file'>\n      <source path='" << XmlEscape(s.console_log)
    << "' append='on'/>\n      <target port='0'/>\n    </serial>\n"
    // One MSI-X vector per queue (2 per port + control): with the default
    // two, an idle port halves another's throughput (DESIGN).
    << "    <controller type='virtio-serial' index='0' ports='4' vectors='11'/>\n"
    << "    <channel type='unix'>\n      <source mode='bind' path='" << XmlEscape(s.agent_socket)
    << "'/>\n      <target type='virtio' name='" << kAgentPortName << "'/>\n    </channel>\n";
  if (!s.bulk_socket.empty()) {
    x << "    <channel type='unix'>\n      <source mode='bind' path='" << XmlEscape(s.bulk_socket)
      << "'/>\n      <target type='virtio' name='" << bulk::kPortName << "'/>\n    </channel>\n";
  }
  x
      // TCG has no hardware RNG: without this, TLS in the guest waits for entropy.
      << "    <rng model='virtio'>\n      <backend model='random'>/dev/urandom</backend>\n"
      << "    </rng>\n";
  if (!s.disk.empty()) {
    // unmap: the guest's discards (fstrim, ext4 discard) shrink the overlay.
    x << "    <disk type='file' device='disk'>\n"
      << "      <driver name='qemu' type='qcow2' discard='unmap'/>\n"
      << "      <source file='" << XmlEscape(s.disk) << "'/>\n"
      << "      <target dev='vda' bus='virtio'/>\n"
      << "    </disk>\n";
  }
  for (const auto& fs : s.filesystems) x << FilesystemXml(fs, s.virtiofsd_binary);
  if (s.hotplug_ports > 0) {
    // libvirt puts the devices above on the first free ports it finds, so
    // there are as many more as they can take (at most four).
    x << "    <controller type='pci' index='0' model='pcie-root'/>\n";
    for (uint32_t i = 0; i < s.hotplug_ports + kDevicePorts; ++i) {
      x << "    <controller type='pci' model='pcie-root-port'/>\n";
    }
  }
  if (s.user_nic) {
    x << "    <interface type='user'>\n      <model type='virtio'/>\n      <rom enabled='no'/>\n"
      << "    </interface>\n";
  }
  x << "    <controller type='usb' model='none'/>\n"
    << "    <memballoon model='none'/>\n"
    << "  </devices>\n"
    << "</domain>\n";
  return x.str();
}

}  // namespace ws::virt
