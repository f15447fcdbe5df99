#include "bindings/bindings.h"
#include "common/errors.h"

namespace nairrcore::bindings {

void check_python_signals() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
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
  nairrcore::bindings::bind_data(m);
  nairrcore::bindings::bind_train(m);
  nairrcore::bindings::bind_images(m);
  nairrcore::bindings::bind_telemetry(m);
}
