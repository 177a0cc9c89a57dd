// The libvirt adapter: RAII handles over the C API, libvirt errors turned
// into Status in one place, libvirt kept from printing to stderr.
#pragma once

#include <memory>
#include <string>

#include "host/virt/hypervisor.h"

namespace ws::virt {

// Opens `uri` (e.g. qemu:///embed?root=DIR). For the embedded driver this
// also starts the event loop thread libvirt needs.
Result<std::unique_ptr<Hypervisor>> OpenLibvirt(const std::string& uri);

}  // namespace ws::virt
