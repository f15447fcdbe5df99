#include "data/csv.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/errors.h"

namespace nairrcore::data {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw DataError(path + ": cannot open file (" + std::strerror(errno) + ")");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw DataError(path + ": read error");
  return buffer.str();
}

bool LineReader::next(std::string_view& line) {
  if (pos_ >= text_.size()) return false;
  size_t end = text_.find('\n', pos_);
  if (end == std::string_view::npos) end = text_.size();
  line = text_.substr(pos_, end - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos_ = end + 1;
  ++line_no_;
  return true;
}

bool split_csv_line(std::string_view line, std::vector<std::string_view>& fields,
                    std::deque<std::string>& scratch) {
  fields.clear();
  scratch.clear();
  size_t i = 0;
  while (true) {
    if (i < line.size() && line[i] == '"') {
      size_t start = ++i;
      bool escaped = false, closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            escaped = true;
            i += 2;
            continue;
          }
          closed = true;
          break;
        }
        ++i;
      }
      if (!closed) return false;
      std::string_view raw = line.substr(start, i - start);
      if (escaped) {
        std::string s;
        for (size_t k = 0; k < raw.size(); ++k) {
          s.push_back(raw[k]);
          if (raw[k] == '"') ++k;
        }
        scratch.push_back(std::move(s));
        fields.emplace_back(scratch.back());
      } else {
        fields.push_back(raw);
      }
      ++i;  // the closing quote
      if (i == line.size()) return true;
      if (line[i] != ',') return false;
      ++i;
    } else {
      size_t comma = line.find(',', i);
      if (comma == std::string_view::npos) {
        fields.push_back(line.substr(i));
        return true;
      }
      fields.push_back(line.substr(i, comma - i));
      i = comma + 1;
    }
  }
}

std::vector<int> locate_columns(const std::vector<std::string_view>& header,
                                const std::vector<std::string>& wanted,
                                const std::string& path) {
  std::vector<int> index;
  for (const auto& name : wanted) {
    int found = -1;
    for (size_t c = 0; c < header.size(); ++c) {
      if (header[c] != name) continue;
      if (found >= 0) throw DataError(path + ": column '" + name + "' appears twice in the header");
      found = static_cast<int>(c);
    }
    if (found < 0) {
      std::string have;
      for (auto h : header) have += (have.empty() ? "" : ",") + std::string(h);
      throw DataError(path + ": missing column '" + name + "' (header has: " + printable(have) + ")");
    }
    index.push_back(found);
  }
  return index;
}

namespace {
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the decimal number at the start of `t` in the accepted syntax, or 0.
size_t decimal_syntax(std::string_view t) {
  size_t i = 0, digits = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
  while (i < t.size() && is_digit(t[i])) ++i, ++digits;
  if (i < t.size() && t[i] == '.') {
    ++i;
    while (i < t.size() && is_digit(t[i])) ++i, ++digits;
  }
  if (digits == 0) return 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    size_t j = i + 1, exp_digits = 0;
    if (j < t.size() && (t[j] == '+' || t[j] == '-')) ++j;
    while (j < t.size() && is_digit(t[j])) ++j, ++exp_digits;
    if (exp_digits == 0) return 0;
    i = j;
  }
  return i;
}
}  // namespace

bool parse_number(std::string_view text, double& out) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty() || text == "NA") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (decimal_syntax(text) != text.size()) return false;
  if (text.front() == '+') text.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec == std::errc::result_out_of_range) {  // strtod rounds an underflow to the nearest double
    const std::string copy(text);
    out = std::strtod(copy.c_str(), nullptr);
  } else if (ec != std::errc() || ptr != text.data() + text.size()) {
    return false;
  }
  return std::isfinite(out);
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

std::string printable(std::string_view text) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size() && out.size() < 40; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (out.size() >= 40 && text.size() > 40) out += "...";
  return out;
}

int64_t invalid_utf8_at(std::string_view text) {
  // Well-formed UTF-8 as the Unicode standard defines it (table 3-7): no
  // overlong forms, no surrogates, nothing above U+10FFFF.
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf;  // the range of the second byte
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    }
    if (len == 0 || i + len > n) return static_cast<int64_t>(i);
    if (len > 1 && (s[i + 1] < lo || s[i + 1] > hi)) return static_cast<int64_t>(i);
    for (size_t k = 2; k < len; ++k)
      if ((s[i + k] & 0xc0) != 0x80) return static_cast<int64_t>(i);
    i += len;
  }
  return -1;
}

void check_text(std::string_view text, const std::string& path) {
  int64_t bad = invalid_utf8_at(text);
  const char* what = "not UTF-8 text";
  for (size_t cr = text.find('\r'); bad < 0 && cr != std::string_view::npos; cr = text.find('\r', cr + 1)) {
    if (cr + 1 < text.size() && text[cr + 1] != '\n') {  // a last line may end in \r alone
      bad = static_cast<int64_t>(cr);
      what = "a carriage return inside a line";
    }
  }
  if (bad < 0) return;
  const std::string_view before = text.substr(0, static_cast<size_t>(bad));
  const auto line = std::count(before.begin(), before.end(), '\n') + 1;
  const size_t line_start = before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1;
  throw DataError(path + ":" + std::to_string(line) + ": " + what + " (byte " + printable(text.substr(bad, 1)) +
                  " at column " + std::to_string(bad - static_cast<int64_t>(line_start) + 1) + ")");
}

std::string_view strip_bom(std::string_view text) {
  if (text.substr(0, 3) == "\xef\xbb\xbf") text.remove_prefix(3);
  return text;
}

bool parse_date(std::string_view text, int32_t& days) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!is_digit(text[i])) return false;
  int y = 0;
  unsigned m = 0, d = 0;
  auto digits = [&](size_t from, size_t len, auto& value) {
    auto [p, ec] = std::from_chars(text.data() + from, text.data() + from + len, value);
    return ec == std::errc() && p == text.data() + from + len;
  };
  if (!digits(0, 4, y) || !digits(5, 2, m) || !digits(8, 2, d)) return false;
  static const unsigned month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  unsigned limit = month_days[m - 1] + (m == 2 && is_leap(y) ? 1 : 0);
  if (d > limit) return false;
  days = days_from_civil(y, m, d);
  return true;
}

void civil_from_days(int32_t days, int& y, unsigned& m, unsigned& d) {
  const int32_t z = days + 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy_mar = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy_mar + 2) / 153;
  d = doy_mar - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe) + era * 400 + (m <= 2);
}

int day_of_year(int32_t days) {
  int y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  return days - days_from_civil(y, 1, 1) + 1;
}

std::string format_date(int32_t days) {
  int y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", y, m, d);
  return buf;
}

}  // namespace nairrcore::data
