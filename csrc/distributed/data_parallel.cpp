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

void DataParallel::reduce_epoch(train::EpochStats& st, double loss_total, c10::Device device) {
  if (!group) return;
  const int n = group->size();
  std::vector<double> v(2 + n, 0.0);
  v[0] = loss_total;
  v[1] = static_cast<double>(st.train_samples);
  v[2 + group->rank()] = st.train_sec;
  auto total = sum(v, device);
  st.train_samples = static_cast<int64_t>(total[1]);
  st.train_loss = total[0] / std::max(total[1], 1.0);
  st.rank_train_sec.assign(total.begin() + 2, total.end());
  st.train_sec = *std::max_element(st.rank_train_sec.begin(), st.rank_train_sec.end());
  st.samples_per_sec = st.train_samples / std::max(st.train_sec, 1e-12);
}

}  // namespace nairrcore::dist
