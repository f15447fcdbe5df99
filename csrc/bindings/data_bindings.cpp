// The data readers: weather files into feature tensors, CIFAR-10 records into image tensors.
#include "bindings/bindings.h"
#include "data/cifar_reader.h"
#include "data/data_files.h"
#include "data/weather_features.h"
#include "data/weather_reader.h"

namespace nairrcore::bindings {

using namespace nairrcore::data;

namespace {
void bind_weather_types(py::module_& m) {
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
}
}  // namespace

void bind_data(py::module_& m) {
  bind_weather_types(m);
  m.def("select_cities",
        py::overload_cast<const std::string&, const std::vector<std::string>&, int64_t>(&select_cities),
        py::arg("dir"), py::arg("ids"), py::arg("first_n"),
        py::call_guard<py::gil_scoped_release>());
  m.def("build_weather_dataset",
        py::overload_cast<const std::string&, const std::vector<CityInfo>&, const FeatureSpec&, int>(
            &build_weather_dataset),
        py::arg("dir"), py::arg("cities"), py::arg("spec"), py::arg("threads") = 0,
        py::call_guard<py::gil_scoped_release>());
  // One city file's series, for the reader's property test: {day, tmax, tmin, prcp}.
  m.def("parse_city_series", [](const py::bytes& text, const std::string& path) {
    CitySeries s;
    {
      std::string bytes(text);
      py::gil_scoped_release nogil;
      s = parse_city_series(bytes, path, "test");
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
  }, py::arg("text"), py::arg("path"));
  // city_info.csv's rows, for the reader's differential test: [(id, name, lat, lon)] by id.
  m.def("parse_city_info", [](const py::bytes& text, const std::string& path) {
    std::string bytes(text);
    py::gil_scoped_release nogil;
    return parse_city_info(bytes, path);
  }, py::arg("text"), py::arg("path"));
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

  m.def("parse_cifar", [](const std::vector<std::pair<std::string, py::bytes>>& files,
                          const std::string& layout, int threads, int64_t records_per_file) {
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
      out = parse_cifar(views, layout, threads, records_per_file);
    }
    return py::make_tuple(out.images, out.labels);
  }, py::arg("files"), py::arg("layout") = "nchw", py::arg("threads") = 0, py::arg("records_per_file") = 0);
  m.attr("CIFAR_FILE_RECORDS") = kCifarFileRecords;
}

}  // namespace nairrcore::bindings
