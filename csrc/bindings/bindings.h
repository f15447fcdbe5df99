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
void bind_loaders(py::module_& m);
void bind_distributed(py::module_& m);
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

// What both trainers bind alike: fit (GIL released, callbacks taking it back
// every `callback_every` steps), training state, position and step mode.
template <typename Trainer>
void bind_trainer_common(py::class_<Trainer>& c, const char* x_name, const char* y_name) {
  c.def("fit",
        [](Trainer& t, const at::Tensor& tx, const at::Tensor& ty, const at::Tensor& vx, const at::Tensor& vy,
           py::object on_epoch, py::object on_step, int64_t callback_every) {
          auto epoch_cb = epoch_callback(on_epoch);
          auto step_cb = step_callback(on_step);
          py::gil_scoped_release nogil;
          return t.fit(tx, ty, vx, vy, epoch_cb, step_cb, callback_every);
        },
        py::arg(x_name), py::arg(y_name), py::arg("val_x"), py::arg("val_y"), py::arg("on_epoch") = py::none(),
        py::arg("on_step") = py::none(), py::arg("callback_every") = 1)
      .def("state_dict", &Trainer::state_dict)
      .def("load_state_dict", &Trainer::load_state_dict)
      .def_property_readonly("num_parameters", &Trainer::num_parameters)
      .def_property_readonly("epochs_done", &Trainer::epochs_done)
      .def_property_readonly("next_batch", &Trainer::next_batch)
      .def_property_readonly("cuda_graphs", &Trainer::cuda_graphs)
      .def_property_readonly("precision", &Trainer::precision)
      .def("set_data_parallel", &Trainer::set_data_parallel, py::arg("group"), py::arg("bucket_mb") = 25.0)
      .def("save_state", [](Trainer& t) { return py::bytes(t.save_state()); })
      .def("load_state", [](Trainer& t, const py::bytes& blob) { t.load_state(std::string(blob)); });
}

// The iteration methods every loader shares (epochs, resumable state, next).
template <typename Loader>
void bind_loader_iteration(py::class_<Loader>& c) {
  c.def_property_readonly("num_batches", &Loader::num_batches)
      .def_property_readonly("num_samples", &Loader::num_samples)
      .def_property_readonly("resident", &Loader::resident)
      .def_property_readonly("host_allocations", &Loader::host_allocations)
      .def_property_readonly("worker_threads", &Loader::worker_threads)
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
