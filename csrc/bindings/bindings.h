#pragma once
// The only files that include pybind11: conversions, GIL handling, errors.
#include <pybind11/pybind11.h>
#include <torch/extension.h>

#include <functional>

#include "data/batch_loader.h"
#include "train/epoch_stats.h"

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

// Python callables (or None) as a training loop's callbacks; both take the
// GIL, and the step callback also raises on Ctrl-C.
train::EpochCallback epoch_callback(py::object fn);
train::StepCallback step_callback(py::object fn);

py::dict loader_state_dict(const data::LoaderState& s);

// The iteration methods every loader shares (epochs, resumable state, next).
template <typename Loader>
void bind_loader_iteration(py::class_<Loader>& c) {
  c.def_property_readonly("num_batches", &Loader::num_batches)
      .def_property_readonly("num_samples", &Loader::num_samples)
      .def_property_readonly("resident", &Loader::resident)
      .def("set_epoch", &Loader::set_epoch, py::call_guard<py::gil_scoped_release>())
      .def("state", [](const Loader& l) { return loader_state_dict(l.state()); })
      .def("load_state", [](Loader& l, const py::dict& d) {
        data::LoaderState s{d["seed"].cast<uint64_t>(), d["epoch"].cast<int64_t>(), d["next_batch"].cast<int64_t>()};
        py::gil_scoped_release nogil;
        l.load_state(s);
      })
      .def("begin", &Loader::begin, py::call_guard<py::gil_scoped_release>())
      .def("next", [](Loader& l) -> py::object {
        data::Batch b;
        bool got;
        {
          py::gil_scoped_release nogil;
          got = l.next(b, check_python_signals);
        }
        if (!got) return py::none();
        return py::make_tuple(b.x, b.y);
      })
      .def("stop", &Loader::stop, py::call_guard<py::gil_scoped_release>());
}

}  // namespace nairrcore::bindings
