#include "telemetry/nvml.h"

#include <dlfcn.h>

namespace nairrcore::telemetry {

namespace {
// The few NVML declarations used, from nvml.h (stable C ABI).
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned int gpu, memory;
};
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
constexpr nvmlReturn_t NVML_SUCCESS = 0;
}  // namespace

struct Nvml::Api {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*count)(unsigned int*) = nullptr;
  nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int*) = nullptr;
  nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long*) = nullptr;  // optional: Volta and newer
};

template <typename Fn>
static bool bind(void* lib, const char* name, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  return fn != nullptr;
}

Nvml::Nvml() : api_(std::make_unique<Api>()) {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    reason_ = "libnvidia-ml.so.1 not found (no NVIDIA driver)";
    return;
  }
  Api& a = *api_;
  const bool ok = bind(lib, "nvmlInit_v2", a.init) && bind(lib, "nvmlShutdown", a.shutdown) &&
                  bind(lib, "nvmlDeviceGetCount_v2", a.count) &&
                  bind(lib, "nvmlDeviceGetHandleByIndex_v2", a.handle) &&
                  bind(lib, "nvmlDeviceGetName", a.name) &&
                  bind(lib, "nvmlDeviceGetUtilizationRates", a.utilization) &&
                  bind(lib, "nvmlDeviceGetMemoryInfo", a.memory) &&
                  bind(lib, "nvmlDeviceGetPowerUsage", a.power);
  bind(lib, "nvmlDeviceGetTotalEnergyConsumption", a.energy);
  if (!ok) {
    reason_ = "libnvidia-ml.so.1 lacks the expected functions";
    dlclose(lib);
    return;
  }
  if (a.init() != NVML_SUCCESS) {
    reason_ = "nvmlInit failed (driver not loaded?)";
    dlclose(lib);
    return;
  }
  unsigned int n = 0;
  if (a.count(&n) != NVML_SUCCESS || n == 0) {
    reason_ = "NVML sees no GPU";
    a.shutdown();
    dlclose(lib);
    return;
  }
  handle_ = lib;
  count_ = static_cast<int>(n);
}

Nvml::~Nvml() {
  if (handle_ != nullptr) {
    api_->shutdown();
    dlclose(handle_);
  }
}

std::vector<std::string> Nvml::device_names() const {
  std::vector<std::string> names;
  for (int i = 0; i < count_; ++i) {
    nvmlDevice_t dev = nullptr;
    char buf[96] = {0};
    if (api_->handle(i, &dev) == NVML_SUCCESS && api_->name(dev, buf, sizeof(buf)) == NVML_SUCCESS) {
      names.emplace_back(buf);
    } else {
      names.emplace_back("");
    }
  }
  return names;
}

std::vector<GpuReading> Nvml::read() const {
  std::vector<GpuReading> out;
  for (int i = 0; i < count_; ++i) {
    GpuReading r;
    r.index = i;
    nvmlDevice_t dev = nullptr;
    if (api_->handle(i, &dev) != NVML_SUCCESS) {
      out.push_back(r);
      continue;
    }
    nvmlUtilization_t u{};
    if (api_->utilization(dev, &u) == NVML_SUCCESS) r.util_percent = u.gpu;
    nvmlMemory_t m{};
    if (api_->memory(dev, &m) == NVML_SUCCESS) {
      r.mem_used_bytes = static_cast<int64_t>(m.used);
      r.mem_total_bytes = static_cast<int64_t>(m.total);
    }
    unsigned int mw = 0;
    if (api_->power(dev, &mw) == NVML_SUCCESS) r.power_w = mw / 1000.0;
    unsigned long long mj = 0;
    if (api_->energy != nullptr && api_->energy(dev, &mj) == NVML_SUCCESS) r.energy_j = mj / 1000.0;
    out.push_back(r);
  }
  return out;
}

}  // namespace nairrcore::telemetry
