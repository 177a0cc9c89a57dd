#include "host/virt/libvirt/libvirt_hypervisor.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "host/common/subprocess.h"
#include "host/common/unix_socket.h"
#include "host/store/layout.h"
#include "host/virt/metadata.h"

namespace ws::virt {
namespace {

struct ConnClose {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
struct DomFree {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using ConnPtr = std::unique_ptr<virConnect, ConnClose>;
using DomPtr = std::unique_ptr<virDomain, DomFree>;

void QuietErrors(void*, virErrorPtr) {}

// The one place libvirt errors become a Status.
Status LastError(const std::string& what) {
  virErrorPtr e = virGetLastError();
  if (!e) return {Code::kInternal, what + ": unknown libvirt error"};
  Code code = Code::kInternal;
  switch (e->code) {
    case VIR_ERR_NO_DOMAIN:
      code = Code::kNotFound;
      break;
    case VIR_ERR_DOM_EXIST:
      code = Code::kAlreadyExists;
      break;
    case VIR_ERR_OPERATION_INVALID:
      code = Code::kFailedPrecondition;
      break;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
      code = Code::kUnavailable;
      break;
    case VIR_ERR_ACCESS_DENIED:
    case VIR_ERR_AUTH_FAILED:
      code = Code::kPermissionDenied;
      break;
    default:
      break;
  }
  std::string msg = e->message ? e->message : "libvirt error";
  virResetLastError();
  return {code, what + ": " + msg};
}

VmState MapState(int state, int reason) {
  switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
      return VmState::kRunning;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED:
      return VmState::kPaused;
    case VIR_DOMAIN_SHUTDOWN:
      return VmState::kStopping;
    case VIR_DOMAIN_SHUTOFF:
      return reason == VIR_DOMAIN_SHUTOFF_CRASHED ? VmState::kCrashed : VmState::kStopped;
    case VIR_DOMAIN_CRASHED:
      return VmState::kCrashed;
    default:
      return VmState::kUnknown;
  }
}

// A domain's XML, parsed; its root disk (target vda) found.
class DomainXml {
 public:
  explicit DomainXml(const std::string& xml)
      : doc_(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr,
                           XML_PARSE_NONET | XML_PARSE_NOBLANKS)) {}
  ~DomainXml() {
    if (doc_) xmlFreeDoc(doc_);
  }
  DomainXml(const DomainXml&) = delete;
  DomainXml& operator=(const DomainXml&) = delete;
  // The <disk> whose <target dev='vda'>; null when none.
  xmlNodePtr RootDisk() const {
    if (!doc_) return nullptr;
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc_);
    xmlXPathObjectPtr found = xmlXPathEvalExpression(
        reinterpret_cast<const xmlChar*>("/domain/devices/disk[target/@dev='vda']"), ctx);
    xmlNodePtr disk = found && found->nodesetval && found->nodesetval->nodeNr == 1
                          ? found->nodesetval->nodeTab[0]
                          : nullptr;
    xmlXPathFreeObject(found);
    xmlXPathFreeContext(ctx);
    return disk;
  }
  static xmlNodePtr Child(xmlNodePtr node, const char* name) {
    for (xmlNodePtr c = node ? node->children : nullptr; c; c = c->next) {
      if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST name) == 0) return c;
    }
    return nullptr;
  }
  std::string SourceFile() const {
    xmlNodePtr source = Child(RootDisk(), "source");
    xmlChar* file = source ? xmlGetProp(source, BAD_CAST "file") : nullptr;
    std::string out = file ? reinterpret_cast<const char*>(file) : "";
    xmlFree(file);
    return out;
  }
  // Sets the root disk's file, and drops the chain libvirt described (it
  // reads the new one from the image).
  bool SetSourceFile(const std::string& path) {
    xmlNodePtr disk = RootDisk();
    xmlNodePtr source = Child(disk, "source");
    if (!source) return false;
    xmlSetProp(source, BAD_CAST "file", BAD_CAST path.c_str());
    while (xmlNodePtr b = Child(disk, "backingStore")) {
      xmlUnlinkNode(b);
      xmlFreeNode(b);
    }
    return true;
  }
  std::string Dump() const {
    xmlChar* mem = nullptr;
    int n = 0;
    xmlDocDumpMemory(doc_, &mem, &n);
    std::string out(reinterpret_cast<const char*>(mem), static_cast<size_t>(n));
    xmlFree(mem);
    return out;
  }

 private:
  xmlDocPtr doc_;
};

