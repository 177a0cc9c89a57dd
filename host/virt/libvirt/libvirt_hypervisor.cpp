#include "host/virt/libvirt/libvirt_hypervisor.h"

#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "host/common/log.h"
#include "host/common/subprocess.h"
#include "host/common/unix_socket.h"
#include "host/store/layout.h"
#include "host/virt/libvirt/save_image.h"
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

  Status SaveState(const std::string& name, const std::string& path) override {
    auto d = Lookup(name);
    if (!d.ok()) return d.status();
    const std::string raw = path + ".raw";
    if (virDomainSaveFlags(d->get(), raw.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) != 0)
      return LastError("saving the state of " + name);
    // Without its zero pages a restore touches only the memory the guest
    // used (save_image.h); a stream the filter does not know is kept whole.
    unique_fd in(open(raw.c_str(), O_RDONLY | O_CLOEXEC));
    unique_fd out(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    Status s = in && out ? DropZeroPages(in.get(), out.get())
                         : Status(Code::kInternal, std::string(strerror(errno)));
    if (s.ok()) {
      unlink(raw.c_str());
      return Status::Ok();
    }
    if (rename(raw.c_str(), path.c_str()) != 0)
      return Status(Code::kInternal, "keeping " + path + ": " + strerror(errno));
    Log("the saved state of " + name + " keeps its zero pages: " + s.message());
    return Status::Ok();
  }

  Status RestoreAs(const std::string& path, const CloneSpec& clone) override {
    unique_fd saved(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!saved) return Status(Code::kNotFound, "cannot open " + path + ": " + strerror(errno));
    auto head = ReadSaveImageHead(saved.get());
    if (!head.ok()) return Status(head.status().code(), path + ": " + head.status().message());
    auto xml = CloneDomainXml(head->xml, clone);
    if (!xml.ok()) return xml.status();
    const std::string prefix = EncodeSaveImageHead(head.value(), xml.value());
    // libvirt reads the header and XML from the FIFO and hands the rest to
    // QEMU as the incoming stream: the clone's own head, then the saved
    // stream spliced in (nothing copied on disk).
    const std::string fifo =
        std::filesystem::path(clone.console_log).parent_path().string() + "/restore.fifo";
    unlink(fifo.c_str());
    if (mkfifo(fifo.c_str(), 0600) != 0)
      return Status(Code::kInternal, "cannot make " + fifo + ": " + strerror(errno));
    std::atomic<bool> done{false};
    Status fed;

    std::thread feeder([&] {
      unique_fd out;
      while (!out && !done) {  // no reader yet: ENXIO
        out.reset(open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        if (!out) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (!out) return;
      fcntl(out.get(), F_SETFL, fcntl(out.get(), F_GETFL) & ~O_NONBLOCK);
      // A pipe's 64 KiB would make QEMU wait on every few reads.
      fcntl(out.get(), F_SETPIPE_SZ, 1 << 20);
      if (!WriteAll(out.get(), prefix.data(), prefix.size())) {
        fed = Status(Code::kInternal, std::string("feeding the restore: ") + strerror(errno));
        return;
      }
      loff_t at = static_cast<loff_t>(head->stream_offset);
      for (;;) {
        ssize_t n = splice(saved.get(), &at, out.get(), nullptr, 1 << 20, SPLICE_F_MOVE);
        if (n == 0) break;
        if (n < 0) {
          if (errno == EINTR) continue;
          fed = Status(Code::kInternal, std::string("feeding the restore: ") + strerror(errno));
          return;
        }
      }
    });
    DomPtr d(virDomainRestoreFlags(conn_.get(), fifo.c_str(), nullptr, VIR_DOMAIN_SAVE_RUNNING) == 0
                 ? virDomainLookupByName(conn_.get(), clone.name.c_str())
                 : nullptr);
    Status restored = d ? Status::Ok() : LastError("restoring " + clone.name + " from " + path);
    done = true;
    // A restore that failed before reading all: the feeder's write fails
    // (EPIPE) once no reader is left; one that never opened stops at `done`.
    feeder.join();
    unlink(fifo.c_str());
    if (!restored.ok()) return restored;
    return fed;
  }

  Status AttachFilesystem(const std::string& name, const VmSpec::Filesystem& fs,
                          const std::string& virtiofsd_binary) override {
    auto d = Lookup(name);
    if (!d.ok()) return d.status();
    const std::string xml = FilesystemXml(fs, virtiofsd_binary);
    if (virDomainAttachDeviceFlags(d->get(), xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) != 0)
      return LastError("adding share " + fs.tag + " to " + name);
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
