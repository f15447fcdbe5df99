#include "common/large_alloc.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace nairrcore {

void* alloc_huge_pages(size_t bytes) {
  const size_t rounded = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  void* p = std::aligned_alloc(kHugePageBytes, rounded);
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without THP it is ordinary memory
#endif
  return p;
}

at::Tensor empty_large(at::IntArrayRef sizes, at::ScalarType dtype) {
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  const size_t bytes = static_cast<size_t>(numel) * at::elementSize(dtype);
  if (bytes < 8 * kHugePageBytes) return at::empty(sizes, dtype);
  return at::from_blob(alloc_huge_pages(bytes), sizes, [](void* q) { std::free(q); },
                       at::TensorOptions().dtype(dtype));
}

}  // namespace nairrcore
