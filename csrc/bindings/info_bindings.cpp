#include <ATen/Config.h>
#include <ATen/Parallel.h>

#include "bindings/bindings.h"
#include "common/cpu_block_cache.h"
#include "common/intra_op.h"
#include "data/gather.h"
#include "telemetry/host_stats.h"
#include "train/cpu_matmul.h"

namespace nairrcore::bindings {

namespace {

py::dict build_info() {
  py::dict d;
  d["version"] = NAIRRCORE_VERSION;
  d["torch_version"] = NAIRRCORE_TORCH_VERSION;
  d["cuda"] = data::cuda_kernels_available();
  d["cuda_version"] = NAIRRCORE_CUDA_VERSION;
  d["cuda_architectures"] = NAIRRCORE_CUDA_ARCHS;
  d["nccl"] = static_cast<bool>(NAIRRCORE_WITH_NCCL);
  d["nccl_version"] = NAIRRCORE_NCCL_VERSION;
  d["openmp"] = static_cast<bool>(AT_PARALLEL_OPENMP);
  d["compiler"] = NAIRRCORE_COMPILER;
  d["cxx11_abi"] = static_cast<bool>(_GLIBCXX_USE_CXX11_ABI);
  d["build_type"] = NAIRRCORE_BUILD_TYPE;
  return d;
}

}  // namespace

void bind_info(py::module_& m) {
  m.def("build_info", &build_info, "What this build of the core was compiled with.");
  m.def("intra_op_threads_used", &intra_op_threads_used, py::arg("n"),
        "Threads torch's at::parallel_for used for n items, compiled as the core's CPU kernels are.");
  m.def("cpu_matmul", [] { return train::cpu_matmul_name(train::cpu_matmul()); },
        "The library for fp32 CPU matrix products in nairrcore's layers: 'onednn' or 'blas'.");
  m.def("set_cpu_matmul", [](const std::string& name) { train::set_cpu_matmul(train::parse_cpu_matmul(name)); },
        py::arg("name"));
  m.def("cpu_block_cache", &cpu_block_cache_enabled,
        "Whether a CPU fit() keeps freed blocks of 1 MiB and more for reuse.");
  m.def("set_cpu_block_cache", &set_cpu_block_cache_enabled, py::arg("enabled"));
  m.def("cpu_matmul_product", &train::cpu_matmul_product, py::arg("a"), py::arg("b"),
        py::call_guard<py::gil_scoped_release>(), "a @ b through the selected CPU matrix library (benchmarks).");
  m.def("host_stats", [] {
    auto s = telemetry::read_host_stats();
    py::dict d;
    d["rss_bytes"] = s.rss_bytes;
    d["peak_rss_bytes"] = s.peak_rss_bytes;
    d["cpu_user_sec"] = s.cpu_user_sec;
    d["cpu_system_sec"] = s.cpu_system_sec;
    return d;
  });
}

}  // namespace nairrcore::bindings
