// Memory that starts in 4 KB pages and is moved into 2 MB pages in the background: the loader's repacked weights
// and the KV caches. Where use_huge_pages() (core/huge_pages.hpp) allows, start_huge_pages() has a thread of the
// lowest priority make each 2 MB resident (MADV_POPULATE_WRITE, which writes nothing: a page already there stays
// as it is, a new one is zero) and move it into one 2 MB page (MADV_COLLAPSE, Linux 6.1+), 2 MB at a time, whenever
// no forward pass anywhere in the process has run for kIdleMs. The bytes never change, only the pages under them.
//
// Why not 2 MB pages from the start: on VMs that give free memory back to their host (virtio-balloon free page
// reporting, which reports free blocks of 2 MB and more) a fresh 2 MB page is faulted in from the host at its first
// touch, 4-5 ms each on the 2-core Intel VM: a 2B-4T model's 520 MB of panels took 1.0-1.3 s to load, while 4 KB
// pages, which come from memory the guest still holds, took 0.2 s, and its first 8-token prompt took 0.33-0.42 s
// with the KV cache in 2 MB pages against 0.06 s in 4 KB pages. Read from 2 MB pages, the same weights generate
// 5-9% faster (fewer TLB misses), so the move is worth its background work.
//
// Why only while idle: each 2 MB moved holds the process's memory map locked for a few ms (page faults wait) and
// takes a CPU; moving beside a one-off generation made its first prompt 1.4-2.5x as slow. A process that generates
// without a pause keeps its 4 KB pages; a server or a chat moves them between requests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace bitnet {

class HugePageBuffer {
  struct Mover;

 public:
  HugePageBuffer();
  explicit HugePageBuffer(size_t n);            // n bytes, not initialized, 2 MB aligned; throws std::bad_alloc
  ~HugePageBuffer();                            // stops the move to 2 MB pages (within one 2 MB step) before freeing
  HugePageBuffer(HugePageBuffer&& o) noexcept;  // the move to 2 MB pages goes with the bytes; o is left empty
  HugePageBuffer& operator=(HugePageBuffer&& o) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // Starts moving the buffer into 2 MB pages on a thread of its own (once; nothing where huge pages are off, the
  // kernel lacks MADV_COLLAPSE, or the buffer has no whole 2 MB). The buffer may be in use meanwhile.
  void start_huge_pages();

  struct HugePages {
    int64_t moved = 0;         // 2 MB steps now in 2 MB pages
    int64_t total = 0;         // whole 2 MB steps of the buffer (0 when none was started)
    double ms = 0;             // how long the move took, from start_huge_pages
    bool unsupported = false;  // the kernel refused MADV_COLLAPSE (Linux before 6.1, or THP off for the process)
  };
  // Waits for the move to end and says how it went. Not while a Use is held, which would hold the move back forever.
  HugePages wait_huge_pages();
  int64_t moved() const;  // 2 MB steps moved so far, without waiting

  static constexpr int kIdleMs = 50;
  // Marks a time of using such buffers (a forward pass), from construction to destruction, for the whole process:
  // no 2 MB step of any buffer's move starts during it, nor until kIdleMs after it (one under way as it begins runs
  // to its end, a few ms). Any thread.
  class Use {
   public:
    Use();
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
  };

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::unique_ptr<Mover> mover_;
};

}  // namespace bitnet
