#include "host/shares/seccomp_filter.h"

#include <errno.h>
#include <seccomp.h>
#include <sys/stat.h>

#include <memory>

namespace ws::shares {
namespace {

struct CtxFree {
  void operator()(void* c) const { seccomp_release(c); }
};

}  // namespace

Status InstallShareFilter() {
  std::unique_ptr<void, CtxFree> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return {Code::kInternal, "seccomp_init failed"};
  int rc = 0;
  auto deny_mode_bits = [&](int nr, unsigned arg) {
    for (scmp_datum_t bit :
         {static_cast<scmp_datum_t>(S_ISUID), static_cast<scmp_datum_t>(S_ISGID)}) {
      rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 1,
                             SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, bit, bit));
    }
  };
  auto deny_devices = [&](int nr, unsigned arg) {
    for (scmp_datum_t type :
         {static_cast<scmp_datum_t>(S_IFCHR), static_cast<scmp_datum_t>(S_IFBLK)}) {
      rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 1,
                             SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, S_IFMT, type));
    }
  };
  deny_mode_bits(SCMP_SYS(chmod), 1);
  deny_mode_bits(SCMP_SYS(fchmod), 1);
  deny_mode_bits(SCMP_SYS(fchmodat), 2);
  deny_mode_bits(SCMP_SYS(creat), 1);
  deny_mode_bits(SCMP_SYS(open), 2);
  deny_mode_bits(SCMP_SYS(openat), 3);
  deny_mode_bits(SCMP_SYS(mkdir), 1);
  deny_mode_bits(SCMP_SYS(mkdirat), 2);
  deny_mode_bits(SCMP_SYS(mknod), 1);
  deny_mode_bits(SCMP_SYS(mknodat), 2);
  deny_devices(SCMP_SYS(mknod), 1);
  deny_devices(SCMP_SYS(mknodat), 2);
  constexpr int kFchmodat2 = 452;  // Linux 6.6; newer than libseccomp 2.5's table
  for (int nr : {SCMP_SYS(openat2), SCMP_SYS(io_uring_setup), kFchmodat2}) {
    rc |= seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), nr, 0);
  }
  if (rc != 0) return {Code::kInternal, "building the seccomp filter failed"};
  if (seccomp_load(ctx.get()) != 0) return {Code::kInternal, "loading the seccomp filter failed"};
  return Status::Ok();
}

}  // namespace ws::shares
