#include "data/weather_features.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>

#include "common/errors.h"
#include "common/large_alloc.h"
#include "common/parallel.h"
#include "data/csv.h"

namespace nairrcore::data {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* kVars[] = {"tmax", "tmin", "prcp"};

constexpr double kTwoPi = 6.283185307179586;
}  // namespace

void FeatureSpec::validate() const {
  NAIRR_CHECK_ARG(!lags.empty(), "lags: expected at least one lag, got none");
  for (int l : lags) NAIRR_CHECK_ARG(l >= 1, "lags: expected values >= 1, got " + std::to_string(l));
  for (int w : windows) {
    NAIRR_CHECK_ARG(w >= 2, "windows: expected values >= 2 (sample std), got " + std::to_string(w));
  }
  NAIRR_CHECK_ARG(train_end < val_end, "split: train_end must come before val_end");
}

int FeatureSpec::num_features() const {
  return 4 + 3 * static_cast<int>(lags.size()) + 3 + 6 * static_cast<int>(windows.size());
}

std::vector<std::string> FeatureSpec::feature_names() const {
  std::vector<std::string> names{"lat", "lon", "sin_doy", "cos_doy"};
  for (int l : lags)
    for (auto v : kVars) names.push_back(std::string(v) + "_lag" + std::to_string(l));
  for (auto v : kVars) names.push_back(std::string(v) + "_diff1");
  for (int w : windows)
    for (auto v : kVars) names.push_back(std::string(v) + "_mean" + std::to_string(w));
  for (int w : windows)
    for (auto v : kVars) names.push_back(std::string(v) + "_std" + std::to_string(w));
  return names;
}

std::vector<CityInfo> select_cities(const std::string& dir, const std::vector<std::string>& ids,
                                    int64_t first_n) {
  return select_cities(DataFiles::folder(dir), ids, first_n);
}

std::vector<CityInfo> select_cities(const DataFiles& files, const std::vector<std::string>& ids,
                                    int64_t first_n) {
  const std::string info_path = files.path("city_info.csv");
  auto all = parse_city_info(files.read("city_info.csv"), info_path);
  if (!ids.empty()) {
    std::vector<CityInfo> picked;
    std::set<std::string> seen;
    for (const auto& id : ids) {
      auto it = std::find_if(all.begin(), all.end(), [&](const CityInfo& c) { return c.id == id; });
      if (it == all.end()) {
        throw ConfigError("cities: unknown city ID '" + id + "' (not in " + info_path + ")");
      }
      if (seen.insert(id).second) picked.push_back(*it);
    }
    std::sort(picked.begin(), picked.end(),
              [](const CityInfo& a, const CityInfo& b) { return a.id < b.id; });
    return picked;
  }
  if (first_n > 0) {
    NAIRR_CHECK_ARG(first_n <= static_cast<int64_t>(all.size()),
                    "cities: asked for the first " + std::to_string(first_n) + " cities but " +
                        info_path + " lists " + std::to_string(all.size()));
    all.resize(first_n);
  }
  return all;
}

// Prefix sums of a series centred on its mean (which keeps the window sums
// small, so sum-of-squares variances lose no precision that float32 keeps),
// with NaN counted instead of added: every rolling window is then O(1).
CityFeatureWriter::Prefix CityFeatureWriter::prefix_of(const std::vector<double>& x) {
  Prefix p;
  double total = 0;
  int64_t count = 0;
  for (double v : x)
    if (!std::isnan(v)) total += v, ++count;
  p.offset = count > 0 ? total / count : 0.0;
  const size_t n = x.size();
  p.sum.assign(n + 1, 0.0);
  p.sq.assign(n + 1, 0.0);
  p.nan.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    const bool missing = std::isnan(x[i]);
    const double d = missing ? 0.0 : x[i] - p.offset;
    p.sum[i + 1] = p.sum[i] + d;
    p.sq[i + 1] = p.sq[i] + d * d;
    p.nan[i + 1] = p.nan[i] + (missing ? 1 : 0);
  }
  return p;
}

