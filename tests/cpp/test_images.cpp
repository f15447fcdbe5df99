#include <set>
#include <string>

#include "common/errors.h"
#include "data/cifar_reader.h"
#include "data/image_augment.h"
#include "data/image_loader.h"
#include "test_configs.h"
#include "test_support.h"
#include "train/image_models.h"

using namespace nairrcore;
using namespace nairrcore::data;

namespace {
// n records; record i has label i % 10 and pixel bytes (i + offset) % 251.
std::string records(int64_t n) {
  std::string s(n * kCifarRecordBytes, '\0');
  for (int64_t i = 0; i < n; ++i) {
    s[i * kCifarRecordBytes] = static_cast<char>(i % 10);
    for (int64_t b = 0; b < kCifarImageBytes; ++b)
      s[i * kCifarRecordBytes + 1 + b] = static_cast<char>((i * 7 + b) % 251);
  }
  return s;
}

at::Tensor random_images(int64_t n) {
  return at::randint(0, 256, {n, 3, 32, 32}, at::TensorOptions().dtype(at::kByte));
}
}  // namespace

TEST_CASE("CIFAR records parse into NCHW and NHWC tensors", "[cifar]") {
  auto a = records(3), b = records(2);
  auto out = parse_cifar({{"a.bin", a}, {"b.bin", b}}, "nchw", 2);
  REQUIRE(out.images.sizes() == at::IntArrayRef({5, 3, 32, 32}));
  CHECK(out.labels[3].item<int64_t>() == 0);
  CHECK(out.labels[2].item<int64_t>() == 2);
  // record 1 of a.bin, green plane (offset 1024), row 2, col 5
  CHECK(out.images[1][1][2][5].item<uint8_t>() == (1 * 7 + 1024 + 2 * 32 + 5) % 251);
  auto hwc = parse_cifar({{"a.bin", a}}, "nhwc");
  CHECK(at::equal(hwc.images, out.images.narrow(0, 0, 3).permute({0, 2, 3, 1})));
}

TEST_CASE("CIFAR reader names the file and the fault", "[cifar]") {
  auto good = records(2);
  CHECK_THROWS_WITH(parse_cifar({{"cut.bin", good.substr(0, good.size() - 5)}}),
                    Catch::Contains("cut.bin") && Catch::Contains("not a whole number"));
  CHECK_THROWS_AS(parse_cifar({{"empty.bin", ""}}), DataError);
  auto bad = good;
  bad[kCifarRecordBytes] = 12;
  CHECK_THROWS_WITH(parse_cifar({{"bad.bin", bad}}),
                    Catch::Contains("bad.bin") && Catch::Contains("record 1 has label 12"));
  CHECK_THROWS_AS(parse_cifar({{"x.bin", good}}, "hwcn"), ConfigError);
}

TEST_CASE("host and device augmentation paths give identical batches", "[augment]") {
  auto images = random_images(40);
  auto index = at::tensor(std::vector<int64_t>{5, 0, 39, 17, 17, 3}, at::kLong);
  for (bool reflect : {true, false}) {
    for (int cutout : {0, 8}) {
      AugmentSpec spec;
      spec.reflect = reflect;
      spec.cutout = cutout;
      auto params = draw_augment_params(spec, 40, 7, 2);
      auto host = at::empty({6, 3, 32, 32}, at::kFloat);
      augment_into(images, index.data_ptr<int64_t>(), 6, params, spec, host, 2);
      auto batched = augment_batch(pad_images(images, spec), index, params.index_select(0, index), spec,
                                   at::kFloat, false);
      CHECK(at::equal(host, batched));
    }
  }
}

TEST_CASE("crops stay inside the padded image and flips mirror exactly", "[augment]") {
  auto images = random_images(8);
  AugmentSpec spec;
  spec.pad = 0;  // the only crop is the image itself
  auto params = draw_augment_params(spec, 8, 1, 0);
  auto index = at::arange(8, at::kLong);
  auto out = at::empty({8, 3, 32, 32}, at::kFloat);
  augment_into(images, index.data_ptr<int64_t>(), 8, params, spec, out, 1);
  auto plain = normalize_images(images, spec, at::kFloat, false);
  for (int64_t i = 0; i < 8; ++i) {
    const bool flipped = params[i][kFlip].item<int32_t>() != 0;
    CHECK(at::equal(out[i], flipped ? plain[i].flip({2}) : plain[i]));
  }
  spec.pad = 4;
  auto p4 = draw_augment_params(spec, 5000, 3, 1);
  CHECK(p4.select(1, kDx).min().item<int32_t>() == 0);
  CHECK(p4.select(1, kDx).max().item<int32_t>() == 8);
  CHECK(p4.select(1, kDy).max().item<int32_t>() == 8);
}

TEST_CASE("image loader streams and keeps resident the same batches", "[loader][augment]") {
  auto images = random_images(50);
  auto labels = at::arange(50, at::kLong);
  std::vector<at::Tensor> xs[2];
  std::set<int64_t> seen;
  for (int workers : {0, 2}) {
    ImageLoaderOptions o;
    o.loader.batch_size = 16;
    o.loader.workers = workers;
    ImageLoader loader(images, labels, c10::Device("cpu"), o);
    CHECK(loader.resident() == (workers == 0));
    loader.set_epoch(1);
    Batch b;
    while (loader.next(b)) {
      xs[workers == 0 ? 0 : 1].push_back(b.x.clone());
      if (workers == 2)
        for (int64_t i = 0; i < b.y.size(0); ++i) seen.insert(b.y[i].item<int64_t>());
    }
  }
  REQUIRE(xs[0].size() == 4);
  REQUIRE(xs[1].size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(at::equal(xs[0][i], xs[1][i]));
  CHECK(seen.size() == 50);
}

TEST_CASE("ResNet-18 and the fast net have the expected shapes", "[models]") {
  train::ImageModelConfig c = testing::resnet18_model();
  auto resnet = train::make_image_model(c);
  CHECK(resnet->num_parameters() == 11173962);
  c.name = "fastnet";
  c.widths = {16, 32, 32};
  CHECK_THROWS_AS(train::make_image_model(c), ConfigError);  // a fast net needs its whitening filters
  c.whiten_width = 24;
  auto fast = train::make_image_model(c);
  fast->init_from_data(at::randn({64, 3, 32, 32}));
  auto logits = fast->forward(at::randn({2, 3, 32, 32}));
  CHECK(logits.sizes() == at::IntArrayRef({2, 10}));
  c.name = "vgg";
  CHECK_THROWS_AS(train::make_image_model(c), ConfigError);
}
