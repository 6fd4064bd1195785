#pragma once
// What a training run checks and builds before it starts: the dataset (splits, classes, sampling rate) and the
// network (preset, backbone, LoRA, the trainable set, the gradient gate). Every refusal happens here, before the run
// folder exists, so that bad input leaves nothing behind.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dataset/dataset_format.h"
#include "fusion/model_io.h"
#include "fusion/train_config.h"
#include "nn/ecgnet.h"

namespace agf::fusion {

struct DatasetSummary {
  std::filesystem::path file;
  std::vector<dataset::DatasetClass> classes;
  double fs = 0.0;
  int64_t length = 0;
  std::vector<int64_t> train, val, test;
  int64_t normal_class = -1;        // index of NSR (426783006); -1 when the label set has none
  double positive_threshold = 0.0;  // mean class prevalence of the train split (the gradient gate's threshold)
};
// Opens the dataset file and checks it can feed this config: splits present, a train split of at least one batch,
// a validation split, an input length the network takes (a positive multiple of 64, at most 64 x 96 samples).
DatasetSummary inspect_dataset(const TrainConfig& c);

// The sampling rate a backbone file was trained at: our checkpoints record it ("fs" in their metadata); the published
// PyTorch backbones carry none and were all pretrained on CODE-15% (400 Hz).
double backbone_sampling_rate(const std::filesystem::path& backbone, std::vector<std::string>* notes);

struct BuiltModel {
  std::unique_ptr<nn::EcgNet> net;
  double trained_fs = 0.0;  // the rate the weights expect (the backbone's, or the dataset's for a fresh network)
  std::vector<std::string> notes;
};
// The network for the dataset's label set: preset (or the backbone's), the backbone loaded by name (its last head
// layer re-initialised when reinit_classifier), LoRA of rank r, the trainable set, the gradient gate. A backbone
// trained at another rate than the dataset's is refused unless allow_rate_mismatch.
BuiltModel build_model(const TrainConfig& c, const DatasetSummary& data);

// The distillation teacher of a config: frozen, LoRA merged, checked against the dataset (the same label set, in the
// same order; the same sampling rate unless allow_rate_mismatch; all 12 leads).
FrozenNetwork load_teacher(const TrainConfig& c, const DatasetSummary& data);

// The device a config's `device` names: auto is the first CUDA device when one answers, else the CPU; cpu; cuda or
// cuda:N, refused with the reason when that device cannot be used (no CUDA in this build, no device, no such index).
Device resolve_device(const std::string& device);
void check_device(const std::string& device);  // resolve_device, for its refusal

// The trainable patterns of a config: its own, or LoRA + biases + heads (r > 0), or everything (r = 0).
std::vector<std::string> trainable_patterns(const TrainConfig& c);

}  // namespace agf::fusion
