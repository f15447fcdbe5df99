#pragma once
// A background thread sampling, about once per interval, the CPU use and RSS
// of this process (or of another process and its descendants: a notebook's
// kernel or a user's command, watched from outside) and, where NVML is
// present, every GPU's utilisation, memory, power and energy counter, each
// row tagged with the phase the caller last set.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "telemetry/nvml.h"

namespace nairrcore::telemetry {

struct Sample {
  double time_unix = 0;
  double elapsed_sec = 0;
  std::string phase;
  double cpu_percent = 0;  // of one core, summed over threads (and watched processes)
  int64_t rss_bytes = 0;
  std::vector<GpuReading> gpus;
};

class Sampler {
 public:
  // ``pid`` 0: this process; else that process and its descendants.
  explicit Sampler(double interval_sec = 1.0, int pid = 0);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  void start();
  // Stops the thread after one last sample; returns every row.
  std::vector<Sample> stop();
  // One sample now, besides the periodic ones (a watched step's end, so even a
  // step shorter than the interval has a row).
  void sample_now();
  void set_phase(const std::string& phase);
  std::string phase() const;
  bool gpu_available() const { return nvml_.available(); }
  const std::string& gpu_absent_reason() const { return nvml_.reason(); }
  std::vector<std::string> gpu_names() const { return nvml_.device_names(); }

 private:
  void run();
  // (CPU seconds so far, RSS now) of what is watched.
  std::pair<double, int64_t> read_process() const;

  double interval_;
  int pid_;
  Nvml nvml_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
  bool stopping_ = false;
  std::string phase_ = "idle";
  std::vector<Sample> rows_;
  double t0_wall_ = 0, t0_mono_ = 0, last_mono_ = 0, last_cpu_ = 0;
};

}  // namespace nairrcore::telemetry
