#include "bindings/bindings.h"
#include "train/device.h"
#include "data/cifar_reader.h"
#include "data/image_augment.h"
#include "data/image_loader.h"
#include "train/image_trainer.h"

namespace nairrcore::bindings {

using namespace nairrcore::data;
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
}  // namespace

void bind_images(py::module_& m) {
  m.def("parse_cifar", [](const std::vector<std::pair<std::string, py::bytes>>& files,
                          const std::string& layout, int threads) {
    std::vector<CifarFile> views;
    for (const auto& [name, blob] : files) {
      char* data = nullptr;
      Py_ssize_t size = 0;
      if (PyBytes_AsStringAndSize(blob.ptr(), &data, &size) != 0) throw py::error_already_set();
      views.push_back({name, std::string_view(data, static_cast<size_t>(size))});
    }
    CifarImages out;
    {
      py::gil_scoped_release nogil;  // `files` keeps the bytes alive
      out = parse_cifar(views, layout, threads);
    }
    return py::make_tuple(out.images, out.labels);
  }, py::arg("files"), py::arg("layout") = "nchw", py::arg("threads") = 0);

  py::class_<AugmentSpec>(m, "AugmentSpec")
      .def(py::init<>())
      .def_readwrite("pad", &AugmentSpec::pad)
      .def_readwrite("reflect", &AugmentSpec::reflect)
      .def_readwrite("flip", &AugmentSpec::flip)
      .def_readwrite("alternate_flip", &AugmentSpec::alternate_flip)
      .def_readwrite("cutout", &AugmentSpec::cutout)
      .def_readwrite("mean", &AugmentSpec::mean)
      .def_readwrite("std", &AugmentSpec::std);

  m.def("draw_augment_params", &draw_augment_params, py::arg("spec"), py::arg("n"), py::arg("seed"),
        py::arg("epoch"), py::call_guard<py::gil_scoped_release>());
  m.def("augment_host", [](const at::Tensor& images, const at::Tensor& index, const at::Tensor& params,
                           const AugmentSpec& spec, int threads) {
    auto idx = index.to(at::kLong).contiguous();
    auto out = at::empty({idx.size(0), 3, 32, 32}, at::kFloat);
    py::gil_scoped_release nogil;
    augment_into(images.contiguous(), idx.data_ptr<int64_t>(), idx.size(0), params, spec, out, threads);
    return out;
  }, py::arg("images"), py::arg("index"), py::arg("params"), py::arg("spec"), py::arg("threads") = 1);
  m.def("augment_batch", [](const at::Tensor& padded, const at::Tensor& index, const at::Tensor& params,
                            const AugmentSpec& spec, bool channels_last) {
    return augment_batch(padded, index, params, spec, at::kFloat, channels_last);
  }, py::arg("padded"), py::arg("index"), py::arg("params"), py::arg("spec"), py::arg("channels_last") = false,
        py::call_guard<py::gil_scoped_release>());
  m.def("pad_images", &pad_images, py::arg("images"), py::arg("spec"),
        py::call_guard<py::gil_scoped_release>());
  m.def("normalize_images", [](const at::Tensor& images, const AugmentSpec& spec) {
    return normalize_images(images, spec, at::kFloat, false);
  }, py::arg("images"), py::arg("spec"), py::call_guard<py::gil_scoped_release>());

  py::class_<ImageLoader> image_loader(m, "ImageLoader");
  image_loader
      .def(py::init([](at::Tensor images, at::Tensor labels, const std::string& device, int64_t batch_size,
                       bool shuffle, bool drop_last, uint64_t seed, int workers, int prefetch, int rank,
                       int world_size, const AugmentSpec& spec, bool augment, bool channels_last) {
             ImageLoaderOptions o;
             o.loader.batch_size = batch_size;
             o.loader.shuffle = shuffle;
             o.loader.drop_last = drop_last;
             o.loader.seed = seed;
             o.loader.workers = workers;
             o.loader.prefetch = prefetch;
             o.loader.shard = ShardSpec{rank, world_size};
             o.augment = spec;
             o.augment_enabled = augment;
             o.channels_last = channels_last;
             return std::make_unique<ImageLoader>(std::move(images), std::move(labels), train::parse_device(device), o);
           }),
           py::arg("images"), py::arg("labels"), py::arg("device"), py::arg("batch_size"), py::arg("shuffle"),
           py::arg("drop_last"), py::arg("seed"), py::arg("workers"), py::arg("prefetch"), py::arg("rank"),
           py::arg("world_size"), py::arg("spec"), py::arg("augment"), py::arg("channels_last"));
  bind_loader_iteration(image_loader);


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

  py::class_<ImageTrainer> trainer(m, "ImageTrainer");
  trainer.def(py::init<const ImageModelConfig&, const ImageFitConfig&>(), py::arg("model"), py::arg("fit"))
      .def("evaluate", [](ImageTrainer& t, const at::Tensor& images, const at::Tensor& labels) {
        ClassificationMetrics m;
        {
          py::gil_scoped_release nogil;
          m = t.evaluate(images, labels);
        }
        return metrics_dict(m);
      })
      .def("predict_proba", &ImageTrainer::predict_proba, py::call_guard<py::gil_scoped_release>());
  bind_trainer_common(trainer, "train_images", "train_labels");
}

}  // namespace nairrcore::bindings
