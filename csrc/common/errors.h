#pragma once
// Error types shared by the core. Each carries a message that names the file,
// line or argument at fault; the bindings map them to Python exceptions.
#include <stdexcept>
#include <string>

namespace nairrcore {

// Input data is missing, truncated or malformed. Message names the file.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A configuration value or argument is invalid. Message names the argument.
class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Raised inside loops when the caller asked them to stop (e.g. Ctrl-C).
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace nairrcore

#define NAIRR_CHECK_ARG(cond, msg)                         \
  do {                                                     \
    if (!(cond)) throw ::nairrcore::ConfigError(msg);      \
  } while (0)

#define NAIRR_CHECK_DATA(cond, msg)                        \
  do {                                                     \
    if (!(cond)) throw ::nairrcore::DataError(msg);        \
  } while (0)
