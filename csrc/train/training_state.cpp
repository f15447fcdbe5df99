#include "train/training_state.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include <cmath>
#include <sstream>

#include "common/errors.h"
#include "train/state_archive_check.h"

namespace nairrcore::train {

namespace {
at::Tensor scalar(double v) { return at::scalar_tensor(v, at::kDouble); }
at::Tensor scalar(int64_t v) { return at::scalar_tensor(v, at::kLong); }
}  // namespace

void LoopProgress::start_epoch(int64_t epoch) {
  epochs_done = epoch;
  next_batch = 0;
  train_sec = wait_sec = 0;
  samples = skipped = nonfinite = nonfinite_samples = 0;
  if (loss_total.defined()) loss_total.zero_();  // in place: a captured step adds to it
}

EpochStats LoopProgress::epoch_stats(int64_t epoch, double train_sec, const LossScaler& scaler) const {
  EpochStats st;
  st.epoch = epoch;
  st.train_sec = train_sec;
  st.train_samples = samples;
  st.skipped_steps = skipped;
  st.nonfinite_losses = nonfinite;
  st.data_wait_sec = wait_sec;
  // Over the batches whose loss was a number (NaN when none was).
  const int64_t counted = samples - nonfinite_samples;
  st.train_loss = counted > 0 ? loss_total.item<double>() / counted : std::nan("");
  st.samples_per_sec = samples / std::max(train_sec, 1e-12);
  st.loss_scale = scaler.enabled() ? scaler.value() : 1.0;
  return st;
}

std::string save_training_state(const torch::nn::Module& model, const torch::optim::Optimizer& optimizer,
                                const LossScaler& scaler, const LoopProgress& p,
                                const std::vector<at::Tensor>& extra) {
  torch::serialize::OutputArchive root, m, o, s, x;
  model.save(m);
  optimizer.save(o);
  auto scaler_state = scaler.state();
  for (size_t i = 0; i < scaler_state.size(); ++i) s.write(std::to_string(i), scaler_state[i].cpu(), true);
  for (size_t i = 0; i < extra.size(); ++i) x.write(std::to_string(i), extra[i].detach().cpu(), true);
  root.write("model", m);
  root.write("optimizer", o);
  root.write("scaler", s);
  root.write("extra", x);
  root.write("extra_count", scalar(static_cast<int64_t>(extra.size())), true);
  root.write("epochs_done", scalar(p.epochs_done), true);
  root.write("next_batch", scalar(p.next_batch), true);
  root.write("train_sec", scalar(p.train_sec), true);
  root.write("wait_sec", scalar(p.wait_sec), true);
  root.write("samples", scalar(p.samples), true);
  root.write("skipped", scalar(p.skipped), true);
  root.write("nonfinite", scalar(p.nonfinite), true);
  root.write("nonfinite_samples", scalar(p.nonfinite_samples), true);
  root.write("loss_total", p.loss_total.defined() ? p.loss_total.detach().cpu() : scalar(0.0), true);
  std::ostringstream out;
  root.save_to(out);
  return out.str();
}

namespace {
// First non-blank line of an error message, at most 200 characters.
std::string first_line(const char* message) {
  std::istringstream lines(message);
  std::string line;
  while (std::getline(lines, line)) {
    const auto start = line.find_first_not_of(" \t");
    if (start != std::string::npos) return line.substr(start, 200);
  }
  return "no message";
}

void restore(torch::serialize::InputArchive& root, const c10::Device& device, torch::nn::Module& model,
             torch::optim::Optimizer& optimizer, LossScaler& scaler, LoopProgress& p, std::vector<at::Tensor>& extra) {
  torch::serialize::InputArchive m, o, s, x;
  root.read("model", m);
  root.read("optimizer", o);
  root.read("scaler", s);
  root.read("extra", x);
  auto read = [&](const char* key) {
    at::Tensor t;
    root.read(key, t, true);
    NAIRR_CHECK_DATA(t.numel() == 1, std::string("training state: '") + key + "' is not a single value");
    return t;
  };
  try {
    model.load(m);
    optimizer.load(o);
  } catch (const c10::Error& e) {
    throw ConfigError(std::string("training state does not fit this model or optimiser: ") +
                      e.what_without_backtrace());
  }
  {
    torch::NoGradGuard no_grad;
    auto scaler_state = scaler.state();
    for (size_t i = 0; i < scaler_state.size(); ++i) {
      at::Tensor t;
      s.read(std::to_string(i), t, true);
      NAIRR_CHECK_DATA(t.sizes() == scaler_state[i].sizes(), "training state: loss scaler of another shape");
      scaler_state[i].copy_(t);
    }
  }
  const int64_t count = read("extra_count").item<int64_t>();
  NAIRR_CHECK_DATA(count >= 0 && count <= 100000, "training state: implausible extra tensor count");
  extra.resize(static_cast<size_t>(count));
  for (size_t i = 0; i < extra.size(); ++i) {
    at::Tensor t;
    x.read(std::to_string(i), t, true);
    extra[i] = t.to(device);
  }
  p.epochs_done = read("epochs_done").item<int64_t>();
  p.next_batch = read("next_batch").item<int64_t>();
  p.train_sec = read("train_sec").item<double>();
  p.wait_sec = read("wait_sec").item<double>();
  p.samples = read("samples").item<int64_t>();
  p.skipped = read("skipped").item<int64_t>();
  {
    at::Tensor t;  // absent from checkpoints written before they were counted
    p.nonfinite = root.try_read("nonfinite", t) ? t.item<int64_t>() : 0;
    p.nonfinite_samples = root.try_read("nonfinite_samples", t) ? t.item<int64_t>() : 0;
  }
  NAIRR_CHECK_DATA(p.epochs_done >= 0 && p.next_batch >= 0 && p.samples >= 0 && p.skipped >= 0 &&
                       p.nonfinite >= 0 && p.nonfinite_samples >= 0 && std::isfinite(p.train_sec) &&
                       p.train_sec >= 0,
                   "training state: position or counters out of range");
  auto loss_total = p.next_batch > 0 ? read("loss_total").to(device, at::kDouble).reshape({})
                                     : at::zeros({}, at::TensorOptions().device(device).dtype(at::kDouble));
  if (p.loss_total.defined()) {
    p.loss_total.copy_(loss_total);
  } else {
    p.loss_total = loss_total;
  }
}
}  // namespace

void load_training_state(const std::string& blob, torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                         LossScaler& scaler, LoopProgress& p, std::vector<at::Tensor>& extra) {
  const auto device = model.parameters().empty() ? c10::Device("cpu") : model.parameters()[0].device();
  torch::serialize::InputArchive root;
  try {
    check_state_archive(blob);
    std::istringstream in(blob);
    root.load_from(in, device);
    restore(root, device, model, optimizer, scaler, p, extra);
  } catch (const DataError&) {
    throw;
  } catch (const ConfigError&) {
    throw;
  } catch (const c10::Error& e) {
    throw DataError(std::string("training state: unreadable (") + e.what_without_backtrace() + ")");
  } catch (const std::exception& e) {
    // A damaged archive can fail inside the TorchScript importer, which throws
    // its own error types rather than c10::Error.
    throw DataError(std::string("training state: unreadable (") + first_line(e.what()) + ")");
  }
}

}  // namespace nairrcore::train
