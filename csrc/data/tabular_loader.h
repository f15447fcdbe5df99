#pragma once
// Batches of (x, y) row pairs for one epoch at a time, in the order given by
// epoch_order(). Two modes:
//  - resident: x and y already live on the target device; each batch is one
//    gather there (GPU: fused CUDA kernel), no threads, no host work.
//  - streamed: worker threads gather rows into (pinned) host buffers, copy
//    them asynchronously to the device and keep `prefetch` batches ready.
#include <ATen/ATen.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/device_copy.h"
#include "data/epoch_order.h"

namespace nairrcore::data {

struct LoaderOptions {
  int64_t batch_size = 8192;
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 42;
  int workers = 1;    // streamed mode: gathering threads
  int prefetch = 4;   // streamed mode: batches ready ahead of the consumer
  ShardSpec shard;
  void validate(int64_t rows) const;
};

struct Batch {
  at::Tensor x, y;
  int64_t index = -1;  // batch number within the epoch
};

struct LoaderState {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t next_batch = 0;
};

class TabularLoader {
 public:
  // x: [n, F], y: [n, T] float32. If they are on `device`, the loader runs
  // resident; if they are on the CPU and `device` is a GPU, it streams.
  TabularLoader(at::Tensor x, at::Tensor y, c10::Device device, LoaderOptions options);
  ~TabularLoader();
  TabularLoader(const TabularLoader&) = delete;
  TabularLoader& operator=(const TabularLoader&) = delete;

  int64_t num_batches() const;
  int64_t num_samples() const;  // rows this rank visits per epoch (incl. padding)
  bool resident() const { return resident_; }
  c10::Device device() const { return device_; }

  void set_epoch(int64_t epoch);
  LoaderState state() const;
  void load_state(const LoaderState& state);

  // Starts (or restarts) iteration at the stored position.
  void begin();
  // Next batch, or false at the end of the epoch. `poll` is called about every
  // 100 ms while waiting and may throw to abort (e.g. on Ctrl-C).
  bool next(Batch& out, const std::function<void()>& poll = {});
  // Stops the worker threads; safe to call at any time.
  void stop();

 private:
  struct Slot {
    at::Tensor hx, hy;          // host buffers
    std::shared_ptr<void> ticket;
  };
  struct Ready {
    Batch batch;
    Slot slot;
  };

  void worker_loop();
  int64_t batch_rows(int64_t b) const;
  Slot take_slot();
  void produce(int64_t b, Slot& slot, Batch& batch);

  at::Tensor x_, y_;
  c10::Device device_;
  LoaderOptions opt_;
  bool resident_;
  std::unique_ptr<DeviceCopy> copier_;

  int64_t epoch_ = 0;
  int64_t position_ = 0;  // next batch the consumer receives
  std::shared_ptr<const std::vector<int64_t>> order_;
  at::Tensor order_device_;  // resident mode on a GPU

  // streamed-mode state
  std::vector<std::thread> workers_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<int64_t, Ready> ready_;
  std::vector<Slot> free_slots_;
  Slot in_use_;
  bool has_in_use_ = false;
  int64_t next_to_produce_ = 0;
  bool stopping_ = false;
  bool running_ = false;
  std::exception_ptr error_;
};

}  // namespace nairrcore::data
