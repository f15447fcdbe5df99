#include <c10/core/CPUAllocator.h>

#include <cmath>

#include "common/cpu_block_cache.h"
#include "common/errors.h"
#include "data/weather_features.h"
#include "train/dropout.h"
#include "train/cpu_matmul.h"
#include "train/forecast_trainer.h"
#include "train/gelu_parts.h"
#include "train/linear.h"
#include "train/norm_gelu_dropout.h"
#include <torch/cuda.h>
#include "test_configs.h"
#include "test_support.h"

using namespace nairrcore;
using namespace nairrcore::train;

TEST_CASE("the spec's MLP has 7,405,571 parameters", "[train]") {
  Mlp mlp(testing::spec_mlp());
  CHECK(mlp->num_parameters() == 7405571);
}

TEST_CASE("training on real data lowers validation loss and is deterministic", "[train]") {
  const auto dir = testing::weather_dir();
  auto ds = data::build_weather_dataset(dir, data::select_cities(dir, {}, 2), data::FeatureSpec{}, 2);
  MlpConfig m = testing::spec_mlp();
  m.width = 64;
  m.depth = 2;
  FitConfig f = testing::spec_fit();
  f.epochs = 2;
  f.batch_size = 256;
  f.lr = 3e-3;
  auto train_x = ds.train.x.narrow(0, 0, 40000), train_y = ds.train.y.narrow(0, 0, 40000);
  ForecastTrainer a(m, f);
  const double before = a.loss(ds.val.x, ds.val.y);
  auto hist_a = a.fit(train_x, train_y, ds.val.x, ds.val.y);
  REQUIRE(hist_a.size() == 2);
  CHECK(hist_a.back().val_loss < 0.25 * before);  // ~310 steps
  ForecastTrainer b(m, f);
  auto hist_b = b.fit(train_x, train_y, ds.val.x, ds.val.y);
  CHECK(hist_a.back().train_loss == hist_b.back().train_loss);
  auto metrics = a.evaluate(ds.test.x, ds.test.y, ds.test.city, 2);
  CHECK(metrics.mae.size() == 3);
  CHECK(metrics.mae[0] < 15.0);  // °F, far below the spread of raw temperatures
  CHECK(metrics.city_count.sum().item<int64_t>() == ds.test.x.size(0));
}

TEST_CASE("invalid training settings are rejected by name", "[train][errors]") {
  FitConfig f = testing::spec_fit();
  f.precision = "fp16";
  CHECK_THROWS_WITH(ForecastTrainer(testing::spec_mlp(), f), Catch::Contains("fp16 needs a GPU"));
  f.precision = "fp32";
  f.device = "cuda";
  if (!torch::cuda::is_available()) {
    CHECK_THROWS_WITH(ForecastTrainer(testing::spec_mlp(), f), Catch::Contains("no CUDA GPU is visible"));
  }
  f.device = "cpu";
  f.lr = -1;
  CHECK_THROWS_WITH(ForecastTrainer(testing::spec_mlp(), f), Catch::Contains("lr"));
}

TEST_CASE("fast dropout keeps 1-p of the elements, scaled, reproducibly", "[training]") {
  auto a = nairrcore::train::dropout_mask(1'000'001, 0.1, 42);
  auto b = nairrcore::train::dropout_mask(1'000'001, 0.1, 42);
  CHECK(at::equal(a, b));
  CHECK(!at::equal(a, nairrcore::train::dropout_mask(1'000'001, 0.1, 43)));
  const double dropped = a.eq(0).sum().item<double>() / a.numel();
  CHECK(dropped == Approx(0.1).margin(0.002));  // 1M draws: 4 sigma is 0.0012
  CHECK(a.max().item<float>() == Approx(1.0 / 0.9));
  nairrcore::train::FastDropout d(0.1);
  // backward regenerates the forward's mask: the gradient of sum(d(x)) is d(x)/x
  auto w = (at::rand({300, 700}) + 0.5).requires_grad_(true);
  auto y = d->forward(w);
  y.sum().backward();
  CHECK(at::allclose(w.grad(), y.detach() / w.detach()));
  CHECK(y.eq(0).sum().item<double>() / y.numel() == Approx(0.1).margin(0.005));
  auto x = at::ones({4, 5});
  d->eval();
  CHECK(at::equal(d->forward(x), x));
}

