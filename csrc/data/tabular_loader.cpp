#include "data/tabular_loader.h"

#include <string>

#include "common/errors.h"
#include "data/gather.h"

namespace nairrcore::data {

namespace {
int64_t checked_rows(const at::Tensor& x, const at::Tensor& y, c10::Device device) {
  NAIRR_CHECK_ARG(x.dim() == 2 && y.dim() == 2,
                  "loader: x and y must be 2-D, got x" + std::to_string(x.dim()) + "-D and y" +
                      std::to_string(y.dim()) + "-D");
  NAIRR_CHECK_ARG(x.size(0) == y.size(0), "loader: x has " + std::to_string(x.size(0)) +
                                              " rows but y has " + std::to_string(y.size(0)));
  NAIRR_CHECK_ARG(x.scalar_type() == at::kFloat && y.scalar_type() == at::kFloat,
                  "loader: x and y must be float32");
  NAIRR_CHECK_ARG(x.device() == y.device(), "loader: x and y must be on the same device");
  NAIRR_CHECK_ARG(x.is_cpu() || x.device() == device,
                  "loader: data on " + x.device().str() + " cannot feed device " + device.str());
  return x.size(0);
}
}  // namespace

TabularLoader::TabularLoader(at::Tensor x, at::Tensor y, c10::Device device, LoaderOptions options)
    : BatchLoader(checked_rows(x, y, device), device, options),
      x_(x.contiguous()),
      y_(y.contiguous()) {
  set_mode(x_.is_cuda() || options.workers == 0);
}

void TabularLoader::alloc_host(at::Tensor& hx, at::Tensor& hy) {
  hx = host_buffer({options().batch_size, x_.size(1)}, at::kFloat);
  hy = host_buffer({options().batch_size, y_.size(1)}, at::kFloat);
}

void TabularLoader::fill_host(const int64_t* index, int64_t n, at::Tensor& hx, at::Tensor& hy) {
  gather_rows_cpu(x_, index, n, hx);
  gather_rows_cpu(y_, index, n, hy);
}

void TabularLoader::make_resident(const at::Tensor& index, const int64_t* host_index, int64_t n,
                                  Batch& out) {
  out.x = at::empty({n, x_.size(1)}, x_.options());
  out.y = at::empty({n, y_.size(1)}, y_.options());
  if (!x_.is_cuda()) {
    gather_rows_cpu(x_, host_index, n, out.x);
    gather_rows_cpu(y_, host_index, n, out.y);
  } else if (cuda_kernels_available()) {
    gather_rows_pair_cuda(x_, y_, index, out.x, out.y);
  } else {
    out.x = x_.index_select(0, index);
    out.y = y_.index_select(0, index);
  }
}

}  // namespace nairrcore::data
