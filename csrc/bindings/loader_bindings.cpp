// The loaders: tabular rows and augmented images, threaded or device-resident.
#include "bindings/bindings.h"
#include "data/image_augment.h"
#include "data/image_loader.h"
#include "data/tabular_loader.h"
#include "train/device.h"

namespace nairrcore::bindings {

using namespace nairrcore::data;

void bind_loaders(py::module_& m) {
  py::class_<TabularLoader> tabular_loader(m, "TabularLoader");
  tabular_loader
      .def(py::init([](at::Tensor x, at::Tensor y, const std::string& device, int64_t batch_size,
                       bool shuffle, bool drop_last, uint64_t seed, int workers, int prefetch,
                       int rank, int world_size) {
             LoaderOptions o;
             o.batch_size = batch_size;
             o.shuffle = shuffle;
             o.drop_last = drop_last;
             o.seed = seed;
             o.workers = workers;
             o.prefetch = prefetch;
             o.shard = ShardSpec{rank, world_size};
             return std::make_unique<TabularLoader>(std::move(x), std::move(y), train::parse_device(device), o);
           }),
           py::arg("x"), py::arg("y"), py::arg("device"), py::arg("batch_size"), py::arg("shuffle"),
           py::arg("drop_last"), py::arg("seed"), py::arg("workers"), py::arg("prefetch"),
           py::arg("rank"), py::arg("world_size"));
  bind_loader_iteration(tabular_loader);

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
}

}  // namespace nairrcore::bindings
