#include "fusion/model_io.h"

#include <map>

#include "io/checkpoint.h"
#include "io/file_util.h"
#include "io/half.h"

namespace agf::fusion {

namespace {
constexpr const char* kFormat = "adagrad-fusion/training-checkpoint/1";
constexpr const char* kBackboneFormat = "adagrad-fusion/backbone/1";
constexpr const char* kModelPrefix = "model/";
constexpr const char* kOptimPrefix = "optim/";

bool is_lora_name(const std::string& n) { return n.find(".lora_A") != std::string::npos || n.find(".lora_B") != std::string::npos; }
}  // namespace

BackboneLoadReport load_backbone(nn::EcgNet& net, const std::filesystem::path& path, const BackboneLoadOptions& opt) {
  io::LoadedCheckpoint ck = io::load_checkpoint(path);
  BackboneLoadReport rep;
  rep.format = std::string(io::format_name(ck.format));
  rep.notes = ck.notes;
  if (auto it = ck.metadata.find("fs"); it != ck.metadata.end()) {
    try {
      rep.fs = std::stod(it->second);
    } catch (const std::exception&) {
      AGF_FAIL("{}: metadata 'fs' is '{}', not a sampling rate", path.string(), it->second.substr(0, 40));
    }
    AGF_CHECK(rep.fs > 0 && rep.fs < 1e6, "{}: metadata 'fs' = {} is not a sampling rate", path.string(), rep.fs);
  }
  nn::NamedTensors state;
  bool has_aux = false, has_lora = false;
  for (auto& [n, t] : ck.tensors) {
    // A training checkpoint of ours stores the model under "model/"; a backbone export has bare names.
    std::string name = n.starts_with(kModelPrefix) ? n.substr(6) : n;
    if (n.starts_with(kOptimPrefix)) continue;
    has_aux = has_aux || name.starts_with("auxiliary_classifier.");
    has_lora = has_lora || is_lora_name(name);
    state.emplace_back(std::move(name), (t.dtype() == DType::f16 || t.dtype() == DType::bf16) ? io::widen_to_f32(t) : t);
  }
  nn::LoadOptions lo;
  lo.strict = opt.strict;
  if (!has_aux && net.auxiliary_classifier) {
    lo.reinit_patterns.push_back("auxiliary_classifier.*");
    rep.notes.push_back("the checkpoint has no auxiliary head: it keeps its fresh initialisation");
  }
  if (!has_lora && net.lora_enabled()) {
    lo.reinit_patterns.push_back("*.lora_A*");
    lo.reinit_patterns.push_back("*.lora_B*");
  }
  if (opt.reinit_classifier) {
    // As the reference does for fine-tuning: the file's last head layer is left out whatever its shape (a new label
    // set may have as many classes as the old one).
    lo.reinit_patterns.push_back("classifier.1.*");
    std::erase_if(state, [](const auto& e) { return e.first.starts_with("classifier.1."); });
  }
  rep.load = net.load_state_dict(state, lo);
  return rep;
}

nlohmann::json config_to_json(const nn::EcgNetConfig& c) {
  nlohmann::json j = {{"preset", c.preset},   {"width", c.width},         {"layers", c.layers},           {"n_classes", c.n_classes},
          {"aux_head", c.aux_head}, {"leads", c.leads},       {"heads", c.heads},             {"pe_length", c.pe_length},
          {"mask_length", c.mask_length}, {"leaky_slope", c.leaky_slope}};
  // Written only for a reduced-lead network, so that every 12-lead checkpoint keeps the header it always had.
  if (!c.input_leads.empty()) j["input_leads"] = c.input_leads;
  return j;
}

nn::EcgNetConfig config_from_json(const nlohmann::json& j) {
  try {
    nn::EcgNetConfig c;
    c.preset = j.at("preset").get<std::string>();
    c.width = j.at("width").get<int64_t>();
    c.layers = j.at("layers").get<int64_t>();
    c.n_classes = j.at("n_classes").get<int64_t>();
    c.aux_head = j.at("aux_head").get<bool>();
    c.leads = j.at("leads").get<int64_t>();
    c.heads = j.at("heads").get<int64_t>();
    c.pe_length = j.at("pe_length").get<int64_t>();
    c.mask_length = j.at("mask_length").get<int64_t>();
    c.leaky_slope = j.at("leaky_slope").get<double>();
    if (j.contains("input_leads")) c.input_leads = j.at("input_leads").get<std::vector<int64_t>>();
    return c;
  } catch (const nlohmann::json::exception& e) {
    AGF_FAIL("network config: {} (in {})", e.what(), j.dump());
  }
}

void save_training_checkpoint(const std::filesystem::path& path, nn::EcgNet& net, nn::AdamW* optimizer,
                              const TrainingState& state) {
  // A merged network's weights already contain the adapters: saved with them, a reload would apply them twice.
  AGF_CHECK(!net.lora_merged(), "{}: the network's LoRA adapters are merged; unmerge them before saving a training "
            "checkpoint, or export the merged backbone (agf-convert --merge-lora)", path.string());
  io::NamedTensors tensors;
  for (auto& [n, t] : net.state_dict()) tensors.emplace_back(kModelPrefix + n, t);
  if (optimizer)
    for (auto& [n, t] : optimizer->state()) tensors.emplace_back(kOptimPrefix + n, t);
  io::Metadata meta;
  meta["format"] = kFormat;
  meta["network"] = config_to_json(net.config()).dump();
  const auto* conv0 = static_cast<nn::ResidualBlock*>(net.encoder_layers->child("0"))->conv1->conv;
  nlohmann::json lora = {{"enabled", net.lora_enabled()}};
  if (net.lora_enabled()) {
    lora["rank"] = conv0->lora().A[0].size(0);
    lora["scaling"] = conv0->lora().scaling;
  }
  meta["lora"] = lora.dump();
  meta["step"] = std::to_string(state.step);
  if (state.fs > 0) meta["fs"] = fmt::format("{}", state.fs);
  meta["optimizer_step"] = std::to_string(optimizer ? optimizer->steps() : 0);
  meta["run_config"] = state.run_config.dump();
  meta["rng"] = state.rng.state().dump();
  meta["progress"] = state.progress.dump();
  if (!state.classes.is_null()) meta["classes"] = state.classes.dump();
  io::save_safetensors(path, tensors, meta);
}

namespace {
nlohmann::json parse_meta_json(const io::Metadata& meta, const std::string& key, const std::filesystem::path& path) {
  auto it = meta.find(key);
  AGF_CHECK(it != meta.end(), "{}: not a training checkpoint (no '{}' in its metadata)", path.string(), key);
  try {
    return nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    AGF_FAIL("{}: metadata '{}' is not valid JSON: {}", path.string(), key, e.what());
  }
}

LoadedTraining header_from_meta(const io::Metadata& meta, const std::filesystem::path& path) {
  auto f = meta.find("format");
  AGF_CHECK(f != meta.end() && f->second == kFormat, "{}: not an adagrad-fusion training checkpoint (format '{}')",
            path.string(), f == meta.end() ? "" : f->second);
  LoadedTraining h;
  h.net_config = config_from_json(parse_meta_json(meta, "network", path));
  const auto lora = parse_meta_json(meta, "lora", path);
  try {
    h.lora = lora.value("enabled", false);
    if (h.lora) {
      h.lora_config.rank = lora.at("rank").get<int64_t>();
      h.lora_config.alpha = lora.at("scaling").get<double>() * static_cast<double>(h.lora_config.rank);
    }
    h.state.step = std::stoll(meta.at("step"));
  } catch (const std::exception& e) {
    AGF_FAIL("{}: bad 'lora' or 'step' metadata ({}): {}", path.string(), lora.dump(), e.what());
  }
  AGF_CHECK(h.state.step >= 0, "{}: negative step {}", path.string(), h.state.step);
  h.state.run_config = parse_meta_json(meta, "run_config", path);
  h.state.rng = PhiloxStream::from_state(parse_meta_json(meta, "rng", path));
  if (meta.count("progress")) h.state.progress = parse_meta_json(meta, "progress", path);
  if (meta.count("classes")) h.state.classes = parse_meta_json(meta, "classes", path);
  if (auto it = meta.find("fs"); it != meta.end()) {
    try {
      h.state.fs = std::stod(it->second);
    } catch (const std::exception&) {
      AGF_FAIL("{}: metadata 'fs' is '{}', not a sampling rate", path.string(), it->second.substr(0, 40));
    }
  }
  return h;
}
}  // namespace

LoadedTraining read_training_checkpoint_header(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = io::read_file_bytes(path);
  // The format first: read as safetensors, a PyTorch file would be refused for a nonsense header length. (A file of
  // no known format goes on to the safetensors reader, whose refusal says what is wrong with it.)
  const io::CheckpointFormat format = io::detect_checkpoint_format(bytes);
  AGF_CHECK(format == io::CheckpointFormat::safetensors || format == io::CheckpointFormat::unknown,
            "{}: not a training checkpoint: it is a {} checkpoint (training checkpoints are .safetensors files written "
            "by the trainer)", path.string(), io::format_name(format));
  const io::SafetensorsIndex idx = io::parse_safetensors_header(bytes, path.string());
  return header_from_meta(idx.metadata, path);
}

TrainingState load_training_checkpoint(const std::filesystem::path& path, nn::EcgNet& net, nn::AdamW* optimizer) {
  io::SafetensorsFile f = io::load_safetensors(path);
  LoadedTraining h = header_from_meta(f.metadata, path);
  AGF_CHECK(config_to_json(h.net_config) == config_to_json(net.config()),
            "{}: the checkpoint's network {} differs from the one built {}", path.string(),
            config_to_json(h.net_config).dump(), config_to_json(net.config()).dump());
  AGF_CHECK(h.lora == net.lora_enabled(), "{}: the checkpoint {} LoRA adapters but the network {}", path.string(),
            h.lora ? "has" : "has no", net.lora_enabled() ? "has" : "has none");
  nn::NamedTensors model, optim;
  for (auto& [n, t] : f.tensors) {
    if (n.starts_with(kModelPrefix)) model.emplace_back(n.substr(6), t);
    else if (n.starts_with(kOptimPrefix)) optim.emplace_back(n.substr(6), t);
  }
  net.load_state_dict(model, {});
  if (optimizer) {
    int64_t steps = 0;
    try {
      steps = std::stoll(f.metadata.at("optimizer_step"));
    } catch (const std::exception& e) {
      AGF_FAIL("{}: bad 'optimizer_step' metadata: {}", path.string(), e.what());
    }
    optimizer->load_state(optim, steps);
  }
  return h.state;
}

std::unique_ptr<nn::EcgNet> build_from_checkpoint(const std::filesystem::path& path, LoadedTraining* header) {
  LoadedTraining h = read_training_checkpoint_header(path);
  auto net = std::make_unique<nn::EcgNet>(h.net_config);
  if (h.lora) net->enable_lora(h.lora_config, 0);
  load_training_checkpoint(path, *net, nullptr);
  if (header) *header = h;
  return net;
}

nn::NamedTensors merged_backbone(nn::EcgNet& net, BackboneLayout layout) {
  // W + scaling * dW computed beside the network, never in it: merging in place and unmerging again would leave W
  // off by a rounding (W + dW - dW), disturbing a run that exports a backbone midway and its exact resume.
  std::map<std::string, Tensor> merged;
  if (net.lora_enabled() && !net.lora_merged()) {
    NoGradGuard no_grad;
    for (auto& w : net.merged_weights()) merged.emplace(w.module + ".weight", w.weight);
  }
  nn::NamedTensors out;
  for (auto& [n, t] : net.state_dict()) {
    if (is_lora_name(n)) continue;
    auto it = merged.find(n);
    Tensor w = it != merged.end() ? it->second : t.clone();
    // The published checkpoints hold the 1-D kernels as the (Cout, Cin, 1, K) of PyTorch's 2-D convolutions.
    if (layout == BackboneLayout::published && w.dim() == 3 && n.find(".conv.weight") != std::string::npos)
      w = w.unsqueeze(2);
    out.emplace_back(n, w);
  }
  return out;
}

}  // namespace agf::fusion

