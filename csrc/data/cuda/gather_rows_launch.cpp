// Tensor-level wrapper of the CUDA gather kernel (compiled with CUDA only).
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include "common/errors.h"
#include "data/gather.h"

namespace nairrcore::data {
namespace cuda {
cudaError_t launch_gather_rows_pair(const float* a, int64_t cols_a, const float* b, int64_t cols_b,
                                    const int64_t* index, int64_t n, float* out_a, float* out_b,
                                    cudaStream_t stream);
}

bool cuda_kernels_available() { return true; }

void gather_rows_pair_cuda(const at::Tensor& a, const at::Tensor& b, const at::Tensor& index,
                           at::Tensor& out_a, at::Tensor& out_b) {
  for (const at::Tensor* t : {&a, &b, static_cast<const at::Tensor*>(&out_a), static_cast<const at::Tensor*>(&out_b)}) {
    NAIRR_CHECK_ARG(t->is_cuda() && t->scalar_type() == at::kFloat && t->dim() == 2 &&
                        t->is_contiguous(),
                    "gather_rows_pair_cuda: expected contiguous 2-D float32 CUDA tensors");
  }
  NAIRR_CHECK_ARG(index.is_cuda() && index.scalar_type() == at::kLong,
                  "gather_rows_pair_cuda: index must be int64 on the GPU");
  const int64_t n = index.numel();
  auto stream = c10::cuda::getCurrentCUDAStream(a.device().index());
  auto err = cuda::launch_gather_rows_pair(a.data_ptr<float>(), a.size(1), b.data_ptr<float>(),
                                           b.size(1), index.data_ptr<int64_t>(), n,
                                           out_a.data_ptr<float>(), out_b.data_ptr<float>(),
                                           stream.stream());
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("gather_rows_pair_cuda: ") + cudaGetErrorString(err));
  }
}

}  // namespace nairrcore::data
