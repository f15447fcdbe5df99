#include "bindings/bindings.h"
#include "train/device.h"
#include "data/csv.h"
#include "data/epoch_order.h"
#include "data/tabular_loader.h"
#include "data/weather_features.h"
#include "data/weather_reader.h"

namespace nairrcore::bindings {

using namespace nairrcore::data;

void bind_data(py::module_& m) {
  py::class_<CityInfo>(m, "CityInfo")
      .def_readonly("id", &CityInfo::id)
      .def_readonly("name", &CityInfo::name)
      .def_readonly("lat", &CityInfo::lat)
      .def_readonly("lon", &CityInfo::lon)
      .def("__repr__", [](const CityInfo& c) { return "CityInfo(" + c.id + ", " + c.name + ")"; });

  py::class_<FeatureSpec>(m, "FeatureSpec")
      .def(py::init<>())
      .def_readwrite("lags", &FeatureSpec::lags)
      .def_readwrite("windows", &FeatureSpec::windows)
      .def_readwrite("train_end", &FeatureSpec::train_end, "last training day, days since 1970-01-01")
      .def_readwrite("val_end", &FeatureSpec::val_end, "last validation day, days since 1970-01-01")
      .def_property_readonly("num_features", &FeatureSpec::num_features)
      .def_property_readonly("feature_names", &FeatureSpec::feature_names);

  py::class_<SplitTensors>(m, "SplitTensors")
      .def_readonly("x", &SplitTensors::x)
      .def_readonly("y", &SplitTensors::y)
      .def_readonly("city", &SplitTensors::city)
      .def_readonly("day", &SplitTensors::day);

  py::class_<WeatherDataset>(m, "WeatherDataset")
      .def_readonly("train", &WeatherDataset::train)
      .def_readonly("val", &WeatherDataset::val)
      .def_readonly("test", &WeatherDataset::test)
      .def_readonly("mean", &WeatherDataset::mean)
      .def_readonly("scale", &WeatherDataset::scale)
      .def_readonly("cities", &WeatherDataset::cities)
      .def_readonly("files", &WeatherDataset::files)
      .def_readonly("raw_rows", &WeatherDataset::raw_rows)
      .def_readonly("usable_rows", &WeatherDataset::usable_rows)
      .def_readonly("feature_names", &WeatherDataset::feature_names);

  m.def("select_cities",
        py::overload_cast<const std::string&, const std::vector<std::string>&, int64_t>(&select_cities),
        py::arg("dir"), py::arg("ids"), py::arg("first_n"),
        py::call_guard<py::gil_scoped_release>());
  m.def("build_weather_dataset",
        py::overload_cast<const std::string&, const std::vector<CityInfo>&, const FeatureSpec&, int>(
            &build_weather_dataset),
        py::arg("dir"), py::arg("cities"), py::arg("spec"), py::arg("threads") = 0,
        py::call_guard<py::gil_scoped_release>());
  // The same from files already in memory (an archive's members): {name: bytes}.
  m.def("select_cities_in_memory", [](const std::string& label, std::map<std::string, std::string> contents,
                                      const std::vector<std::string>& ids, int64_t first_n) {
    auto files = DataFiles::in_memory(label, std::move(contents));
    py::gil_scoped_release nogil;
    return select_cities(files, ids, first_n);
  }, py::arg("label"), py::arg("contents"), py::arg("ids"), py::arg("first_n"));
  m.def("build_weather_dataset_in_memory", [](const std::string& label, std::map<std::string, std::string> contents,
                                              const std::vector<CityInfo>& cities, const FeatureSpec& spec,
                                              int threads) {
    auto files = DataFiles::in_memory(label, std::move(contents));
    py::gil_scoped_release nogil;
    return build_weather_dataset(files, cities, spec, threads);
  }, py::arg("label"), py::arg("contents"), py::arg("cities"), py::arg("spec"), py::arg("threads") = 0);
  m.def("read_city_series", [](const std::string& path, const std::string& id) {
    CitySeries s;
    {
      py::gil_scoped_release nogil;
      s = read_city_series(path, id);
    }
    auto as_tensor = [](const auto& v, at::ScalarType t) {
      return at::tensor(at::ArrayRef<std::decay_t<decltype(v[0])>>(v), at::TensorOptions().dtype(t));
    };
    py::dict d;
    d["day"] = as_tensor(s.days, at::kInt);
    d["tmax"] = as_tensor(s.tmax, at::kDouble);
    d["tmin"] = as_tensor(s.tmin, at::kDouble);
    d["prcp"] = as_tensor(s.prcp, at::kDouble);
    return d;
  });
  m.def("parse_date", [](const std::string& text) -> py::object {
    int32_t days = 0;
    if (!parse_date(text, days)) return py::none();
    return py::int_(days);
  });
  m.def("format_date", &format_date);

  m.def("epoch_order", [](int64_t n, bool shuffle, uint64_t seed, int64_t epoch, int rank, int world) {
    auto v = epoch_order(n, shuffle, seed, epoch, ShardSpec{rank, world});
    return at::tensor(at::ArrayRef<int64_t>(v), at::kLong);
  }, py::arg("n"), py::arg("shuffle"), py::arg("seed"), py::arg("epoch"), py::arg("rank") = 0,
        py::arg("world_size") = 1);

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
}

}  // namespace nairrcore::bindings
