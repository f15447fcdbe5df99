#include "data/weather_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

#include "common/errors.h"
#include "data/csv.h"

namespace nairrcore::data {

namespace {

std::string where(const std::string& path, int64_t line) {
  return path + ":" + std::to_string(line);
}

// The physical range a column's values must lie in (inclusive).
struct Range {
  const char* column;
  double lo, hi;
  const char* unit;
};
// U.S. records: -80 °F and 134 °F, 43 in of rain in a day; these bounds leave room.
constexpr Range kTmax{"tmax", -100, 150, "°F"}, kTmin{"tmin", -100, 150, "°F"}, kPrcp{"prcp", 0, 60, "in"};
constexpr Range kLat{"Lat", -90, 90, "degrees"}, kLon{"Lon", -180, 180, "degrees"};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

void check_range(double v, const Range& r, const std::string& path, int64_t line) {
  if (std::isnan(v)) return;  // NA
  if (!(v >= r.lo && v <= r.hi)) {
    throw DataError(where(path, line) + ": column '" + r.column + "': " + number(v) +
                    " is outside the plausible range " + number(r.lo) + ".." + number(r.hi) + " " + r.unit);
  }
}

double parse_coordinate(std::string_view text, const Range& range, const std::string& path, int64_t line) {
  double value = 0;
  if (!parse_number(text, value) || std::isnan(value)) {
    throw DataError(where(path, line) + ": column '" + range.column + "': expected a number, got '" +
                    printable(text) + "'");
  }
  check_range(value, range, path, line);
  return value;
}

void split_or_throw(std::string_view line, std::vector<std::string_view>& fields, std::deque<std::string>& scratch,
                    const std::string& path, int64_t number) {
  if (!split_csv_line(line, fields, scratch)) {
    throw DataError(where(path, number) + ": a quoted field is not closed, or text follows its closing quote");
  }
}

}  // namespace

std::vector<CityInfo> read_city_info(const std::string& path) {
  return parse_city_info(read_file(path), path);
}

std::vector<CityInfo> parse_city_info(std::string_view text, const std::string& path) {
  LineReader lines(text);
  std::string_view line;
  std::vector<std::string_view> fields;
  std::deque<std::string> scratch;  // a deque: growing it never moves the strings fields point into
  check_text(text, path);
  if (!lines.next(line) || line.empty()) throw DataError(path + ": empty file, expected a header");
  split_or_throw(line, fields, scratch, path, lines.line_number());
  const auto col = locate_columns(fields, {"ID", "Name", "Lat", "Lon"}, path);
  const size_t width = fields.size();

  std::map<std::string, CityInfo> by_id;
  while (lines.next(line)) {
    if (line.empty()) continue;
    split_or_throw(line, fields, scratch, path, lines.line_number());
    if (fields.size() != width) {
      throw DataError(where(path, lines.line_number()) + ": expected " + std::to_string(width) +
                      " fields (as the header), got " + std::to_string(fields.size()));
    }
    CityInfo info;
    info.id = std::string(fields[col[0]]);
    info.name = std::string(fields[col[1]]);
    info.lat = parse_coordinate(fields[col[2]], kLat, path, lines.line_number());
    info.lon = parse_coordinate(fields[col[3]], kLon, path, lines.line_number());
    if (info.id.empty()) throw DataError(where(path, lines.line_number()) + ": empty ID");
    auto [it, inserted] = by_id.emplace(info.id, info);
    if (!inserted && (it->second.lat != info.lat || it->second.lon != info.lon)) {
      throw DataError(where(path, lines.line_number()) + ": city " + info.id +
                      " has conflicting coordinates in different rows");
    }
  }
  if (by_id.empty()) throw DataError(path + ": no city rows");
  std::vector<CityInfo> out;
  out.reserve(by_id.size());
  for (auto& [id, info] : by_id) out.push_back(std::move(info));
  return out;
}

CitySeries read_city_series(const std::string& path, const std::string& id) {
  return parse_city_series(read_file(path), path, id);
}

CitySeries parse_city_series(std::string_view text, const std::string& path, const std::string& id) {
  LineReader lines(text);
  std::string_view line;
  std::vector<std::string_view> fields;
  std::deque<std::string> scratch;  // a deque: growing it never moves the strings fields point into
  check_text(text, path);
  if (!lines.next(line) || line.empty()) throw DataError(path + ": empty file, expected a header");
  split_or_throw(line, fields, scratch, path, lines.line_number());
  const auto col = locate_columns(fields, {"Date", "tmax", "tmin", "prcp"}, path);
  const size_t width = fields.size();
  static const Range* ranges[] = {&kTmax, &kTmin, &kPrcp};

  CitySeries s;
  s.id = id;
  s.path = path;
  const size_t guess = text.size() / 24;
  s.days.reserve(guess);
  s.tmax.reserve(guess);
  s.tmin.reserve(guess);
  s.prcp.reserve(guess);
  bool sorted = true;
  while (lines.next(line)) {
    if (line.empty()) continue;
    split_or_throw(line, fields, scratch, path, lines.line_number());
    // A row with more or fewer fields than the header would shift columns.
    if (fields.size() != width) {
      throw DataError(where(path, lines.line_number()) + ": expected " + std::to_string(width) +
                      " fields (as the header), got " + std::to_string(fields.size()));
    }
    int32_t day = 0;
    if (!parse_date(fields[col[0]], day)) {
      throw DataError(where(path, lines.line_number()) + ": column 'Date': expected YYYY-MM-DD, got '" +
                      printable(fields[col[0]]) + "'");
    }
    double v[3];
    for (int k = 0; k < 3; ++k) {
      if (!parse_number(fields[col[k + 1]], v[k])) {
        throw DataError(where(path, lines.line_number()) + ": column '" + ranges[k]->column +
                        "': expected a number or NA, got '" + printable(fields[col[k + 1]]) + "'");
      }
      check_range(v[k], *ranges[k], path, lines.line_number());
    }
    if (!s.days.empty() && day <= s.days.back()) sorted = false;
    s.days.push_back(day);
    s.tmax.push_back(v[0]);
    s.tmin.push_back(v[1]);
    s.prcp.push_back(v[2]);
  }
  if (s.days.empty()) throw DataError(path + ": no data rows after the header");
  if (!sorted) {
    std::vector<size_t> order(s.days.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return s.days[a] < s.days[b]; });
    auto apply = [&](auto& v) {
      auto copy = v;
      for (size_t i = 0; i < order.size(); ++i) v[i] = copy[order[i]];
    };
    apply(s.days);
    apply(s.tmax);
    apply(s.tmin);
    apply(s.prcp);
  }
  for (size_t i = 1; i < s.days.size(); ++i) {
    if (s.days[i] == s.days[i - 1]) {
      throw DataError(path + ": duplicated date " + format_date(s.days[i]));
    }
  }
  return s;
}

}  // namespace nairrcore::data
