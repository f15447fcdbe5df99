#include "bindings/bindings.h"
#include "common/errors.h"

namespace nairrcore::bindings {

void check_python_signals() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

train::EpochCallback epoch_callback(py::object fn) {
  if (fn.is_none()) return {};
  return [fn](const train::EpochStats& s) {
    py::gil_scoped_acquire gil;
    fn(s);
  };
}

train::StepCallback step_callback(py::object fn) {
  return [fn](int64_t epoch, int64_t batch, int64_t batches) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (!fn.is_none()) fn(epoch, batch, batches);
  };
}

py::dict loader_state_dict(const data::LoaderState& s) {
  py::dict d;
  d["seed"] = s.seed;
  d["epoch"] = s.epoch;
  d["next_batch"] = s.next_batch;
  return d;
}

void bind_errors(py::module_& m) {
  py::register_exception<DataError>(m, "DataError", PyExc_ValueError);
  py::register_exception<ConfigError>(m, "ConfigError", PyExc_ValueError);
}

}  // namespace nairrcore::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "nairrcore C++ core: readers, features, loaders, training loops, telemetry";
  nairrcore::bindings::bind_errors(m);
  nairrcore::bindings::bind_info(m);
  // Lower layers first: a type is registered before a signature names it
  // (the generated _core.pyi then holds Python names only).
  nairrcore::bindings::bind_data(m);
  nairrcore::bindings::bind_loaders(m);
  nairrcore::bindings::bind_distributed(m);
  nairrcore::bindings::bind_telemetry(m);
  nairrcore::bindings::bind_train(m);
}
