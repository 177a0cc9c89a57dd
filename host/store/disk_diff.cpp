#include "host/store/disk_diff.h"

extern "C" {
#include <et/com_err.h>
}
#include <ext2fs/ext2fs.h>
#include <libnbd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "host/common/subprocess.h"

namespace ws::store {
namespace {

// ---- an image over NBD, as libext2fs's block device ------------------------

// An NBD export read in 256 KiB chunks, the last 64 kept: libext2fs reads
// a block at a time, and each read would be a round trip.
class Reader {
 public:
  explicit Reader(nbd_handle* h) : h_(h), size_(nbd_get_size(h)) {}
  // The ext4 journal's latest committed copy of each block it holds
  // (ReadJournal): read in place of the block, as a replay would write it.
  struct Copy {
    uint64_t offset;  // of the copy, on the device
    bool escaped;     // its first four bytes were the journal's magic
  };
  void SetOverlay(std::map<uint64_t, Copy> overlay, uint64_t block_size) {
    overlay_ = std::move(overlay);
    block_size_ = block_size;
  }
  bool Read(uint64_t offset, size_t n, char* out) {
    if (!Raw(offset, n, out)) return false;
    if (overlay_.empty()) return true;
    const uint64_t bs = block_size_;
    std::string copy(bs, '\0');
    for (auto it = overlay_.lower_bound(offset / bs);
         it != overlay_.end() && it->first * bs < offset + n; ++it) {
      if (!Raw(it->second.offset, bs, copy.data())) return false;
      if (it->second.escaped) std::memcpy(copy.data(), "\xc0\x3b\x39\x98", 4);
      const uint64_t from = std::max(offset, it->first * bs);
      const uint64_t to = std::min(offset + n, it->first * bs + bs);
      std::memcpy(out + (from - offset), copy.data() + (from - it->first * bs), to - from);
    }
    return true;
  }
  uint64_t size() const { return size_ < 0 ? 0 : static_cast<uint64_t>(size_); }

