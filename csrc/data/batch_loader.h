#pragma once
// The batching engine shared by the tabular and image loaders: the epoch's
// sample order (epoch_order()), and two ways to turn it into batches:
//  - resident: the data already lives on the target device; each batch is
//    made there by the subclass (a gather, an augmentation), no threads.
//  - streamed: worker threads fill (pinned) host buffers, copy them
//    asynchronously to the device and keep `prefetch` batches ready.
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
  int workers = 1;    // streamed mode: filling threads
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

class BatchLoader {
 public:
  virtual ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int64_t num_batches() const;
  int64_t num_samples() const;  // samples this rank visits per epoch (incl. padding)
  bool resident() const { return resident_; }
  // Streamed mode: host batch buffers allocated so far. The pool reuses them:
  // at most prefetch + 2 over any number of epochs (the batches made ahead, the one
  // handed out, the one the consumer still holds), unless the caller keeps more.
  int64_t host_allocations() const { return host_allocations_.load(); }
  // Streamed mode: worker threads started and not yet joined (0 after stop()).
  int64_t worker_threads() const { return static_cast<int64_t>(workers_.size()); }
  c10::Device device() const { return device_; }
  const LoaderOptions& options() const { return opt_; }

  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  LoaderState state() const;
  void load_state(const LoaderState& state);

  // Starts (or restarts) iteration at the stored position.
  void begin();
  // Next batch, or false at the end of the epoch. `poll` is called about every
  // 100 ms while waiting and may throw to abort (e.g. on Ctrl-C); the workers
  // are stopped and joined before the exception leaves.
  bool next(Batch& out, const std::function<void()>& poll = {});
  // Stops the worker threads; safe to call at any time. Subclasses call it
  // first in their destructor, before the members the workers use go away.
  void stop();

 protected:
  BatchLoader(int64_t rows, c10::Device device, LoaderOptions options);
  // Called once by the subclass constructor.
  void set_mode(bool resident);
  // Host buffer for one batch: pinned when copying to a GPU.
  at::Tensor host_buffer(at::IntArrayRef shape, at::ScalarType dtype) const;
  int64_t batch_rows(int64_t b) const;

  // Streamed mode: allocate x/y buffers for a full batch on first use, then
  // fill their first `n` rows with samples `index[0..n)`. Runs on worker threads.
  virtual void alloc_host(at::Tensor& hx, at::Tensor& hy) = 0;
  virtual void fill_host(const int64_t* index, int64_t n, at::Tensor& hx, at::Tensor& hy) = 0;
  // Resident mode: batch of samples `index` (int64 on the device, and the same
  // on the host) made on the device.
  virtual void make_resident(const at::Tensor& index, const int64_t* host_index, int64_t n,
                             Batch& out) = 0;
  // Before the workers of an epoch start: per-epoch preparation.
  virtual void prepare_epoch(int64_t /*epoch*/) {}

 private:
  struct Slot {
    at::Tensor hx, hy;
    std::shared_ptr<void> ticket;
  };
  struct Ready {
    Batch batch;
    Slot slot;
  };

  void worker_loop();
  Slot take_slot();
  void release_slot(Slot slot);
  void produce(int64_t b, Slot& slot, Batch& batch);

  int64_t rows_;
  c10::Device device_;
  LoaderOptions opt_;
  bool resident_ = true;
  std::unique_ptr<DeviceCopy> copier_;

  int64_t epoch_ = 0;
  int64_t position_ = 0;  // next batch the consumer receives
  std::shared_ptr<const std::vector<int64_t>> order_;
  at::Tensor order_device_;

  std::vector<std::thread> workers_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<int64_t, Ready> ready_;
  std::vector<Slot> free_slots_;  // oldest first; some may still be held by a caller
  std::atomic<int64_t> host_allocations_{0};
  Slot in_use_;
  bool has_in_use_ = false;
  int64_t next_to_produce_ = 0;
  bool stopping_ = false;
  bool running_ = false;
  std::exception_ptr error_;
  int64_t error_batch_ = 0;  // the earliest batch a worker failed on
};

}  // namespace nairrcore::data
