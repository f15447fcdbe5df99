#include "data/tabular_loader.h"

#include <chrono>
#include <string>

#include "common/errors.h"
#include "data/gather.h"

namespace nairrcore::data {

void LoaderOptions::validate(int64_t rows) const {
  shard.validate();
  NAIRR_CHECK_ARG(batch_size >= 1, "batch_size: expected >= 1, got " + std::to_string(batch_size));
  const int64_t per_rank = shard_size(rows, shard);
  NAIRR_CHECK_ARG(batch_size <= per_rank,
                  "batch_size: " + std::to_string(batch_size) + " is larger than the " +
                      std::to_string(per_rank) + " rows available to this rank");
  NAIRR_CHECK_ARG(workers >= 0, "workers: expected >= 0, got " + std::to_string(workers));
  NAIRR_CHECK_ARG(prefetch >= 1, "prefetch: expected >= 1, got " + std::to_string(prefetch));
}

TabularLoader::TabularLoader(at::Tensor x, at::Tensor y, c10::Device device, LoaderOptions options)
    : x_(std::move(x)), y_(std::move(y)), device_(device), opt_(options) {
  NAIRR_CHECK_ARG(x_.dim() == 2 && y_.dim() == 2,
                  "loader: x and y must be 2-D, got x" + std::to_string(x_.dim()) + "-D and y" +
                      std::to_string(y_.dim()) + "-D");
  NAIRR_CHECK_ARG(x_.size(0) == y_.size(0), "loader: x has " + std::to_string(x_.size(0)) +
                                                " rows but y has " + std::to_string(y_.size(0)));
  NAIRR_CHECK_ARG(x_.scalar_type() == at::kFloat && y_.scalar_type() == at::kFloat,
                  "loader: x and y must be float32");
  NAIRR_CHECK_ARG(x_.device() == y_.device(), "loader: x and y must be on the same device");
  NAIRR_CHECK_ARG(x_.is_cpu() || x_.device() == device_,
                  "loader: data on " + x_.device().str() + " cannot feed device " + device_.str());
  x_ = x_.contiguous();
  y_ = y_.contiguous();
  opt_.validate(x_.size(0));
  resident_ = x_.is_cuda() || opt_.workers == 0;
  if (!resident_ && device_.is_cuda()) copier_ = make_cuda_copy(device_);
}

TabularLoader::~TabularLoader() { stop(); }

int64_t TabularLoader::num_samples() const { return shard_size(x_.size(0), opt_.shard); }

int64_t TabularLoader::num_batches() const {
  const int64_t n = num_samples();
  return opt_.drop_last ? n / opt_.batch_size : (n + opt_.batch_size - 1) / opt_.batch_size;
}

int64_t TabularLoader::batch_rows(int64_t b) const {
  return std::min(opt_.batch_size, num_samples() - b * opt_.batch_size);
}

void TabularLoader::set_epoch(int64_t epoch) {
  stop();
  epoch_ = epoch;
  position_ = 0;
}

LoaderState TabularLoader::state() const { return {opt_.seed, epoch_, position_}; }

void TabularLoader::load_state(const LoaderState& state) {
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

void TabularLoader::begin() {
  stop();
  order_ = std::make_shared<const std::vector<int64_t>>(
      epoch_order(x_.size(0), opt_.shuffle, opt_.seed, epoch_, opt_.shard));
  if (x_.is_cuda()) {
    auto host = at::from_blob(const_cast<int64_t*>(order_->data()),
                              {static_cast<int64_t>(order_->size())}, at::kLong);
    order_device_ = host.to(device_);
  }
  running_ = true;
  if (resident_) return;
  next_to_produce_ = position_;
  for (int w = 0; w < opt_.workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

void TabularLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [b, r] : ready_) free_slots_.push_back(std::move(r.slot));
  ready_.clear();
  stopping_ = false;
  running_ = false;
  error_ = nullptr;
}

TabularLoader::Slot TabularLoader::take_slot() {
  // Oldest slot first; skip buffers a caller still holds a view of.
  while (!free_slots_.empty()) {
    Slot s = std::move(free_slots_.front());
    free_slots_.erase(free_slots_.begin());
    if (s.hx.storage().use_count() == 1 && s.hy.storage().use_count() == 1) return s;
  }
  return Slot{};
}

void TabularLoader::produce(int64_t b, Slot& slot, Batch& batch) {
  const int64_t rows = batch_rows(b);
  if (!slot.hx.defined()) {
    if (copier_) {
      slot.hx = copier_->alloc_host({opt_.batch_size, x_.size(1)}, at::kFloat);
      slot.hy = copier_->alloc_host({opt_.batch_size, y_.size(1)}, at::kFloat);
    } else {
      slot.hx = at::empty({opt_.batch_size, x_.size(1)}, at::kFloat);
      slot.hy = at::empty({opt_.batch_size, y_.size(1)}, at::kFloat);
    }
  } else if (copier_) {
    copier_->wait_host_free(slot.ticket);
  }
  const int64_t* idx = order_->data() + b * opt_.batch_size;
  gather_rows_cpu(x_, idx, rows, slot.hx);
  gather_rows_cpu(y_, idx, rows, slot.hy);
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

void TabularLoader::worker_loop() {
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
      if (!error_) error_ = std::current_exception();
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

bool TabularLoader::next(Batch& out, const std::function<void()>& poll) {
  if (!running_) begin();
  if (position_ >= num_batches()) {
    stop();
    position_ = 0;
    return false;
  }
  const int64_t b = position_;
  if (resident_) {
    const int64_t rows = batch_rows(b);
    if (x_.is_cuda()) {
      auto idx = order_device_.narrow(0, b * opt_.batch_size, rows);
      out.x = at::empty({rows, x_.size(1)}, x_.options());
      out.y = at::empty({rows, y_.size(1)}, y_.options());
      if (cuda_kernels_available()) {
        gather_rows_pair_cuda(x_, y_, idx, out.x, out.y);
      } else {
        out.x = x_.index_select(0, idx);
        out.y = y_.index_select(0, idx);
      }
    } else {
      out.x = at::empty({rows, x_.size(1)}, x_.options());
      out.y = at::empty({rows, y_.size(1)}, y_.options());
      gather_rows_cpu(x_, order_->data() + b * opt_.batch_size, rows, out.x);
      gather_rows_cpu(y_, order_->data() + b * opt_.batch_size, rows, out.y);
    }
    out.index = b;
    ++position_;
    return true;
  }

  Ready ready;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (has_in_use_) {
      free_slots_.push_back(std::move(in_use_));
      has_in_use_ = false;
    }
    while (true) {
      if (error_) {
        auto err = error_;
        lock.unlock();
        stop();
        std::rethrow_exception(err);
      }
      auto it = ready_.find(b);
      if (it != ready_.end()) {
        ready = std::move(it->second);
        ready_.erase(it);
        break;
      }
      if (!cv_.wait_for(lock, std::chrono::milliseconds(100), [&] {
            return error_ || ready_.count(b) > 0;
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
