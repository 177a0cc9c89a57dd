// The libvirt save image a template is kept in, and the edits a clone
// needs (host/virt/libvirt/save_image.h): the XML's identity, the header
// around it, and QEMU's stream without its zero pages.
#include "host/virt/libvirt/save_image.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "host/common/unique_fd.h"

namespace ws::virt {
namespace {

void PutU32(std::string* s, uint32_t v) { s->append(reinterpret_cast<const char*>(&v), 4); }
void Be32(std::string* s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s->push_back(static_cast<char>(v >> (8 * i)));
}
void Be64(std::string* s, uint64_t v) {
  Be32(s, static_cast<uint32_t>(v >> 32));
  Be32(s, static_cast<uint32_t>(v));
}
void Name(std::string* s, const std::string& n) {
  s->push_back(static_cast<char>(n.size()));
  *s += n;
}

// libvirt's header, XML and cookie in a block of `block` bytes.
std::string Head(const std::string& xml, const std::string& cookie, uint32_t block) {
  std::string data = xml + '\0';
  const uint32_t cookie_at = static_cast<uint32_t>(data.size());
  data += cookie + '\0';
  data.resize(block, '\0');
  std::string h = "LibvirtQemudSave";
  for (uint32_t v : {2u, block, 1u, 0u, cookie_at}) PutU32(&h, v);
  h.resize(kSaveHeaderBytes, '\0');
  return h + data;
}

constexpr uint64_t kZero = 0x02, kMemSize = 0x04, kPage = 0x08, kEos = 0x10, kCont = 0x20;

// A stream start: magic, configuration, the RAM section's start with two
// blocks (pc.ram 3 pages, rom 1 page), its footer.
std::string StreamStart() {
  std::string s = std::string("QEVM\0\0\0\3", 8);
  s.push_back(0x07);
  Be32(&s, 10);
  s += "pc-q35-7.2";
  s.push_back(0x01);
  Be32(&s, 3);
  Name(&s, "ram");
  Be32(&s, 0);
  Be32(&s, 4);
  Be64(&s, 0x4000 | kMemSize);
  Name(&s, "pc.ram");
  Be64(&s, 0x3000);
  Name(&s, "rom");
  Be64(&s, 0x1000);
  Be64(&s, kEos);
  s.push_back(0x7e);
  Be32(&s, 3);
  return s;
}

unique_fd FileWith(const std::string& bytes) {
  unique_fd fd(memfd_create("save", MFD_CLOEXEC));
  EXPECT_TRUE(WriteAll(fd.get(), bytes.data(), bytes.size()));
  return fd;
}

std::string ReadAllFrom(int fd) {
  std::string out;
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

const char kSavedXml[] = R"(<domain type='qemu' id='7'>
  <name>workspace-template-1</name>
  <uuid>11111111-1111-1111-1111-111111111111</uuid>
  <genid>22222222-2222-2222-2222-222222222222</genid>
  <metadata><ws:workspace xmlns:ws="https://x/ws"><old/></ws:workspace></metadata>
  <os><cmdline>console=ttyS0 workspace.template=1</cmdline></os>
  <devices>
    <serial type='file'><source path='/s/templates/t/console.log'/></serial>
    <console type='file'><source path='/s/templates/t/console.log'/></console>
    <channel type='unix'><source mode='bind' path='/s/run/t-1.sock'/><target type='virtio' name='org.workspace.agent.0'/></channel>
    <channel type='unix'><source mode='bind' path='/s/run/t-1.out'/><target type='virtio' name='org.workspace.bulk.0'/></channel>
    <disk type='file' device='disk'><source file='/s/templates/t.new/disk.qcow2'/><backingStore type='file'><source file='/base.qcow2'/></backingStore><target dev='vda' bus='virtio'/></disk>
  </devices>
</domain>)";

CloneSpec Clone() {
  CloneSpec c;
  c.name = "mine";
  c.uuid = "33333333-3333-3333-3333-333333333333";
  c.genid = "44444444-4444-4444-4444-444444444444";
  c.agent_socket = "/s/run/abc.sock";
  c.bulk_socket = "/s/run/abc.out";
  c.console_log = "/s/workspaces/mine/console.log";
  c.disk = "/s/workspaces/mine/disk.qcow2";
  c.metadata_xml = R"(<ws:workspace xmlns:ws="https://x/ws"><image>minimal</image></ws:workspace>)";
  c.cmdline = "console=ttyS0 workspace.name=mine";
  return c;
}

TEST(SaveImage, AClonesXmlTakesItsIdentityAndKeepsTheRest) {
  auto xml = CloneDomainXml(kSavedXml, Clone());
  ASSERT_TRUE(xml.ok()) << xml.status().message();
  const std::string& x = xml.value();
  EXPECT_NE(x.find("<name>mine</name>"), std::string::npos) << x;
  EXPECT_NE(x.find("<uuid>33333333-3333-3333-3333-333333333333</uuid>"), std::string::npos);
  EXPECT_NE(x.find("<genid>44444444-4444-4444-4444-444444444444</genid>"), std::string::npos);
  EXPECT_NE(x.find("<image>minimal</image>"), std::string::npos);
  EXPECT_EQ(x.find("<old/>"), std::string::npos);
  EXPECT_NE(x.find("path=\"/s/run/abc.sock\""), std::string::npos);
  EXPECT_NE(x.find("path=\"/s/run/abc.out\""), std::string::npos);
  EXPECT_EQ(x.find("/s/run/t-1"), std::string::npos);
  EXPECT_EQ(x.find("templates/t/console.log"), std::string::npos);  // serial and console
  EXPECT_NE(x.find("file=\"/s/workspaces/mine/disk.qcow2\""), std::string::npos);
  EXPECT_EQ(x.find("backingStore"), std::string::npos);  // read from the copy itself
  EXPECT_EQ(x.find("id=\"7\""), std::string::npos);
  // What makes the guest the template's stays: its devices.
  EXPECT_NE(x.find("<disk"), std::string::npos);
  // The kernel's words for its next boot are the clone's own (a reboot
  // must not come up as the template).
  EXPECT_EQ(x.find("workspace.template=1"), std::string::npos);
  EXPECT_NE(x.find("workspace.name=mine"), std::string::npos);
}

TEST(SaveImage, AClonesXmlNeedsTheAgentChannel) {
  std::string saved = kSavedXml;
  saved.replace(saved.find("org.workspace.agent.0"), 21, "org.other.port.0.....");
  auto xml = CloneDomainXml(saved, Clone());
  EXPECT_EQ(xml.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(CloneDomainXml("<domain", Clone()).ok());
}

TEST(SaveImage, TheHeadIsReadAndWrittenAroundTheStream) {
  const std::string stream = "QEVM-the-stream";
  unique_fd fd = FileWith(Head("<domain/>", "<cookie/>", 4096) + stream);
  auto head = ReadSaveImageHead(fd.get());
  ASSERT_TRUE(head.ok()) << head.status().message();
  EXPECT_EQ(head->xml, "<domain/>");
  EXPECT_EQ(head->cookie, "<cookie/>");
  EXPECT_EQ(head->stream_offset, kSaveHeaderBytes + 4096);
  // A clone's XML that fits keeps the stream where it was...
  std::string out = EncodeSaveImageHead(head.value(), "<domain><name>x</name></domain>");
  EXPECT_EQ(out.size(), head->stream_offset);
  unique_fd again = FileWith(out + stream);
  auto reread = ReadSaveImageHead(again.get());
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(reread->xml, "<domain><name>x</name></domain>");
  EXPECT_EQ(reread->cookie, "<cookie/>");
  // ...and a longer one moves it.
  const std::string big = "<domain>" + std::string(5000, ' ') + "</domain>";
  std::string longer = EncodeSaveImageHead(head.value(), big);
  EXPECT_GT(longer.size(), head->stream_offset);
  unique_fd third = FileWith(longer + stream);
  auto moved = ReadSaveImageHead(third.get());
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->xml, big);
  EXPECT_EQ(ReadAllFrom(third.get()).substr(moved->stream_offset), stream);
}

TEST(SaveImage, OtherFilesAreRefused) {
  unique_fd empty = FileWith("");
  EXPECT_FALSE(ReadSaveImageHead(empty.get()).ok());
  std::string compressed = Head("<domain/>", "", 4096);
  uint32_t gzip = 1;
  std::memcpy(compressed.data() + 28, &gzip, 4);
  unique_fd c = FileWith(compressed);
  EXPECT_EQ(ReadSaveImageHead(c.get()).status().code(), Code::kInvalidArgument);
  std::string huge = Head("<domain/>", "", 4096);
  uint32_t len = 1u << 30;
  std::memcpy(huge.data() + 20, &len, 4);
  unique_fd h = FileWith(huge);
  EXPECT_FALSE(ReadSaveImageHead(h.get()).ok());
}

TEST(SaveImage, ZeroPagesAreLeftOutAndEverythingElseKept) {
  const std::string head = Head("<domain/>", "<cookie/>", 4096);
  const std::string page_a(4096, 'A'), page_b(4096, 'B');
  const std::string devices = std::string("\x04\0\0\0\x09", 5) + "device state, copied as it is";
  std::string in = head + StreamStart();
  // A part: a zero page naming pc.ram, a page continuing it, a zero page
  // continuing, the page sent before sent again as zero (kept: the restore
  // wrote it), a page filled with 0x55 naming rom and a zero page of rom
  // (kept: ROMs are not zero at a restore's start), EOS, footer.
  in.push_back(0x02);
  Be32(&in, 3);
  Be64(&in, 0x0000 | kZero);
  Name(&in, "pc.ram");
  in.push_back(0);
  Be64(&in, 0x1000 | kPage | kCont);
  in += page_a;
  Be64(&in, 0x2000 | kZero | kCont);
  in.push_back(0);
  Be64(&in, 0x1000 | kZero | kCont);
  in.push_back(0);
  Be64(&in, 0x0000 | kZero);
  Name(&in, "rom");
  in.push_back(0x55);
  Be64(&in, 0x0000 | kZero | kCont);
  in.push_back(0);
  Be64(&in, kEos);
  in.push_back(0x7e);
  Be32(&in, 3);
  // The end: a page continuing rom (the loader's block is rom), EOS.
  in.push_back(0x03);
  Be32(&in, 3);
  Be64(&in, 0x0000 | kPage | kCont);
  in += page_b;
  Be64(&in, kEos);
  in.push_back(0x7e);
  Be32(&in, 3);
  in += devices;

  std::string want = head + StreamStart();
  want.push_back(0x02);
  Be32(&want, 3);
  Be64(&want, 0x1000 | kPage);  // it names its block now: the record that did was left out
  Name(&want, "pc.ram");
  want += page_a;
  Be64(&want, 0x1000 | kZero | kCont);
  want.push_back(0);
  Be64(&want, 0x0000 | kZero);
  Name(&want, "rom");
  want.push_back(0x55);
  Be64(&want, 0x0000 | kZero | kCont);
  want.push_back(0);
  Be64(&want, kEos);
  want.push_back(0x7e);
  Be32(&want, 3);
  want.push_back(0x03);
  Be32(&want, 3);
  Be64(&want, 0x0000 | kPage | kCont);
  want += page_b;
  Be64(&want, kEos);
  want.push_back(0x7e);
  Be32(&want, 3);
  want += devices;

  unique_fd src = FileWith(in);
  unique_fd dst(memfd_create("out", MFD_CLOEXEC));
  Status s = DropZeroPages(src.get(), dst.get());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ReadAllFrom(dst.get()), want);
}

TEST(SaveImage, AStreamItDoesNotKnowIsRefused) {
  const std::string head = Head("<domain/>", "", 4096);
  // A compressed page (flag 0x100) in a part.
  std::string in = head + StreamStart();
  in.push_back(0x02);
  Be32(&in, 3);
  Be64(&in, 0x0000 | 0x100);
  Name(&in, "pc.ram");
  unique_fd src = FileWith(in);
  unique_fd dst(memfd_create("out", MFD_CLOEXEC));
  EXPECT_EQ(DropZeroPages(src.get(), dst.get()).code(), Code::kFailedPrecondition);
  // Another section between RAM parts.
  std::string mixed = head + StreamStart();
  mixed.push_back(0x02);
  Be32(&mixed, 9);
  unique_fd src2 = FileWith(mixed);
  unique_fd dst2(memfd_create("out", MFD_CLOEXEC));
  EXPECT_EQ(DropZeroPages(src2.get(), dst2.get()).code(), Code::kFailedPrecondition);
  // A stream that ends without the RAM's end section.
  std::string unended = head + StreamStart();
  unique_fd src4 = FileWith(unended);
  unique_fd dst4(memfd_create("out", MFD_CLOEXEC));
  EXPECT_EQ(DropZeroPages(src4.get(), dst4.get()).code(), Code::kFailedPrecondition);
  // Cut short in a record.
  std::string cut = head + StreamStart();
  cut.push_back(0x02);
  Be32(&cut, 3);
  Be64(&cut, 0x1000 | kPage);
  Name(&cut, "pc.ram");
  cut += "partial page";
  unique_fd src3 = FileWith(cut);
  unique_fd dst3(memfd_create("out", MFD_CLOEXEC));
  EXPECT_EQ(DropZeroPages(src3.get(), dst3.get()).code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace ws::virt
