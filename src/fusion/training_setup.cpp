#include "fusion/training_setup.h"

#include <cmath>
#include <system_error>

#include "dataset/dataset_reader.h"
#include "ecg/leads.h"
#include "fusion/model_io.h"
#include "tensor/device.h"

namespace agf::fusion {

namespace {
constexpr const char* kNormalSinusRhythm = "426783006";
constexpr double kCode15Fs = 400.0;  // the rate of CODE-15%, on which every published backbone was pretrained
}  // namespace

DatasetSummary inspect_dataset(const TrainConfig& c) {
  AGF_CHECK(!c.data.empty(), "no dataset: give 'data' (a prepared .h5 file from agf-collect)");
  std::error_code ec;
  AGF_CHECK(std::filesystem::is_regular_file(c.data, ec), "dataset {} does not exist (prepare one with agf-collect)",
            c.data);
  const dataset::DatasetReader reader(c.data);
  AGF_CHECK(reader.has_splits(), "dataset {} has no train/val/test splits (agf-collect writes them)", c.data);
  DatasetSummary d;
  d.file = c.data;
  d.classes = reader.classes();
  d.fs = reader.fs();
  d.length = reader.length();
  d.train = reader.split(dataset::SplitPart::train);
  d.val = reader.split(dataset::SplitPart::val);
  d.test = reader.split(dataset::SplitPart::test);
  AGF_CHECK(!d.classes.empty(), "dataset {} has no classes", c.data);
  AGF_CHECK(static_cast<int64_t>(d.train.size()) >= c.batch_size,
            "dataset {}: the train split has {} records, fewer than one batch of {} (lower batch_size)", c.data,
            d.train.size(), c.batch_size);
  AGF_CHECK(!d.val.empty(), "dataset {}: the validation split is empty (agf-collect --val-fraction)", c.data);
  AGF_CHECK(d.length > 0 && d.length % 64 == 0 && d.length <= 64 * 96,
            "dataset {}: records of {} samples; EcgNet takes a positive multiple of 64 up to 6144", c.data, d.length);
  for (size_t k = 0; k < d.classes.size(); ++k)
    if (d.classes[k].code == kNormalSinusRhythm) d.normal_class = static_cast<int64_t>(k);
  // The gradient gate's threshold (spec/model.md): the mean class prevalence of the labelled training split.
  double positives = 0.0;
  for (int64_t row : d.train)
    for (size_t k = 0; k < d.classes.size(); ++k) positives += reader.label(row, static_cast<int64_t>(k));
  d.positive_threshold = positives / static_cast<double>(d.train.size() * d.classes.size());
  return d;
}

Device resolve_device(const std::string& device) {
  if (device == "auto") return cuda_available() ? Device::cuda(0) : Device::cpu();
  AGF_CHECK(device == "cpu" || device == "cuda" || device.starts_with("cuda:"), "device '{}': use auto, cpu or cuda:N",
            device);
  const Device d = parse_device(device);
  require_device(d);
  return d;
}

void check_device(const std::string& device) { resolve_device(device); }

std::vector<std::string> trainable_patterns(const TrainConfig& c) {
  if (!c.trainable.empty()) return c.trainable;
  if (c.r > 0) return nn::EcgNet::finetune_patterns();
  return {"*"};
}

BuiltModel build_model(const TrainConfig& c, const DatasetSummary& data) {
  BuiltModel m;
  const auto n_classes = static_cast<int64_t>(data.classes.size());
  nn::EcgNetConfig nc = nn::preset_config(c.preset, n_classes, /*aux_head=*/true);
  nc.input_leads = ecg::parse_lead_mask(c.lead_mask);
  m.net = std::make_unique<nn::EcgNet>(nc, c.seed);
  m.trained_fs = data.fs;
  if (!c.backbone.empty()) {
    std::error_code ec;
    AGF_CHECK(std::filesystem::is_regular_file(c.backbone, ec), "backbone {} does not exist", c.backbone);
    BackboneLoadOptions lo;
    lo.reinit_classifier = c.reinit_classifier;
    // A backbone whose head does not fit the label set fails here by name and shape (unless re-initialised).
    BackboneLoadReport rep = load_backbone(*m.net, c.backbone, lo);
    m.notes = rep.notes;
    m.notes.push_back(fmt::format("backbone {} ({}): {} tensors loaded{}", c.backbone, rep.format,
                                  rep.load.loaded.size(),
                                  rep.load.reinitialised.empty()
                                      ? std::string()
                                      : fmt::format(", {} fresh: {}", rep.load.reinitialised.size(),
                                                    fmt::join(rep.load.reinitialised, ", "))));
    m.trained_fs = rep.fs;
    if (m.trained_fs <= 0) {
      m.trained_fs = kCode15Fs;
      m.notes.push_back(fmt::format("the backbone records no sampling rate: taken as {} Hz, the rate of CODE-15% on "
                                    "which the published backbones were pretrained", kCode15Fs));
    }
    if (std::fabs(m.trained_fs - data.fs) > 1e-6) {
      AGF_CHECK(c.allow_rate_mismatch,
                "the backbone {} was trained on {} Hz records but {} holds {} Hz ones: its filters would see every "
                "rhythm {}x too fast. Prepare the data at the backbone's rate (agf-collect --target-fs {}), or pass "
                "--allow_rate_mismatch true",
                c.backbone, m.trained_fs, c.data, data.fs, data.fs / m.trained_fs, m.trained_fs);
      m.notes.push_back(fmt::format("rate mismatch accepted: backbone {} Hz, data {} Hz", m.trained_fs, data.fs));
    }
  }
  if (c.r > 0) {
    const double alpha = c.lora_alpha > 0 ? c.lora_alpha : static_cast<double>(c.r);
    m.net->enable_lora({c.r, alpha}, nn::name_key(c.seed, "lora"));
  }
  const int64_t trainable = m.net->set_trainable(trainable_patterns(c));
  AGF_CHECK(trainable > 0, "no parameter matches the trainable patterns {}", fmt::join(trainable_patterns(c), ", "));
  if (c.gradient_gate) m.net->set_gradient_gate(data.positive_threshold);
  return m;
}

FrozenNetwork load_teacher(const TrainConfig& c, const DatasetSummary& data) {
  FrozenNetwork t = load_frozen_network(c.teacher);
  AGF_CHECK(!t.classes.empty(),
            "teacher {} does not record the label set it predicts (a checkpoint of an older version?): give a run's "
            "best.safetensors or a backbone exported by agf-finetune --export-merged", c.teacher);
  const auto names = [](const std::vector<dataset::DatasetClass>& cs) {
    std::vector<std::string> n;
    for (const auto& k : cs) n.push_back(k.abbreviation);
    return fmt::format("{}", fmt::join(n, ", "));
  };
  AGF_CHECK(t.classes == data.classes,
            "teacher {} predicts another label set than dataset {}: teacher [{}], dataset [{}]; distil from a teacher "
            "fine-tuned on this dataset's classes", c.teacher, c.data, names(t.classes), names(data.classes));
  AGF_CHECK(t.net->config().input_leads.empty(), "teacher {} is itself a reduced-lead network (leads {}); a teacher "
            "reads all 12 leads", c.teacher, ecg::lead_mask_name(t.net->config().input_leads));
  if (t.fs > 0 && std::fabs(t.fs - data.fs) > 1e-6)
    AGF_CHECK(c.allow_rate_mismatch, "teacher {} was trained on {} Hz records but {} holds {} Hz ones: prepare the "
              "data at the teacher's rate (agf-collect --target-fs {}), or pass --allow_rate_mismatch true", c.teacher,
              t.fs, c.data, data.fs, t.fs);
  return t;
}

}  // namespace agf::fusion
