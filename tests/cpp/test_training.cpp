#include <cmath>

#include "common/errors.h"
#include "data/weather_features.h"
#include "train/dropout.h"
#include "train/forecast_trainer.h"
#include <torch/cuda.h>
#include "test_support.h"

using namespace nairrcore;
using namespace nairrcore::train;

TEST_CASE("MLP with the spec's defaults has 7,405,571 parameters", "[train]") {
  Mlp mlp(MlpConfig{});
  CHECK(mlp->num_parameters() == 7405571);
}

TEST_CASE("training on real data lowers validation loss and is deterministic", "[train]") {
  const auto dir = testing::weather_dir();
  auto ds = data::build_weather_dataset(dir, data::select_cities(dir, {}, 2), data::FeatureSpec{}, 2);
  MlpConfig m;
  m.width = 64;
  m.depth = 2;
  FitConfig f;
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
  FitConfig f;
  f.precision = "fp16";
  CHECK_THROWS_WITH(ForecastTrainer(MlpConfig{}, f), Catch::Contains("fp16 needs a GPU"));
  f.precision = "fp32";
  f.device = "cuda";
  if (!torch::cuda::is_available()) {
    CHECK_THROWS_WITH(ForecastTrainer(MlpConfig{}, f), Catch::Contains("no CUDA GPU is visible"));
  }
  f.device = "cpu";
  f.lr = -1;
  CHECK_THROWS_WITH(ForecastTrainer(MlpConfig{}, f), Catch::Contains("lr"));
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
