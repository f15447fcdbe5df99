#include "bindings/bindings.h"
#include "train/forecast_trainer.h"
#include "train/fused_optimizer.h"
#include "train/norm_gelu_dropout.h"

namespace nairrcore::bindings {

using namespace nairrcore::train;

void bind_train(py::module_& m) {
  py::class_<MlpConfig>(m, "MlpConfig")
      .def(py::init<>())
      .def_readwrite("inputs", &MlpConfig::inputs)
      .def_readwrite("width", &MlpConfig::width)
      .def_readwrite("depth", &MlpConfig::depth)
      .def_readwrite("outputs", &MlpConfig::outputs)
      .def_readwrite("dropout", &MlpConfig::dropout)
      .def_readwrite("fused_blocks", &MlpConfig::fused_blocks);

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
      .def_readwrite("accumulate", &FitConfig::accumulate)
      .def_readwrite("cuda_graphs", &FitConfig::cuda_graphs);

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

  // The fused optimisers on their own, as torch.optim takes them (tests
  // compare them with torch.optim.AdamW and SGD): groups of (params, lr, weight_decay).
  using Groups = std::vector<std::tuple<std::vector<at::Tensor>, double, double>>;
  py::class_<FusedAdamW>(m, "FusedAdamW")
      .def(py::init([](const Groups& groups, std::tuple<double, double> betas, double eps) {
             std::vector<torch::optim::OptimizerParamGroup> g;
             for (const auto& [params, lr, wd] : groups)
               g.emplace_back(params, std::make_unique<torch::optim::AdamWOptions>(
                                          torch::optim::AdamWOptions(lr).betas(betas).eps(eps).weight_decay(wd)));
             return std::make_unique<FusedAdamW>(g, torch::optim::AdamWOptions());
           }),
           py::arg("groups"), py::arg("betas") = std::make_tuple(0.9, 0.999), py::arg("eps") = 1e-8)
      .def("step", [](FusedAdamW& o, const std::optional<at::Tensor>& grad_scale,
                      const std::optional<at::Tensor>& found_inf) {
             o.fused_step(grad_scale.value_or(at::Tensor()), found_inf.value_or(at::Tensor()));
           },
           py::arg("grad_scale") = py::none(), py::arg("found_inf") = py::none())
      .def("set_lr", &FusedAdamW::set_lr, py::arg("group"), py::arg("lr"))
      .def("zero_grad", [](FusedAdamW& o) { o.zero_grad(true); });
  py::class_<FusedSGD>(m, "FusedSGD")
      .def(py::init([](const Groups& groups, double momentum, bool nesterov) {
             std::vector<torch::optim::OptimizerParamGroup> g;
             for (const auto& [params, lr, wd] : groups)
               g.emplace_back(params, std::make_unique<torch::optim::SGDOptions>(
                                          torch::optim::SGDOptions(lr).momentum(momentum).nesterov(nesterov)
                                              .weight_decay(wd)));
             return std::make_unique<FusedSGD>(g, torch::optim::SGDOptions(0.1));
           }),
           py::arg("groups"), py::arg("momentum"), py::arg("nesterov") = false)
      .def("step", [](FusedSGD& o, const std::optional<at::Tensor>& grad_scale,
                      const std::optional<at::Tensor>& found_inf) {
             o.fused_step(grad_scale.value_or(at::Tensor()), found_inf.value_or(at::Tensor()));
           },
           py::arg("grad_scale") = py::none(), py::arg("found_inf") = py::none())
      .def("set_lr", &FusedSGD::set_lr, py::arg("group"), py::arg("lr"))
      .def("zero_grad", [](FusedSGD& o) { o.zero_grad(true); });

  m.def("norm_gelu_dropout",
        [](const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& beta, double eps, double p, bool training) {
          return z.is_cuda() ? norm_gelu_dropout_cuda(z, gamma, beta, eps, p, training)
                             : norm_gelu_dropout(z, gamma, beta, eps, p, training);
        },
        py::arg("z"), py::arg("gamma"), py::arg("beta"), py::arg("eps") = 1e-5, py::arg("p") = 0.0,
        py::arg("training") = true,
        "The MLP block's fused LayerNorm -> GELU -> dropout (fp32 CPU rows, or CUDA rows), for tests.");

  py::class_<ForecastTrainer> trainer(m, "ForecastTrainer");
  trainer.def(py::init<const MlpConfig&, const FitConfig&>(), py::arg("model"), py::arg("fit"))
      .def("predict", &ForecastTrainer::predict, py::arg("x"), py::arg("batch_size") = 65536,
           py::call_guard<py::gil_scoped_release>())
      .def("loss", &ForecastTrainer::loss, py::arg("x"), py::arg("y"), py::arg("batch_size") = 65536,
           py::call_guard<py::gil_scoped_release>())
      .def("evaluate", &ForecastTrainer::evaluate, py::arg("x"), py::arg("y"), py::arg("city"),
           py::arg("num_cities"), py::arg("batch_size") = 65536,
           py::call_guard<py::gil_scoped_release>());
  bind_trainer_common(trainer, "train_x", "train_y");
}

}  // namespace nairrcore::bindings
