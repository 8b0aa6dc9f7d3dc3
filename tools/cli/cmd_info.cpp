// bitnet-cli info (and `model info`): describe a model file without loading its weights.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bitnet/bitnet.hpp"
#include "commands.hpp"

namespace bitnet::cli {

int run_info(const std::string& path, bool json) {
  auto res = inspect_model_file(path);
  if (!res.ok()) return fail(res.status().to_string());
  const ModelFileInfo& i = res.value();
  if (json) {
    nlohmann::json j;
    j["path"] = path;
    j["format"] = i.format;
    j["architecture"] = i.architecture;
    j["name"] = i.name;
    j["file_size"] = i.file_size;
    j["n_params"] = i.n_params;
    j["n_tensors"] = i.n_tensors;
    for (const auto& [k, v] : i.hparams) j["metadata"][k] = v;
    for (const auto& [k, v] : i.tensor_types) j["tensor_types"][k] = v;
    j["loadable"] = i.loadable;
    if (!i.loadable) j["not_loadable_reason"] = i.not_loadable_reason;
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::printf("file:          %s\n", path.c_str());
  std::printf("format:        %s, %.2f MB\n", i.format.c_str(), static_cast<double>(i.file_size) / 1e6);
  std::printf("architecture:  %s\n", i.architecture.c_str());
  if (!i.name.empty()) std::printf("name:          %s\n", i.name.c_str());
  std::printf("parameters:    %.3f M\n", static_cast<double>(i.n_params) / 1e6);
  std::printf("tensors:       %llu (", static_cast<unsigned long long>(i.n_tensors));
  bool first = true;
  for (const auto& [k, v] : i.tensor_types) {
    std::printf("%s%llu x %s", first ? "" : ", ", static_cast<unsigned long long>(v), k.c_str());
    first = false;
  }
  std::printf(")\n");
  for (const auto& [k, v] : i.hparams) std::printf("  %-44s %s\n", k.c_str(), v.c_str());
  if (i.loadable)
    std::printf("loadable:      yes\n");
  else
    std::printf("loadable:      no: %s\n", i.not_loadable_reason.c_str());
  return 0;
}

void add_info(CLI::App& app, std::vector<Command>& out) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* sub =
      app.add_subcommand("info", "Describe a model file: architecture, hyper-parameters, tensor types, size");
  sub->add_option("-m,--model", *path, "Model file (GGUF)")->required()->check(CLI::ExistingFile);
  sub->add_flag("--json", *json, "Print JSON");
  out.push_back({sub, [path, json] { return run_info(*path, *json); }});
}

}  // namespace bitnet::cli
