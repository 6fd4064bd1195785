#pragma once
// What the three training apps (agf-pretrain, agf-finetune, agf-distill) do after the one training loop: the summary
// line of the run and the export of its best network as a plain backbone.
#include <string>

#include "fusion/trainer.h"

namespace agf::app {

// "N steps; best validation mAP ... at step ...; test macro AUROC ..., mAP ..., macro F2 ..." and the run folder.
void print_train_summary(const fusion::TrainResult& r);

// The run's best network (best.safetensors) with its LoRA adapters merged, written as a plain backbone in the
// published layout, with the network config, the sampling rate and the label set in its metadata; all or nothing.
void export_best_network(const fusion::TrainResult& r, const std::string& path);

}  // namespace agf::app