 private:
  bool Raw(uint64_t offset, size_t n, char* out) {
    if (size_ < 0 || offset + n > static_cast<uint64_t>(size_) || offset + n < offset) return false;
    while (n > 0) {
      const uint64_t index = offset / kChunk;
      const std::string* chunk = Chunk(index);
      if (!chunk) return false;
      const size_t at = static_cast<size_t>(offset - index * kChunk);
      const size_t take = std::min(n, chunk->size() - at);
      std::memcpy(out, chunk->data() + at, take);
      out += take;
      offset += take;
      n -= take;
    }
    return true;
  }
  static constexpr uint64_t kChunk = 256 * 1024;
  static constexpr size_t kKept = 64;
  const std::string* Chunk(uint64_t index) {
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if (it->first == index) {
        kept_.splice(kept_.begin(), kept_, it);
        return &kept_.front().second;
      }
    }
    const uint64_t start = index * kChunk;
    std::string data(static_cast<size_t>(std::min<uint64_t>(kChunk, size() - start)), '\0');
    if (nbd_pread(h_, data.data(), data.size(), start, 0) == -1) return nullptr;
    kept_.emplace_front(index, std::move(data));
    if (kept_.size() > kKept) kept_.pop_back();
    return &kept_.front().second;
  }
  nbd_handle* h_;
  int64_t size_;
  std::list<std::pair<uint64_t, std::string>> kept_;  // most recent first
  std::map<uint64_t, Copy> overlay_;                  // by file system block
  uint64_t block_size_ = 4096;
};

// ---- the ext4 journal, replayed in the view ----------------------------------
// A guest's last changes may sit in its journal, committed but not yet
// written in place (its kernel would replay them at the next boot): the
// view applies them as that replay would (jbd2's format: descriptor, commit
// and revoke blocks; 32- or 64-bit tags, with or without checksums).

uint32_t Be32(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

std::map<uint64_t, Reader::Copy> ReadJournal(ext2_filsys fs) {
  std::map<uint64_t, Reader::Copy> overlay;
  const ext2_ino_t journal = fs->super->s_journal_inum;
  // Only what the kernel would replay: a journal marked as needing it.
  if (!ext2fs_has_feature_journal(fs->super) || journal == 0 || fs->super->s_journal_dev != 0 ||
      !ext2fs_has_feature_journal_needs_recovery(fs->super)) {
    return overlay;
  }
  ext2_inode jinode;
  if (ext2fs_read_inode(fs, journal, &jinode) != 0) return overlay;
  const uint64_t bs = fs->blocksize;
  std::vector<unsigned char> b(bs);
  auto where = [&](uint64_t logical, blk64_t* physical) {
    return ext2fs_bmap2(fs, journal, nullptr, nullptr, 0, logical, nullptr, physical) == 0 &&
           *physical != 0;
  };
  auto read = [&](uint64_t logical) {
    blk64_t p = 0;
    return where(logical, &p) && io_channel_read_blk64(fs->io, p, 1, b.data()) == 0;
  };
  constexpr uint32_t kMagic = 0xC03B3998;
  if (!read(0) || Be32(&b[0]) != kMagic || (Be32(&b[4]) != 3 && Be32(&b[4]) != 4) ||
      Be32(&b[12]) != bs) {
    return overlay;
  }
  const uint64_t maxlen = Be32(&b[16]), first = Be32(&b[20]);
  // A journal longer than its file is refused (as the kernel does).
  if (maxlen > EXT2_I_SIZE(&jinode) / bs) return overlay;
  const uint32_t seq = Be32(&b[24]);
  uint64_t pos = Be32(&b[28]);
  if (pos == 0 || first == 0 || first >= maxlen || pos >= maxlen) return overlay;  // clean
  const uint32_t incompat = Be32(&b[4]) == 4 ? Be32(&b[0x28]) : 0;
  const bool is64 = incompat & 0x2, v2 = incompat & 0x8, v3 = incompat & 0x10;
  const size_t tag_size = v3 ? 16 : (is64 ? 12 : 8) + (v2 ? 2 : 0);
  const size_t tail = (v2 || v3) ? 4 : 0;
  struct Logged {
    uint64_t block, logical;
    bool escaped;
  };
  struct Txn {
    uint32_t seq;
    std::vector<Logged> logged;
  };
  std::vector<Txn> committed;
  std::map<uint64_t, uint32_t> revoked;  // block -> last transaction that revoked it
  Txn open{seq, {}};
  std::set<uint64_t> open_revokes;
  // Bounded by the journal's length: at most one entry per block logged.
  const uint64_t most = std::min<uint64_t>(maxlen, ext2fs_blocks_count(fs->super));
  uint64_t entries = 0;
  auto next = [&](uint64_t p) { return p + 1 >= maxlen ? first : p + 1; };
  for (uint64_t walked = 0; walked < maxlen; ++walked) {
    if (!read(pos) || Be32(&b[0]) != kMagic || Be32(&b[8]) != open.seq) break;
    const uint32_t type = Be32(&b[4]);
    if (type == 1) {  // descriptor: tags, each for the next block of the log
      const std::vector<unsigned char> d = b;
      size_t at = 12;
      while (at + tag_size <= bs - tail && walked < maxlen) {
        const unsigned char* t = &d[at];
        uint64_t block = Be32(t);
        const uint32_t flags = v3 ? Be32(t + 4) : (uint32_t{t[6]} << 8 | t[7]);
        if (is64) block |= uint64_t{Be32(t + 8)} << 32;
        pos = next(pos);
        ++walked;
        if (++entries > most) return overlay;
        open.logged.push_back({block, pos, (flags & 0x1) != 0});
        at += tag_size + ((flags & 0x2) ? 0 : 16);  // SAME_UUID, or the UUID follows
        if (flags & 0x8) break;                     // the last tag
      }
    } else if (type == 2) {  // commit: the transaction holds
      for (uint64_t r : open_revokes) revoked[r] = open.seq;
      const uint32_t done = open.seq;
      committed.push_back(std::move(open));
      open = Txn{done + 1, {}};
      open_revokes.clear();
    } else if (type == 5) {  // revoke: blocks not to replay from this or earlier transactions
      const size_t count = std::min<size_t>(Be32(&b[12]), bs);
      for (size_t at = 16; at + (is64 ? 8 : 4) <= count; at += is64 ? 8 : 4) {
        if (++entries > most) return overlay;
        open_revokes.insert(is64 ? (uint64_t{Be32(&b[at])} << 32 | Be32(&b[at + 4]))
                                 : Be32(&b[at]));
      }
    } else {
      break;
    }
    pos = next(pos);
  }
  for (const auto& txn : committed) {
    for (const auto& l : txn.logged) {
      auto r = revoked.find(l.block);
      // Revoked by this transaction or a later one (sequence numbers wrap).
      if (r != revoked.end() && static_cast<int32_t>(r->second - txn.seq) >= 0) continue;
      blk64_t p = 0;
      if (l.block >= ext2fs_blocks_count(fs->super) || !where(l.logical, &p)) continue;
      overlay[l.block] = {p * bs, l.escaped};
    }
  }
  return overlay;
}

// libext2fs opens a channel by name only: the name is a key here.
std::mutex images_mu;
std::map<std::string, Reader*> images;  // guarded by images_mu

errcode_t NbdOpen(const char* name, int flags, io_channel* channel);
errcode_t NbdClose(io_channel io) {
  if (--io->refcount > 0) return 0;
  ext2fs_free_mem(&io->name);
  ext2fs_free_mem(&io);
  return 0;
}
errcode_t NbdSetBlockSize(io_channel io, int size) {
  io->block_size = size;
  return 0;
}
errcode_t NbdRead64(io_channel io, unsigned long long block, int count, void* data) {
  const size_t size = count < 0 ? static_cast<size_t>(-count)
                                : static_cast<size_t>(count) * static_cast<size_t>(io->block_size);
  auto* r = static_cast<Reader*>(io->private_data);
  const uint64_t offset = block * static_cast<uint64_t>(io->block_size);
  if (offset >= r->size()) return EXT2_ET_SHORT_READ;
  const size_t take = std::min<uint64_t>(size, r->size() - offset);
  if (!r->Read(offset, take, static_cast<char*>(data))) return EXT2_ET_SHORT_READ;
  if (take < size) std::memset(static_cast<char*>(data) + take, 0, size - take);
  return 0;
}
errcode_t NbdRead(io_channel io, unsigned long block, int count, void* data) {
  return NbdRead64(io, block, count, data);
}
errcode_t NbdWrite(io_channel, unsigned long, int, const void*) { return EXT2_ET_RO_FILSYS; }
errcode_t NbdWrite64(io_channel, unsigned long long, int, const void*) { return EXT2_ET_RO_FILSYS; }
errcode_t NbdWriteByte(io_channel, unsigned long, int, const void*) { return EXT2_ET_RO_FILSYS; }
errcode_t NbdFlush(io_channel) { return 0; }
errcode_t NbdSetOption(io_channel, const char*, const char*) { return EXT2_ET_INVALID_ARGUMENT; }

struct_io_manager nbd_manager = [] {
  struct_io_manager m{};
  m.magic = EXT2_ET_MAGIC_IO_MANAGER;
  m.name = "workspace NBD";
  m.open = NbdOpen;
  m.close = NbdClose;
  m.set_blksize = NbdSetBlockSize;
  m.read_blk = NbdRead;
  m.write_blk = NbdWrite;
  m.flush = NbdFlush;
  m.write_byte = NbdWriteByte;
  m.set_option = NbdSetOption;
  m.read_blk64 = NbdRead64;
  m.write_blk64 = NbdWrite64;
  return m;
}();

errcode_t NbdOpen(const char* name, int flags, io_channel* channel) {
  if (flags & IO_FLAG_RW) return EXT2_ET_RO_FILSYS;
  Reader* h = nullptr;
  {
    std::lock_guard lock(images_mu);
    auto it = images.find(name);
    if (it == images.end()) return EXT2_ET_BAD_DEVICE_NAME;
    h = it->second;
  }
  io_channel io = nullptr;
  if (errcode_t e = ext2fs_get_memzero(sizeof(struct struct_io_channel), &io)) return e;
  if (errcode_t e = ext2fs_get_mem(std::strlen(name) + 1, &io->name)) {
    ext2fs_free_mem(&io);
    return e;
  }
  std::strcpy(io->name, name);
  io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
  io->manager = &nbd_manager;
  io->block_size = 1024;
  io->refcount = 1;
  io->private_data = h;
  *channel = io;
  return 0;
}

// Read-only; a bad checksum does not stop the read (the guest wrote the
// bytes; what counts is what its kernel would use).
constexpr int kOpenFlags = EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS;

// One image, served read-only by its own qemu-nbd (force-share: the VM may
// hold the top open for writing), with its ext4 opened on top.
class Image {
 public:
  ~Image() {
    if (fs_) ext2fs_close_free(&fs_);
    {
      std::lock_guard lock(images_mu);
      images.erase(key_);
    }
    nbd_close(h_);  // ends qemu-nbd
  }
  static Result<std::unique_ptr<Image>> Open(const std::string& path) {
    static int serial = 0;
    std::unique_ptr<Image> img(new Image());
    img->h_ = nbd_create();
    if (!img->h_) return Status(Code::kInternal, std::string("libnbd: ") + nbd_get_error());
    std::string escaped;  // QEMU's option syntax doubles commas
    for (char c : path) escaped += c == ',' ? std::string(",,") : std::string(1, c);
    std::string opts = "driver=qcow2,file.driver=file,file.filename=" + escaped + ",force-share=on";
    std::string a0 = "qemu-nbd", a1 = "-r", a2 = "--image-opts";
    char* argv[] = {a0.data(), a1.data(), a2.data(), opts.data(), nullptr};
    if (nbd_connect_systemd_socket_activation(img->h_, argv) == -1) {
      return Status(Code::kInternal,
                    "reading " + path + " (qemu-nbd): " + std::string(nbd_get_error()));
    }
    {
      std::lock_guard lock(images_mu);
      img->key_ = "nbd-" + std::to_string(++serial);
      img->reader_ = std::make_unique<Reader>(img->h_);
      images[img->key_] = img->reader_.get();
    }
    errcode_t e =
        ext2fs_open2(img->key_.c_str(), nullptr, kOpenFlags, 0, 0, &nbd_manager, &img->fs_);
    if (e) {
      img->fs_ = nullptr;
      return Status(Code::kFailedPrecondition,
                    "the file system in " + path + " cannot be read: " + error_message(e));
    }
    // The journal's committed changes, as the guest's next boot would
    // replay them: opened again through them (the superblock may be one).
    auto overlay = ReadJournal(img->fs_);
    if (!overlay.empty()) {
      img->journaled_ = overlay.size();
      for (const auto& [block, copy] : overlay) img->journal_blocks_.push_back(block);
      img->reader_->SetOverlay(std::move(overlay), img->fs_->blocksize);
      ext2fs_close_free(&img->fs_);
      e = ext2fs_open2(img->key_.c_str(), nullptr, kOpenFlags, 0, 0, &nbd_manager, &img->fs_);
      if (e) {
        img->fs_ = nullptr;
        return Status(Code::kFailedPrecondition,
                      "the file system in " + path +
                          " cannot be read with its journal replayed: " + error_message(e));
      }
    }
    return img;
  }
  ext2_filsys fs() const { return fs_; }
  size_t journaled() const { return journaled_; }  // blocks taken from the journal
  const std::vector<uint64_t>& journal_blocks() const { return journal_blocks_; }

 private:
  Image() = default;
  nbd_handle* h_ = nullptr;
  std::unique_ptr<Reader> reader_;
  std::string key_;
  ext2_filsys fs_ = nullptr;
  size_t journaled_ = 0;
  std::vector<uint64_t> journal_blocks_;
};

// ---- what changed in the chain ----------------------------------------------

// Byte ranges [start, end), sorted, merged.
class Ranges {
 public:
  void Add(uint64_t start, uint64_t length) { r_.push_back({start, start + length}); }
  void Seal() {
    std::sort(r_.begin(), r_.end());
    std::vector<std::pair<uint64_t, uint64_t>> merged;
    for (const auto& r : r_) {
      if (!merged.empty() && r.first <= merged.back().second) {
        merged.back().second = std::max(merged.back().second, r.second);
      } else {
        merged.push_back(r);
      }
    }
    r_ = std::move(merged);
  }
  bool Touches(uint64_t start, uint64_t length) const {
    auto it = std::upper_bound(r_.begin(), r_.end(), std::make_pair(start, UINT64_MAX));
    if (it != r_.begin() && std::prev(it)->second > start) return true;
    return it != r_.end() && it->first < start + length;
  }
  uint64_t Bytes() const {
    uint64_t n = 0;
    for (const auto& r : r_) n += r.second - r.first;
    return n;
  }
  bool empty() const { return r_.empty(); }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> r_;
};

Result<nlohmann::json> QemuImgJson(std::vector<std::string> args) {
  args.insert(args.begin(), "qemu-img");
  auto run = RunCommand(args);
  if (!run.ok()) return Status(Code::kInternal, "qemu-img: " + run.status().message());
  auto j = nlohmann::json::parse(run.value(), nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    return Status(Code::kInternal, "qemu-img's answer is not a JSON array");
  }
  return j;
}

// The ranges of `top` held by the layers above `old` in its chain.
Result<Ranges> ChangedRanges(const std::string& old_image, const std::string& top) {
  auto chain = QemuImgJson({"info", "-U", "--backing-chain", "--output=json", top});
  if (!chain.ok()) return chain.status();
  int depth = -1;
  for (size_t i = 0; i < chain->size(); ++i) {
    const auto& f = (*chain)[i];
    if (f.is_object() && f.value("filename", "") == old_image) depth = static_cast<int>(i);
  }
  if (depth < 0) {
    return Status(Code::kFailedPrecondition, old_image + " is not below " + top + " any more");
  }
  Ranges changed;
  if (depth == 0) return changed;
  auto map = QemuImgJson({"map", "-U", "--output=json", top});
  if (!map.ok()) return map.status();
  for (const auto& e : *map) {
    if (!e.is_object() || !e.value("present", false)) continue;
    if (e.value("depth", depth) < depth) {
      changed.Add(e.value("start", uint64_t{0}), e.value("length", uint64_t{0}));
    }
  }
  changed.Seal();
  return changed;
}

// ---- the file systems -------------------------------------------------------

// What one diff may spend, whatever the guest built: files, path bytes, and
// steps (directory entries and blocks visited, empty ones too).
struct Budget {
  uint64_t files = kMaxDiffFiles;
  uint64_t path_bytes = 256ull << 20;
  uint64_t steps = 50'000'000;
  bool Step() { return steps > 0 && --steps > 0; }
};

struct Walked {
  std::map<std::string, ext2_ino_t> files;  // path -> inode
  bool cut = false;
  std::vector<std::string> unreadable;  // folders whose entries could not all be read
};

Walked Walk(ext2_filsys fs, Budget* budget) {
  Walked out;
  struct Dir {
    ext2_ino_t ino;
    std::string path;
    int depth;
  };
  std::vector<Dir> todo = {{EXT2_ROOT_INO, "", 0}};
  std::set<ext2_ino_t> seen_dirs = {EXT2_ROOT_INO};
  out.files["/"] = EXT2_ROOT_INO;
  while (!todo.empty()) {
    Dir d = std::move(todo.back());
    todo.pop_back();
    struct Ctx {
      ext2_filsys fs;
      Dir* dir;
      Walked* out;
      std::vector<Dir>* todo;
      std::set<ext2_ino_t>* seen;
      Budget* budget;
      bool aborted = false;
    } ctx{fs, &d, &out, &todo, &seen_dirs, budget};
    auto each = [](ext2_ino_t, int, struct ext2_dir_entry* e, int, int, char*, void* p) -> int {
      auto* c = static_cast<Ctx*>(p);
      if (!c->budget->Step()) {
        c->out->cut = c->aborted = true;
        return DIRENT_ABORT;
      }
      const int n = ext2fs_dirent_name_len(e);
      std::string name(e->name, static_cast<size_t>(n));
      if (name == "." || name == ".." || e->inode == 0) return 0;
      const size_t bytes = c->dir->path.size() + 1 + name.size();
      if (bytes > 4096) {
        c->out->cut = true;
        return 0;
      }
      if (c->budget->files == 0 || c->budget->path_bytes < bytes) {
        c->out->cut = c->aborted = true;
        return DIRENT_ABORT;
      }
      --c->budget->files;
      c->budget->path_bytes -= bytes;
      std::string path = c->dir->path + "/" + name;
      c->out->files[path] = e->inode;
      ext2_inode inode;
      if (ext2fs_read_inode(c->fs, e->inode, &inode) == 0 && LINUX_S_ISDIR(inode.i_mode)) {
        if (c->dir->depth + 1 >= 64) {
          c->out->cut = true;
        } else if (c->seen->insert(e->inode).second) {  // a loop in a broken tree ends here
          c->todo->push_back({e->inode, path, c->dir->depth + 1});
        }
      }
      return 0;
    };
    const errcode_t e =
        ext2fs_dir_iterate2(fs, d.ino, DIRENT_FLAG_INCLUDE_EMPTY, nullptr, each, &ctx);
    if (ctx.aborted) break;
    if (e != 0) {  // a block of it unreadable: what came after it is not seen
      out.cut = true;
      if (out.unreadable.size() < 100) out.unreadable.push_back(d.path.empty() ? "/" : d.path);
    }
  }
  return out;
}

struct InodeBytes {
  std::vector<unsigned char> raw;
  ext2_inode_large* get() { return reinterpret_cast<ext2_inode_large*>(raw.data()); }
};

bool ReadInode(ext2_filsys fs, ext2_ino_t ino, InodeBytes* out) {
  const int size = EXT2_INODE_SIZE(fs->super);
  out->raw.assign(static_cast<size_t>(std::max<int>(size, sizeof(ext2_inode_large))), 0);
  return ext2fs_read_inode_full(fs, ino, reinterpret_cast<ext2_inode*>(out->raw.data()), size) == 0;
}

// The inode as it matters: all of it but the access time and the checksums.
std::vector<unsigned char> Significant(InodeBytes in, int inode_size) {
  auto blank = [&](size_t off, size_t n) {
    if (off + n <= static_cast<size_t>(inode_size)) std::memset(in.raw.data() + off, 0, n);
  };
  blank(offsetof(ext2_inode_large, i_atime), 4);
  blank(offsetof(ext2_inode_large, osd2.linux2.l_i_checksum_lo), 2);
  blank(offsetof(ext2_inode_large, i_checksum_hi), 2);
  blank(offsetof(ext2_inode_large, i_atime_extra), 4);
  in.raw.resize(static_cast<size_t>(inode_size));
  return in.raw;
}

// Whether the file's bytes (or its block map) differ in the changed ranges.
// A map that cannot be walked, or a walk past the budget, counts as differing.
bool BlocksDiffer(ext2_filsys old_fs, ext2_filsys new_fs, ext2_ino_t ino, const Ranges& changed,
                  Budget* budget) {
  struct Ctx {
    ext2_filsys old_fs, new_fs;
    ext2_ino_t ino;
    const Ranges* changed;
    Budget* budget;
    bool differ = false;
    std::vector<char> a, b;
  } ctx{old_fs, new_fs, ino, &changed, budget, false, {}, {}};
  const size_t bs = new_fs->blocksize;
  ctx.a.resize(bs);
  ctx.b.resize(bs);
  auto each = [](ext2_filsys fs, blk64_t* blk, e2_blkcnt_t logical, blk64_t, int, void* p) -> int {
    auto* c = static_cast<Ctx*>(p);
    const uint64_t bs = fs->blocksize;
    if (!c->budget->Step()) {
      c->differ = true;
      return BLOCK_ABORT;
    }
    if (!c->changed->Touches(*blk * bs, bs)) return 0;
    blk64_t old_blk = *blk;
    if (logical >= 0) {  // data: the same logical block of the old file
      if (ext2fs_bmap2(c->old_fs, c->ino, nullptr, nullptr, 0, static_cast<blk64_t>(logical),
                       nullptr, &old_blk) != 0 ||
          old_blk != *blk) {
        c->differ = true;
        return BLOCK_ABORT;
      }
    }
    if (io_channel_read_blk64(c->old_fs->io, old_blk, 1, c->a.data()) != 0 ||
        io_channel_read_blk64(fs->io, *blk, 1, c->b.data()) != 0 || c->a != c->b) {
      c->differ = true;
      return BLOCK_ABORT;
    }
    return 0;
  };
  if (ext2fs_block_iterate3(new_fs, ino, BLOCK_FLAG_READ_ONLY, nullptr, each, &ctx) != 0) {
    return true;
  }
  return ctx.differ;
}

DiskChange Describe(DiskChange::Kind kind, const std::string& path, ext2_filsys fs,
                    ext2_ino_t ino) {
  DiskChange c;
  c.kind = kind;
  c.path = path;
  InodeBytes in;
  if (ReadInode(fs, ino, &in)) {
    c.mode = in.get()->i_mode;
    c.uid = inode_uid(*in.get());
    c.gid = inode_gid(*in.get());
    c.size = EXT2_I_SIZE(in.get());
  }
  return c;
}

}  // namespace

const char* DiskChangeKindName(DiskChange::Kind k) {
  switch (k) {
    case DiskChange::Kind::kAdded:
      return "added";
    case DiskChange::Kind::kRemoved:
      return "removed";
    case DiskChange::Kind::kChanged:
      break;
  }
  return "changed";
}

Result<DiskDiff> DiffDisks(const std::string& old_image, const std::string& new_image) {
  DiskDiff diff;
  auto changed = ChangedRanges(old_image, new_image);
  if (!changed.ok()) return changed.status();
  diff.changed_bytes = changed->Bytes();
  if (changed->empty()) return diff;  // not a byte differs
  auto old_img = Image::Open(old_image);
  if (!old_img.ok()) return old_img.status();
  auto new_img = Image::Open(new_image);
  if (!new_img.ok()) return new_img.status();
  ext2_filsys old_fs = (*old_img)->fs(), new_fs = (*new_img)->fs();
  diff.journal_blocks = (*old_img)->journaled() + (*new_img)->journaled();
  // A block the journal replaces is a changed one too (compared, not assumed).
  for (const auto* img : {&*old_img, &*new_img}) {
    for (uint64_t block : (*img)->journal_blocks())
      changed->Add(block * new_fs->blocksize, new_fs->blocksize);
  }
  changed->Seal();
  Budget old_budget, new_budget;
  Walked before = Walk(old_fs, &old_budget);
  Walked after = Walk(new_fs, &new_budget);
  diff.cut = before.cut || after.cut;
  diff.unreadable = after.unreadable;
  diff.unreadable.insert(diff.unreadable.end(), before.unreadable.begin(), before.unreadable.end());
  diff.files_walked = before.files.size() + after.files.size();
  const int old_isize = EXT2_INODE_SIZE(old_fs->super), new_isize = EXT2_INODE_SIZE(new_fs->super);
  auto a = before.files.begin();
  auto b = after.files.begin();
  while (a != before.files.end() || b != after.files.end()) {
    if (diff.changes.size() >= kMaxDiffChanges) {
      diff.cut = true;
      break;
    }
    if (b == after.files.end() || (a != before.files.end() && a->first < b->first)) {
      diff.changes.push_back(Describe(DiskChange::Kind::kRemoved, a->first, old_fs, a->second));
      ++a;
      continue;
    }
    if (a == before.files.end() || b->first < a->first) {
      diff.changes.push_back(Describe(DiskChange::Kind::kAdded, b->first, new_fs, b->second));
      ++b;
      continue;
    }
    InodeBytes was, is;
    bool differ = a->second != b->second || !ReadInode(old_fs, a->second, &was) ||
                  !ReadInode(new_fs, b->second, &is);
    bool directory = false;
    if (!differ) {
      directory = LINUX_S_ISDIR(is.get()->i_mode);
      if (directory) {
        // A folder's entries show as their own changes: only its mode and owner count.
        differ = was.get()->i_mode != is.get()->i_mode ||
                 inode_uid(*was.get()) != inode_uid(*is.get()) ||
                 inode_gid(*was.get()) != inode_gid(*is.get());
      } else {
        // A fast symlink or inline data is all in the inode.
        const bool in_inode = ext2fs_is_fast_symlink(reinterpret_cast<ext2_inode*>(is.get())) ||
                              (is.get()->i_flags & EXT4_INLINE_DATA_FL) != 0;
        differ = Significant(was, old_isize) != Significant(is, new_isize) ||
                 (!in_inode && BlocksDiffer(old_fs, new_fs, b->second, *changed, &new_budget));
      }
    }
    if (differ) {
      DiskChange c = Describe(DiskChange::Kind::kChanged, b->first, new_fs, b->second);
      InodeBytes prior;
      if (ReadInode(old_fs, a->second, &prior)) c.old_mode = prior.get()->i_mode;
      diff.changes.push_back(std::move(c));
    }
    ++a;
    ++b;
  }
  return diff;
}

}  // namespace ws::store