CityFeatureWriter::CityFeatureWriter(const CitySeries& s, const CityInfo& info, const FeatureSpec& spec)
    : s_(s), info_(info), spec_(spec), F_(spec.num_features()), row_(F_) {
  const std::vector<double>* series[3] = {&s.tmax, &s.tmin, &s.prcp};
  for (int v = 0; v < 3; ++v) {
    series_[v] = series[v];
    prefix_[v] = prefix_of(*series[v]);
  }
  for (int d = 1; d <= 366; ++d) {
    season_sin_[d] = std::sin(kTwoPi * d / 365.25);
    season_cos_[d] = std::cos(kTwoPi * d / 365.25);
  }
}

bool CityFeatureWriter::fill(int64_t t, double* row, double* target) const {
  const int64_t n = static_cast<int64_t>(s_.days.size());
  if (t + 1 >= n) return false;
  int k = 0;
  row[k++] = info_.lat;
  row[k++] = info_.lon;
  const int doy = day_of_year(s_.days[t]);
  row[k++] = season_sin_[doy];
  row[k++] = season_cos_[doy];
  for (int l : spec_.lags)
    for (auto* x : series_) row[k++] = t >= l ? (*x)[t - l] : kNaN;
  for (auto* x : series_) row[k++] = t >= 1 ? (*x)[t] - (*x)[t - 1] : kNaN;
  // Rolling statistics over rows t-w .. t-1 (the series shifted by one row).
  const int mean_base = k;
  const int std_base = k + 3 * static_cast<int>(spec_.windows.size());
  for (size_t wi = 0; wi < spec_.windows.size(); ++wi) {
    const int w = spec_.windows[wi];
    for (int v = 0; v < 3; ++v) {
      double mean = kNaN, sd = kNaN;
      const Prefix& p = prefix_[v];
      if (t >= w && p.nan[t] == p.nan[t - w]) {
        const double sum = p.sum[t] - p.sum[t - w];
        const double ss = p.sq[t] - p.sq[t - w] - sum * sum / w;
        mean = p.offset + sum / w;
        sd = std::sqrt(std::max(ss, 0.0) / (w - 1));
      }
      row[mean_base + 3 * wi + v] = mean;
      row[std_base + 3 * wi + v] = sd;
    }
  }
  for (int v = 0; v < 3; ++v) target[v] = (*series_[v])[t + 1];
  bool keep = !std::isnan(target[0]) && !std::isnan(target[1]) && !std::isnan(target[2]);
  for (int f = 0; keep && f < F_; ++f) keep = !std::isnan(row[f]);
  return keep;
}

std::vector<int32_t> usable_feature_rows(const CitySeries& s, const CityInfo& info, const FeatureSpec& spec) {
  // A row is kept when the series has all three values at every index its
  // features and target read; checked on one "any value missing" prefix count.
  const int64_t n = static_cast<int64_t>(s.days.size());
  std::vector<int32_t> rows;
  if (std::isnan(info.lat) || std::isnan(info.lon) || n < 2) return rows;
  std::vector<int32_t> missing(n + 1, 0);
  for (int64_t i = 0; i < n; ++i)
    missing[i + 1] = missing[i] + (std::isnan(s.tmax[i]) || std::isnan(s.tmin[i]) || std::isnan(s.prcp[i]));
  auto bad = [&](int64_t i) { return missing[i + 1] != missing[i]; };
  int64_t first = 1;
  for (int l : spec.lags) first = std::max<int64_t>(first, l);
  for (int w : spec.windows) first = std::max<int64_t>(first, w);
  rows.reserve(static_cast<size_t>(n));
  for (int64_t t = first; t + 1 < n; ++t) {
    bool keep = !bad(t + 1) && !bad(t) && !bad(t - 1);
    for (size_t i = 0; keep && i < spec.lags.size(); ++i) keep = !bad(t - spec.lags[i]);
    for (size_t i = 0; keep && i < spec.windows.size(); ++i) keep = missing[t] == missing[t - spec.windows[i]];
    if (keep) rows.push_back(static_cast<int32_t>(t));
  }
  return rows;
}

