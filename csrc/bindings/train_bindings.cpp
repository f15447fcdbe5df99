#include "bindings/bindings.h"
#include "train/forecast_trainer.h"

namespace nairrcore::bindings {

using namespace nairrcore::train;

void bind_train(py::module_& m) {
  py::class_<MlpConfig>(m, "MlpConfig")
      .def(py::init<>())
      .def_readwrite("inputs", &MlpConfig::inputs)
      .def_readwrite("width", &MlpConfig::width)
      .def_readwrite("depth", &MlpConfig::depth)
      .def_readwrite("outputs", &MlpConfig::outputs)
      .def_readwrite("dropout", &MlpConfig::dropout);

  py::class_<FitConfig>(m, "FitConfig")
      .def(py::init<>())
      .def_readwrite("epochs", &FitConfig::epochs)
      .def_readwrite("batch_size", &FitConfig::batch_size)
      .def_readwrite("lr", &FitConfig::lr)
      .def_readwrite("weight_decay", &FitConfig::weight_decay)
      .def_readwrite("seed", &FitConfig::seed)
      .def_readwrite("device", &FitConfig::device)
      .def_readwrite("precision", &FitConfig::precision)
      .def_readwrite("data_on_device", &FitConfig::data_on_device)
      .def_readwrite("workers", &FitConfig::workers)
      .def_readwrite("prefetch", &FitConfig::prefetch)
      .def_readwrite("accumulate", &FitConfig::accumulate);

  py::class_<EpochStats>(m, "EpochStats")
      .def_readonly("epoch", &EpochStats::epoch)
      .def_readonly("train_loss", &EpochStats::train_loss)
      .def_readonly("val_loss", &EpochStats::val_loss)
      .def_readonly("val_accuracy", &EpochStats::val_accuracy)
      .def_readonly("data_wait_sec", &EpochStats::data_wait_sec)
      .def_readonly("train_sec", &EpochStats::train_sec)
      .def_readonly("val_sec", &EpochStats::val_sec)
      .def_readonly("train_samples", &EpochStats::train_samples)
      .def_readonly("samples_per_sec", &EpochStats::samples_per_sec)
      .def_readonly("loss_scale", &EpochStats::loss_scale)
      .def_readonly("skipped_steps", &EpochStats::skipped_steps)
      .def_readonly("rank_train_sec", &EpochStats::rank_train_sec);

  py::class_<RegressionMetrics>(m, "RegressionMetrics")
      .def_readonly("mae", &RegressionMetrics::mae)
      .def_readonly("rmse", &RegressionMetrics::rmse)
      .def_readonly("city_mae", &RegressionMetrics::city_mae)
      .def_readonly("city_rmse", &RegressionMetrics::city_rmse)
      .def_readonly("city_count", &RegressionMetrics::city_count)
      .def_readonly("rows", &RegressionMetrics::rows);

  py::class_<ForecastTrainer>(m, "ForecastTrainer")
      .def(py::init<const MlpConfig&, const FitConfig&>(), py::arg("model"), py::arg("fit"))
      .def("fit",
           [](ForecastTrainer& t, const at::Tensor& tx, const at::Tensor& ty, const at::Tensor& vx,
              const at::Tensor& vy, py::object on_epoch, py::object on_step) {
             auto epoch_cb = epoch_callback(on_epoch);
             auto step_cb = step_callback(on_step);
             py::gil_scoped_release nogil;
             return t.fit(tx, ty, vx, vy, epoch_cb, step_cb);
           },
           py::arg("train_x"), py::arg("train_y"), py::arg("val_x"), py::arg("val_y"),
           py::arg("on_epoch") = py::none(), py::arg("on_step") = py::none())
      .def("predict", &ForecastTrainer::predict, py::arg("x"), py::arg("batch_size") = 65536,
           py::call_guard<py::gil_scoped_release>())
      .def("loss", &ForecastTrainer::loss, py::arg("x"), py::arg("y"), py::arg("batch_size") = 65536,
           py::call_guard<py::gil_scoped_release>())
      .def("evaluate", &ForecastTrainer::evaluate, py::arg("x"), py::arg("y"), py::arg("city"),
           py::arg("num_cities"), py::arg("batch_size") = 65536,
           py::call_guard<py::gil_scoped_release>())
      .def("state_dict", &ForecastTrainer::state_dict)
      .def("load_state_dict", &ForecastTrainer::load_state_dict)
      .def_property_readonly("num_parameters", &ForecastTrainer::num_parameters)
      .def_property_readonly("epochs_done", &ForecastTrainer::epochs_done)
      .def("set_data_parallel", &ForecastTrainer::set_data_parallel, py::arg("group"), py::arg("bucket_mb") = 25.0)
      .def("save_state", [](const ForecastTrainer& t) { return py::bytes(t.save_state()); })
      .def("load_state", [](ForecastTrainer& t, const py::bytes& blob) { t.load_state(std::string(blob)); })
      .def_property_readonly("precision", &ForecastTrainer::precision);
}

}  // namespace nairrcore::bindings
