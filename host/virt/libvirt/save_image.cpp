#include "host/virt/libvirt/save_image.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "host/common/unique_fd.h"

namespace ws::virt {
namespace {

constexpr char kMagic[] = "LibvirtQemudSave";
constexpr size_t kMagicBytes = 16;
// Offsets of the header's fields (uint32, host order: libvirt writes the
// struct as it is in memory).
constexpr size_t kVersionAt = 16, kDataLenAt = 20, kCompressedAt = 28, kCookieAt = 32;
// Neither the XML block nor a cookie needs more; a bigger one is not ours.
constexpr uint32_t kMaxDataLen = 16 << 20;

uint32_t U32(const std::string& s, size_t at) {
  uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}
void PutU32(std::string* s, size_t at, uint32_t v) { std::memcpy(s->data() + at, &v, 4); }

struct DocFree {
  void operator()(xmlDocPtr d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

// The one element `path` names, or null.
xmlNodePtr One(xmlDocPtr doc, const char* path) {
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  xmlXPathObjectPtr found = xmlXPathEvalExpression(BAD_CAST path, ctx);
  xmlNodePtr node = found && found->nodesetval && found->nodesetval->nodeNr == 1
                        ? found->nodesetval->nodeTab[0]
                        : nullptr;
  xmlXPathFreeObject(found);
  xmlXPathFreeContext(ctx);
  return node;
}

xmlNodePtr Child(xmlNodePtr node, const char* name) {
  for (xmlNodePtr c = node ? node->children : nullptr; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST name) == 0) return c;
  }
  return nullptr;
}

void SetText(xmlDocPtr doc, xmlNodePtr parent, const char* name, const std::string& text) {
  xmlNodePtr n = Child(parent, name);
  if (!n) n = xmlNewChild(parent, nullptr, BAD_CAST name, nullptr);
  xmlChar* escaped = xmlEncodeSpecialChars(doc, BAD_CAST text.c_str());
  xmlNodeSetContent(n, escaped);
  xmlFree(escaped);
}

}  // namespace

Result<SaveImageHead> ReadSaveImageHead(int fd) {
  auto read_at = [&](uint64_t at, size_t n) -> Result<std::string> {
    std::string buf(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = pread(fd, buf.data() + got, n - got, static_cast<off_t>(at + got));
      if (r <= 0) return Status(Code::kInvalidArgument, "a save image cut short");
      got += static_cast<size_t>(r);
    }
    return buf;
  };
  auto header = read_at(0, kSaveHeaderBytes);
  if (!header.ok()) return header.status();
  const std::string& h = header.value();
  if (h.compare(0, kMagicBytes, kMagic) != 0 || U32(h, kVersionAt) != 2 ||
      U32(h, kCompressedAt) != 0 || U32(h, kDataLenAt) > kMaxDataLen ||
      U32(h, kCookieAt) >= U32(h, kDataLenAt)) {
    return Status(Code::kInvalidArgument, "not an uncompressed libvirt save image (version 2)");
  }
  auto data = read_at(kSaveHeaderBytes, U32(h, kDataLenAt));
  if (!data.ok()) return data.status();
  SaveImageHead head;
  head.header = h;
  const std::string& d = data.value();
  const size_t cookie_at = U32(h, kCookieAt);
  head.xml = d.substr(0, cookie_at > 0 ? std::min(d.find('\0'), cookie_at) : d.find('\0'));
  if (U32(h, kCookieAt) > 0) {
    const size_t at = U32(h, kCookieAt);
    head.cookie = d.substr(at, d.find('\0', at) - at);
  }
  head.stream_offset = kSaveHeaderBytes + d.size();
  return head;
}

Result<std::string> CloneDomainXml(const std::string& saved_xml, const CloneSpec& clone) {
  DocPtr doc(xmlReadMemory(saved_xml.data(), static_cast<int>(saved_xml.size()), "saved.xml",
                           nullptr, XML_PARSE_NONET));
  if (!doc) return Status(Code::kInvalidArgument, "the save image's XML does not parse");
  xmlNodePtr domain = xmlDocGetRootElement(doc.get());
  if (!domain || xmlStrcmp(domain->name, BAD_CAST "domain") != 0)
    return Status(Code::kInvalidArgument, "the save image holds no domain");
  xmlUnsetProp(domain, BAD_CAST "id");
  SetText(doc.get(), domain, "name", clone.name);
  SetText(doc.get(), domain, "uuid", clone.uuid);
  if (!clone.genid.empty()) SetText(doc.get(), domain, "genid", clone.genid);
  // Our metadata element, parsed on its own and put in place of the old.
  xmlNodePtr metadata = Child(domain, "metadata");
  if (!metadata) metadata = xmlNewChild(domain, nullptr, BAD_CAST "metadata", nullptr);
  while (xmlNodePtr c = metadata->children) {
    xmlUnlinkNode(c);
    xmlFreeNode(c);
  }
  if (!clone.metadata_xml.empty()) {
    DocPtr meta(xmlReadMemory(clone.metadata_xml.data(),
                              static_cast<int>(clone.metadata_xml.size()), "meta.xml", nullptr,
                              XML_PARSE_NONET));
    if (!meta || !xmlDocGetRootElement(meta.get()))
      return Status(Code::kInvalidArgument, "the clone's metadata does not parse");
    xmlAddChild(metadata, xmlDocCopyNode(xmlDocGetRootElement(meta.get()), doc.get(), 1));
  }
  auto set_attr = [&](const char* path, const char* attr, const std::string& value) -> Status {
    xmlNodePtr n = One(doc.get(), path);
    if (!n) return Status(Code::kInvalidArgument, std::string("the saved VM has no ") + path);
    xmlSetProp(n, BAD_CAST attr, BAD_CAST value.c_str());
    return Status::Ok();
  };
  Status s = set_attr("/domain/devices/channel[target/@name='org.workspace.agent.0']/source",
                      "path", clone.agent_socket);
  if (s.ok() && !clone.bulk_socket.empty())
    s = set_attr("/domain/devices/channel[target/@name='org.workspace.bulk.0']/source", "path",
                 clone.bulk_socket);
  if (s.ok()) s = set_attr("/domain/devices/serial/source", "path", clone.console_log);
  if (s.ok() && !clone.cmdline.empty()) {
    xmlNodePtr cmdline = One(doc.get(), "/domain/os/cmdline");
    if (!cmdline) return Status(Code::kInvalidArgument, "the saved VM has no kernel command line");
    xmlChar* escaped = xmlEncodeSpecialChars(doc.get(), BAD_CAST clone.cmdline.c_str());
    xmlNodeSetContent(cmdline, escaped);
    xmlFree(escaped);
  }
  // libvirt mirrors the serial port as a console of the same file.
  if (xmlNodePtr console = One(doc.get(), "/domain/devices/console/source"))
    xmlSetProp(console, BAD_CAST "path", BAD_CAST clone.console_log.c_str());
  if (s.ok() && !clone.disk.empty()) {
    s = set_attr("/domain/devices/disk[target/@dev='vda']/source", "file", clone.disk);
    // The chain is read from the copy itself.
    xmlNodePtr disk = One(doc.get(), "/domain/devices/disk[target/@dev='vda']");
    while (xmlNodePtr b = Child(disk, "backingStore")) {
      xmlUnlinkNode(b);
      xmlFreeNode(b);
    }
  }
  if (!s.ok()) return s;
  xmlChar* mem = nullptr;
  int n = 0;
  xmlDocDumpMemory(doc.get(), &mem, &n);
  std::string out(reinterpret_cast<const char*>(mem), static_cast<size_t>(n));
  xmlFree(mem);
  return out;
}

std::string EncodeSaveImageHead(const SaveImageHead& head, const std::string& xml) {
  std::string data = xml + '\0';
  const uint32_t cookie_at = head.cookie.empty() ? 0 : static_cast<uint32_t>(data.size());
  if (!head.cookie.empty()) data += head.cookie + '\0';
  // The stream must start where it did: the block keeps its length when
  // the new XML fits in it (the padding libvirt leaves is ample).
  const uint64_t block = head.stream_offset - kSaveHeaderBytes;
  if (data.size() < block) data.resize(block, '\0');
  std::string out = head.header;
  PutU32(&out, kDataLenAt, static_cast<uint32_t>(data.size()));
  PutU32(&out, kCookieAt, cookie_at);
  return out + data;
}

namespace {

constexpr uint64_t kPageMask = ~uint64_t{4095};
constexpr uint64_t kFlagZero = 0x02, kFlagMemSize = 0x04, kFlagPage = 0x08, kFlagEos = 0x10,
                   kFlagContinue = 0x20;
constexpr uint8_t kSectionStart = 0x01, kSectionPart = 0x02, kSectionEnd = 0x03,
                  kConfiguration = 0x07, kFooter = 0x7e;

class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  bool Read(void* dst, size_t n) {
    auto* d = static_cast<char*>(dst);
    while (n > 0) {
      if (pos_ == len_ && !Fill()) return false;
      const size_t k = std::min(n, len_ - pos_);
      std::memcpy(d, buf_.data() + pos_, k);
      pos_ += k;
      d += k;
      n -= k;
    }
    return true;
  }
  bool Peek(uint8_t* b) {
    if (pos_ == len_ && !Fill()) return false;
    *b = static_cast<uint8_t>(buf_[pos_]);
    return true;
  }
  bool U8(uint8_t* v) { return Read(v, 1); }
  bool Be32(uint32_t* v) {
    unsigned char b[4];
    if (!Read(b, 4)) return false;
    *v = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
    return true;
  }
  bool Be64(uint64_t* v) {
    uint32_t hi, lo;
    if (!Be32(&hi) || !Be32(&lo)) return false;
    *v = uint64_t(hi) << 32 | lo;
    return true;
  }
  // What is buffered and not read yet (copied as it is at the end).
  std::string_view Rest() const { return {buf_.data() + pos_, len_ - pos_}; }

