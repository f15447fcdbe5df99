#pragma once
// CIFAR-10 in the official binary layout: records of one label byte (0..9)
// followed by 1024 red, 1024 green and 1024 blue bytes of a 32x32 image.
#include <ATen/ATen.h>

#include <string>
#include <string_view>
#include <vector>

namespace nairrcore::data {

constexpr int64_t kCifarSide = 32;
constexpr int64_t kCifarImageBytes = 3 * kCifarSide * kCifarSide;
constexpr int64_t kCifarRecordBytes = 1 + kCifarImageBytes;
constexpr int64_t kCifarClasses = 10;
constexpr int64_t kCifarFileRecords = 10000;  // each official data_batch_N.bin and test_batch.bin

struct CifarFile {
  std::string name;        // for error messages
  std::string_view bytes;  // the whole (decompressed) file
};

struct CifarImages {
  at::Tensor images;  // uint8 [N, 3, 32, 32] ("nchw") or [N, 32, 32, 3] ("nhwc")
  at::Tensor labels;  // int64 [N]
};

// Concatenates the records of `files` in order. DataError naming the file
// when its size is not a whole, non-zero number of records (exactly
// `records_per_file` of them when that is not 0) or a label is outside 0..9.
CifarImages parse_cifar(const std::vector<CifarFile>& files, const std::string& layout = "nchw",
                        int threads = 0, int64_t records_per_file = 0);

}  // namespace nairrcore::data
