#include "common/cpu_block_cache.h"

#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/errors.h"
#include "common/large_alloc.h"

namespace nairrcore {

namespace {
constexpr size_t kMinBytes = size_t{1} << 20;
constexpr size_t kGranule = size_t{64} << 10;
// Beyond this much idle cached memory, freed blocks go back to the system (a
// loop whose tensor sizes keep changing must not pile them up).
constexpr size_t kMaxFreeBytes = size_t{4} << 30;

class BlockCache final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    if (n < kMinBytes) return fallback_->allocate(n);
    const size_t granule = n < kHugePageBytes ? kGranule : kHugePageBytes;
    const size_t size = (n + granule - 1) / granule * granule;
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& blocks = free_[size];
      if (!blocks.empty()) {
        p = blocks.back();
        blocks.pop_back();
        free_bytes_ -= size;
      }
    }
    if (p == nullptr) p = fresh_block(size);
    std::lock_guard<std::mutex> lock(mutex_);
    live_[p] = size;
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // Context and data are the same pointer, so raw_allocate() works too.
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }

  // Installs the cache unless another allocator has replaced ATen's default
  // (it is then left alone).
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (scopes_++ == 0) {
      fallback_ = c10::GetCPUAllocator();
      installed_ = fallback_ == c10::GetDefaultCPUAllocator();
      if (installed_) c10::SetCPUAllocator(this);
    }
  }

  void close() {
    std::vector<void*> drop;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--scopes_ > 0) return;
      if (installed_) c10::SetCPUAllocator(fallback_);
      installed_ = false;
      for (auto& [size, blocks] : free_) drop.insert(drop.end(), blocks.begin(), blocks.end());
      free_.clear();
      free_bytes_ = 0;
    }
    for (void* p : drop) std::free(p);
  }

  long long free_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<long long>(free_bytes_);
  }

  static BlockCache& instance() {
    static BlockCache* cache = new BlockCache();  // outlives every tensor it hands out
    return *cache;
  }

 private:
  static void* fresh_block(size_t size) {
    if (size >= kHugePageBytes) return alloc_huge_pages(size);
    void* p = std::aligned_alloc(4096, size);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }

  static void release(void* p) {
    BlockCache& c = instance();
    {
      std::lock_guard<std::mutex> lock(c.mutex_);
      auto it = c.live_.find(p);
      if (it == c.live_.end()) {
        // raw_allocate() of the replaced allocator (oneDNN's scratchpads) handed back to us
        c10::GetDefaultCPUAllocator()->raw_deleter()(p);
        return;
      }
      const size_t size = it->second;
      c.live_.erase(it);
      if (c.scopes_ > 0 && c.free_bytes_ + size <= kMaxFreeBytes) {
        c.free_[size].push_back(p);
        c.free_bytes_ += size;
        return;
      }
    }
    std::free(p);
  }

  std::mutex mutex_;
  int scopes_ = 0;
  bool installed_ = false;
  c10::Allocator* fallback_ = nullptr;
  std::unordered_map<size_t, std::vector<void*>> free_;
  std::unordered_map<void*, size_t> live_;
  size_t free_bytes_ = 0;
};

std::atomic<bool>& enabled_slot() {
  static std::atomic<bool> slot{true};  // Python sets it from RunOptions.cpu_block_cache
  return slot;
}
}  // namespace

bool cpu_block_cache_enabled() { return enabled_slot().load(std::memory_order_relaxed); }
void set_cpu_block_cache_enabled(bool enabled) { enabled_slot().store(enabled, std::memory_order_relaxed); }

CpuBlockCacheScope::CpuBlockCacheScope(bool wanted) : opened_(wanted && cpu_block_cache_enabled()) {
  if (opened_) BlockCache::instance().open();
}
CpuBlockCacheScope::~CpuBlockCacheScope() {
  if (opened_) BlockCache::instance().close();
}

long long cpu_block_cache_free_bytes() { return BlockCache::instance().free_bytes(); }

}  // namespace nairrcore
