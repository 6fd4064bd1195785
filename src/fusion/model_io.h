#pragma once
// Where the network meets files: published backbones (PyTorch or safetensors) loaded into an EcgNet by name with
// shape checks, and the native training checkpoint (safetensors: model with its LoRA adapters, optimizer state,
// step, config and RNG state) from which a run resumes exactly.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "dataset/dataset_format.h"
#include "io/safetensors.h"
#include "nn/ecgnet.h"
#include "nn/optim.h"
#include "tensor/random.h"

namespace agf::fusion {

struct BackboneLoadOptions {
  bool strict = true;
  // Leave the main head's last layer (classifier.1.*) at its fresh initialisation whatever the file holds, as the
  // reference does when it fine-tunes on a new label set (of any size, the same one's included).
  bool reinit_classifier = false;
};

struct BackboneLoadReport {
  nn::LoadReport load;
  std::vector<std::string> notes;  // from the reader (wrapper key, skipped entries) and about the auxiliary head
  std::string format;
  double fs = 0.0;  // the sampling rate the file says it was trained at ("fs" in our metadata); 0 when it says none
};

// Loads a backbone checkpoint into `net`. The auxiliary head (absent from older checkpoints) keeps its fresh values
// when the file has none; LoRA adapters are kept when the file has none; f16/bf16 tensors are widened.
BackboneLoadReport load_backbone(nn::EcgNet& net, const std::filesystem::path& path,
                                 const BackboneLoadOptions& opt = {});

nlohmann::json config_to_json(const nn::EcgNetConfig& cfg);
nn::EcgNetConfig config_from_json(const nlohmann::json& j);

// Everything a run needs to continue exactly where it stopped.
struct TrainingState {
  int64_t step = 0;
  nlohmann::json run_config;  // the run's own options (hyper-parameters, data, ...), stored verbatim
  PhiloxStream rng;
  nlohmann::json progress = nlohmann::json::object();  // the loop's position (epoch, batch, early stopping), verbatim
  double fs = 0.0;            // the sampling rate of the data the weights were trained on (metadata "fs")
  nlohmann::json classes;     // the label set the heads predict (classes_to_json), null when not recorded
};

// The model (all parameters and buffers, adapters included, unmerged) and the AdamW state, with the network config,
// LoRA settings, step, run config and RNG state in the metadata. All or nothing on disk.
void save_training_checkpoint(const std::filesystem::path& path, nn::EcgNet& net, nn::AdamW* optimizer,
                              const TrainingState& state);

struct LoadedTraining {
  nn::EcgNetConfig net_config;
  bool lora = false;
  nn::LoraConfig lora_config;
  TrainingState state;
};
// Reads the header to learn how to build the network (config, LoRA).
LoadedTraining read_training_checkpoint_header(const std::filesystem::path& path);
// Fills an already-built network (and optimizer) from the checkpoint; returns the training state.
TrainingState load_training_checkpoint(const std::filesystem::path& path, nn::EcgNet& net, nn::AdamW* optimizer);
// Builds the network the checkpoint describes and loads it.
std::unique_ptr<nn::EcgNet> build_from_checkpoint(const std::filesystem::path& path, LoadedTraining* header = nullptr);

// How a backbone's conv weights are shaped: ours (Cout, Cin, K), or the published checkpoints' (Cout, Cin, 1, K), which
// the PyTorch reference loads with strict=True.
enum class BackboneLayout { native, published };

// A copy of the state dict of `net` with LoRA adapters merged into the weights and the adapter tensors left out: a
// plain backbone for agf-convert --merge-lora and for the distillation teacher. `net` is not modified (bit for bit).
nn::NamedTensors merged_backbone(nn::EcgNet& net, BackboneLayout layout = BackboneLayout::native);
// The metadata a backbone export carries: the network config, the sampling rate its weights were trained at and,
// when given, the label set its heads predict.
io::Metadata backbone_metadata(const nn::EcgNet& net, double fs, const nlohmann::json& classes = {});

nlohmann::json classes_to_json(const std::vector<dataset::DatasetClass>& classes);
std::vector<dataset::DatasetClass> classes_from_json(const nlohmann::json& j, const std::string& source);

// A network this project trained, ready to run frozen (NoGrad, eval mode, nothing trainable): a training checkpoint
// (LoRA adapters merged into a network without them) or a backbone export. What a distillation teacher is.
struct FrozenNetwork {
  std::unique_ptr<nn::EcgNet> net;
  double fs = 0.0;                             // 0: not recorded
  std::vector<dataset::DatasetClass> classes;  // empty: not recorded
};
// merge_lora false keeps a training checkpoint's adapters unmerged (evaluation runs the network exactly as trained).
FrozenNetwork load_frozen_network(const std::filesystem::path& path, bool merge_lora = true);

}  // namespace agf::fusion