TEST_CASE("the CPU linear layer matches torch's, forward and backward, on either matmul library", "[train]") {
  const auto dir = testing::weather_dir();
  auto ds = data::build_weather_dataset(dir, data::select_cities(dir, {}, 1), data::FeatureSpec{}, 1);
  auto x = ds.train.x.narrow(0, 0, 3000).contiguous();  // standardised features of a real city
  FastLinear layer(x.size(1), 256);
  auto named = layer->named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named.contains("weight"));
  CHECK(named.contains("bias"));

  auto xr = x.clone().requires_grad_(true);
  auto ref = at::linear(xr, layer->weight, layer->bias);
  auto probe = at::randn_like(ref);  // an arbitrary upstream gradient
  (ref * probe).sum().backward();
  const auto ref_dx = xr.grad().clone(), ref_dw = layer->weight.grad().clone(), ref_db = layer->bias.grad().clone();

  const auto before = cpu_matmul();
  for (auto backend : {CpuMatmul::Blas, CpuMatmul::OneDnn}) {
    if (backend == CpuMatmul::OneDnn && !at::hasMKLDNN()) continue;
    set_cpu_matmul(backend);
    INFO(cpu_matmul_name(backend));
    layer->zero_grad();
    auto xi = x.clone().requires_grad_(true);
    auto y = cpu_linear(xi, layer->weight, layer->bias);
    (y * probe).sum().backward();
    CHECK(at::allclose(y, ref, 1e-5, 1e-5));
    CHECK(at::allclose(xi.grad(), ref_dx, 1e-5, 1e-5));
    CHECK(at::allclose(layer->weight.grad(), ref_dw, 1e-4, 1e-3));  // sums over 3000 rows
    CHECK(at::allclose(layer->bias.grad(), ref_db, 1e-4, 1e-3));
    CHECK(at::allclose(layer->forward(x), ref.detach(), 1e-5, 1e-5));
  }
  set_cpu_matmul(before);
  CHECK_THROWS_WITH(parse_cpu_matmul("mkl"), Catch::Contains("'onednn' or 'blas'"));
}

TEST_CASE("inside a block-cache scope, freed large CPU blocks are reused; outside, nothing is kept", "[train][memory]") {
  const auto big = std::vector<int64_t>{8192, 256};  // one activation of the forecasting MLP
  void* first = nullptr;
  at::Tensor survivor;
  {
    CpuBlockCacheScope scope;
    {
      auto a = at::empty(big);
      first = a.data_ptr();
      a.fill_(1.5f);
    }
    CHECK(cpu_block_cache_free_bytes() == 8192 * 256 * 4);
    auto b = at::empty(big);
    CHECK(b.data_ptr() == first);
    CHECK(cpu_block_cache_free_bytes() == 0);
    auto small = at::ones({100});
    CHECK(small.sum().item<float>() == 100.f);
    {
      CpuBlockCacheScope nested;  // a fit inside a fit keeps the cache open
    }
    b.fill_(2.f);
    survivor = b;  // outlives the scope
    void* raw = c10::GetCPUAllocator()->raw_allocate(4096);  // oneDNN's scratchpad path
    c10::GetCPUAllocator()->raw_deallocate(raw);
  }
  CHECK(cpu_block_cache_free_bytes() == 0);
  CHECK(c10::GetCPUAllocator() == c10::GetDefaultCPUAllocator());
  CHECK(survivor.sum().item<double>() == 2.0 * 8192 * 256);
  survivor = at::Tensor();  // freed straight back to the system
  CHECK(cpu_block_cache_free_bytes() == 0);

  REQUIRE(cpu_block_cache_enabled());
  set_cpu_block_cache_enabled(false);
  {
    CpuBlockCacheScope off;
    CHECK(c10::GetCPUAllocator() == c10::GetDefaultCPUAllocator());
    at::empty(big).fill_(1.f);
    CHECK(cpu_block_cache_free_bytes() == 0);
  }
  set_cpu_block_cache_enabled(true);
}

