// Stand-ins used when the package is built without CUDA.
#include "common/errors.h"
#include "data/device_copy.h"
#include "data/gather.h"

namespace nairrcore::data {

bool cuda_kernels_available() { return false; }

void gather_rows_pair_cuda(const at::Tensor&, const at::Tensor&, const at::Tensor&, at::Tensor&,
                           at::Tensor&) {
  throw ConfigError("this nairrcore build has no CUDA kernels; rebuild with a CUDA toolkit");
}

std::unique_ptr<DeviceCopy> make_cuda_copy(c10::Device device) {
  throw ConfigError("device " + device.str() + " requested, but this nairrcore build has no CUDA support");
}

}  // namespace nairrcore::data
