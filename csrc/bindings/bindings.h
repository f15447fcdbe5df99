#pragma once
// The only files that include pybind11: conversions, GIL handling, errors.
#include <pybind11/pybind11.h>
#include <torch/extension.h>

#include <functional>

namespace nairrcore::bindings {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_data(py::module_& m);
void bind_train(py::module_& m);
void bind_images(py::module_& m);
void bind_telemetry(py::module_& m);
void bind_info(py::module_& m);

// Raises KeyboardInterrupt (as error_already_set) if Ctrl-C arrived. Must be
// called without the GIL; takes it briefly.
void check_python_signals();

}  // namespace nairrcore::bindings
