#include "bindings/bindings.h"
#include "telemetry/sampler.h"

namespace nairrcore::bindings {

using namespace nairrcore::telemetry;

void bind_telemetry(py::module_& m) {
  py::class_<Sampler>(m, "TelemetrySampler")
      .def(py::init<double, int>(), py::arg("interval_sec") = 1.0, py::arg("pid") = 0)
      .def("start", &Sampler::start)
      .def("sample_now", &Sampler::sample_now, py::call_guard<py::gil_scoped_release>())
      .def("stop", [](Sampler& s) {
        std::vector<Sample> rows;
        {
          py::gil_scoped_release nogil;
          rows = s.stop();
        }
        py::list out;
        for (const auto& r : rows) {
          py::dict d;
          d["time_unix"] = r.time_unix;
          d["elapsed_sec"] = r.elapsed_sec;
          d["phase"] = r.phase;
          d["cpu_percent"] = r.cpu_percent;
          d["rss_bytes"] = r.rss_bytes;
          py::list gpus;
          for (const auto& g : r.gpus) {
            py::dict gd;
            gd["index"] = g.index;
            gd["util_percent"] = g.util_percent < 0 ? py::object(py::none()) : py::float_(g.util_percent);
            gd["mem_used_bytes"] = g.mem_used_bytes < 0 ? py::object(py::none()) : py::int_(g.mem_used_bytes);
            gd["power_w"] = g.power_w < 0 ? py::object(py::none()) : py::float_(g.power_w);
            gd["energy_j"] = g.energy_j < 0 ? py::object(py::none()) : py::float_(g.energy_j);
            gpus.append(gd);
          }
          d["gpus"] = gpus;
          out.append(d);
        }
        return out;
      })
      .def_property("phase", &Sampler::phase, &Sampler::set_phase)
      .def_property_readonly("gpu_available", &Sampler::gpu_available)
      .def_property_readonly("gpu_absent_reason", &Sampler::gpu_absent_reason)
      .def_property_readonly("gpu_names", &Sampler::gpu_names);
}

}  // namespace nairrcore::bindings
