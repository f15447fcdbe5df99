#pragma once
// 2x2, stride-2 max pooling, floor mode (the fast net's conv groups, on
// 31x31, 15x15 and 7x7 activations). On a GPU, for channels-last
// float32/bf16/fp16 activations, it
// runs nairrcore's kernels (train/cuda/max_pool.cu): one read of each window
// and a one-byte winner forward, one write of each input backward. Anything
// else goes to at::max_pool2d. Same values and gradients as at::max_pool2d,
// ties and NaN included.
#include <ATen/core/Tensor.h>

namespace nairrcore::train {

at::Tensor max_pool_2x2(const at::Tensor& x);

bool max_pool_2x2_cuda_fits(const at::Tensor& x);  // false in a build without CUDA
at::Tensor max_pool_2x2_cuda(const at::Tensor& x);

}  // namespace nairrcore::train
