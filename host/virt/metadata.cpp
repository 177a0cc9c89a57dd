#include "host/virt/metadata.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <charconv>
#include <memory>
#include <sstream>

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

bool ParseU32(const std::string& s, uint32_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string RenderMetadata(const WorkspaceMeta& m) {
  std::ostringstream x;
  x << "<" << kMetadataPrefix << ":workspace xmlns:" << kMetadataPrefix << "='" << kMetadataUri
    << "' version='1' owner='" << m.owner_uid << "' image='" << XmlEscape(m.image)
    << "' created='" << XmlEscape(m.created_at) << "' accel='" << XmlEscape(m.accel)
    << "' cpus='" << m.cpus << "' memory-mib='" << m.memory_mib << "' agent-socket='"
    << XmlEscape(m.agent_socket) << "' console-log='" << XmlEscape(m.console_log) << "'>";
  for (const auto& sh : m.shares) {
    x << "<" << kMetadataPrefix << ":share tag='" << XmlEscape(sh.tag) << "' host='"
      << XmlEscape(sh.host_path) << "' guest='" << XmlEscape(sh.guest_path) << "' mode='"
      << (sh.read_only ? "ro" : "rw") << "' uid='" << sh.owner_uid << "' gid='" << sh.owner_gid << "'>";
    for (const auto& name : sh.shown) {
      x << "<" << kMetadataPrefix << ":show name='" << XmlEscape(name) << "'/>";
    }
    x << "</" << kMetadataPrefix << ":share>";
  }
  x << "</" << kMetadataPrefix << ":workspace>";
  return x.str();
}

Result<WorkspaceMeta> ParseMetadata(const std::string& xml) {
  std::unique_ptr<xmlDoc, DocFree> doc(xmlReadMemory(
      xml.data(), static_cast<int>(xml.size()), "metadata.xml", nullptr,
      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) return Status(Code::kInvalidArgument, "workspace metadata is not well-formed XML");
  xmlNode* root = xmlDocGetRootElement(doc.get());
  // virDomainGetMetadata looks the element up by our namespace and returns it
  // without the namespace declaration; a document that declares one must use ours.
  const bool foreign_ns =
      root && root->ns && std::string(reinterpret_cast<const char*>(root->ns->href)) != kMetadataUri;
  if (!root || foreign_ns || std::string(reinterpret_cast<const char*>(root->name)) != "workspace") {
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
  m.agent_socket = Prop(root, "agent-socket");
  m.console_log = Prop(root, "console-log");
  if (m.agent_socket.empty()) return Status(Code::kInvalidArgument, "workspace metadata has no agent socket");
  for (xmlNode* n = root->children; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE || std::string(reinterpret_cast<const char*>(n->name)) != "share") continue;
    ShareMeta sh;
    sh.tag = Prop(n, "tag");
    sh.host_path = Prop(n, "host");
    sh.guest_path = Prop(n, "guest");
    std::string mode = Prop(n, "mode");
    if ((mode != "ro" && mode != "rw") || sh.tag.empty() || sh.host_path.empty() || sh.guest_path.empty() ||
        !ParseU32(Prop(n, "uid"), &sh.owner_uid) || !ParseU32(Prop(n, "gid"), &sh.owner_gid)) {
      return Status(Code::kInvalidArgument, "workspace metadata has a malformed share");
    }
    sh.read_only = mode == "ro";
    for (xmlNode* c = n->children; c; c = c->next) {
      if (c->type == XML_ELEMENT_NODE && std::string(reinterpret_cast<const char*>(c->name)) == "show") {
        sh.shown.push_back(Prop(c, "name"));
      }
    }
    m.shares.push_back(std::move(sh));
  }
  return m;
}

}  // namespace ws::virt
