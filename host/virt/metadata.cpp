#include "host/virt/metadata.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <charconv>
#include <memory>
#include <sstream>

#include "host/virt/cpu_model.h"
#include "host/virt/vm_spec.h"

namespace ws::virt {
namespace {

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

std::string Prop(xmlNode* node, const char* name) {
  xmlChar* v = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  if (!v) return "";
  std::string s(reinterpret_cast<char*>(v));
  xmlFree(v);
  return s;
}

template <typename T>
bool ParseNumber(const std::string& s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}
bool ParseU32(const std::string& s, uint32_t* out) { return ParseNumber(s, out); }

}  // namespace

namespace {

std::string Render(const WorkspaceMeta& m, bool declare) {
  const std::string prefix = declare ? std::string(kMetadataPrefix) + ":" : "";
  std::ostringstream x;
  x << "<" << prefix << "workspace";
  if (declare) x << " xmlns:" << kMetadataPrefix << "='" << kMetadataUri << "'";
  x << " version='1' owner='" << m.owner_uid << "' image='" << XmlEscape(m.image) << "' created='"
    << XmlEscape(m.created_at) << "' accel='" << XmlEscape(m.accel) << "' cpus='" << m.cpus
    << "' memory-mib='" << m.memory_mib << "' agent-socket='" << XmlEscape(m.agent_socket)
    << "' console-log='" << XmlEscape(m.console_log) << "' net='" << NetModeName(m.net) << "'";
  if (!m.cpu_model.empty()) x << " cpu-model='" << XmlEscape(m.cpu_model) << "'";
  if (!m.disk.empty()) {
    x << " disk='" << XmlEscape(m.disk) << "' base='" << XmlEscape(m.base) << "' disk-gib='"
      << m.disk_gib << "'";
  }
  x << ">";
  for (const auto& a : m.allow) {
    x << "<" << prefix << "allow host='" << XmlEscape(a.host) << "' port='" << a.port
      << "' source='" << XmlEscape(a.source) << "'" << (a.writes ? " writes='1'" : "") << "/>";
  }
  for (const auto& p : m.ports) {
    x << "<" << prefix << "port host='" << p.host << "' guest='" << p.guest << "'/>";
  }
  for (const auto& p : m.github_push) {
    x << "<" << prefix << "github-push spec='" << XmlEscape(p) << "'/>";
  }
  for (const auto& a : m.github_api_writes) {
    x << "<" << prefix << "github-api-write spec='" << XmlEscape(a) << "'/>";
  }
  for (const auto& sh : m.shares) {
    x << "<" << prefix << "share tag='" << XmlEscape(sh.tag) << "' host='"
      << XmlEscape(sh.host_path) << "' guest='" << XmlEscape(sh.guest_path) << "' mode='"
      << (sh.read_only ? "ro" : "rw") << "' uid='" << sh.owner_uid << "' gid='" << sh.owner_gid
      << "'";
    if (sh.ino) x << " dev='" << sh.dev << "' ino='" << sh.ino << "'";
    x << ">";
    for (const auto& name : sh.shown) {
      x << "<" << prefix << "show name='" << XmlEscape(name) << "'/>";
    }
    for (const auto& rel : sh.writable) {
      x << "<" << prefix << "writable path='" << XmlEscape(rel) << "'/>";
    }
    for (const auto& rel : sh.protect) {
      x << "<" << prefix << "protect path='" << XmlEscape(rel) << "'/>";
    }
    x << "</" << prefix << "share>";
  }
  x << "</" << prefix << "workspace>";
  return x.str();
}

}  // namespace

std::string RenderMetadata(const WorkspaceMeta& m) { return Render(m, true); }
std::string RenderMetadataForUpdate(const WorkspaceMeta& m) { return Render(m, false); }

Result<WorkspaceMeta> ParseMetadata(const std::string& xml) {
  std::unique_ptr<xmlDoc, DocFree> doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "metadata.xml", nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) return Status(Code::kInvalidArgument, "workspace metadata is not well-formed XML");
  xmlNode* root = xmlDocGetRootElement(doc.get());
  // virDomainGetMetadata looks the element up by our namespace and returns it
  // without the namespace declaration; a document that declares one must use ours.
  const bool foreign_ns =
      root && root->ns &&
      std::string(reinterpret_cast<const char*>(root->ns->href)) != kMetadataUri;
  if (!root || foreign_ns ||
      std::string(reinterpret_cast<const char*>(root->name)) != "workspace") {
    return Status(Code::kInvalidArgument, "metadata is not a workspace element");
  }
  WorkspaceMeta m;
  if (!ParseU32(Prop(root, "owner"), &m.owner_uid) || !ParseU32(Prop(root, "cpus"), &m.cpus) ||
      !ParseU32(Prop(root, "memory-mib"), &m.memory_mib)) {
    return Status(Code::kInvalidArgument, "workspace metadata has a malformed number");
  }
  m.image = Prop(root, "image");
  m.created_at = Prop(root, "created");
  m.accel = Prop(root, "accel");
  m.cpu_model = Prop(root, "cpu-model");
  if (m.cpu_model.empty()) m.cpu_model = kCpuQemuDefault;
  m.agent_socket = Prop(root, "agent-socket");
  m.console_log = Prop(root, "console-log");
  if (m.agent_socket.empty())
    return Status(Code::kInvalidArgument, "workspace metadata has no agent socket");
  m.disk = Prop(root, "disk");
  m.base = Prop(root, "base");
  if (!m.disk.empty() && (m.base.empty() || !ParseU32(Prop(root, "disk-gib"), &m.disk_gib))) {
    return Status(Code::kInvalidArgument, "workspace metadata has a malformed disk");
  }
  const std::string net = Prop(root, "net");
  auto mode = net.empty() ? std::optional<NetMode>(NetMode::kAllowlist) : ParseNetMode(net);
  if (!mode) {
    return Status(Code::kInvalidArgument, "bad net mode " + net);
  }
  m.net = *mode;

