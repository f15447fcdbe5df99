#include <cstring>

#include "common/errors.h"
#include "data/gather.h"

namespace nairrcore::data {

void gather_rows_cpu(const at::Tensor& src, const int64_t* index, int64_t n, at::Tensor& out) {
  NAIRR_CHECK_ARG(src.dim() == 2 && src.is_contiguous(), "gather: src must be 2-D contiguous");
  NAIRR_CHECK_ARG(out.dim() == 2 && out.size(0) >= n && out.size(1) == src.size(1) &&
                      out.scalar_type() == src.scalar_type() && out.is_contiguous(),
                  "gather: out must be contiguous [>=n, cols] of src's dtype");
  const size_t row_bytes = src.size(1) * src.element_size();
  const auto* base = static_cast<const char*>(src.data_ptr());
  auto* dst = static_cast<char*>(out.data_ptr());
  const int64_t rows = src.size(0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = index[i];
    NAIRR_CHECK_ARG(r >= 0 && r < rows, "gather: index " + std::to_string(r) + " out of range");
    std::memcpy(dst + i * row_bytes, base + r * row_bytes, row_bytes);
  }
}

}  // namespace nairrcore::data
