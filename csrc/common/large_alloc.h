#pragma once
// Tensors of hundreds of MB that are written once, row by row: backed by
// transparent huge pages where the kernel offers them (madvise mode), which
// cuts the page faults of first touch by 512x. Small tensors use ATen's allocator.
#include <ATen/ATen.h>

namespace nairrcore {

at::Tensor empty_large(at::IntArrayRef sizes, at::ScalarType dtype);

}  // namespace nairrcore
