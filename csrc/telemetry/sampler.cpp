#include "telemetry/sampler.h"

#include <algorithm>
#include <chrono>

#include "telemetry/host_stats.h"

namespace nairrcore::telemetry {

namespace {
double mono_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

Sampler::Sampler(double interval_sec, int pid) : interval_(interval_sec), pid_(pid) {}

std::pair<double, int64_t> Sampler::read_process() const {
  if (pid_ != 0) {
    const TreeStats t = read_tree_stats(pid_);
    return {t.cpu_sec, t.rss_bytes};
  }
  const HostStats s = read_host_stats();
  return {s.cpu_user_sec + s.cpu_system_sec, s.rss_bytes};
}

Sampler::~Sampler() { stop(); }

void Sampler::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable()) return;
  t0_wall_ = wall_now();
  t0_mono_ = last_mono_ = mono_now();
  last_cpu_ = read_process().first;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void Sampler::sample_now() {
  Sample s;
  const double mono = mono_now();
  const auto [cpu, rss] = read_process();
  s.time_unix = wall_now();
  s.elapsed_sec = mono - t0_mono_;
  s.rss_bytes = rss;
  if (nvml_.available()) s.gpus = nvml_.read();
  std::lock_guard<std::mutex> lock(mutex_);
  // A watched child that exits before its parent waits for it takes its CPU time along: never below 0.
  s.cpu_percent = std::max(0.0, 100.0 * (cpu - last_cpu_) / std::max(mono - last_mono_, 1e-9));
  last_mono_ = mono;
  last_cpu_ = cpu;
  s.phase = phase_;
  rows_.push_back(std::move(s));
}

void Sampler::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!cv_.wait_for(lock, std::chrono::duration<double>(interval_), [this] { return stopping_; })) {
    lock.unlock();
    sample_now();
    lock.lock();
  }
}

std::vector<Sample> Sampler::stop() {
  bool was_running = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    was_running = thread_.joinable();
  }
  cv_.notify_all();
  if (was_running) {
    thread_.join();
    sample_now();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return rows_;
}

void Sampler::set_phase(const std::string& phase) {
  std::lock_guard<std::mutex> lock(mutex_);
  phase_ = phase;
}

std::string Sampler::phase() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return phase_;
}

}  // namespace nairrcore::telemetry
