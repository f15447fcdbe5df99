#include "distributed/data_parallel.h"

#include <torch/utils.h>

#include "common/errors.h"

namespace nairrcore::dist {

void DataParallel::configure(std::shared_ptr<Group> g, double mb) {
  NAIRR_CHECK_ARG(mb > 0, "bucket_mb: expected > 0, got " + std::to_string(mb));
  group = std::move(g);
  bucket_mb = mb;
  weights_synced = false;
}

int64_t DataParallel::local_batch(int64_t global_batch) const {
  if (!group) return global_batch;
  NAIRR_CHECK_ARG(global_batch % group->size() == 0,
                  "batch_size: the global batch " + std::to_string(global_batch) + " must divide evenly over " +
                      std::to_string(group->size()) + " ranks");
  return global_batch / group->size();
}

void DataParallel::sync_weights(torch::nn::Module& model) {
  if (!group || weights_synced) return;
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors;
  for (auto& p : model.parameters()) tensors.push_back(p.detach());
  for (auto& b : model.buffers()) tensors.push_back(b.detach());
  group->broadcast_(tensors, 0);
  weights_synced = true;
}

void DataParallel::sync_buffers(torch::nn::Module& model) {
  if (!group) return;
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors;
  for (auto& b : model.buffers())
    if (at::isFloatingType(b.scalar_type())) tensors.push_back(b.detach());
  if (!tensors.empty()) group->broadcast_(tensors, 0);
}

std::unique_ptr<GradientSync> DataParallel::gradient_sync(const std::vector<at::Tensor>& params) {
  if (!group) return nullptr;
  return std::make_unique<GradientSync>(params, *group, bucket_mb);
}

std::vector<double> DataParallel::sum(const std::vector<double>& values, c10::Device device) {
  auto t = at::tensor(values, at::kDouble).to(device);
  std::vector<at::Tensor> one{t};
  group->allreduce_sum_(one);
  auto host = one[0].cpu().contiguous();
  return std::vector<double>(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
}

}  // namespace nairrcore::dist
