// The data-parallel process group and the launcher's environment.
#include <chrono>

#include "bindings/bindings.h"
#include "distributed/group.h"
#include "distributed/launch_env.h"

namespace nairrcore::bindings {

void bind_distributed(py::module_& m) {
  m.def("launch_env", [](py::object env) {
    dist::LaunchEnv e;
    if (env.is_none()) {
      e = dist::read_launch_env();
    } else {
      auto mapping = env.cast<std::map<std::string, std::string>>();
      e = dist::read_launch_env([&](const char* k) -> const char* {
        auto it = mapping.find(k);
        return it == mapping.end() ? nullptr : it->second.c_str();
      });
    }
    py::dict d;
    d["rank"] = e.rank;
    d["world_size"] = e.world_size;
    d["local_rank"] = e.local_rank;
    d["master_addr"] = e.master_addr;
    d["master_port"] = e.master_port;
    d["launcher"] = e.launcher;
    return d;
  }, py::arg("env") = py::none());
  py::register_exception<dist::DistError>(m, "DistError", PyExc_RuntimeError);
  py::class_<dist::Group, std::shared_ptr<dist::Group>>(m, "Group")
      .def(py::init([](const std::string& name, double timeout_sec) {
             return std::make_shared<dist::Group>(
                 name, std::chrono::milliseconds(static_cast<int64_t>(timeout_sec * 1000)));
           }),
           py::arg("name"), py::arg("timeout_sec"))
      .def_property_readonly("rank", &dist::Group::rank)
      .def_property_readonly("size", &dist::Group::size)
      .def("allreduce_sum_", [](dist::Group& g, std::vector<at::Tensor> tensors) {
        py::gil_scoped_release nogil;
        g.allreduce_sum_(tensors);
      });
}

}  // namespace nairrcore::bindings