class LibvirtHypervisor final : public Hypervisor, public Snapshots {
 public:
  LibvirtHypervisor(ConnPtr conn, std::string uri) : conn_(std::move(conn)), uri_(std::move(uri)) {}

  Status Define(const VmSpec& spec) override {
    const std::string xml = RenderDomainXml(spec);
    DomPtr d(virDomainDefineXML(conn_.get(), xml.c_str()));
    if (!d) return LastError("defining the VM");
    return Status::Ok();
  }

  Result<unique_fd> DialAgent(const std::string& name, std::chrono::milliseconds timeout) override {
    auto socket = AgentSocket(name);
    if (!socket.ok()) return socket.status();
    return Dial(socket.value(), timeout);
  }

  Result<unique_fd> DialBulk(const std::string& name) override {
    auto socket = AgentSocket(name);
    if (!socket.ok()) return socket.status();
    return Dial(store::BulkSocketPath(socket.value()), std::chrono::milliseconds(0));
  }

  Status Start(const std::string& name) override {
    auto d = Lookup(name);
    if (!d.ok()) return d.status();
    if (virDomainCreate(d->get()) != 0) return LastError("starting VM " + name);
    return Status::Ok();
  }

  Status ForceOff(const std::string& name) override {
    auto d = Lookup(name);
    if (!d.ok()) return d.status();
    if (virDomainIsActive(d->get()) == 0) return Status::Ok();
    if (virDomainDestroy(d->get()) != 0) {
      Status s = LastError("stopping VM " + name);
      if (virDomainIsActive(d->get()) == 0) return Status::Ok();  // it ended meanwhile
      return s;
    }
    return Status::Ok();
  }

  Status Undefine(const std::string& name) override {
    auto d = Lookup(name);
    if (!d.ok()) return d.status();
    if (virDomainUndefineFlags(d->get(), 0) != 0) return LastError("removing VM " + name);
    return Status::Ok();
  }

  Result<VmInfo> Get(const std::string& name) override {
    auto d = Lookup(name);
    if (!d.ok()) return d.status();
    return Info(d->get());
  }

  Status SetMetadata(const std::string& name, const std::string& xml) override {
    auto d = Lookup(name);
    if (!d.ok()) return d.status();
    unsigned flags = VIR_DOMAIN_AFFECT_CONFIG;
    if (virDomainIsActive(d->get()) == 1) flags |= VIR_DOMAIN_AFFECT_LIVE;
    if (virDomainSetMetadata(d->get(), VIR_DOMAIN_METADATA_ELEMENT, xml.c_str(), kMetadataPrefix,
                             kMetadataUri, flags) != 0) {
      return LastError("updating the settings of " + name);
    }
    return Status::Ok();
  }

