#pragma once
// Tensors of hundreds of MB that are written once, row by row: backed by
// transparent huge pages where the kernel offers them (madvise mode), which
// cuts the page faults of first touch by 512x. Small tensors use ATen's allocator.
#include <ATen/ATen.h>

namespace nairrcore {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

at::Tensor empty_large(at::IntArrayRef sizes, at::ScalarType dtype);

// `bytes` rounded up to whole huge pages, aligned to one and advised as huge;
// release with std::free.
void* alloc_huge_pages(size_t bytes);

}  // namespace nairrcore
