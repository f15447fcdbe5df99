#include "data/weather_features.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>

#include "common/errors.h"
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

namespace {
// Prefix sums of a series centred on its mean (which keeps the window sums
// small, so sum-of-squares variances lose no precision that float32 keeps),
// with NaN counted instead of added: every rolling window is then O(1).
struct Prefix {
  double offset = 0;
  std::vector<double> sum, sq;
  std::vector<int32_t> nan;
};

Prefix prefix_of(const std::vector<double>& x) {
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
}  // namespace

CityFeatures compute_city_features(const CitySeries& s, const CityInfo& info,
                                   const FeatureSpec& spec) {
  const int64_t n = static_cast<int64_t>(s.days.size());
  const int F = spec.num_features();
  const std::vector<double>* series[3] = {&s.tmax, &s.tmin, &s.prcp};
  const Prefix prefixes[3] = {prefix_of(s.tmax), prefix_of(s.tmin), prefix_of(s.prcp)};
  CityFeatures out;
  out.x.reserve(static_cast<size_t>(n) * F);
  out.y.reserve(static_cast<size_t>(n) * 3);
  out.day.reserve(static_cast<size_t>(n));
  std::vector<double> row(F);
  double season_sin[367], season_cos[367];  // by day of year, 1..366
  for (int d = 1; d <= 366; ++d) {
    season_sin[d] = std::sin(kTwoPi * d / 365.25);
    season_cos[d] = std::cos(kTwoPi * d / 365.25);
  }
  for (int64_t t = 0; t + 1 < n; ++t) {
    int k = 0;
    row[k++] = info.lat;
    row[k++] = info.lon;
    const int doy = day_of_year(s.days[t]);
    row[k++] = season_sin[doy];
    row[k++] = season_cos[doy];
    for (int l : spec.lags)
      for (auto* x : series) row[k++] = t >= l ? (*x)[t - l] : kNaN;
    for (auto* x : series) row[k++] = t >= 1 ? (*x)[t] - (*x)[t - 1] : kNaN;
    // Rolling statistics over rows t-w .. t-1 (the series shifted by one row).
    const int mean_base = k;
    const int std_base = k + 3 * static_cast<int>(spec.windows.size());
    for (size_t wi = 0; wi < spec.windows.size(); ++wi) {
      const int w = spec.windows[wi];
      for (int v = 0; v < 3; ++v) {
        double mean = kNaN, sd = kNaN;
        const Prefix& p = prefixes[v];
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
    const double target[3] = {s.tmax[t + 1], s.tmin[t + 1], s.prcp[t + 1]};
    bool keep = !std::isnan(target[0]) && !std::isnan(target[1]) && !std::isnan(target[2]);
    for (int f = 0; keep && f < F; ++f) keep = !std::isnan(row[f]);
    if (!keep) continue;
    for (int f = 0; f < F; ++f) out.x.push_back(static_cast<float>(row[f]));
    for (double v : target) out.y.push_back(static_cast<float>(v));
    out.day.push_back(s.days[t]);
  }
  return out;
}

namespace {

// Column mean and population std in float64 over the rows of x, two passes
// over fixed row chunks combined in order (ATen's column reductions of a
// converted copy took half of the feature time).
void fit_scaler(const at::Tensor& x, at::Tensor& mean, at::Tensor& scale, int threads) {
  const int64_t n = x.size(0), F = x.size(1);
  const float* data = x.data_ptr<float>();
  constexpr int64_t kChunks = 32;
  const int64_t rows_per = (n + kChunks - 1) / kChunks;
  auto column_sums = [&](const std::vector<double>* centre) {
    std::vector<std::vector<double>> partial(kChunks, std::vector<double>(F, 0.0));
    parallel_for(kChunks, threads, [&](int64_t c) {
      auto& acc = partial[c];
      for (int64_t r = c * rows_per; r < std::min(n, (c + 1) * rows_per); ++r) {
        const float* row = data + r * F;
        for (int64_t f = 0; f < F; ++f) {
          const double d = centre ? row[f] - (*centre)[f] : row[f];
          acc[f] += centre ? d * d : d;
        }
      }
    });
    std::vector<double> total(F, 0.0);
    for (const auto& acc : partial)
      for (int64_t f = 0; f < F; ++f) total[f] += acc[f];
    return total;
  };
  std::vector<double> mu = column_sums(nullptr);
  for (auto& v : mu) v /= std::max<int64_t>(n, 1);
  std::vector<double> var = column_sums(&mu);
  mean = at::empty({F}, at::kDouble);
  scale = at::empty({F}, at::kDouble);
  for (int64_t f = 0; f < F; ++f) {
    mean.data_ptr<double>()[f] = mu[f];
    const double sd = std::sqrt(var[f] / std::max<int64_t>(n, 1));
    scale.data_ptr<double>()[f] = sd == 0 ? 1.0 : sd;
  }
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
  std::vector<CityFeatures> per_city(C);
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
    auto series = parse_city_series(files.read(name), path, cities[c].id);
    ds.raw_rows[c] = static_cast<int64_t>(series.days.size());
    per_city[c] = compute_city_features(series, cities[c], spec);
    ds.usable_rows[c] = static_cast<int64_t>(per_city[c].day.size());
    if (ds.usable_rows[c] == 0) {
      throw DataError(path + ": city " + cities[c].id + " has no usable rows (every row lacks a " +
                      "feature or target after lags and windows)");
    }
  });

  // Count rows per split and city, then copy each city's rows into place.
  std::vector<std::array<int64_t, 3>> counts(C, {0, 0, 0});
  auto split_of = [&](int32_t day) { return day <= spec.train_end ? 0 : (day <= spec.val_end ? 1 : 2); };
  for (int64_t c = 0; c < C; ++c)
    for (int32_t day : per_city[c].day) ++counts[c][split_of(day)];
  std::array<int64_t, 3> total{0, 0, 0};
  std::vector<std::array<int64_t, 3>> offset(C);
  for (int64_t c = 0; c < C; ++c)
    for (int k = 0; k < 3; ++k) {
      offset[c][k] = total[k];
      total[k] += counts[c][k];
    }
  SplitTensors* splits[3] = {&ds.train, &ds.val, &ds.test};
  for (int k = 0; k < 3; ++k) {
    splits[k]->x = at::empty({total[k], F}, at::kFloat);
    splits[k]->y = at::empty({total[k], 3}, at::kFloat);
    splits[k]->city = at::empty({total[k]}, at::kLong);
    splits[k]->day = at::empty({total[k]}, at::kInt);
  }
  parallel_for(C, threads, [&](int64_t c) {
    std::array<int64_t, 3> pos = offset[c];
    const auto& cf = per_city[c];
    for (size_t r = 0; r < cf.day.size(); ++r) {
      const int k = split_of(cf.day[r]);
      const int64_t i = pos[k]++;
      std::copy_n(cf.x.data() + r * F, F, splits[k]->x.data_ptr<float>() + i * F);
      std::copy_n(cf.y.data() + r * 3, 3, splits[k]->y.data_ptr<float>() + i * 3);
      splits[k]->city.data_ptr<int64_t>()[i] = c;
      splits[k]->day.data_ptr<int32_t>()[i] = cf.day[r];
    }
    per_city[c] = CityFeatures{};  // release memory as we go
  });

  if (total[0] == 0) {
    throw DataError(files.path("") + ": no training rows on or before " + format_date(spec.train_end) +
                    " in the selected cities");
  }
  fit_scaler(ds.train.x, ds.mean, ds.scale, threads);
  const auto mean_f = ds.mean.to(at::kFloat);
  const auto scale_f = ds.scale.to(at::kFloat);
  for (auto* s : splits) {
    if (s->x.size(0) > 0) s->x.sub_(mean_f).div_(scale_f);
  }
  return ds;
}

}  // namespace nairrcore::data
