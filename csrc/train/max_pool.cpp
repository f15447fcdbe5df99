#include "train/max_pool.h"

#include <ATen/ATen.h>

namespace nairrcore::train {

at::Tensor max_pool_2x2(const at::Tensor& x) {
  return max_pool_2x2_cuda_fits(x) ? max_pool_2x2_cuda(x) : at::max_pool2d(x, {2, 2});
}

}  // namespace nairrcore::train
