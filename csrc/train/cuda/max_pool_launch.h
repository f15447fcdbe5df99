#pragma once
// Launchers of the GPU 2x2 max-pool kernels (max_pool.cu), on raw pointers so
// the .cu needs no ATen tensor headers.
#include <cuda_runtime.h>

#include <cstdint>

#include "train/cuda/norm_gelu_dropout_launch.h"  // RowType

namespace nairrcore::train::cuda {

// x: [n, h, w, c] (NHWC, i.e. a channels-last NCHW tensor), h and w >= 2;
// out: [n, h/2, w/2, c] (floor); which: one byte per output value, the window position
// (0..3, row-major) that won, for backward.
struct MaxPool2x2 {
  RowType type;
  const void* x;
  void* out;
  uint8_t* which;
  int64_t n;
  int h, w, c;
};

struct MaxPool2x2Backward {
  RowType type;
  const void* dout;
  const uint8_t* which;
  void* dx;  // every window written: the winner gets dout, the other three 0
  int64_t n;
  int h, w, c;
};

cudaError_t launch_max_pool_2x2(const MaxPool2x2& args, cudaStream_t stream);
cudaError_t launch_max_pool_2x2_backward(const MaxPool2x2Backward& args, cudaStream_t stream);

}  // namespace nairrcore::train::cuda