 private:
  bool Fill() {
    ssize_t n;
    do {
      n = read(fd_, buf_.data(), buf_.size());
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    pos_ = 0;
    len_ = static_cast<size_t>(n);
    return true;
  }
  int fd_;
  std::vector<char> buf_ = std::vector<char>(1 << 20);
  size_t pos_ = 0, len_ = 0;
};

class Writer {
 public:
  explicit Writer(int fd) : fd_(fd) {}
  ~Writer() { Flush(); }
  void Put(const void* p, size_t n) {
    buf_.append(static_cast<const char*>(p), n);
    if (buf_.size() >= (1 << 20)) Flush();
  }
  void U8(uint8_t v) { Put(&v, 1); }
  void Be32(uint32_t v) {
    unsigned char b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
    Put(b, 4);
  }
  void Be64(uint64_t v) {
    Be32(uint32_t(v >> 32));
    Be32(uint32_t(v));
  }
  bool Flush() {
    ok_ = ok_ && WriteAll(fd_, buf_.data(), buf_.size());
    buf_.clear();
    return ok_;
  }

 private:
  int fd_;
  std::string buf_;
  bool ok_ = true;
};

Status Unknown(const std::string& what) {
  return Status(Code::kFailedPrecondition, "a QEMU stream this filter does not know: " + what);
}

// The guest's RAM: the one block a restore finds zeroed (a fresh memfd).
// ROMs and firmware blobs are filled at QEMU's start: their zero pages
// must be written.
constexpr char kMainRam[] = "pc.ram";

// One RAM section's records up to its EOS, zero pages of the main RAM left
// out unless an earlier record wrote the page (`written`, a bit a page). A
// CONTINUE record means "the block of the record before" to the loader,
// across sections: `in_block` is that of the stream read, `last` of the
// one written (they differ once a record naming a block was left out).
Status CopyRamRecords(Reader& in, Writer& out, std::string* in_block, std::string* last,
                      std::vector<bool>* written) {
  std::string& block = *in_block;
  std::vector<char> page(4096);
  for (;;) {
    uint64_t v;
    if (!in.Be64(&v)) return Unknown("cut short in a RAM section");
    const uint64_t flags = v & ~kPageMask, addr = v & kPageMask;
    if (flags & kFlagEos) {
      if (flags != kFlagEos) return Unknown("EOS with other flags");
      out.Be64(v);
      return Status::Ok();
    }
    if (!(flags & kFlagContinue)) {
      uint8_t len;
      if (!in.U8(&len)) return Unknown("cut short");
      block.assign(len, '\0');
      if (!in.Read(block.data(), len)) return Unknown("cut short");
    } else if (block.empty()) {
      return Unknown("a CONTINUE record first");
    }
    const uint64_t kind = flags & ~kFlagContinue;
    size_t payload;
    if (kind == kFlagZero) {
      uint8_t fill;
      if (!in.U8(&fill)) return Unknown("cut short");
      const uint64_t page_no = addr >> 12;
      if (fill == 0 && block == kMainRam && page_no < written->size() && !(*written)[page_no])
        continue;  // a zero page the restore finds zero: left out
      page[0] = static_cast<char>(fill);
      payload = 1;
    } else if (kind == kFlagPage) {
      if (!in.Read(page.data(), page.size())) return Unknown("cut short");
      payload = page.size();

    } else {
      return Unknown("RAM flags " + std::to_string(flags));
    }
    if (block == kMainRam) {  // kept: a later zero record for it must be kept too
      if ((addr >> 12) >= written->size()) return Unknown("a page past the end of RAM");
      (*written)[addr >> 12] = true;
    }
    if (block == *last) {
      out.Be64(addr | kind | kFlagContinue);
    } else {
      out.Be64(addr | kind);
      out.U8(static_cast<uint8_t>(block.size()));
      out.Put(block.data(), block.size());
      *last = block;
    }
    out.Put(page.data(), payload);
  }
}

}  // namespace

Status DropZeroPages(int in_fd, int out_fd) {
  Reader in(in_fd);
  Writer out(out_fd);
  auto head = ReadSaveImageHead(in_fd);
  if (!head.ok()) return head.status();
  // The libvirt header and XML as they are.
  std::string prefix(head->stream_offset, '\0');
  if (lseek(in_fd, 0, SEEK_SET) != 0 || !in.Read(prefix.data(), prefix.size()))
    return Unknown("unreadable");
  out.Put(prefix.data(), prefix.size());
  char magic[8];
  if (!in.Read(magic, 8) || std::memcmp(magic, "QEVM\0\0\0\3", 8) != 0)
    return Unknown("no QEVM version 3 header");
  out.Put(magic, 8);
  uint8_t type;
  if (!in.U8(&type)) return Unknown("cut short");
  if (type == kConfiguration) {
    uint32_t len;
    if (!in.Be32(&len) || len > 256) return Unknown("configuration");
    std::string name(len, '\0');
    if (!in.Read(name.data(), len)) return Unknown("cut short");
    out.U8(type);
    out.Be32(len);
    out.Put(name.data(), len);
    if (!in.U8(&type)) return Unknown("cut short");
  }
  // The RAM section's start: header, sizes of the blocks, then records.
  uint32_t ram_id, instance, version;
  uint8_t idlen;
  char id[3];
  if (type != kSectionStart || !in.Be32(&ram_id) || !in.U8(&idlen) || idlen != 3 ||
      !in.Read(id, 3) || std::memcmp(id, "ram", 3) != 0 || !in.Be32(&instance) ||
      !in.Be32(&version) || version != 4)
    return Unknown("no RAM section first");
  out.U8(type);
  out.Be32(ram_id);
  out.U8(idlen);
  out.Put(id, 3);
  out.Be32(instance);
  out.Be32(version);
  uint64_t v;
  if (!in.Be64(&v) || (v & ~kPageMask) != kFlagMemSize) return Unknown("no RAM sizes");
  out.Be64(v);
  const uint64_t total = v & kPageMask;
  std::vector<bool> written;
  for (uint64_t sum = 0; sum < total;) {
    uint8_t len;
    std::string name;
    uint64_t size;
    if (!in.U8(&len)) return Unknown("cut short");
    name.resize(len);
    if (!in.Read(name.data(), len) || !in.Be64(&size)) return Unknown("cut short");
    out.U8(len);
    out.Put(name.data(), len);
    out.Be64(size);
    if (name == kMainRam) written.assign(size >> 12, false);
    sum += size;
    if (sum > total) return Unknown("RAM blocks larger than their total");
  }
  std::string in_block, last;
  auto footer = [&]() -> Status {
    uint8_t b;
    if (!in.Peek(&b) || b != kFooter) return Status::Ok();
    uint32_t sid;
    in.U8(&b);
    if (!in.Be32(&sid) || sid != ram_id) return Unknown("a footer of another section");
    out.U8(b);
    out.Be32(sid);
    return Status::Ok();
  };
  if (Status s = CopyRamRecords(in, out, &in_block, &last, &written); !s.ok()) return s;
  if (Status s = footer(); !s.ok()) return s;
  // Its parts, up to its end.
  for (bool ended = false; !ended;) {
    uint8_t b;
    if (!in.Peek(&b) || (b != kSectionPart && b != kSectionEnd))
      return Unknown("the RAM ends without its end section");
    uint32_t sid;
    in.U8(&b);
    if (!in.Be32(&sid)) return Unknown("cut short");
    if (sid != ram_id) return Unknown("a section interleaved with RAM");
    out.U8(b);
    out.Be32(sid);
    if (Status s = CopyRamRecords(in, out, &in_block, &last, &written); !s.ok()) return s;
    if (Status s = footer(); !s.ok()) return s;
    ended = b == kSectionEnd;
  }
  // The devices' state, as it is.
  std::string_view rest = in.Rest();
  out.Put(rest.data(), rest.size());
  if (!out.Flush()) return Status(Code::kInternal, std::string("writing: ") + strerror(errno));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(in_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status(Code::kInternal, std::string("reading: ") + strerror(errno));
    if (n == 0) break;
    if (!WriteAll(out_fd, buf, static_cast<size_t>(n)))
      return Status(Code::kInternal, std::string("writing: ") + strerror(errno));
  }
  return Status::Ok();
}

}  // namespace ws::virt