void CityFeatureWriter::write(int64_t t, float* x, float* y) {
  double target[3];
  if (!fill(t, row_.data(), target)) {
    throw std::logic_error(s_.path + ": row " + std::to_string(t) + " was counted as usable but has a gap");
  }
  for (int f = 0; f < F_; ++f) x[f] = static_cast<float>(row_[f]);
  for (int v = 0; v < 3; ++v) y[v] = static_cast<float>(target[v]);
}

CityFeatures compute_city_features(const CitySeries& s, const CityInfo& info, const FeatureSpec& spec) {
  CityFeatureWriter writer(s, info, spec);
  const int F = spec.num_features();
  CityFeatures out;
  for (int32_t t : usable_feature_rows(s, info, spec)) {
    out.x.resize(out.x.size() + F);
    out.y.resize(out.y.size() + 3);
    writer.write(t, out.x.data() + out.x.size() - F, out.y.data() + out.y.size() - 3);
    out.day.push_back(s.days[t]);
  }
  return out;
}

namespace {

// Mean and sum of squared deviations per column of `rows` float32 rows (two
// passes over a block that is still in cache), in float64.
struct ColumnMoments {
  int64_t n = 0;
  std::vector<double> mean, m2;

  ColumnMoments(const float* x, int64_t rows, int F) : n(rows), mean(F, 0.0), m2(F, 0.0) {
    for (int64_t r = 0; r < rows; ++r)
      for (int f = 0; f < F; ++f) mean[f] += x[r * F + f];
    for (auto& m : mean) m /= std::max<int64_t>(rows, 1);
    for (int64_t r = 0; r < rows; ++r)
      for (int f = 0; f < F; ++f) {
        const double d = x[r * F + f] - mean[f];
        m2[f] += d * d;
      }
  }
  // Chan et al.'s pairwise combination: exact in float64, same order every run.
  void merge(const ColumnMoments& o) {
    if (o.n == 0) return;
    const double total = static_cast<double>(n + o.n);
    for (size_t f = 0; f < mean.size(); ++f) {
      const double delta = o.mean[f] - mean[f];
      mean[f] += delta * o.n / total;
      m2[f] += o.m2[f] + delta * delta * static_cast<double>(n) * o.n / total;
    }
    n += o.n;
  }
};

// x = (x - mean) / scale in float32, row chunks in parallel (one pass).
void standardise(at::Tensor& x, const std::vector<float>& mean, const std::vector<float>& scale, int threads) {
  const int64_t n = x.size(0), F = x.size(1);
  float* data = x.data_ptr<float>();
  constexpr int64_t kRows = 16384;
  parallel_for((n + kRows - 1) / kRows, threads, [&](int64_t chunk) {
    for (int64_t r = chunk * kRows; r < std::min(n, (chunk + 1) * kRows); ++r)
      for (int64_t f = 0; f < F; ++f) data[r * F + f] = (data[r * F + f] - mean[f]) / scale[f];
  });
}

}  // namespace

WeatherDataset build_weather_dataset(const std::string& dir, const std::vector<CityInfo>& cities,
                                     const FeatureSpec& spec, int threads) {
  return build_weather_dataset(DataFiles::folder(dir), cities, spec, threads);
}

