#pragma once
// Feature engineering of the forecasting spec: per-city lags, first
// differences, rolling means/stds, next-day targets, date split and a
// train-fitted standardisation, computed into contiguous float32 tensors.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/csv.h"
#include "data/data_files.h"
#include "data/weather_reader.h"

namespace nairrcore::data {

struct FeatureSpec {
  std::vector<int> lags{1, 3, 7, 14, 30, 60};
  std::vector<int> windows{7, 30};
  int32_t train_end = days_from_civil(2016, 12, 31);
  int32_t val_end = days_from_civil(2019, 12, 31);
  void validate() const;
  int num_features() const;
  std::vector<std::string> feature_names() const;
};

// Rows of one split, in city order (sorted ID) then date order.
struct SplitTensors {
  at::Tensor x;     // [n, F] float32, standardised
  at::Tensor y;     // [n, 3] float32, next-day tmax, tmin, prcp in original units
  at::Tensor city;  // [n] int64 index into WeatherDataset::cities
  at::Tensor day;   // [n] int32 days since 1970-01-01 of the feature row
};

struct WeatherDataset {
  SplitTensors train, val, test;
  at::Tensor mean;   // [F] float64, fitted on train
  at::Tensor scale;  // [F] float64, population std (1 where it is 0)
  std::vector<CityInfo> cities;
  std::vector<std::string> files;        // every file read, in order
  std::vector<int64_t> raw_rows;         // rows parsed per city
  std::vector<int64_t> usable_rows;      // rows kept per city
  std::vector<std::string> feature_names;
};

// Selects cities from city_info.csv in `dir`: all (empty ids, first_n <= 0),
// the first `first_n` by ID, or the listed IDs (unknown ID: ConfigError).
std::vector<CityInfo> select_cities(const std::string& dir, const std::vector<std::string>& ids,
                                    int64_t first_n);
std::vector<CityInfo> select_cities(const DataFiles& files, const std::vector<std::string>& ids,
                                    int64_t first_n);

WeatherDataset build_weather_dataset(const std::string& dir, const std::vector<CityInfo>& cities,
                                     const FeatureSpec& spec, int threads);
WeatherDataset build_weather_dataset(const DataFiles& files, const std::vector<CityInfo>& cities,
                                     const FeatureSpec& spec, int threads);

// Rows t (ascending) of one city whose features and next-day targets are all present.
std::vector<int32_t> usable_feature_rows(const CitySeries& series, const CityInfo& info,
                                         const FeatureSpec& spec);

// The feature rows of one city, written straight into their final place.
class CityFeatureWriter {
 public:
  CityFeatureWriter(const CitySeries& series, const CityInfo& info, const FeatureSpec& spec);
  // Features of row t into x[0..F) and its targets into y[0..3), float32.
  void write(int64_t t, float* x, float* y);

 private:
  struct Prefix {
    double offset = 0;
    std::vector<double> sum, sq;
    std::vector<int32_t> nan;
  };
  static Prefix prefix_of(const std::vector<double>& x);
  bool fill(int64_t t, double* row, double* target) const;

  const CitySeries& s_;
  const CityInfo& info_;
  const FeatureSpec& spec_;
  int F_;
  std::vector<double> row_;
  const std::vector<double>* series_[3];
  Prefix prefix_[3];
  double season_sin_[367], season_cos_[367];  // by day of year, 1..366
};

// Raw per-city feature rows before splitting: exposed for tests.
struct CityFeatures {
  std::vector<float> x;      // rows * F
  std::vector<float> y;      // rows * 3
  std::vector<int32_t> day;  // rows
};
CityFeatures compute_city_features(const CitySeries& series, const CityInfo& info,
                                   const FeatureSpec& spec);

}  // namespace nairrcore::data