TEST_CASE("the blocks' one-exponential GELU parts match erf and the normal density", "[train]") {
  // The formula both blocks use (the CPU's arithmetic here; the GPU's differs
  // in its fast divide and exponential): Phi(y) and y * phi(y), whose sum is
  // GELU's slope, over the whole useful range.
  double worst_cdf = 0, worst_pdf = 0;
  for (int k = -12 * 512; k <= 12 * 512; ++k) {
    const float y = static_cast<float>(k) / 512.f;
    float cdf, y_pdf;
    gelu_parts(y, cdf, y_pdf);
    const double yd = y;
    const double phi = 0.5 * std::erfc(-yd / std::sqrt(2.0));
    const double y_phi = yd * std::exp(-0.5 * yd * yd) / std::sqrt(2.0 * M_PI);
    worst_cdf = std::max(worst_cdf, std::abs(cdf - phi));
    worst_pdf = std::max(worst_pdf, std::abs(y_pdf - y_phi));
  }
  INFO("max |Phi error| " << worst_cdf << ", max |y phi error| " << worst_pdf);
  CHECK(worst_cdf < 3e-7);  // A&S bound 1.5e-7 on erf, plus fp32 arithmetic
  CHECK(worst_pdf < 1e-7);
  float cdf, y_pdf;
  gelu_parts(std::nanf(""), cdf, y_pdf);
  CHECK((std::isnan(cdf) && std::isnan(y_pdf)));
  gelu_parts(-1e30f, cdf, y_pdf);
  CHECK((cdf == 0.f && y_pdf == 0.f));
}

TEST_CASE("the fused bias-norm-GELU-dropout block matches the linear's bias add, LayerNorm, GELU and dropout",
          "[train]") {
  const auto dir = testing::weather_dir();
  auto ds = data::build_weather_dataset(dir, data::select_cities(dir, {}, 1), data::FeatureSpec{}, 1);
  torch::manual_seed(3);
  FastLinear first(ds.train.x.size(1), 200);  // a width that is not a multiple of 16
  // a real first-layer activation, without and with the linear's bias
  const auto z = first->forward_without_bias(ds.train.x.narrow(0, 0, 5000)).detach();
  const auto bias = first->bias.detach().clone();
  CHECK(at::allclose(z + bias, first->forward(ds.train.x.narrow(0, 0, 5000)), 1e-6, 1e-6));
  torch::nn::LayerNorm norm(torch::nn::LayerNormOptions({200}));
  {
    torch::NoGradGuard no_grad;
    norm->weight.uniform_(0.5, 1.5);
    norm->bias.uniform_(-0.5, 0.5);
  }
  FastDropout dropout(0.25);
  const auto probe = at::randn_like(z);

  for (bool training : {true, false}) {
    INFO("training " << training);
    dropout->train(training);
    auto zr = z.clone().requires_grad_(true);
    auto br = bias.clone().requires_grad_(true);
    torch::manual_seed(11);  // the same dropout key for both paths
    auto ref = dropout->forward(at::gelu(norm->forward(zr + br)));
    (ref * probe).sum().backward();
    const auto ref_dz = zr.grad().clone(), ref_dg = norm->weight.grad().clone(), ref_db = norm->bias.grad().clone();
    const auto ref_dbias = br.grad().clone();
    norm->zero_grad();

    auto zf = z.clone().requires_grad_(true);
    auto bf = bias.clone().requires_grad_(true);
    torch::manual_seed(11);
    auto fused = norm_gelu_dropout(zf, norm->weight, norm->bias, 1e-5, 0.25, training, bf);
    (fused * probe).sum().backward();
    CHECK(at::allclose(fused, ref, 1e-5, 2e-6));  // so the same elements were dropped
    CHECK(fused.eq(0).sum().item<double>() / fused.numel() == Approx(training ? 0.25 : 0.0).margin(0.01));
    CHECK(at::allclose(zf.grad(), ref_dz, 1e-4, 1e-5));
    CHECK(at::allclose(bf.grad(), ref_dbias, 1e-4, 1e-3));  // sums over 5000 rows
    CHECK(at::allclose(norm->weight.grad(), ref_dg, 1e-4, 1e-3));
    CHECK(at::allclose(norm->bias.grad(), ref_db, 1e-4, 1e-3));
    norm->zero_grad();
  }
}
