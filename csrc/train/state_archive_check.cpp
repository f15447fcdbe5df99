#include "train/state_archive_check.h"

#include <caffe2/serialize/inline_container.h>

#include <cstdint>
#include <cstring>
#include <sstream>

#include "common/errors.h"

namespace nairrcore::train {

namespace {

// Walks a pickle's opcodes (those TorchScript writes and reads) without
// building anything, checking each declared length against what remains.
// An opcode it does not know ends the walk: the importer rejects it itself.
class PickleWalk {
 public:
  PickleWalk(const std::string& record, const uint8_t* data, size_t size)
      : record_(record), data_(data), size_(size) {}

  void run() {
    while (pos_ < size_) {
      const size_t at = pos_;
      switch (static_cast<char>(data_[pos_++])) {
        case '.':
          return;  // STOP
        case '(': case '0': case '1': case '2': case 'N': case ']': case 'a': case 'e': case 'l':
        case ')': case 't': case '}': case 'd': case 's': case 'u': case 'R': case 'b': case 'Q': case 'o':
        case '\x81': case '\x85': case '\x86': case '\x87': case '\x88': case '\x89': case '\x8f':
        case '\x90': case '\x91': case '\x92': case '\x93': case '\x94':
          break;
        case 'K': case 'h': case '\x80':
          skip(1, at);
          break;
        case 'q':
          memo(fixed(1, at), at);
          break;
        case 'M':
          skip(2, at);
          break;
        case 'J': case 'j':
          skip(4, at);
          break;
        case 'r':
          memo(fixed(4, at), at);
          break;
        case 'G': case '\x95':
          skip(8, at);
          break;
        case '\x8a': case 'U': case 'C': case '\x8c':
          skip(fixed(1, at), at);
          break;
        case '\x8b': case 'T': case 'X': case 'B':
          skip(fixed(4, at), at);
          break;
        case '\x8d': case '\x8e': case '\x96':
          skip(fixed(8, at), at);
          break;
        case 'I': case 'L': case 'S': case 'V': case 'F': case 'p': case 'g': case 'P':
          line(at);
          break;
        case 'c': case 'i':
          line(at);
          line(at);
          break;
        default:
          return;
      }
    }
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const {
    std::ostringstream msg;
    msg << "training state: unreadable (record '" << record_ << "', offset " << at << ": " << what << ")";
    throw DataError(msg.str());
  }

  uint64_t fixed(size_t bytes, size_t at) {
    if (size_ - pos_ < bytes) fail(at, "cut short");
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += bytes;
    return v;
  }

  void skip(uint64_t bytes, size_t at) {
    if (bytes > size_ - pos_) fail(at, "a length of " + std::to_string(bytes) + " bytes, past the record's end");
    pos_ += bytes;
  }

  // Memo slots are numbered in order of use, so a slot beyond the record's
  // size cannot have been written by a pickler.
  void memo(uint64_t slot, size_t at) const {
    if (slot > size_) fail(at, "memo slot " + std::to_string(slot) + " beyond any the record can hold");
  }

  void line(size_t at) {
    const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (!nl) fail(at, "a line without its end");
    pos_ = static_cast<const uint8_t*>(nl) - data_ + 1;
  }

  const std::string& record_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void check_state_archive(const std::string& blob) {
  std::istringstream in(blob);
  caffe2::serialize::PyTorchStreamReader reader(&in);
  for (const auto& name : reader.getAllRecords()) {
    // nairrcore stores records uncompressed, so none can exceed the archive
    const size_t size = reader.getRecordSize(name);
    if (size > blob.size())
      throw DataError("training state: unreadable (record '" + name + "' claims " + std::to_string(size) +
                      " bytes in an archive of " + std::to_string(blob.size()) + ")");
    // data.pkl, constants.pkl, and the code's *.debug_pkl (read when the importer reports an error)
    if (!ends_with(name, ".pkl") && !ends_with(name, ".debug_pkl")) continue;
    auto [data, n] = reader.getRecord(name);
    PickleWalk(name, static_cast<const uint8_t*>(data.get()), n).run();
  }
}

}  // namespace nairrcore::train
