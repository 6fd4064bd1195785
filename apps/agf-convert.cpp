// agf-convert: lists the tensors of a checkpoint (PyTorch zip or safetensors), converts one to safetensors, or
// merges the LoRA adapters of a training checkpoint into its backbone.
//   agf-convert --list FILE
//   agf-convert FILE.pt -o OUT.safetensors
//   agf-convert --merge-lora RUN.safetensors -o BACKBONE.safetensors
// Exit status and messages: apps/app_main.h; a failed or interrupted conversion leaves no output file.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>

#include "app_main.h"
#include "fusion/model_io.h"
#include "io/checkpoint.h"
#include "io/interrupt.h"
#include "io/printable.h"

int main(int argc, char** argv) {
  using namespace agf::app;
  using agf::io::printable;
  CLI::App app{"agf-convert: list a checkpoint's tensors, or convert a PyTorch checkpoint to safetensors",
               "agf-convert"};
  configure(app);
  std::string input, output;
  bool list = false, merge = false;
  app.add_option("input", input, "checkpoint: a torch.save zip (.pt/.pth/.pkl) or a .safetensors file")->required();
  app.add_flag("-l,--list", list, "print one line per tensor (name, dtype, shape, bytes) and a total");
  app.add_option("-o,--output", output, "the .safetensors file to write");
  app.add_flag("--merge-lora", merge,
               "the input is a training checkpoint with LoRA adapters: write its backbone with them merged in");
  return run_app(app, argc, argv, [&] {
    usage_check(list != !output.empty(), "give either --list or -o OUT.safetensors");
    if (list) {
      const agf::io::LoadedCheckpoint c = agf::io::load_checkpoint(input);
      fmt::print("{}", agf::io::format_tensor_listing(c.tensors));
      // Names, metadata and notes are text from the file: escaped for the terminal.
      for (const auto& [k, v] : c.metadata) fmt::print("metadata {}: {}\n", printable(k), printable(v));
      for (const auto& note : c.notes) fmt::print(stderr, "agf-convert: note: {}\n", printable(note));
      return;
    }
    usage_check(std::filesystem::path(output).extension() == ".safetensors",
                "{}: the output must be a .safetensors file", output);
    const std::string interrupted = fmt::format("{} not written", output);
    if (merge) {
      agf::fusion::LoadedTraining header;
      auto net = agf::fusion::build_from_checkpoint(input, &header);
      AGF_CHECK(header.lora, "{}: --merge-lora needs a checkpoint with LoRA adapters; this one has none", input);
      const auto merged = agf::fusion::merged_backbone(*net, agf::fusion::BackboneLayout::published);
      agf::io::throw_if_interrupted(interrupted);
      agf::io::save_safetensors(output, merged,
                                {{"source", std::filesystem::path(input).filename().string()},
                                 {"network", agf::fusion::config_to_json(header.net_config).dump()},
                                 {"lora_merged", "true"}});
      fmt::print("{}: LoRA rank {} merged, {} tensors -> {}\n", input, header.lora_config.rank, merged.size(), output);
      return;
    }
    const agf::io::LoadedCheckpoint c = agf::io::convert_to_safetensors(input, output);
    for (const auto& note : c.notes) fmt::print(stderr, "agf-convert: note: {}\n", printable(note));
    int64_t elements = 0;
    for (const auto& [name, t] : c.tensors) elements += t.numel();
    fmt::print("{}: {} tensors, {} elements -> {}\n", input, c.tensors.size(), elements, output);
  });
}
