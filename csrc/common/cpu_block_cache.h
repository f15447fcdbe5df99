#pragma once
// While a CpuBlockCacheScope is alive, CPU tensors of 1 MiB and more come from
// blocks that are kept for reuse when freed instead of going back to glibc.
// A training step frees and allocates the same sizes every step; through
// glibc, whose dynamic mmap and trim thresholds sit right at those sizes, the
// forecasting MLP's step paid ~10,000 page faults and trained 30% slower
// (the ablation in bench/forecasting.py). ATen's own allocator serves
// everything smaller, and everything once the last scope closes, when the
// cached blocks are released.
namespace nairrcore {

class CpuBlockCacheScope {
 public:
  // Opens the cache when `wanted` (the loop trains on the CPU) and the cache is enabled.
  explicit CpuBlockCacheScope(bool wanted = true);
  ~CpuBlockCacheScope();
  CpuBlockCacheScope(const CpuBlockCacheScope&) = delete;
  CpuBlockCacheScope& operator=(const CpuBlockCacheScope&) = delete;

 private:
  bool opened_;
};

// On by default; Python sets it from RunOptions.cpu_block_cache, the
// setter both. Scopes opened while it is off do nothing.
bool cpu_block_cache_enabled();
void set_cpu_block_cache_enabled(bool enabled);

// Bytes held in free cached blocks (for tests and telemetry).
long long cpu_block_cache_free_bytes();

}  // namespace nairrcore