  Result<std::vector<VmInfo>> List() override {
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn_.get(), &doms, 0);
    if (n < 0) return LastError("listing VMs");
    std::vector<DomPtr> owned;
    for (int i = 0; i < n; ++i) owned.emplace_back(doms[i]);
    free(doms);
    std::vector<VmInfo> out;
    for (auto& d : owned) {
      auto info = Info(d.get());
      if (info.ok() && !info->metadata_xml.empty()) out.push_back(std::move(info.value()));
    }
    return out;
  }

  std::string Uri() const override { return uri_; }
  Snapshots* snapshots() override { return this; }

  Result<std::string> DiskTop(const std::string& name) override {
    auto xml = Xml(name, 0);
    if (!xml.ok()) return xml.status();
    DomainXml doc(xml.value());
    std::string top = doc.SourceFile();
    if (top.empty()) return Status(Code::kFailedPrecondition, "VM " + name + " has no root disk");
    return top;
  }

  Status FreezeDisk(const std::string& name, const std::string& new_top) override {
    auto d = Lookup(name);
    if (!d.ok()) return d.status();
    auto top = DiskTop(name);
    if (!top.ok()) return top.status();
    if (virDomainIsActive(d->get()) != 1) {
      // Off: the overlay made here, then the definition pointed at it.
      auto run = RunCommand(
          {"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", top.value(), new_top});
      if (!run.ok()) return Status(Code::kInternal, "freezing the disk: " + run.status().message());
      chmod(new_top.c_str(), 0600);
      Status s = SetDiskTop(name, new_top);
      if (!s.ok()) unlink(new_top.c_str());
      return s;
    }
    std::string xml =
        "<domainsnapshot><memory snapshot='no'/><disks><disk name='vda' snapshot='external' "
        "type='file'><driver type='qcow2'/><source file='" +
        XmlEscape(new_top) + "'/></disk></disks></domainsnapshot>";
    virDomainSnapshotPtr snap = virDomainSnapshotCreateXML(
        d->get(), xml.c_str(),
        VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA |
            VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC);
    if (!snap) return LastError("freezing the disk of " + name);
    virDomainSnapshotFree(snap);
    // The next boot writes to the new top too.
    auto config = Xml(name, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    if (!config.ok()) return config.status();
    DomainXml doc(config.value());
    if (doc.SourceFile() != new_top) {
      if (!doc.SetSourceFile(new_top)) return Status(Code::kInternal, "no root disk in " + name);
      DomPtr redefined(virDomainDefineXML(conn_.get(), doc.Dump().c_str()));
      if (!redefined) return LastError("keeping the new disk of " + name);
    }
    return Status::Ok();
  }

  Status SetDiskTop(const std::string& name, const std::string& top) override {
    auto config = Xml(name, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    if (!config.ok()) return config.status();
    DomainXml doc(config.value());
    if (!doc.SetSourceFile(top)) return Status(Code::kInternal, "no root disk in VM " + name);
    DomPtr d(virDomainDefineXML(conn_.get(), doc.Dump().c_str()));
    if (!d) return LastError("pointing the disk of " + name + " at " + top);
    return Status::Ok();
  }

 private:
  // The unix sockets libvirt binds for the VM's channels: where create put
  // them (our metadata of the domain).
  Result<std::string> AgentSocket(const std::string& name) {
    auto info = Get(name);
    if (!info.ok()) return info.status();
    auto meta = ParseMetadata(info->metadata_xml);
    if (!meta.ok()) return meta.status();
    return meta->agent_socket;
  }
  static Result<unique_fd> Dial(const std::string& path, std::chrono::milliseconds timeout) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return Status(Code::kNotFound, "the VM's channel " + path + " is not open (is it running?)");
    }
    return ConnectUnix(path, timeout);
  }

  Result<std::string> Xml(const std::string& name, unsigned flags) {
    auto d = Lookup(name);
    if (!d.ok()) return d.status();
    char* xml = virDomainGetXMLDesc(d->get(), flags);
    if (!xml) return LastError("reading the definition of " + name);
    std::string out = xml;
    free(xml);
    return out;
  }

  Result<DomPtr> Lookup(const std::string& name) {
    DomPtr d(virDomainLookupByName(conn_.get(), name.c_str()));
    if (!d) {
      Status s = LastError("VM " + name);
      if (s.code() == Code::kNotFound) return Status(Code::kNotFound, "no VM named " + name);
      return s;
    }
    return d;
  }

  Result<VmInfo> Info(virDomainPtr d) {
    VmInfo info;
    info.name = virDomainGetName(d);
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(d, uuid) == 0) info.uuid = uuid;
    int state = 0, reason = 0;
    if (virDomainGetState(d, &state, &reason, 0) == 0) info.state = MapState(state, reason);
    char* meta = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, kMetadataUri, 0);
    if (meta) {
      info.metadata_xml = meta;
      free(meta);
    } else {
      virResetLastError();  // not ours: no metadata in our namespace
    }
    return info;
  }

  ConnPtr conn_;
  std::string uri_;
};

void StartEventLoopOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    virEventRegisterDefaultImpl();
    std::thread([] {
      for (;;) virEventRunDefaultImpl();
    }).detach();
  });
}

}  // namespace

Result<std::unique_ptr<Hypervisor>> OpenLibvirt(const std::string& uri) {
  virSetErrorFunc(nullptr, QuietErrors);
  StartEventLoopOnce();
  ConnPtr conn(virConnectOpen(uri.c_str()));
  if (!conn) return LastError("connecting to libvirt at " + uri);
  return std::unique_ptr<Hypervisor>(new LibvirtHypervisor(std::move(conn), uri));
}

}  // namespace ws::virt
