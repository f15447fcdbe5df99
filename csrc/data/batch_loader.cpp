#include "data/batch_loader.h"

#include <chrono>
#include <string>

#include "common/errors.h"

namespace nairrcore::data {

void LoaderOptions::validate(int64_t rows) const {
  shard.validate();
  NAIRR_CHECK_ARG(batch_size >= 1, "batch_size: expected >= 1, got " + std::to_string(batch_size));
  const int64_t per_rank = shard_size(rows, shard);
  NAIRR_CHECK_ARG(batch_size <= per_rank,
                  "batch_size: " + std::to_string(batch_size) + " is larger than the " +
                      std::to_string(per_rank) + " samples available to this rank");
  NAIRR_CHECK_ARG(workers >= 0, "workers: expected >= 0, got " + std::to_string(workers));
  NAIRR_CHECK_ARG(prefetch >= 1, "prefetch: expected >= 1, got " + std::to_string(prefetch));
}

BatchLoader::BatchLoader(int64_t rows, c10::Device device, LoaderOptions options)
    : rows_(rows), device_(device), opt_(options) {
  NAIRR_CHECK_ARG(rows > 0, "loader: the data set is empty");
  opt_.validate(rows_);
}

BatchLoader::~BatchLoader() { stop(); }

void BatchLoader::set_mode(bool resident) {
  resident_ = resident;
  if (!resident_ && device_.is_cuda()) copier_ = make_cuda_copy(device_);
}

at::Tensor BatchLoader::host_buffer(at::IntArrayRef shape, at::ScalarType dtype) const {
  return copier_ ? copier_->alloc_host(shape, dtype) : at::empty(shape, dtype);
}

int64_t BatchLoader::num_samples() const { return shard_size(rows_, opt_.shard); }

int64_t BatchLoader::num_batches() const {
  const int64_t n = num_samples();
  return opt_.drop_last ? n / opt_.batch_size : (n + opt_.batch_size - 1) / opt_.batch_size;
}

int64_t BatchLoader::batch_rows(int64_t b) const {
  return std::min(opt_.batch_size, num_samples() - b * opt_.batch_size);
}

void BatchLoader::set_epoch(int64_t epoch) {
  stop();
  epoch_ = epoch;
  position_ = 0;
}

LoaderState BatchLoader::state() const { return {opt_.seed, epoch_, position_}; }

void BatchLoader::load_state(const LoaderState& state) {
  NAIRR_CHECK_ARG(state.seed == opt_.seed, "load_state: state was saved with seed " +
                                               std::to_string(state.seed) + ", loader has " +
                                               std::to_string(opt_.seed));
  NAIRR_CHECK_ARG(state.next_batch >= 0 && state.next_batch <= num_batches(),
                  "load_state: next_batch " + std::to_string(state.next_batch) + " outside 0.." +
                      std::to_string(num_batches()));
  stop();
  epoch_ = state.epoch;
  position_ = state.next_batch;
}

void BatchLoader::begin() {
  stop();
  order_ = std::make_shared<const std::vector<int64_t>>(
      epoch_order(rows_, opt_.shuffle, opt_.seed, epoch_, opt_.shard));
  auto host = at::from_blob(const_cast<int64_t*>(order_->data()),
                            {static_cast<int64_t>(order_->size())}, at::kLong);
  order_device_ = resident_ && device_.is_cuda() ? host.to(device_) : host;
  prepare_epoch(epoch_);
  running_ = true;
  if (resident_) return;
  next_to_produce_ = position_;
  for (int w = 0; w < opt_.workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

void BatchLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [b, r] : ready_) release_slot(std::move(r.slot));
  ready_.clear();
  stopping_ = false;
  running_ = false;
  error_ = nullptr;
}

BatchLoader::Slot BatchLoader::take_slot() {
  // The oldest buffer no caller holds a view of; a held one (the batch the
  // consumer is still working on) stays in the pool until it is let go.
  for (auto it = free_slots_.begin(); it != free_slots_.end(); ++it) {
    if (it->hx.storage().use_count() == 1 && it->hy.storage().use_count() == 1) {
      Slot s = std::move(*it);
      free_slots_.erase(it);
      return s;
    }
  }
  return Slot{};
}

void BatchLoader::release_slot(Slot slot) {
  free_slots_.push_back(std::move(slot));
  // A caller keeping many batches (list(loader)) owns their memory; the pool
  // forgets the oldest instead of growing with them.
  const size_t limit = static_cast<size_t>(opt_.prefetch + opt_.workers) + 2;
  if (free_slots_.size() > limit) free_slots_.erase(free_slots_.begin());
}

void BatchLoader::produce(int64_t b, Slot& slot, Batch& batch) {
  const int64_t rows = batch_rows(b);
  if (!slot.hx.defined()) {
    alloc_host(slot.hx, slot.hy);
    ++host_allocations_;
  } else if (copier_) {
    copier_->wait_host_free(slot.ticket);
  }
  fill_host(order_->data() + b * opt_.batch_size, rows, slot.hx, slot.hy);
  auto hx = slot.hx.narrow(0, 0, rows);
  auto hy = slot.hy.narrow(0, 0, rows);
  if (copier_) {
    std::tie(batch.x, batch.y) = copier_->start(hx, hy, slot.ticket);
  } else {
    batch.x = hx;
    batch.y = hy;
  }
  batch.index = b;
}

void BatchLoader::worker_loop() {
  const int64_t total = num_batches();
  while (true) {
    int64_t b;
    Slot slot;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] {
        return stopping_ || next_to_produce_ >= total ||
               next_to_produce_ < position_ + opt_.prefetch;
      });
      if (stopping_ || next_to_produce_ >= total) return;
      b = next_to_produce_++;
      slot = take_slot();
    }
    Ready ready;
    try {
      produce(b, slot, ready.batch);
      ready.slot = std::move(slot);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_ || b < error_batch_) {
        error_ = std::current_exception();
        error_batch_ = b;
      }
      cv_.notify_all();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(b, std::move(ready));
    }
    cv_.notify_all();
  }
}

