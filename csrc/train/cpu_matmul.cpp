#include "train/cpu_matmul.h"

#include <ATen/Context.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>

#include <atomic>
#include <cstdlib>

#include "common/errors.h"

// Declared with TORCH_API in ATen/native/mkldnn/Matmul.h, a header the wheels
// do not ship: result = beta * result + alpha * (mat1 @ mat2) through oneDNN.
namespace at::native {
TORCH_API void mkldnn_matmul(const Tensor& mat1, const Tensor& mat2, const Tensor& result, float beta, float alpha);
}

namespace nairrcore::train {

namespace {
CpuMatmul default_backend() {
  // Python chooses per processor by measurement (training/cpu_library.py); this is the start.
  if (!at::hasMKLDNN()) return CpuMatmul::Blas;
#if defined(__x86_64__)
  return CpuMatmul::OneDnn;
#else
  return CpuMatmul::Blas;  // oneDNN's JIT GEMMs were measured on x86-64 only
#endif
}

std::atomic<int>& backend_slot() {
  static std::atomic<int> slot{static_cast<int>(default_backend())};
  return slot;
}
}  // namespace

CpuMatmul cpu_matmul() { return static_cast<CpuMatmul>(backend_slot().load(std::memory_order_relaxed)); }

void set_cpu_matmul(CpuMatmul backend) {
  NAIRR_CHECK_ARG(backend == CpuMatmul::Blas || at::hasMKLDNN(),
                  "cpu_matmul: this torch build has no oneDNN; use 'blas'");
  backend_slot().store(static_cast<int>(backend), std::memory_order_relaxed);
}

CpuMatmul parse_cpu_matmul(const std::string& name) {
  if (name == "onednn") return CpuMatmul::OneDnn;
  if (name == "blas") return CpuMatmul::Blas;
  NAIRR_CHECK_ARG(false, "cpu_matmul: expected 'onednn' or 'blas', got '" + name + "'");
  return CpuMatmul::Blas;
}

std::string cpu_matmul_name(CpuMatmul backend) { return backend == CpuMatmul::OneDnn ? "onednn" : "blas"; }

at::Tensor cpu_matmul_product(const at::Tensor& a, const at::Tensor& b) {
  NAIRR_CHECK_ARG(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0) && a.is_cpu() && b.is_cpu() &&
                      a.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat,
                  "cpu_matmul_product: expected fp32 CPU matrices [m, k] and [k, n]");
  auto out = at::empty({a.size(0), b.size(1)}, a.options());
  if (cpu_matmul() == CpuMatmul::OneDnn) {
    at::native::mkldnn_matmul(a, b, out, /*beta=*/0.f, /*alpha=*/1.f);
  } else {
    at::mm_out(out, a, b);
  }
  return out;
}

bool cpu_fp32_rows(const at::Tensor& x) {
  return x.is_cpu() && x.dim() == 2 && x.scalar_type() == at::kFloat &&
         !compat::autocast_enabled(c10::DeviceType::CPU);
}

}  // namespace nairrcore::train
