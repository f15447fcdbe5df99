#pragma once
// The CSV dialect of the published weather files (docs/ERRORS.md, "What the
// readers accept"): UTF-8, an optional byte-order mark, one record per line
// ending in \n or \r\n, comma separated, fields optionally in double quotes
// ("" inside them is one "), numbers in plain decimal syntax, "NA" or empty
// for a missing number.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace nairrcore::data {

// Whole file as bytes; DataError naming the path if it cannot be read.
std::string read_file(const std::string& path);

// Split one line into fields, removing surrounding quotes ("" inside quotes
// becomes "). Views point into `line` or into `scratch` for unescaped fields.
// False when a quoted field is not closed, or its closing quote is followed by
// anything but a comma or the line's end.
bool split_csv_line(std::string_view line, std::vector<std::string_view>& fields,
                    std::deque<std::string>& scratch);

// Index of each wanted column in the header; DataError naming the file and
// the missing or repeated column otherwise.
std::vector<int> locate_columns(const std::vector<std::string_view>& header,
                                const std::vector<std::string>& wanted,
                                const std::string& path);

// Number or NaN for "NA"/empty, with spaces around allowed. The syntax is
// [+-]? (D+ (. D*)? | . D+) ([eE] [+-]? D+)? with ASCII digits D; the value
// must be finite (an underflow reads as the nearest double, as strtod does).
// Returns false on anything else.
bool parse_number(std::string_view text, double& out);

// `text` safe to put in an error message: bytes outside printable ASCII as
// \xHH, at most 40 characters (an error message must itself be valid text).
std::string printable(std::string_view text);
// Offset of the first byte that breaks UTF-8 in `text`, or -1 when it is valid.
int64_t invalid_utf8_at(std::string_view text);
// DataError naming `path`, the line and column, when `text` is not UTF-8 or
// holds a carriage return that does not end a line.
void check_text(std::string_view text, const std::string& path);
// `text` without a leading UTF-8 byte-order mark (a spreadsheet's export adds one).
std::string_view strip_bom(std::string_view text);

// Days since 1970-01-01 for "YYYY-MM-DD" (ASCII digits, year 0001..9999).
// Returns false on a malformed or impossible date.
bool parse_date(std::string_view text, int32_t& days);
// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
constexpr int32_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}
int day_of_year(int32_t days);  // 1..366
void civil_from_days(int32_t days, int& y, unsigned& m, unsigned& d);
std::string format_date(int32_t days);  // "YYYY-MM-DD"

// Iterates the lines of a buffer (handles \n and \r\n), counting from 1,
// after a leading byte-order mark.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(strip_bom(text)) {}
  bool next(std::string_view& line);
  int64_t line_number() const { return line_no_; }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_no_ = 0;
};

}  // namespace nairrcore::data
