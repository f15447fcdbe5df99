#pragma once
// Differences between the supported torch versions (2.4 and newer), in one place.
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#define NAIRRCORE_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||            \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

#if !NAIRRCORE_TORCH_AT_LEAST(2, 4)
#error "nairrcore needs torch 2.4 or newer"
#endif

namespace nairrcore::compat {

// Device-generic autocast switches arrived in 2.4 and the per-device
// spellings (set_cpu_enabled, set_autocast_gpu_dtype, ...) are deprecated since.
inline void set_autocast(c10::DeviceType device, bool enabled, c10::ScalarType dtype) {
  at::autocast::set_autocast_enabled(device, enabled);
  if (enabled) at::autocast::set_autocast_dtype(device, dtype);
}

inline bool autocast_enabled(c10::DeviceType device) {
  return at::autocast::is_autocast_enabled(device);
}

inline c10::ScalarType autocast_dtype(c10::DeviceType device) {
  return at::autocast::get_autocast_dtype(device);
}

// Autocast state for one device, restored on scope exit.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, bool enabled, c10::ScalarType dtype)
      : device_(device),
        was_enabled_(autocast_enabled(device)),
        old_dtype_(autocast_dtype(device)) {
    set_autocast(device, enabled, dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_autocast(device_, was_enabled_, old_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool was_enabled_;
  c10::ScalarType old_dtype_;
};

}  // namespace nairrcore::compat
