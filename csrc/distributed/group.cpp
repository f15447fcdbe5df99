#include "distributed/group.h"

#include <torch/csrc/distributed/c10d/GroupRegistry.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

#include "common/errors.h"

namespace nairrcore::dist {

namespace {
using PgPtr = c10::intrusive_ptr<c10d::ProcessGroup>;
using WorkPtr = c10::intrusive_ptr<c10d::Work>;

c10d::ProcessGroup& pg_of(const std::shared_ptr<void>& holder) {
  return **static_cast<PgPtr*>(holder.get());
}
}  // namespace

Group::Group(const std::string& name, std::chrono::milliseconds timeout) : timeout_(timeout) {
  PgPtr pg;
  try {
    pg = c10d::resolve_process_group(name);
  } catch (const c10::Error& e) {
    throw ConfigError("distributed: no process group named '" + name +
                      "' (call nairrcore.dist.init() first): " + e.what_without_backtrace());
  }
  rank_ = pg->getRank();
  size_ = pg->getSize();
  pg_ = std::shared_ptr<void>(new PgPtr(std::move(pg)), [](void* p) { delete static_cast<PgPtr*>(p); });
}

void Group::wait(const std::shared_ptr<void>& work, const char* what) {
  auto& w = *static_cast<WorkPtr*>(work.get());
  try {
    w->wait(timeout_);
  } catch (const std::exception& e) {
    throw DistError("distributed: " + std::string(what) + " failed on rank " + std::to_string(rank_) + " of " +
                    std::to_string(size_) + " (a peer died, or did not answer within " +
                    std::to_string(timeout_.count() / 1000) + " s): " + e.what());
  }
}

std::shared_ptr<void> Group::allreduce_sum_async(at::Tensor& tensor) {
  std::vector<at::Tensor> one{tensor};
  WorkPtr work;
  try {
    work = pg_of(pg_).allreduce(one);
  } catch (const std::exception& e) {
    throw DistError("distributed: all-reduce failed to start on rank " + std::to_string(rank_) + ": " + e.what());
  }
  return std::shared_ptr<void>(new WorkPtr(std::move(work)), [](void* p) { delete static_cast<WorkPtr*>(p); });
}

void Group::allreduce_sum_(std::vector<at::Tensor>& tensors) {
  for (auto& t : tensors) wait(allreduce_sum_async(t), "all-reduce");
}

void Group::broadcast_(std::vector<at::Tensor>& tensors, int root) {
  for (auto& t : tensors) {
    // collectives want dense row-major memory (parameters may be channels_last)
    std::vector<at::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    WorkPtr work;
    try {
      work = pg_of(pg_).broadcast(one, opts);
    } catch (const std::exception& e) {
      throw DistError("distributed: broadcast failed to start on rank " + std::to_string(rank_) + ": " + e.what());
    }
    wait(std::shared_ptr<void>(new WorkPtr(std::move(work)), [](void* p) { delete static_cast<WorkPtr*>(p); }),
         "broadcast");
    if (!one[0].is_same(t)) t.copy_(one[0]);
  }
}

}  // namespace nairrcore::dist