namespace agf::fusion {
io::Metadata backbone_metadata(const nn::EcgNet& net, double fs, const nlohmann::json& classes) {
  io::Metadata meta;
  meta["format"] = kBackboneFormat;
  meta["network"] = config_to_json(net.config()).dump();
  if (fs > 0) meta["fs"] = fmt::format("{}", fs);
  if (!classes.is_null()) meta["classes"] = classes.dump();
  return meta;
}

nlohmann::json classes_to_json(const std::vector<dataset::DatasetClass>& classes) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : classes) j.push_back({{"code", c.code}, {"abbreviation", c.abbreviation}});
  return j;
}

std::vector<dataset::DatasetClass> classes_from_json(const nlohmann::json& j, const std::string& source) {
  std::vector<dataset::DatasetClass> out;
  try {
    for (const auto& e : j) out.push_back({e.at("code").get<std::string>(), e.at("abbreviation").get<std::string>()});
  } catch (const nlohmann::json::exception& e) {
    AGF_FAIL("{}: metadata 'classes' is not a list of {{code, abbreviation}}: {}", source, e.what());
  }
  return out;
}

FrozenNetwork load_frozen_network(const std::filesystem::path& path, bool merge_lora) {
  std::error_code ec;
  AGF_CHECK(std::filesystem::is_regular_file(path, ec), "{} does not exist", path.string());
  const std::vector<uint8_t> bytes = io::read_file_bytes(path);
  AGF_CHECK(io::detect_checkpoint_format(bytes) == io::CheckpointFormat::safetensors,
            "{}: not a network this project trained (a run's best.safetensors or last.safetensors, or a backbone "
            "exported by agf-finetune --export-merged / agf-pretrain); a published PyTorch backbone records no label "
            "set", path.string());
  const io::SafetensorsIndex idx = io::parse_safetensors_header(bytes, path.string());
  const auto format = idx.metadata.find("format");
  FrozenNetwork f;
  if (format != idx.metadata.end() && format->second == kFormat) {
    LoadedTraining h;
    auto net = build_from_checkpoint(path, &h);
    f.fs = h.state.fs;
    if (!h.state.classes.is_null()) f.classes = classes_from_json(h.state.classes, path.string());
    if (net->lora_enabled() && merge_lora) {
      // The adapters folded into the weights once, into a network without them: what a teacher runs.
      f.net = std::make_unique<nn::EcgNet>(h.net_config);
      f.net->load_state_dict(merged_backbone(*net), {});
    } else {
      f.net = std::move(net);
    }
  } else if (format != idx.metadata.end() && format->second == kBackboneFormat) {
    f.net = std::make_unique<nn::EcgNet>(config_from_json(parse_meta_json(idx.metadata, "network", path)));
    const BackboneLoadReport rep = load_backbone(*f.net, path);
    f.fs = rep.fs;
    if (idx.metadata.count("classes"))
      f.classes = classes_from_json(parse_meta_json(idx.metadata, "classes", path), path.string());
  } else {
    AGF_FAIL("{}: a safetensors file of unknown origin (format '{}'): give a run's best.safetensors or a backbone "
             "exported by this project", path.string(), format == idx.metadata.end() ? "" : format->second);
  }
  f.net->set_trainable({});
  f.net->eval();
  return f;
}
}  // namespace agf::fusion
