// SaveImage: libvirt's QEMU save file (virDomainSave) — a 92-byte header,
// the saved domain's XML and a migration cookie in a padded block, then
// QEMU's migration stream — and the one edit a clone needs: another
// domain's name, UUID, generation ID, channels, console, disk and
// metadata in the XML, the stream left as it is. libvirt's restore
// refuses an XML whose UUID differs from the saved one, so each clone is
// restored from a header and XML of its own followed by the template's
// stream (libvirt_hypervisor.cpp feeds them through a FIFO: nothing is
// copied on disk). Pure; the format is libvirt's qemu_saveimage.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "host/common/status.h"
#include "host/virt/hypervisor.h"

namespace ws::virt {

inline constexpr size_t kSaveHeaderBytes = 92;

struct SaveImageHead {
  std::string header;          // kSaveHeaderBytes, as read
  std::string xml;             // the saved domain
  std::string cookie;          // "" when none
  uint64_t stream_offset = 0;  // where QEMU's stream begins
};

// Reads the header and the XML block. kInvalidArgument for anything but an
// uncompressed version-2 save image.
Result<SaveImageHead> ReadSaveImageHead(int fd);

// The saved XML with the clone's identity (libxml2).
Result<std::string> CloneDomainXml(const std::string& saved_xml, const CloneSpec& clone);

// Header and XML block for a clone (what precedes the stream).
std::string EncodeSaveImageHead(const SaveImageHead& head, const std::string& xml);

// Copies a save image from `in` to `out` without the pages QEMU's stream
// sends as zero: a restore then never touches them. Loading a zero page
// reads the guest's memory to see whether it must write, and a read of
// shared (memfd) memory allocates it, so a restore filled the clone's
// whole memory (a 2 GiB guest: 2 GiB on the host, 3 s) though the guest
// used a fraction. The RAM sections of QEMU's stream (migration/ram.c,
// QEMU 7.2: 4 KiB pages, no compression, xbzrle or multifd) are parsed;
// every other byte is copied as it is. kFailedPrecondition for a stream
// it does not know (then the caller keeps the unfiltered one).
Status DropZeroPages(int in, int out);

}  // namespace ws::virt
