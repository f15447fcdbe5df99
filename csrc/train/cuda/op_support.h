#pragma once
// What the autograd functions around nairrcore's training kernels share
// (norm_gelu_dropout_op.cpp, max_pool_op.cpp). Compiled with CUDA only.
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "train/cuda/norm_gelu_dropout_launch.h"  // RowType

namespace nairrcore::train::cuda {

inline RowType row_type(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return RowType::kBFloat16;
    case at::kHalf: return RowType::kHalf;
    default: return RowType::kFloat;
  }
}

// The stream torch's current work on t's device goes to.
inline cudaStream_t stream_of(const at::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

inline void check_launch(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

}  // namespace nairrcore::train::cuda