  for (xmlNode* n = root->children; n; n = n->next) {
    if (n->type == XML_ELEMENT_NODE &&
        std::string(reinterpret_cast<const char*>(n->name)) == "allow") {
      uint32_t port = 0;
      if (!ParseU32(Prop(n, "port"), &port) || port > 65535) {
        return Status(Code::kInvalidArgument, "workspace metadata has a malformed allow entry");
      }
      std::string spec = Prop(n, "host");
      if (spec.find(':') != std::string::npos) spec = "[" + spec + "]";
      if (port) spec += ":" + std::to_string(port);
      auto e = net::ParseAllowEntry(spec, Prop(n, "source"));
      if (!e.ok()) return e.status();
      e->writes = Prop(n, "writes") == "1";
      m.allow.push_back(e.value());
      continue;
    }
    if (n->type == XML_ELEMENT_NODE &&
        std::string(reinterpret_cast<const char*>(n->name)) == "port") {
      uint32_t h = 0, g = 0;
      if (!ParseU32(Prop(n, "host"), &h) || !ParseU32(Prop(n, "guest"), &g) || h > 65535 ||
          g == 0 || g > 65535) {
        return Status(Code::kInvalidArgument, "workspace metadata has a malformed port");
      }
      m.ports.push_back({static_cast<uint16_t>(h), static_cast<uint16_t>(g)});
      continue;
    }
    if (n->type == XML_ELEMENT_NODE &&
        std::string(reinterpret_cast<const char*>(n->name)) == "github-push") {
      // Kept as stored: a rule a later build refuses is skipped where the
      // rules are used (ApplySecrets), never the whole workspace with it.
      m.github_push.push_back(Prop(n, "spec"));
      continue;
    }
    if (n->type == XML_ELEMENT_NODE &&
        std::string(reinterpret_cast<const char*>(n->name)) == "github-api-write") {
      m.github_api_writes.push_back(Prop(n, "spec"));
      continue;
    }
    if (n->type != XML_ELEMENT_NODE ||
        std::string(reinterpret_cast<const char*>(n->name)) != "share")
      continue;
    ShareMeta sh;
    sh.tag = Prop(n, "tag");
    sh.host_path = Prop(n, "host");
    sh.guest_path = Prop(n, "guest");
    std::string mode = Prop(n, "mode");
    if ((mode != "ro" && mode != "rw") || sh.tag.empty() || sh.host_path.empty() ||
        sh.guest_path.empty() || !ParseU32(Prop(n, "uid"), &sh.owner_uid) ||
        !ParseU32(Prop(n, "gid"), &sh.owner_gid)) {
      return Status(Code::kInvalidArgument, "workspace metadata has a malformed share");
    }
    sh.read_only = mode == "ro";
    const std::string dev = Prop(n, "dev"), ino = Prop(n, "ino");
    if ((!dev.empty() || !ino.empty()) &&
        (!ParseNumber(dev, &sh.dev) || !ParseNumber(ino, &sh.ino))) {
      return Status(Code::kInvalidArgument, "workspace metadata has a malformed share");
    }
    for (xmlNode* c = n->children; c; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      const std::string kind = reinterpret_cast<const char*>(c->name);
      if (kind == "show") sh.shown.push_back(Prop(c, "name"));
      if (kind == "writable") sh.writable.push_back(Prop(c, "path"));
      if (kind == "protect") sh.protect.push_back(Prop(c, "path"));
    }
    m.shares.push_back(std::move(sh));
  }
  return m;
}

}  // namespace ws::virt
