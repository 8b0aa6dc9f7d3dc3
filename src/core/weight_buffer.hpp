// Memory for weights written once at load and read at every token after: the loader's repacked codes. Its pages
// come 4 KB at a time, and then, where use_huge_pages() (core/huge_pages.hpp) allows, a thread of the lowest
// priority puts them in 2 MB pages (MADV_COLLAPSE, Linux 6.1+) 2 MB at a time, whenever nothing has read the buffer
// for kIdleMs: the bytes never change, only the pages under them. Only while idle, because each 2 MB moved holds
// the process's memory map locked for a few ms (page faults wait) and takes a CPU: started beside a one-off
// generation it made the prompt twice as slow and the tokens 5% slower; a process that generates without a pause
// keeps its 4 KB pages, and a server or a chat moves them between requests.
//
// Why not 2 MB pages from the start: on VMs that give free memory back to their host (virtio-balloon free page
// reporting, which reports free blocks of 2 MB and more) a fresh 2 MB page is faulted in from the host at its first
// touch, 4-5 ms each on the 2-core Intel VM, so a 2B-4T model's 520 MB of panels took 1.05-1.35 s to load, while
// 4 KB pages, which come from memory the guest already holds, took 0.2 s. Read from 2 MB pages, the same weights
// generate 5-9% faster than from 4 KB ones (fewer TLB misses), so the move is worth its background work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace bitnet {

class WeightBuffer {
  struct Mover;

 public:
  WeightBuffer();
  explicit WeightBuffer(size_t n);          // n bytes, not initialized, 2 MB aligned; throws std::bad_alloc
  ~WeightBuffer();                          // stops the move to 2 MB pages (within one 2 MB step) before freeing
  WeightBuffer(WeightBuffer&& o) noexcept;  // the move to 2 MB pages goes with the bytes; o is left empty
  WeightBuffer& operator=(WeightBuffer&& o) noexcept;
  WeightBuffer(const WeightBuffer&) = delete;
  WeightBuffer& operator=(const WeightBuffer&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // Starts moving the buffer into 2 MB pages on a thread of its own (once; nothing where huge pages are off, the
  // kernel lacks MADV_COLLAPSE, or the buffer has no whole 2 MB). The buffer must be written by then.
  void start_huge_pages();

  static constexpr int kIdleMs = 50;
  // Marks a time of reading the buffer (a forward pass), from construction to destruction: no 2 MB step of the
  // move starts during it, nor until kIdleMs after it (one under way as it begins runs to its end, a few ms). Any
  // thread; marks nothing before start_huge_pages().
  class Use {
   public:
    explicit Use(const WeightBuffer& b);
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    Mover* m_;
  };

  struct HugePages {
    int64_t moved = 0;         // 2 MB steps now in 2 MB pages
    int64_t total = 0;         // whole 2 MB steps of the buffer (0 when none was started)
    double ms = 0;             // how long the move took, from start_huge_pages
    bool unsupported = false;  // the kernel refused MADV_COLLAPSE (Linux before 6.1, or THP off for the process)
  };
  // Waits for the move to end and says how it went. Not while a Use is held, which would hold the move back forever.
  HugePages wait_huge_pages();
  int64_t moved() const;  // 2 MB steps moved so far, without waiting

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::unique_ptr<Mover> mover_;
};

}  // namespace bitnet