bool BatchLoader::next(Batch& out, const std::function<void()>& poll) {
  if (!running_) begin();
  if (position_ >= num_batches()) {
    stop();
    position_ = 0;
    return false;
  }
  const int64_t b = position_;
  if (resident_) {
    const int64_t rows = batch_rows(b);
    make_resident(order_device_.narrow(0, b * opt_.batch_size, rows),
                  order_->data() + b * opt_.batch_size, rows, out);
    out.index = b;
    ++position_;
    return true;
  }

  Ready ready;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (has_in_use_) {
      release_slot(std::move(in_use_));
      has_in_use_ = false;
    }
    while (true) {
      // Batches made before a worker failed are still handed out in order.
      auto it = ready_.find(b);
      if (it != ready_.end()) {
        ready = std::move(it->second);
        ready_.erase(it);
        break;
      }
      if (error_ && b >= error_batch_) {
        auto err = error_;
        lock.unlock();
        stop();
        std::rethrow_exception(err);
      }
      if (!cv_.wait_for(lock, std::chrono::milliseconds(100), [&] {
            return (error_ && b >= error_batch_) || ready_.count(b) > 0;
          })) {
        if (poll) {
          lock.unlock();
          try {
            poll();
          } catch (...) {
            stop();
            throw;
          }
          lock.lock();
        }
      }
    }
    ++position_;
    in_use_ = std::move(ready.slot);
    has_in_use_ = true;
  }
  cv_.notify_all();
  if (copier_) copier_->hand_over(ready.batch.x, ready.batch.y, in_use_.ticket);
  out = std::move(ready.batch);
  return true;
}

}  // namespace nairrcore::data
