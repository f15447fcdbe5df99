#include "bindings/bindings.h"
#include "train/forecast_trainer.h"
#include "train/image_trainer.h"
#include "train/fused_optimizer.h"
#include "train/max_pool.h"
#include "train/norm_gelu_dropout.h"

namespace nairrcore::bindings {

using namespace nairrcore::train;

namespace {
py::dict metrics_dict(const ClassificationMetrics& m) {
  py::dict d;
  d["loss"] = m.loss;
  d["accuracy"] = m.accuracy;
  d["confusion"] = m.confusion;
  d["predicted"] = m.predicted;
  d["samples"] = m.samples;
  return d;
}

void bind_forecast_configs(py::module_& m) {
  py::class_<MlpConfig>(m, "MlpConfig")
      .def(py::init<>())
      .def_readwrite("inputs", &MlpConfig::inputs)
      .def_readwrite("width", &MlpConfig::width)
      .def_readwrite("depth", &MlpConfig::depth)
      .def_readwrite("outputs", &MlpConfig::outputs)
      .def_readwrite("dropout", &MlpConfig::dropout)
      .def_readwrite("norm_eps", &MlpConfig::norm_eps)
      .def_readwrite("fused_blocks", &MlpConfig::fused_blocks);

  py::class_<FitConfig>(m, "FitConfig")
      .def(py::init<>())
      .def_readwrite("epochs", &FitConfig::epochs)
      .def_readwrite("batch_size", &FitConfig::batch_size)
      .def_readwrite("lr", &FitConfig::lr)
      .def_readwrite("weight_decay", &FitConfig::weight_decay)
      .def_readwrite("adam_beta1", &FitConfig::adam_beta1)
      .def_readwrite("adam_beta2", &FitConfig::adam_beta2)
      .def_readwrite("adam_eps", &FitConfig::adam_eps)
      .def_readwrite("smooth_l1_beta", &FitConfig::smooth_l1_beta)
      .def_readwrite("eval_batch_size", &FitConfig::eval_batch_size)
      .def_readwrite("seed", &FitConfig::seed)
      .def_readwrite("device", &FitConfig::device)
      .def_readwrite("precision", &FitConfig::precision)
      .def_readwrite("data_on_device", &FitConfig::data_on_device)
      .def_readwrite("workers", &FitConfig::workers)
      .def_readwrite("prefetch", &FitConfig::prefetch)
      .def_readwrite("accumulate", &FitConfig::accumulate)
      .def_readwrite("cuda_graphs", &FitConfig::cuda_graphs);

}

void bind_results(py::module_& m) {
  py::class_<EpochStats>(m, "EpochStats")
      .def_readonly("epoch", &EpochStats::epoch)
      .def_readonly("train_loss", &EpochStats::train_loss)
      .def_readonly("val_loss", &EpochStats::val_loss)
      .def_readonly("val_accuracy", &EpochStats::val_accuracy)
      .def_readonly("val_samples", &EpochStats::val_samples)
      .def_readonly("data_wait_sec", &EpochStats::data_wait_sec)
      .def_readonly("train_sec", &EpochStats::train_sec)
      .def_readonly("val_sec", &EpochStats::val_sec)
      .def_readonly("train_samples", &EpochStats::train_samples)
      .def_readonly("samples_per_sec", &EpochStats::samples_per_sec)
      .def_readonly("loss_scale", &EpochStats::loss_scale)
      .def_readonly("skipped_steps", &EpochStats::skipped_steps)
      .def_readonly("nonfinite_losses", &EpochStats::nonfinite_losses)
      .def_readonly("rank_train_sec", &EpochStats::rank_train_sec);

  py::class_<RegressionMetrics>(m, "RegressionMetrics")
      .def_readonly("mae", &RegressionMetrics::mae)
      .def_readonly("rmse", &RegressionMetrics::rmse)
      .def_readonly("city_mae", &RegressionMetrics::city_mae)
      .def_readonly("city_rmse", &RegressionMetrics::city_rmse)
      .def_readonly("city_count", &RegressionMetrics::city_count)
      .def_readonly("rows", &RegressionMetrics::rows);
}

// The fused optimisers on their own, as torch.optim takes them (tests
// compare them with torch.optim.AdamW and SGD): groups of (params, lr, weight_decay).
using Groups = std::vector<std::tuple<std::vector<at::Tensor>, double, double>>;

void bind_optimizers(py::module_& m) {
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

}

void bind_kernels(py::module_& m) {
  m.def("norm_gelu_dropout",
        [](const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& beta, double eps, double p, bool training,
           const std::optional<at::Tensor>& bias) {
          const auto block = z.is_cuda() ? norm_gelu_dropout_cuda : norm_gelu_dropout;
          return block(z, gamma, beta, eps, p, training, bias.value_or(at::Tensor()));
        },
        py::arg("z"), py::arg("gamma"), py::arg("beta"), py::arg("eps") = 1e-5, py::arg("p") = 0.0,
        py::arg("training") = true, py::arg("bias") = py::none(),
        "The MLP block's fused (bias ->) LayerNorm -> GELU -> dropout (fp32 CPU rows, or CUDA rows), for tests.");
  m.def("max_pool_2x2", &max_pool_2x2, py::arg("x"),
        "The fast net's 2x2 max pool: nairrcore's kernels for channels-last CUDA images, else at::max_pool2d.");
  m.def("max_pool_2x2_uses_kernel", &max_pool_2x2_cuda_fits, py::arg("x"),
        "Whether max_pool_2x2 takes nairrcore's GPU kernels for this tensor.");

}

void bind_image_configs(py::module_& m);
}  // namespace

void bind_train(py::module_& m) {
  bind_forecast_configs(m);
  bind_results(m);
  bind_optimizers(m);
  bind_kernels(m);
  bind_image_configs(m);
  py::class_<ForecastTrainer> trainer(m, "ForecastTrainer");
  trainer.def(py::init<const MlpConfig&, const FitConfig&>(), py::arg("model"), py::arg("fit"))
      .def("set_data_on_device", &ForecastTrainer::set_data_on_device, py::arg("resident"))
      .def("predict", &ForecastTrainer::predict, py::arg("x"), py::call_guard<py::gil_scoped_release>())
      .def("loss", &ForecastTrainer::loss, py::arg("x"), py::arg("y"), py::call_guard<py::gil_scoped_release>())
      .def("evaluate", &ForecastTrainer::evaluate, py::arg("x"), py::arg("y"), py::arg("city"),
           py::arg("num_cities"), py::call_guard<py::gil_scoped_release>());
  bind_trainer_common(trainer, "train_x", "train_y");

  py::class_<ImageTrainer> image_trainer(m, "ImageTrainer");
  image_trainer.def(py::init<const ImageModelConfig&, const ImageFitConfig&>(), py::arg("model"), py::arg("fit"))
      .def("evaluate", [](ImageTrainer& t, const at::Tensor& images, const at::Tensor& labels) {
        ClassificationMetrics m;
        {
          py::gil_scoped_release nogil;
          m = t.evaluate(images, labels);
        }
        return metrics_dict(m);
      })
      .def("predict_proba", &ImageTrainer::predict_proba, py::call_guard<py::gil_scoped_release>());
  bind_trainer_common(image_trainer, "train_images", "train_labels");
}

namespace {
void bind_image_configs(py::module_& m) {
  py::class_<ImageModelConfig>(m, "ImageModelConfig")
      .def(py::init<>())
      .def_readwrite("name", &ImageModelConfig::name)
      .def_readwrite("classes", &ImageModelConfig::classes)
      .def_readwrite("widths", &ImageModelConfig::widths)
      .def_readwrite("whiten_width", &ImageModelConfig::whiten_width)
      .def_readwrite("bn_momentum", &ImageModelConfig::bn_momentum)
      .def_readwrite("head_scale", &ImageModelConfig::head_scale);

  py::class_<ImageFitConfig>(m, "ImageFitConfig")
      .def(py::init<>())
      .def_readwrite("epochs", &ImageFitConfig::epochs)
      .def_readwrite("batch_size", &ImageFitConfig::batch_size)
      .def_readwrite("lr", &ImageFitConfig::lr)
      .def_readwrite("weight_decay", &ImageFitConfig::weight_decay)
      .def_readwrite("bias_lr", &ImageFitConfig::bias_lr)
      .def_readwrite("bias_weight_decay", &ImageFitConfig::bias_weight_decay)
      .def_readwrite("momentum", &ImageFitConfig::momentum)
      .def_readwrite("nesterov", &ImageFitConfig::nesterov)
      .def_readwrite("label_smoothing", &ImageFitConfig::label_smoothing)
      .def_readwrite("sync_batch_norm", &ImageFitConfig::sync_batch_norm)
      .def_readwrite("loss_sum", &ImageFitConfig::loss_sum)
      .def_readwrite("lr_start", &ImageFitConfig::lr_start)
      .def_readwrite("lr_peak", &ImageFitConfig::lr_peak)
      .def_readwrite("lr_end", &ImageFitConfig::lr_end)
      .def_readwrite("lookahead", &ImageFitConfig::lookahead)
      .def_readwrite("whiten_bias_epochs", &ImageFitConfig::whiten_bias_epochs)
      .def_readwrite("tta", &ImageFitConfig::tta)
      .def_readwrite("tta_translate", &ImageFitConfig::tta_translate)
      .def_readwrite("seed", &ImageFitConfig::seed)
      .def_readwrite("device", &ImageFitConfig::device)
      .def_readwrite("precision", &ImageFitConfig::precision)
      .def_readwrite("channels_last", &ImageFitConfig::channels_last)
      .def_readwrite("data_on_device", &ImageFitConfig::data_on_device)
      .def_readwrite("workers", &ImageFitConfig::workers)
      .def_readwrite("prefetch", &ImageFitConfig::prefetch)
      .def_readwrite("accumulate", &ImageFitConfig::accumulate)
      .def_readwrite("eval_batch_size", &ImageFitConfig::eval_batch_size)
      .def_readwrite("cuda_graphs", &ImageFitConfig::cuda_graphs)
      .def_readwrite("augment", &ImageFitConfig::augment);
}
}  // namespace


}  // namespace nairrcore::bindings
