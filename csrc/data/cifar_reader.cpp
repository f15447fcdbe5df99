#include "data/cifar_reader.h"

#include <cstring>

#include "common/errors.h"
#include "common/parallel.h"

namespace nairrcore::data {

namespace {
void check_file(const CifarFile& f, int64_t records_per_file) {
  const auto size = static_cast<int64_t>(f.bytes.size());
  if (size == 0) throw DataError(f.name + ": file is empty");
  if (size % kCifarRecordBytes != 0) {
    throw DataError(f.name + ": " + std::to_string(size) + " bytes is not a whole number of " +
                    std::to_string(kCifarRecordBytes) + "-byte CIFAR-10 records (truncated or " +
                    "not a CIFAR-10 binary file)");
  }
  const int64_t records = size / kCifarRecordBytes;
  if (records_per_file > 0 && records != records_per_file) {
    throw DataError(f.name + ": " + std::to_string(records) + " records; an official CIFAR-10 batch file holds " +
                    "exactly " + std::to_string(records_per_file) + " (" +
                    std::to_string(records_per_file * kCifarRecordBytes) + " bytes): several files joined " +
                    "into one (concatenated xz streams), or not an official CIFAR-10 file");
  }
  for (int64_t r = 0; r < records; ++r) {
    const auto label = static_cast<uint8_t>(f.bytes[r * kCifarRecordBytes]);
    if (label >= kCifarClasses) {
      throw DataError(f.name + ": record " + std::to_string(r) + " has label " +
                      std::to_string(label) + ", expected 0..9");
    }
  }
}
}  // namespace

CifarImages parse_cifar(const std::vector<CifarFile>& files, const std::string& layout,
                        int threads, int64_t records_per_file) {
  NAIRR_CHECK_ARG(layout == "nchw" || layout == "nhwc",
                  "layout: expected 'nchw' or 'nhwc', got '" + layout + "'");
  NAIRR_CHECK_ARG(!files.empty(), "parse_cifar: no files given");
  std::vector<int64_t> first(files.size() + 1, 0);
  for (size_t i = 0; i < files.size(); ++i) {
    check_file(files[i], records_per_file);
    first[i + 1] = first[i] + static_cast<int64_t>(files[i].bytes.size()) / kCifarRecordBytes;
  }
  const int64_t n = first.back();
  const bool nchw = layout == "nchw";
  CifarImages out;
  out.images = nchw ? at::empty({n, 3, kCifarSide, kCifarSide}, at::kByte)
                    : at::empty({n, kCifarSide, kCifarSide, 3}, at::kByte);
  out.labels = at::empty({n}, at::kLong);
  auto* images = out.images.data_ptr<uint8_t>();
  auto* labels = out.labels.data_ptr<int64_t>();
  constexpr int64_t kPlane = kCifarSide * kCifarSide;
  parallel_for(static_cast<int64_t>(files.size()), threads, [&](int64_t f) {
    const auto* src = reinterpret_cast<const uint8_t*>(files[f].bytes.data());
    for (int64_t r = 0; r < first[f + 1] - first[f]; ++r) {
      const uint8_t* rec = src + r * kCifarRecordBytes;
      const int64_t i = first[f] + r;
      labels[i] = rec[0];
      uint8_t* dst = images + i * kCifarImageBytes;
      if (nchw) {
        std::memcpy(dst, rec + 1, kCifarImageBytes);
      } else {
        for (int64_t p = 0; p < kPlane; ++p)
          for (int64_t c = 0; c < 3; ++c) dst[p * 3 + c] = rec[1 + c * kPlane + p];
      }
    }
  });
  return out;
}

}  // namespace nairrcore::data
