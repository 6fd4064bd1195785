#pragma once
// Teacher vs student at inference: a frozen network's forward timed and measured by the ledger.
#include <nlohmann/json.hpp>

#include <filesystem>

namespace agf::pipeline {

// Loads the network of `checkpoint` (LoRA merged, as it would be deployed) and runs NoGrad eval forwards of `batch`
// records of `length` samples (the dataset's): one warm-up, then `repeats` timed ones. JSON: preset, input_leads, parameters,
// param_bytes, batch, length, median / min forward milliseconds, milliseconds per record, the ledger's peak during a
// forward (weights included) and what the forward itself added over the weights and the input (activation_peak).
nlohmann::json probe_inference(const std::filesystem::path& checkpoint, int64_t length, int64_t batch,
                               int64_t repeats);

}  // namespace agf::pipeline
