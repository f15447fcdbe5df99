// libFuzzer target: the CIFAR-10 record parser must reject any malformed
// input with DataError, never crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/errors.h"
#include "data/cifar_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    auto out = nairrcore::data::parse_cifar({{"fuzz.bin", bytes}}, size % 2 ? "nhwc" : "nchw", 1);
    if (out.labels.numel() * nairrcore::data::kCifarRecordBytes != static_cast<int64_t>(size)) __builtin_trap();
  } catch (const nairrcore::DataError&) {
  }
  return 0;
}
