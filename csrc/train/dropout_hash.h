#pragma once
// The dropout mask as a pure function of (p, key, element index): a 32-bit
// counter hash (murmur3's finaliser) that compilers vectorise. Shared by
// FastDropout, the fused norm-GELU-dropout block on the CPU and its GPU
// kernels, so all drop the same elements for the same key.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/host_device.h"

namespace nairrcore::train {

// p as a threshold on a uniform 32-bit draw: the element is dropped when its draw is below it.
inline uint32_t dropout_threshold(double p) {
  return static_cast<uint32_t>(std::min(std::llround(p * 4294967296.0), 4294967295LL));
}

struct MaskStream {
  uint32_t salt = 0, offset = 0, threshold = 0;  // (default: nothing dropped)
  float keep = 1.f;
  MaskStream() = default;
  MaskStream(double p, uint64_t key)
      : salt(static_cast<uint32_t>(key)),
        offset(static_cast<uint32_t>(key >> 32)),
        threshold(dropout_threshold(p)),
        keep(static_cast<float>(1.0 / (1.0 - p))) {}
  // A key drawn on the GPU, with the threshold and scale worked out on the host.
  NAIRR_HOST_DEVICE MaskStream(uint64_t key, uint32_t threshold_, float keep_)
      : salt(static_cast<uint32_t>(key)), offset(static_cast<uint32_t>(key >> 32)), threshold(threshold_),
        keep(keep_) {}

  // 0 or 1/(1-p) for element `index` of the tensor.
  NAIRR_HOST_DEVICE float scale(uint32_t index) const {
    uint32_t h = (index ^ offset) * 0x9E3779B9u + salt;
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h < threshold ? 0.f : keep;
  }
};

// One draw from torch's CPU generator: the key of one dropout call on a
// tensor of `numel` elements (ConfigError beyond the hash's 2^32 indices).
uint64_t draw_dropout_key(int64_t numel);

}  // namespace nairrcore::train
