#pragma once
// The official PhysioNet/CinC Challenge 2021 evaluation of a folder of output files against a folder of label
// headers, as evaluate_model.py runs it: every <record>.hea of the labels folder (sorted, hidden files skipped) needs
// <record>.csv in the outputs folder; labels are the header's #Dx codes, scored over the 26 classes of the weights.
#include <filesystem>
#include <string>
#include <vector>

#include "metrics/challenge_evaluation.h"

namespace agf::fusion {

struct FolderEvaluation {
  metrics::ChallengeEvaluation evaluation;
  std::vector<std::string> malformed_outputs;  // records whose output file the script would read as all negative
};

// weights_csv empty: the project's data/labels/challenge2021_weights.csv (the Challenge's weights.csv).
FolderEvaluation evaluate_challenge_folders(const std::filesystem::path& labels_dir,
                                            const std::filesystem::path& outputs_dir,
                                            const std::filesystem::path& weights_csv = {});

}  // namespace agf::fusion
