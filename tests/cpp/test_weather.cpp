#include <cmath>
#include <algorithm>

#include "common/errors.h"
#include "data/weather_features.h"
#include "data/weather_reader.h"
#include "test_support.h"

using namespace nairrcore;
using namespace nairrcore::data;

TEST_CASE("city_info has one entry per city, sorted by ID", "[weather]") {
  auto cities = read_city_info(testing::weather_dir() + "/city_info.csv");
  REQUIRE(cities.size() == 210);
  for (size_t i = 1; i < cities.size(); ++i) CHECK(cities[i - 1].id < cities[i].id);
  auto first = select_cities(testing::weather_dir(), {}, 3);
  REQUIRE(first.size() == 3);
  CHECK(first[0].id == cities[0].id);
  CHECK_THROWS_AS(select_cities(testing::weather_dir(), {"NOPE"}, 0), ConfigError);
}

TEST_CASE("features of a real city follow the spec", "[weather]") {
  const auto dir = testing::weather_dir();
  auto cities = select_cities(dir, {}, 1);
  auto series = read_city_series(dir + "/" + cities[0].id + ".csv", cities[0].id);
  FeatureSpec spec;
  REQUIRE(spec.num_features() == 37);
  auto f = compute_city_features(series, cities[0], spec);
  const int F = 37;
  REQUIRE(!f.day.empty());
  REQUIRE(f.x.size() == f.day.size() * F);
  // Check one kept row by hand against the raw series.
  const size_t r = f.day.size() / 2;
  size_t t = 0;
  while (series.days[t] != f.day[r]) ++t;
  const float* row = f.x.data() + r * F;
  CHECK(row[0] == Approx(cities[0].lat));
  CHECK(row[4] == Approx(series.tmax[t - 1]));   // tmax_lag1
  CHECK(row[6] == Approx(series.prcp[t - 1]));   // prcp_lag1
  CHECK(row[7] == Approx(series.tmax[t - 3]));   // tmax_lag3
  CHECK(row[22] == Approx(series.tmax[t] - series.tmax[t - 1]));  // tmax_diff1
  double mean7 = 0;
  for (int k = 1; k <= 7; ++k) mean7 += series.tmin[t - k];
  CHECK(row[26] == Approx(mean7 / 7));  // tmin_mean7
  CHECK(f.y[r * 3 + 0] == Approx(series.tmax[t + 1]));
  CHECK(std::all_of(f.x.begin(), f.x.end(), [](float v) { return std::isfinite(v); }));
}

TEST_CASE("dataset splits by date and standardises with train statistics", "[weather]") {
  const auto dir = testing::weather_dir();
  auto cities = select_cities(dir, {}, 2);
  auto ds = build_weather_dataset(dir, cities, FeatureSpec{}, 2);
  FeatureSpec spec;
  CHECK(ds.train.x.size(1) == 37);
  CHECK(ds.train.day.max().item<int>() <= spec.train_end);
  CHECK(ds.val.day.min().item<int>() > spec.train_end);
  CHECK(ds.val.day.max().item<int>() <= spec.val_end);
  CHECK(ds.test.day.min().item<int>() > spec.val_end);
  auto mean = ds.train.x.to(at::kDouble).mean(0);
  auto sd = ds.train.x.to(at::kDouble).std(0, /*unbiased=*/false);
  // lat/lon are constant per city, so with two cities they still vary.
  CHECK(mean.abs().max().item<double>() < 1e-4);
  CHECK((sd - 1).abs().max().item<double>() < 1e-3);
  int64_t kept = 0;
  for (auto n : ds.usable_rows) kept += n;
  CHECK(kept == ds.train.x.size(0) + ds.val.x.size(0) + ds.test.x.size(0));
}

TEST_CASE("a city file missing from the folder is a DataError naming it", "[weather][errors]") {
  testing::ScratchDir dir;
  dir.write("city_info.csv", "\"\",\"Name\",\"ID\",\"Lat\",\"Lon\"\n\"1\",\"X\",\"AAA\",1.0,2.0\n");
  auto cities = select_cities(dir.path(), {}, 0);
  CHECK_THROWS_WITH(build_weather_dataset(dir.path(), cities, FeatureSpec{}, 1),
                    Catch::Contains("AAA.csv") && Catch::Contains("missing"));
}