WeatherDataset build_weather_dataset(const DataFiles& files, const std::vector<CityInfo>& cities,
                                     const FeatureSpec& spec, int threads) {
  spec.validate();
  NAIRR_CHECK_ARG(!cities.empty(), "cities: expected at least one city");
  const int F = spec.num_features();
  const int64_t C = static_cast<int64_t>(cities.size());
  std::vector<CitySeries> series(C);
  std::vector<std::vector<int32_t>> usable(C);
  WeatherDataset ds;
  ds.cities = cities;
  ds.feature_names = spec.feature_names();
  ds.files.push_back(files.path("city_info.csv"));
  ds.raw_rows.assign(C, 0);
  ds.usable_rows.assign(C, 0);
  for (const auto& c : cities) {
    ds.files.push_back(files.path(c.id + ".csv"));
  }

  parallel_for(C, threads, [&](int64_t c) {
    const std::string& path = ds.files[c + 1];
    const std::string name = cities[c].id + ".csv";
    if (!files.exists(name)) {
      throw DataError(path + ": city " + cities[c].id +
                      " is listed in city_info.csv but its file is missing");
    }
    series[c] = parse_city_series(files.read(name), path, cities[c].id);
    ds.raw_rows[c] = static_cast<int64_t>(series[c].days.size());
    usable[c] = usable_feature_rows(series[c], cities[c], spec);
    ds.usable_rows[c] = static_cast<int64_t>(usable[c].size());
    if (ds.usable_rows[c] == 0) {
      throw DataError(path + ": city " + cities[c].id + " has no usable rows (every row lacks a " +
                      "feature or target after lags and windows)");
    }
  });

  // Count rows per split and city, then write each city's rows in place.
  std::vector<std::array<int64_t, 3>> counts(C, {0, 0, 0});
  auto split_of = [&](int32_t day) { return day <= spec.train_end ? 0 : (day <= spec.val_end ? 1 : 2); };
  for (int64_t c = 0; c < C; ++c)
    for (int32_t t : usable[c]) ++counts[c][split_of(series[c].days[t])];
  std::array<int64_t, 3> total{0, 0, 0};
  std::vector<std::array<int64_t, 3>> offset(C);
  for (int64_t c = 0; c < C; ++c)
    for (int k = 0; k < 3; ++k) {
      offset[c][k] = total[k];
      total[k] += counts[c][k];
    }
  SplitTensors* splits[3] = {&ds.train, &ds.val, &ds.test};
  for (int k = 0; k < 3; ++k) {
    splits[k]->x = empty_large({total[k], F}, at::kFloat);
    splits[k]->y = empty_large({total[k], 3}, at::kFloat);
    splits[k]->city = at::empty({total[k]}, at::kLong);
    splits[k]->day = at::empty({total[k]}, at::kInt);
  }
  std::vector<ColumnMoments> moments(C, ColumnMoments(nullptr, 0, F));
  parallel_for(C, threads, [&](int64_t c) {
    std::array<int64_t, 3> pos = offset[c];
    CityFeatureWriter writer(series[c], cities[c], spec);
    for (int32_t t : usable[c]) {
      const int32_t day = series[c].days[t];
      const int k = split_of(day);
      const int64_t i = pos[k]++;
      writer.write(t, splits[k]->x.data_ptr<float>() + i * F, splits[k]->y.data_ptr<float>() + i * 3);
      splits[k]->city.data_ptr<int64_t>()[i] = c;
      splits[k]->day.data_ptr<int32_t>()[i] = day;
    }
    // The city's training rows are one block: its moments while it is in cache.
    moments[c] = ColumnMoments(ds.train.x.data_ptr<float>() + offset[c][0] * F, counts[c][0], F);
    series[c] = CitySeries{};  // release memory as we go
    usable[c] = {};
  });

  if (total[0] == 0) {
    throw DataError(files.path("") + ": no training rows on or before " + format_date(spec.train_end) +
                    " in the selected cities");
  }
  ColumnMoments all(nullptr, 0, F);
  for (const auto& m : moments) all.merge(m);
  ds.mean = at::empty({F}, at::kDouble);
  ds.scale = at::empty({F}, at::kDouble);
  std::vector<float> mean_f(F), scale_f(F);
  for (int f = 0; f < F; ++f) {
    const double sd = std::sqrt(all.m2[f] / static_cast<double>(all.n));
    ds.mean.data_ptr<double>()[f] = all.mean[f];
    ds.scale.data_ptr<double>()[f] = sd == 0 ? 1.0 : sd;
    mean_f[f] = static_cast<float>(all.mean[f]);
    scale_f[f] = static_cast<float>(ds.scale.data_ptr<double>()[f]);
  }
  for (auto* s : splits) standardise(s->x, mean_f, scale_f, threads);
  return ds;
}

}  // namespace nairrcore::data
